"""Global line dedup (TFDS ``remove_duplicate_text``) as pure functions.

Pass 1 emits one (line hash, owner key) per distinct line of each page; every line
hash is owned by the page whose owner key is smallest (owner key = md5 of the page's URL:
"consistent but not biased by domain"). Pass 2 keeps, in each page, the lines it owns,
first occurrence only (local dedup, c4 >= 2.3.0), then drops pages left empty or with
fewer than ``min_num_sentences`` Punkt sentences in the joined text.
Hashes are md5 digests (bytes); ordering digests equals ordering TFDS's hex strings.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Iterator, Optional

from .counters import DEDUPE_LINES, chars_key, key
from .lines import has_at_least_sentences
from .page import Page

LINE_DELIMITER = "\n"


def line_hash_unicode(line: str) -> bytes:
    """c4 >= 2.3.1: Unicode strip and lower-case, then md5 of UTF-8."""
    return hashlib.md5(line.strip().lower().encode("utf-8")).digest()


def line_hash_bytes(line: str) -> bytes:
    """c4 2.2.x: strip and lower-case the UTF-8 bytes (ASCII only), then md5."""
    return hashlib.md5(line.encode("utf-8").strip().lower()).digest()


LINE_HASHES = {"unicode": line_hash_unicode, "bytes": line_hash_bytes}


def owner_key(url: str) -> bytes:
    return hashlib.md5(url.encode("utf-8")).digest()


def page_line_hashes(text: str, line_hash=line_hash_unicode) -> set[bytes]:
    """Distinct line hashes of a page (what pass 1 emits, once per page)."""
    return {line_hash(line) for line in text.split(LINE_DELIMITER)}


def pick_owner(a: tuple[bytes, str], b: tuple[bytes, str]) -> tuple[bytes, str]:
    """Of two (owner key, url) candidates, the one with the smaller key owns the line."""
    return a if a <= b else b


def remove_duplicate_lines(
    page: Page,
    owned_hashes: set[bytes],
    counters: Counter,
    min_num_sentences: int,
    local_dedup: bool = True,
    line_hash=line_hash_unicode,
) -> Optional[Page]:
    """Keeps the lines this page owns; None if the page ends up empty or too short."""
    ns = DEDUPE_LINES
    kept: list[str] = []
    seen: set[bytes] = set()
    for line in page.text.split(LINE_DELIMITER):
        h = line_hash(line)
        if h not in owned_hashes:
            counters[key(ns, "line-filtered:global_duplicate")] += 1
            counters[chars_key(ns, "line-filtered:global_duplicate")] += len(line)
        elif local_dedup and h in seen:
            counters[key(ns, "line-filtered:local_duplicate")] += 1
            counters[chars_key(ns, "line-filtered:local_duplicate")] += len(line)
        else:
            counters[key(ns, "line-passed")] += 1
            kept.append(line)
            seen.add(h)
    text = LINE_DELIMITER.join(kept)
    if not text:
        counters[key(ns, "filtered:empty")] += 1
        return None
    if min_num_sentences and not has_at_least_sentences(text, min_num_sentences):
        counters[key(ns, "filtered:too_few_sentences")] += 1
        counters[chars_key(ns, "filtered:too_few_sentences")] += len(text)
        return None
    counters[key(ns, "passed")] += 1
    return page.replace(text=text)


def emit_line_owners(page: Page, owner_url: str, line_hash=line_hash_unicode) -> Iterator[tuple[bytes, tuple[bytes, str]]]:
    """Pass 1 for one page: (line hash, (owner key, owner url)) per distinct line."""
    candidate = (owner_key(owner_url), owner_url)
    for h in page_line_hashes(page.text, line_hash):
        yield h, candidate
