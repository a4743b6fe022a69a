"""The run report as one picture: what each stage removed (pages as a waterfall from read to
kept; lines and characters by rule), the languages the language filter saw, the kept
documents' lengths, and the files skipped whole.

Drawn as SVG by the code below (no plotting library): a browser shows it, alone or inside
c4forge-report.html, and it needs nothing installed.
"""

from __future__ import annotations

import html
import math
from typing import Callable, Mapping, Sequence

from .report import READER_NAMESPACES

LANGUAGES_SHOWN = 12
SKIPPED_SHOWN = 6
KEPT, REMOVED, TOTAL, MUTED = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e"
STAGE_COLORS = ("#6a1b9a", "#00838f", "#ef6c00", "#5d4037", "#ad1457", "#283593", "#558b2f", "#4e342e", "#00695c")


# --- the numbers ------------------------------------------------------------------------------

def stage_totals(report: Mapping) -> list[dict]:
    """Per stage, in pipeline order: pages, lines and characters removed (from ``removed``)."""
    stages: dict[str, dict] = {}
    for row in report.get("removed", ()):
        stage = stages.setdefault(row["stage"], {"stage": row["stage"], "pages": 0, "lines": 0, "chars": 0})
        if row["unit"] in ("pages", "lines"):
            stage[row["unit"]] += row["removed"]
        stage["chars"] += row["chars"]
    return list(stages.values())


def page_waterfall(report: Mapping) -> list[tuple[str, int, int]]:
    """(label, bottom, height) bars: pages read, each stage's removal stepping down, pages kept.
    The readers' own drops come before a page is counted as read, so they are not steps."""
    bars = [("read", 0, report["pages_read"])]
    level = report["pages_read"]
    for stage in stage_totals(report):
        if stage["stage"] in READER_NAMESPACES or not stage["pages"]:
            continue
        level -= stage["pages"]
        bars.append((stage["stage"], max(level, 0), stage["pages"]))
    bars.append(("kept", 0, report["pages_kept"]))
    return bars


def languages(counters: Mapping[str, int], shown: int | None = LANGUAGES_SHOWN) -> list[tuple[str, int, bool]]:
    """(language, pages, passed the filter), most pages first, the ones after ``shown`` summed up:
    c4/en's English filter (``ignored_language-<lang>``) or mC4's CLD3 filter (``passed:<lang>``)."""
    found = []
    for name, value in counters.items():
        stage, _, rule = name.partition("/")
        if stage == "english-filter" and rule == "passed":
            found.append(("en", value, True))
        elif stage == "english-filter" and rule.startswith("filtered:ignored_language-"):
            found.append((rule.rsplit("-", 1)[1], value, False))
        elif stage in ("english-filter", "language-filter") and rule == "filtered:low_confidence":
            found.append(("unsure", value, False))
        elif stage == "language-filter" and rule.startswith("passed:"):
            found.append((rule.split(":", 1)[1], value, True))
        elif stage == "language-filter" and rule == "filtered:ignored_language":
            found.append(("not mC4's", value, False))
    found.sort(key=lambda item: (-item[1], item[0]))
    if shown is not None and len(found) > shown:
        rest = found[shown - 1:]
        found = found[:shown - 1] + [(f"{len(rest)} others", sum(n for _, n, _ in rest), False)]
    return found


def length_buckets(report: Mapping) -> tuple[list[int], dict[str, list[int]]]:
    """(bucket lower bounds, {split: documents per bucket}) of the kept documents."""
    splits = (report.get("document_lengths") or {}).get("splits") or {}
    seen = sorted({int(lower) for buckets in splits.values() for lower in buckets})
    if not seen:
        return [], {}
    # every bucket from the shortest to the longest, empty ones too, so the x axis is even
    lowers = [1 << k for k in range(max(seen[0], 1).bit_length() - 1, seen[-1].bit_length())]
    lowers = [0, *lowers] if seen[0] == 0 else lowers
    return lowers, {split: [buckets.get(str(lower), 0) for lower in lowers] for split, buckets in splits.items()}


def short_number(n: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:,.0f}"


# --- the picture ----------------------------------------------------------------------------
# An SVG written directly: four charts are a few hundred rectangles and labels, and drawing
# them with matplotlib cost about 1.1 CPU-s a build (import 0.45, layout and drawing 0.65;
# docs/speed.md), more than the bad-words filter over 40,000 pages.

WIDTH, HEIGHT = 1600, 1100
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
MONOSPACE = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_WIDTH = 0.6  # of the font size: a generous average for DejaVu Sans, to leave labels room
TITLE_PX, LABEL_PX, TICK_PX, SMALL_PX = 19, 13, 12, 11


