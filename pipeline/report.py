"""The run report: what each rule removed (pages, lines, characters) and what was kept.

Counter names are TFDS's (``namespace/name``); ``chars/<namespace>/<name>`` holds the
characters the same rule removed (c4forge-only). The report is a JSON document plus a
short table for people.

Input that was not read (files skipped whole, unparseable data, records cut off) is not a rule's
choice: the table lists those counters too, names each file skipped whole (with what to do about
it), and ends with a warning, so the printed summary alone shows that data was lost.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from c4forge.cleaning_rules.counters import CHARS

from .doc_lengths import document_lengths
from .readers.skipped_files import skipped_file_names

# Stages in pipeline order, so the table reads like the graph.
STAGE_ORDER = (
    "split-wet-file",
    "split-warc-file",
    "too-long-filter",
    "duplicate-url-filter",
    "paragraph-filter",  # mC4
    "clean-page",
    "dedupe-lines",
    "dedupe-sentences",  # --dedup spans
    "english-filter",
    "language-filter",  # mC4
    "badwords-filter",
)


# Reader counters for input that was not read (not a rule's choice): each one a row of the table,
# and listed in the warning that input was lost.
INPUT_ERRORS = ("read-error", "unparseable-data", "internal-error", "bad-content-length")
INPUT_LOSSES = ("skipped-file", *INPUT_ERRORS, "filtered:truncated_record", "filtered:invalid_utf8_record",
                "filtered:bad_content_length")
READER_NAMESPACES = ("split-wet-file", "split-warc-file")
# What to do about a file skipped whole, by the reason in its ``skipped-files/`` counter.
SKIP_HINTS = {
    "invalid_utf8": "not UTF-8: TFDS's strict decoding fails the whole file; --no-wet-quirks reads it, "
                    "skipping only the bad records (no longer TFDS's output)",
    "not_regular_file": "a FIFO, socket or device: never opened; copy its data into a regular file",
}
NAMES_SHOWN = 10


def _is_removal(name: str) -> bool:
    return name.startswith(("filtered", "line-filtered", "skipped-file", *INPUT_ERRORS))


def _unit(rule: str) -> str:
    if rule.startswith("line-filtered"):
        return "lines"
    if rule.startswith("skipped-file"):
        return "files"
    return "errors" if rule.startswith(INPUT_ERRORS) else "pages"


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
        rows.append({
            "stage": stage,
            "rule": rule,
            "unit": _unit(rule),
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
        "input_lost": input_losses(counters),
        "skipped_files": [{"reason": reason, "path": path} for reason, path in skipped_file_names(counters)],
        "document_lengths": document_lengths(counters),  # of the kept documents, as the sinks counted them
        "counters": dict(sorted(counters.items())),
    }


def input_losses(counters: Mapping[str, int]) -> dict[str, int]:
    """The readers' counters of input that was not read: files skipped, data unparseable, records cut."""
    return {name: value for name, value in sorted(counters.items()) if value and _is_input_loss(name)}


def _is_input_loss(name: str) -> bool:
    namespace, _, rule = name.partition("/")
    return namespace in READER_NAMESPACES and rule.startswith(INPUT_LOSSES)


def _skipped_file_lines(skipped: Sequence[Mapping]) -> list[str]:
    if not skipped:
        return []
    lines = [f"files skipped whole ({len(skipped)}):"]
    lines += [f"  {s['reason']:<18} {s['path']}" for s in skipped[:NAMES_SHOWN]]
    if len(skipped) > NAMES_SHOWN:
        lines.append(f"  ... and {len(skipped) - NAMES_SHOWN} more (the report's skipped_files lists them all)")
    reasons = sorted({s["reason"] for s in skipped})
    lines += [f"  {reason}: {SKIP_HINTS[reason]}" for reason in reasons if reason in SKIP_HINTS]
    return lines


def _loss_warning(lost: Mapping[str, int]) -> list[str]:
    if not lost:
        return []
    listed = ", ".join(f"{name} {value:,}" for name, value in lost.items())
    return [f"WARNING: not all input was read: {listed} (the log names each file and offset)"]


def format_table(report: Mapping) -> str:
    lines = [f"{'stage':<22} {'rule':<38} {'removed':>10} {'unit':<6} {'chars':>14}"]
    for r in report["removed"]:
        lines.append(f"{r['stage']:<22} {r['rule']:<38} {r['removed']:>10,} {r['unit']:<6} {r['chars']:>14,}")
    lines.append("")
    lines += _skipped_file_lines(report.get("skipped_files", ()))
    lines.append(f"pages read: {report['pages_read']:,}   kept: {report['pages_kept']:,}")
    lines += _loss_warning(report.get("input_lost", {}))
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
