"""Compare a candidate C4 run with the reference: documents (matched by url) and counters.

Pure Python, no Beam: inputs are lists of document dicts (``url`` plus any of ``text``,
``timestamp``, ``split``, ``content-type``, ``content-length``) and flat counter dicts
(``"namespace/name" -> int``).

Conventions:
* A field is compared when both documents have it (the shared JSONL has no
  ``content-type``), or only the fields the caller names.
* An absent counter counts as 0: Beam reports a counter only once it is incremented.
* Counters named in ``known_differences`` are never hidden: when they differ they are
  listed apart, with the reason, and do not make the report non-identical.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Mapping, Sequence

_EXCERPT_CHARS = 60


@dataclasses.dataclass(frozen=True)
class FieldDifference:
    url: str
    field: str
    reference: object
    candidate: object
    excerpt: str = ""  # for text: where the first differing line differs


@dataclasses.dataclass(frozen=True)
class CounterDifference:
    name: str
    reference: int | None  # None: absent
    candidate: int | None
    reason: str = ""  # set for known differences


@dataclasses.dataclass
class ParityReport:
    reference_count: int
    candidate_count: int
    only_in_reference: list[str]  # urls
    only_in_candidate: list[str]
    field_differences: list[FieldDifference]
    counter_differences: list[CounterDifference]
    known_counter_differences: list[CounterDifference]
    duplicate_urls: dict[str, list[str]]  # side -> urls seen more than once

    @property
    def identical(self) -> bool:
        return not (
            self.only_in_reference
            or self.only_in_candidate
            or self.field_differences
            or self.counter_differences
            or any(self.duplicate_urls.values())
        )

    @property
    def documents_with_differences(self) -> int:
        return len({d.url for d in self.field_differences})

    def format_text(self, max_examples: int = 5) -> str:
        return "\n".join(_report_lines(self, max_examples))


# --------------------------------------------------------------------------------------
# Documents


def _duplicates(urls: Iterable[str]) -> list[str]:
    return sorted(url for url, n in collections.Counter(urls).items() if n > 1)


def _by_url(documents: Iterable[Mapping]) -> dict[str, Mapping]:
    return {d["url"]: d for d in documents}


def _fields_to_compare(ref: Mapping, cand: Mapping, fields: Sequence[str] | None):
    if fields is not None:
        return [f for f in fields if f != "url"]
    return sorted((ref.keys() & cand.keys()) - {"url"})


def _shorten(text: str, limit: int = _EXCERPT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _around(line: str, at: int) -> str:
    start = max(0, at - _EXCERPT_CHARS // 3)
    window = line[start : start + _EXCERPT_CHARS]
    return ("…" if start else "") + window + ("…" if start + _EXCERPT_CHARS < len(line) else "")


def text_excerpt(reference: str, candidate: str) -> str:
    """Where two texts first differ, line by line: ``line N: ref … | cand …``."""
    ref_lines, cand_lines = reference.split("\n"), candidate.split("\n")
    for number, (ref_line, cand_line) in enumerate(zip(ref_lines, cand_lines), start=1):
        if ref_line != cand_line:
            at = _first_difference(ref_line, cand_line)
            return (
                f"line {number}, char {at + 1}: reference {_around(ref_line, at)!r} | "
                f"candidate {_around(cand_line, at)!r}"
            )
    shorter = min(len(ref_lines), len(cand_lines))
    extra_side = "reference" if len(ref_lines) > len(cand_lines) else "candidate"
    extra = (ref_lines if extra_side == "reference" else cand_lines)[shorter]
    return (
        f"{len(ref_lines)} vs {len(cand_lines)} lines; first extra line ({extra_side}, "
        f"line {shorter + 1}): {_shorten(extra)!r}"
    )


def _field_differences(ref: Mapping, cand: Mapping, fields) -> list[FieldDifference]:
    differences = []
    for field in _fields_to_compare(ref, cand, fields):
        ref_value, cand_value = ref.get(field), cand.get(field)
        if ref_value == cand_value:
            continue
        excerpt = ""
        if field == "text" and isinstance(ref_value, str) and isinstance(cand_value, str):
            excerpt = text_excerpt(ref_value, cand_value)
        differences.append(FieldDifference(ref["url"], field, ref_value, cand_value, excerpt))
    return differences


# --------------------------------------------------------------------------------------
# Counters


def _counter_differences(
    reference: Mapping[str, int],
    candidate: Mapping[str, int],
    known_differences: Mapping[str, str],
) -> tuple[list[CounterDifference], list[CounterDifference]]:
    unexpected, known = [], []
    for name in sorted(reference.keys() | candidate.keys()):
        ref_value, cand_value = reference.get(name), candidate.get(name)
        if (ref_value or 0) == (cand_value or 0):
            continue
        if name in known_differences:
            known.append(CounterDifference(name, ref_value, cand_value, known_differences[name]))
        else:
            unexpected.append(CounterDifference(name, ref_value, cand_value))
    return unexpected, known


def _as_reasons(known_differences) -> dict[str, str]:
    """Accepts ``{name: reason}`` or a plain collection of names."""
    if known_differences is None:
        return {}
    if isinstance(known_differences, Mapping):
        return dict(known_differences)
    return {name: "" for name in known_differences}


# --------------------------------------------------------------------------------------
# The comparison


def compare(
    reference_docs: Iterable[Mapping],
    candidate_docs: Iterable[Mapping],
    reference_counters: Mapping[str, int] | None = None,
    candidate_counters: Mapping[str, int] | None = None,
    *,
    known_differences: Mapping[str, str] | Iterable[str] | None = None,
    fields: Sequence[str] | None = None,
) -> ParityReport:
    """Documents matched by url, then counters; see the module docstring."""
    reference_docs, candidate_docs = list(reference_docs), list(candidate_docs)
    ref_by_url, cand_by_url = _by_url(reference_docs), _by_url(candidate_docs)
    field_differences = [
        difference
        for url in sorted(ref_by_url.keys() & cand_by_url.keys())
        for difference in _field_differences(ref_by_url[url], cand_by_url[url], fields)
    ]
    counter_differences, known_counter_differences = _counter_differences(
        reference_counters or {}, candidate_counters or {}, _as_reasons(known_differences)
    )
    return ParityReport(
        reference_count=len(reference_docs),
        candidate_count=len(candidate_docs),
        only_in_reference=sorted(ref_by_url.keys() - cand_by_url.keys()),
        only_in_candidate=sorted(cand_by_url.keys() - ref_by_url.keys()),
        field_differences=field_differences,
        counter_differences=counter_differences,
        known_counter_differences=known_counter_differences,
        duplicate_urls={
            "reference": _duplicates(d["url"] for d in reference_docs),
            "candidate": _duplicates(d["url"] for d in candidate_docs),
        },
    )


# --------------------------------------------------------------------------------------
# Text report


def _value(v) -> str:
    return "absent" if v is None else str(v)


def _summary_lines(report: ParityReport) -> list[str]:
    per_field = collections.Counter(d.field for d in report.field_differences)
    fields = ", ".join(f"{field} {n}" for field, n in sorted(per_field.items())) or "none"
    return [
        f"parity: {'IDENTICAL' if report.identical else 'DIFFERENT'}",
        f"documents: reference {report.reference_count}, candidate {report.candidate_count}; "
        f"only in reference {len(report.only_in_reference)}, "
        f"only in candidate {len(report.only_in_candidate)}, "
        f"same url with differing fields {report.documents_with_differences} ({fields})",
        f"counters: {len(report.counter_differences)} differ, "
        f"{len(report.known_counter_differences)} known differences",
    ]


def _section(title: str, items: list[str], max_examples: int) -> list[str]:
    if not items:
        return []
    more = len(items) - max_examples
    lines = [f"{title} ({len(items)}):"] + [f"  {item}" for item in items[:max_examples]]
    return lines + ([f"  … and {more} more"] if more > 0 else [])


def _field_item(d: FieldDifference) -> str:
    if d.excerpt:
        return f"{d.url} [{d.field}] {d.excerpt}"
    return f"{d.url} [{d.field}] reference {_shorten(repr(d.reference))} | candidate {_shorten(repr(d.candidate))}"


def _counter_item(d: CounterDifference) -> str:
    item = f"{d.name}: reference {_value(d.reference)}, candidate {_value(d.candidate)}"
    return item + (f" ({d.reason})" if d.reason else "")


def _report_lines(report: ParityReport, max_examples: int) -> list[str]:
    lines = _summary_lines(report)
    lines += _section("only in reference", report.only_in_reference, max_examples)
    lines += _section("only in candidate", report.only_in_candidate, max_examples)
    lines += _section(
        "differing fields", [_field_item(d) for d in report.field_differences], max_examples
    )
    for side, urls in report.duplicate_urls.items():
        lines += _section(f"urls more than once in {side}", urls, max_examples)
    lines += _section(
        "counters that differ", [_counter_item(d) for d in report.counter_differences], max_examples
    )
    # Known differences are always listed in full: they are few, and never hidden.
    known = [_counter_item(d) for d in report.known_counter_differences]
    lines += _section("known counter differences", known, len(known))
    return lines
