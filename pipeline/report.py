"""The run report: what each rule removed (pages, lines, characters) and what was kept.

Counter names are TFDS's (``namespace/name``); ``chars/<namespace>/<name>`` holds the
characters the same rule removed (c4forge-only). The report is a JSON document plus a
short table for people.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from c4forge.cleaning_rules.counters import CHARS

# Stages in pipeline order, so the table reads like the graph.
STAGE_ORDER = (
    "split-wet-file",
    "split-warc-file",
    "too-long-filter",
    "duplicate-url-filter",
    "clean-page",
    "dedupe-lines",
    "english-filter",
    "badwords-filter",
)


def _is_removal(name: str) -> bool:
    return name.startswith(("filtered", "line-filtered", "skipped-file", "read-error"))


def removal_rows(counters: Mapping[str, int]) -> list[dict]:
    """One row per (stage, rule) that removed something: pages or lines, and characters."""
    rows = []
    for full_name, value in counters.items():
        if full_name.startswith(CHARS + "/"):
            continue
        stage, _, rule = full_name.partition("/")
        if stage.startswith("badwords-filter-") or not _is_removal(rule):
            continue  # per-language bad-word counters repeat badwords-filter's
        if rule.startswith("filtered:ignored_language-"):
            continue  # the per-language breakdown stays in the counters
        unit = "lines" if rule.startswith("line-filtered") else (
            "files" if rule.startswith("skipped-file") else (
                "errors" if rule.startswith("read-error") else "pages"))
        rows.append({
            "stage": stage,
            "rule": rule,
            "unit": unit,
            "removed": value,
            "chars": counters.get(f"{CHARS}/{full_name}", 0),
        })
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    rows.sort(key=lambda r: (order.get(r["stage"], len(order)), r["rule"]))
    return rows


def make_report(counters: Mapping[str, int], splits: Sequence[dict], config: Mapping) -> dict:
    """``pages_kept`` sums the ``<split>/examples`` counters (one per written example)."""
    return {
        "config": dict(config),
        # pages the WET or the WARC reader made (one input format per run)
        "pages_read": counters.get("split-wet-file/passed", 0) + counters.get("split-warc-file/passed", 0),
        "pages_kept": sum(v for k, v in counters.items() if k.endswith("/examples") and "/" not in k[: -len("/examples")]),
        "splits": list(splits),
        "removed": removal_rows(counters),
        "counters": dict(sorted(counters.items())),
    }


def format_table(report: Mapping) -> str:
    lines = [f"{'stage':<22} {'rule':<38} {'removed':>10} {'unit':<6} {'chars':>14}"]
    for r in report["removed"]:
        lines.append(f"{r['stage']:<22} {r['rule']:<38} {r['removed']:>10,} {r['unit']:<6} {r['chars']:>14,}")
    lines.append("")
    lines.append(f"pages read: {report['pages_read']:,}   kept: {report['pages_kept']:,}")
    lines += [f"WARNING: {warning}" for warning in report.get("warnings", ())]
    seen = set()
    for s in report["splits"]:
        if (s["format"], s["split"]) in seen:
            continue
        seen.add((s["format"], s["split"]))
        lines.append(f"  {s['format']:<9} {s['split']:<11} {s['num_examples']:>9,} examples in {s['num_shards']} shards"
                     f" ({s['file_bytes']:,} bytes)")
    return "\n".join(lines)


def to_json(report: Mapping) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