def _n(value: float) -> str:
    """A coordinate: at most one decimal, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


class Svg:
    """The elements of one picture, in drawing order."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.elements: list[str] = []

    def rect(self, x: float, y: float, width: float, height: float, fill: str) -> None:
        self.elements.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(width, 0))}" '
                             f'height="{_n(max(height, 0))}" fill="{fill}"/>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#212121") -> None:
        self.elements.append(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"/>')

    def text(self, x: float, y: float, content: str, size: float = TICK_PX, anchor: str = "start",
             baseline: str = "auto", weight: str = "normal", fill: str = "#212121", rotate: float = 0,
             family: str = FONT, markup: bool = False) -> None:
        """``markup``: ``content`` is already SVG (a superscript's tspan), not text to escape."""
        attributes = [f'x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}"']
        if anchor != "start":
            attributes.append(f'text-anchor="{anchor}"')
        if baseline != "auto":
            attributes.append(f'dominant-baseline="{baseline}"')
        if weight != "normal":
            attributes.append(f'font-weight="{weight}"')
        if fill != "#212121":
            attributes.append(f'fill="{fill}"')
        if family != FONT:
            attributes.append(f'font-family="{family}"')
        if rotate:
            attributes.append(f'transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"')
        if not markup and ("  " in content or content.startswith(" ")):
            content = content.replace(" ", "\u00a0")  # SVG collapses runs of spaces; keep them
        body = content if markup else html.escape(content, quote=False)
        self.elements.append(f'<text {" ".join(attributes)}>{body}</text>')

    def render(self) -> str:
        return "\n".join([
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="{FONT}">',
            f'<rect width="{self.width}" height="{self.height}" fill="white"/>',
            *self.elements, "</svg>", ""])


def text_width(text: str, size: float) -> float:
    """About how wide ``text`` is drawn (the picture cannot measure it; browsers draw it)."""
    return len(text) * size * CHAR_WIDTH


def nice_step(span: float, ticks: int = 6) -> int:
    """A step of 1, 2, 2.5 or 5 times a power of ten giving about ``ticks`` ticks over ``span``;
    a whole number, at least 1 (the axes count pages and documents)."""
    raw = max(span / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)  # 2.5 is no whole step
    return next(int(power * m) for m in multiples if power * m >= raw)


class Plot:
    """A chart's area: ``box`` (x, y, width, height) of the whole panel, the plot inside it."""

    def __init__(self, svg: Svg, box: tuple[float, float, float, float], title: str,
                 left: float = 70, bottom: float = 70, right: float = 30):
        self.svg = svg
        x, y, width, height = box
        svg.text(x + left, y + 22, title, size=LABEL_PX + 3, weight="bold")
        self.x0, self.x1 = x + left, x + width - right
        self.y0, self.y1 = y + height - bottom, y + 42  # bottom and top of the plot, in pixels

    def empty(self, message: str) -> None:
        self.svg.text((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2, message, size=LABEL_PX, anchor="middle")

    def axes(self) -> None:
        """The left and bottom spines (matplotlib's look, without the top and right ones)."""
        self.svg.line(self.x0, self.y0, self.x1, self.y0)
        self.svg.line(self.x0, self.y0, self.x0, self.y1)

    def x_label(self, label: str, drop: float = 40) -> None:
        """``drop``: below the axis, past its tick labels."""
        self.svg.text((self.x0 + self.x1) / 2, self.y0 + drop, label, size=LABEL_PX, anchor="middle")

    def y_label(self, label: str, offset: float) -> None:
        y = (self.y0 + self.y1) / 2
        self.svg.text(self.x0 - offset, y, label, size=LABEL_PX, anchor="middle", rotate=-90)

    def value_ticks(self, top: float, vertical: bool) -> Callable[[float], float]:
        """Linear ticks from 0 to ``top`` along y (``vertical``) or x; the value → pixel map."""
        top = max(top, 1)

        def scale(v: float) -> float:
            if vertical:
                return self.y0 - (self.y0 - self.y1) * v / top
            return self.x0 + (self.x1 - self.x0) * v / top

        step, value = nice_step(top), 0
        while value <= top:
            label = f"{value:,}"
            if vertical:
                self.svg.line(self.x0 - 4, scale(value), self.x0, scale(value))
                self.svg.text(self.x0 - 7, scale(value), label, anchor="end", baseline="central")
            else:
                self.svg.line(scale(value), self.y0, scale(value), self.y0 + 4)
                self.svg.text(scale(value), self.y0 + 18, label, anchor="middle")
            value += step
        return scale

    def category_centers(self, count: int, vertical_bars: bool) -> list[float]:
        """The middle of each of ``count`` slots: left to right, or top to bottom."""
        if vertical_bars:
            slot = (self.x1 - self.x0) / max(count, 1)
            return [self.x0 + slot * (i + 0.5) for i in range(count)]
        slot = (self.y0 - self.y1) / max(count, 1)
        return [self.y1 + slot * (i + 0.5) for i in range(count)]


def _draw_waterfall(svg: Svg, box, report: Mapping) -> None:
    plot = Plot(svg, box, "Pages: read → removed by each stage → kept", left=80, bottom=90)
    bars = page_waterfall(report)
    colors = [TOTAL] + [REMOVED] * (len(bars) - 2) + [KEPT]
    y = plot.value_ticks(max(bottom + height for _, bottom, height in bars) * 1.12, vertical=True)
    centers = plot.category_centers(len(bars), vertical_bars=True)
    width = (plot.x1 - plot.x0) / len(bars) * 0.7
    for i, ((label, bottom, height), x, color) in enumerate(zip(bars, centers, colors)):
        svg.rect(x - width / 2, y(bottom + height), width, y(bottom) - y(bottom + height), color)
        sign = "" if i in (0, len(bars) - 1) else "−"
        svg.text(x, y(bottom + height) - 4, f"{sign}{height:,}", size=TICK_PX, anchor="middle")
        svg.text(x + 4, plot.y0 + 14, label, size=TICK_PX, anchor="end", rotate=-25)
    plot.axes()
    plot.y_label("pages", 62)


def _draw_rules(svg: Svg, box, report: Mapping) -> None:
    rows = [r for r in report.get("removed", ()) if r["unit"] in ("pages", "lines")]
    labels = [f"{r['stage']}  {r['rule']}" for r in rows]
    left = min(max((text_width(label, SMALL_PX) for label in labels), default=0) + 14, box[2] * 0.45)
    plot = Plot(svg, box, "Removed by rule, in pipeline order", left=max(left, 70), bottom=70, right=20)
    if not rows:
        plot.empty("nothing removed")
        return
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    color_of = {stage: STAGE_COLORS[i % len(STAGE_COLORS)] for i, stage in enumerate(stages)}
    notes = [f"{r['removed']:,} {r['unit'] if r['removed'] != 1 else r['unit'][:-1]}, "
             f"{short_number(r['chars'])} chars" for r in rows]
    # a log scale from 1, in whole decades, with room after each bar for its note
    span = plot.x1 - plot.x0
    decades = max(1, *(math.ceil(span * math.log10(max(r["chars"], 1))
                                 / max(span - text_width(note, SMALL_PX) - 4, 1))
                       for r, note in zip(rows, notes)))

    def x(v: float) -> float:
        return plot.x0 + span * math.log10(max(v, 1)) / decades

    every = max(1, math.ceil((decades + 1) / 8))  # at most 8 labelled decades
    for k in range(0, decades + 1):
        svg.line(x(10 ** k), plot.y0, x(10 ** k), plot.y0 + (4 if k % every == 0 else 2))
        if k % every == 0:
            svg.text(x(10 ** k), plot.y0 + 20, f'10<tspan dy="-6" font-size="{SMALL_PX - 2}">{k}</tspan>',
                     size=TICK_PX, anchor="middle", markup=True)
    centers = plot.category_centers(len(rows), vertical_bars=False)
    height = (plot.y0 - plot.y1) / len(rows) * 0.7
    for row, label, note, y in zip(rows, labels, notes, centers):
        end = x(max(row["chars"], 1))
        svg.rect(plot.x0, y - height / 2, end - plot.x0, height, color_of[row["stage"]])
        svg.text(end + 4, y, note, size=SMALL_PX, baseline="central")
        svg.text(plot.x0 - 7, y, label, size=SMALL_PX, anchor="end", baseline="central")
    plot.axes()
    plot.x_label("characters removed (log scale)")


def _draw_languages(svg: Svg, box, counters: Mapping[str, int]) -> None:
    found = languages(counters)
    left = max((text_width(name, TICK_PX) for name, _, _ in found), default=0) + 16
    plot = Plot(svg, box, "Languages identified", left=max(left, 50), bottom=70)
    if not found:
        plot.empty("no language filter in this profile")
        return
    x = plot.value_ticks(max(n for _, n, _ in found) * 1.15, vertical=False)
    centers = plot.category_centers(len(found), vertical_bars=False)
    height = (plot.y0 - plot.y1) / len(found) * 0.7
    for (name, n, passed), y in zip(found, centers):
        svg.rect(plot.x0, y - height / 2, x(n) - plot.x0, height, KEPT if passed else MUTED)
        svg.text(x(n) + 4, y, f"{n:,}", size=SMALL_PX, baseline="central")
        svg.text(plot.x0 - 7, y, name, size=TICK_PX, anchor="end", baseline="central")
    plot.axes()
    plot.x_label("pages (green: passed the language filter)")


def _draw_lengths(svg: Svg, box, report: Mapping) -> None:
    plot = Plot(svg, box, "Kept documents by length", left=80, bottom=90)
    lowers, by_split = length_buckets(report)
    if not lowers:
        plot.empty("no document lengths in this report")
        return
    if len(by_split) > 3:  # mC4: a split per language and its validation; one bar each
        by_split = {f"all {len(by_split)} splits": [sum(column) for column in zip(*by_split.values())]}
    ordered = sorted(by_split.items(), key=lambda item: -sum(item[1]))
    colors = [(KEPT, TOTAL, "#f9a825", MUTED)[min(i, 3)] for i in range(len(ordered))]
    y = plot.value_ticks(max(sum(column) for column in zip(*by_split.values())) * 1.05, vertical=True)
    centers = plot.category_centers(len(lowers), vertical_bars=True)
    width = (plot.x1 - plot.x0) / len(lowers) * 0.85
    bottom = [0] * len(lowers)
    for (split, counts), color in zip(ordered, colors):
        for i, (x, count) in enumerate(zip(centers, counts)):
            if count:
                svg.rect(x - width / 2, y(bottom[i] + count), width, y(bottom[i]) - y(bottom[i] + count), color)
        bottom = [b + c for b, c in zip(bottom, counts)]
    for x, lower in zip(centers, lowers):
        svg.line(x, plot.y0, x, plot.y0 + 4)
        svg.text(x + 4, plot.y0 + 14, f"{lower:,}", size=SMALL_PX, anchor="end", rotate=-45)
    plot.axes()
    plot.x_label("characters (bar: from this length to twice it)", drop=70)
    plot.y_label("documents", 62)
    legend_x, legend_y = plot.x1 - 170, plot.y1 + 10
    svg.text(legend_x, legend_y, "split", size=TICK_PX)
    for i, ((split, _), color) in enumerate(zip(ordered, colors)):
        svg.rect(legend_x, legend_y + 10 + 20 * i, 22, 11, color)
        svg.text(legend_x + 30, legend_y + 16 + 20 * i, split, size=TICK_PX, baseline="central")


def skipped_text(skipped: Sequence[Mapping]) -> str:
    if not skipped:
        return "Files skipped whole: none"
    lines = [f"Files skipped whole: {len(skipped)}"]
    lines += [f"  {s['reason']}: {s['path']}" for s in skipped[:SKIPPED_SHOWN]]
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(f"  ... and {len(skipped) - SKIPPED_SHOWN} more (c4forge-report.json lists them all)")
    return "\n".join(lines)


def headline(report: Mapping) -> str:
    config = report.get("config", {})
    read, kept = report["pages_read"], report["pages_kept"]
    share = f" ({kept / read:.1%})" if read else ""
    return (f"c4forge build: {config.get('profile', '?')} from {config.get('wet_files', '?')} input file(s), "
            f"{read:,} pages read, {kept:,} kept{share}, finished {config.get('finished_at', '?')}")


def report_svg(report: Mapping) -> str:
    """The report's picture, an SVG document: four charts and the files skipped whole."""
    svg = Svg(WIDTH, HEIGHT)
    svg.text(WIDTH / 2, 30, headline(report), size=TITLE_PX, anchor="middle", weight="bold")
    half, row = WIDTH / 2, 445
    _draw_waterfall(svg, (0, 45, half, row), report)
    _draw_rules(svg, (half, 45, half, row), report)
    _draw_languages(svg, (0, 45 + row, half, row), report.get("counters", {}))
    _draw_lengths(svg, (half, 45 + row, half, row), report)
    skipped = report.get("skipped_files", ())
    for i, line in enumerate(skipped_text(skipped).split("\n")):
        svg.text(80, 45 + 2 * row + 25 + 16 * i, line, size=TICK_PX + 1, family=MONOSPACE,
                 fill=REMOVED if skipped else "#212121")
    return svg.render()
