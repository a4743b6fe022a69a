"""The run report as one picture: what each stage removed (pages as a waterfall from read to
kept; lines and characters by rule), the languages the language filter saw, the kept
documents' lengths, and the files skipped whole.

Drawn with matplotlib's object API (no pyplot: no global state, no display needed), imported
only when a picture is made: it is the optional ``report`` extra.
"""

from __future__ import annotations

import io
from typing import Mapping, Sequence

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

def _draw_waterfall(ax, report: Mapping) -> None:
    bars = page_waterfall(report)
    colors = [TOTAL] + [REMOVED] * (len(bars) - 2) + [KEPT]
    x = range(len(bars))
    ax.bar(x, [h for _, _, h in bars], bottom=[b for _, b, _ in bars], color=colors, width=0.7)
    for i, (_, bottom, height) in enumerate(bars):
        sign = "" if i in (0, len(bars) - 1) else "−"
        ax.annotate(f"{sign}{height:,}", (i, bottom + height), ha="center", va="bottom", fontsize=9,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(list(x), [label for label, _, _ in bars], rotation=25, ha="right", fontsize=9)
    ax.set_ylabel("pages")
    ax.set_title("Pages: read → removed by each stage → kept", loc="left", fontweight="bold")
    ax.margins(y=0.12)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_rules(ax, report: Mapping) -> None:
    rows = [r for r in report.get("removed", ()) if r["unit"] in ("pages", "lines")]
    if not rows:
        ax.text(0.5, 0.5, "nothing removed", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    color_of = {stage: STAGE_COLORS[i % len(STAGE_COLORS)] for i, stage in enumerate(stages)}
    y = list(range(len(rows)))[::-1]  # pipeline order, top to bottom
    ax.barh(y, [max(r["chars"], 1) for r in rows], color=[color_of[r["stage"]] for r in rows], height=0.7)
    ax.set_xscale("log")
    for yi, r in zip(y, rows):
        unit = r["unit"] if r["removed"] != 1 else r["unit"][:-1]
        ax.annotate(f" {r['removed']:,} {unit}, {short_number(r['chars'])} chars", (max(r["chars"], 1), yi),
                    va="center", fontsize=8)
    ax.set_yticks(y, [f"{r['stage']}  {r['rule']}" for r in rows], fontsize=8)
    ax.set_xlabel("characters removed (log scale)")
    ax.set_title("Removed by rule, in pipeline order", loc="left", fontweight="bold")
    ax.set_xlim(right=max(1, *(r["chars"] for r in rows)) * 20)  # room for the labels
    ax.spines[["top", "right"]].set_visible(False)


def _draw_languages(ax, counters: Mapping[str, int]) -> None:
    found = languages(counters)
    if not found:
        ax.text(0.5, 0.5, "no language filter in this profile", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    y = list(range(len(found)))[::-1]
    ax.barh(y, [n for _, n, _ in found], color=[KEPT if passed else MUTED for _, _, passed in found], height=0.7)
    for yi, (_, n, _) in zip(y, found):
        ax.annotate(f" {n:,}", (n, yi), va="center", fontsize=8)
    ax.set_yticks(y, [name for name, _, _ in found], fontsize=9)
    ax.set_xlabel("pages (green: passed the language filter)")
    ax.set_title("Languages identified", loc="left", fontweight="bold")
    ax.margins(x=0.15)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_lengths(ax, report: Mapping) -> None:
    lowers, by_split = length_buckets(report)
    if not lowers:
        ax.text(0.5, 0.5, "no document lengths in this report", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    if len(by_split) > 3:  # mC4: a split per language and its validation; one bar each
        by_split = {f"all {len(by_split)} splits": [sum(column) for column in zip(*by_split.values())]}
    bottom = [0] * len(lowers)
    for i, (split, counts) in enumerate(sorted(by_split.items(), key=lambda item: -sum(item[1]))):
        ax.bar(range(len(lowers)), counts, bottom=bottom, label=split, width=0.85,
               color=(KEPT, TOTAL, "#f9a825", MUTED)[min(i, 3)])
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.set_xticks(range(len(lowers)), [f"{lower:,}" for lower in lowers], rotation=45, fontsize=8)
    ax.set_xlabel("characters (bar: from this length to twice it)")
    ax.set_ylabel("documents")
    ax.set_title("Kept documents by length", loc="left", fontweight="bold")
    ax.legend(fontsize=9, frameon=False, title="split", title_fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)


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


def report_figure(report: Mapping):
    """The report's picture (a matplotlib Figure); ImportError without matplotlib."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(16, 11), dpi=100, layout="constrained")
    figure.suptitle(headline(report), fontsize=14, fontweight="bold")
    grid = figure.add_gridspec(3, 2, height_ratios=[1, 1, 0.16])
    _draw_waterfall(figure.add_subplot(grid[0, 0]), report)
    _draw_rules(figure.add_subplot(grid[0, 1]), report)
    _draw_languages(figure.add_subplot(grid[1, 0]), report.get("counters", {}))
    _draw_lengths(figure.add_subplot(grid[1, 1]), report)
    text = figure.add_subplot(grid[2, :])
    text.set_axis_off()
    skipped = report.get("skipped_files", ())
    text.text(0, 1, skipped_text(skipped), va="top", family="monospace", fontsize=10,
              color=REMOVED if skipped else "black", transform=text.transAxes)
    return figure


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # no version stamp: same report, same bytes
    return buffer.getvalue()
