"""Counter names shared by rules, the Beam graph and the run report.

A counter is ``"namespace/name"`` exactly as TFDS's Beam metrics are named
(``clean-page/line-filtered:too_short``), so a c4forge report can be compared with a
Dataflow run of TFDS. Rules add to a plain ``collections.Counter`` (pure Python, no Beam);
the graph moves those counts into Beam metrics.
"""

from __future__ import annotations


SPLIT_WET_FILE = "split-wet-file"
SPLIT_WARC_FILE = "split-warc-file"  # the WARC reader's own split-wet-file
TOO_LONG = "too-long-filter"
DUPLICATE_URL = "duplicate-url-filter"
CLEAN_PAGE = "clean-page"
DEDUPE_LINES = "dedupe-lines"
ENGLISH = "english-filter"
BADWORDS = "badwords-filter"


def key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


CHARS = "chars"


def chars_key(namespace: str, name: str) -> str:
    """Characters a rule removed; c4forge-only (TFDS counts pages and lines)."""
    return f"{CHARS}/{namespace}/{name}"
