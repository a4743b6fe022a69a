"""The run report for people: ``c4forge-report.svg`` (the picture, ``report_figure.py``) and
``c4forge-report.html``, one self-contained page (the picture inline, no link outside it)
with the tables behind it. Both are made from the JSON report alone, so that an old
``c4forge-report.json`` can be drawn again."""

from __future__ import annotations

import html
from typing import Mapping

from .report_figure import headline, languages, report_svg, stage_totals

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #212121; margin: 24px auto; max-width: 1640px; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
figure { margin: 0; } svg { width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 12px; border-bottom: 1px solid #e0e0e0; }
th { text-align: left; background: #f5f5f5; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.warning { color: #b71c1c; font-weight: bold; } code { font-size: 13px; }
"""


def _table(header: tuple[str, ...], rows: list[tuple], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{v:,}</td>' if i in numeric else f"<td>{html.escape(str(v))}</td>"
                         for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _warnings(report: Mapping) -> list[str]:
    lost = report.get("input_lost") or {}
    found = [f"not all input was read: {', '.join(f'{k} {v:,}' for k, v in lost.items())}"] if lost else []
    return found + list(report.get("warnings", ()))


def _sections(report: Mapping) -> list[str]:
    stages = [(s["stage"], s["pages"], s["lines"], s["chars"]) for s in stage_totals(report)]
    rules = [(r["stage"], r["rule"], r["removed"], r["unit"], r["chars"]) for r in report.get("removed", ())]
    skipped = [(s["reason"], s["path"]) for s in report.get("skipped_files", ())]
    splits = [(s["format"], s["split"], s["num_examples"], s["num_shards"], s["file_bytes"])
              for s in report.get("splits", ())]
    return [
        "<h2>Removed by stage</h2>" + _table(("stage", "pages", "lines", "characters"), stages, {1, 2, 3}),
        "<h2>Removed by rule</h2>" + _table(("stage", "rule", "removed", "unit", "characters"), rules, {2, 4}),
        "<h2>Languages</h2>" + _table(("language", "pages", "passed"),
                                      [(n, c, "yes" if p else "no")
                                       for n, c, p in languages(report.get("counters", {}), shown=None)],
                                      {1}),
        "<h2>Files skipped whole</h2>" + (_table(("reason", "file"), skipped) if skipped else "<p>none</p>"),
        "<h2>Output</h2>" + _table(("format", "split", "documents", "shards", "bytes"), splits, {2, 3, 4}),
    ]


def report_html(report: Mapping, svg: str) -> str:
    warnings = "".join(f'<p class="warning">WARNING: {html.escape(w)}</p>' for w in _warnings(report))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(headline(report))}</title><style>{STYLE}</style></head><body>",
        "<h1>c4forge build report</h1>", f"<p>{html.escape(headline(report))}</p>", warnings,
        '<figure role="img" aria-label="the run report as charts">', svg, "</figure>",
        *_sections(report), "</body></html>", ""])


def report_pictures(report: Mapping) -> tuple[bytes, bytes]:
    """(SVG, HTML) of the report."""
    svg = report_svg(report)
    return svg.encode("utf-8"), report_html(report, svg).encode("utf-8")
