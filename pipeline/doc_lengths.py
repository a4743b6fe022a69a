"""The kept documents' lengths, for the run report's histogram.

The sinks count each document as they encode it, under one counter per power-of-two bucket of
characters: ``c4forge-sinks/<format>-<split>-chars:<from>`` counts the documents of ``from`` to
``2 * from - 1`` characters. Counters, not a file: they add up the same on every runner, and
retried bundles are not counted twice.
"""

from __future__ import annotations

import re
from typing import Mapping

SINK_NAMESPACE = "c4forge-sinks"  # the namespace of all the sinks' counters
_COUNTER = re.compile(rf"{SINK_NAMESPACE}/(?P<format>[a-z]+)-(?P<split>.+)-chars:(?P<lower>\d+)")
FORMATS_PREFERRED = ("tfrecord", "jsonl")  # both hold the same documents: one is shown


def bucket_of(chars: int) -> int:
    """The bucket's lower bound: the largest power of two <= chars (0 for an empty text)."""
    return 1 << (chars.bit_length() - 1) if chars > 0 else 0


def counter_name(kind: str, split: str, chars: int) -> str:
    """The counter's name within the sinks' namespace."""
    return f"{kind}-{split}-chars:{bucket_of(chars)}"


def document_lengths(counters: Mapping[str, int]) -> dict:
    """``{"format", "unit", "splits": {split: {bucket lower bound (str): documents}}}``,
    buckets in increasing order; empty ``splits`` when the run counted none (older builds)."""
    by_format: dict[str, dict[str, dict[int, int]]] = {}
    for name, value in counters.items():
        match = _COUNTER.fullmatch(name)
        if match and value:
            splits = by_format.setdefault(match["format"], {})
            splits.setdefault(match["split"], {})[int(match["lower"])] = value
    shown = next((kind for kind in FORMATS_PREFERRED if kind in by_format), None)
    splits = by_format.get(shown, {}) if shown else {}
    return {"format": shown, "unit": "characters",
            "splits": {split: {str(lower): n for lower, n in sorted(buckets.items())}
                       for split, buckets in sorted(splits.items())}}
