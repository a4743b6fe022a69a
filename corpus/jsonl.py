"""allenai/c4 JSON lines: writing one, reading a file of them."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any, Iterator

from .example import example_features
from .opener import Opener, open_local

JSONL_KEYS = ("text", "timestamp", "url")


def jsonl_line(page: Any, ensure_ascii: bool = False) -> bytes:
    """One allenai/c4 JSON line: keys text, timestamp, url; compact separators as in the
    allenai files. ``ensure_ascii=False`` writes non-ASCII characters as UTF-8 (smaller,
    and any JSON reader gives the same strings)."""
    features = example_features(page)
    record = {key: features[key] for key in JSONL_KEYS}
    text = json.dumps(record, ensure_ascii=ensure_ascii, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def iter_jsonl(path: str, opener: Opener = open_local) -> Iterator[dict]:
    """The objects of a JSON-lines file, gunzipped when the name ends in .gz."""
    with opener(path) as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw
        for line in io.TextIOWrapper(stream, encoding="utf-8", newline="\n"):
            if line.strip():
                yield json.loads(line)
