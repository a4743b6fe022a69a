"""Global line dedup (TFDS ``remove_duplicate_text``) as pure functions.

Pass 1: every page gives one *owner record* (line hash + owner key) per distinct line;
owner key = md5 of the page's URL ("consistent but not biased by domain"). Pass 2: of all
records of a line hash, the one with the smallest owner key wins (``pick_line_owners``).
Pass 3 keeps, in each page, the lines it owns, first occurrence only (local dedup,
c4 >= 2.3.0), then drops pages left empty or with fewer than ``min_num_sentences`` Punkt
sentences in the joined text (``remove_duplicate_lines``).

Records are fixed-size bytes (two 16-byte md5 digests), so many of them travel as one
``bytes`` value and are ranked with numpy: comparing digests as big-endian integers is
comparing TFDS's hex strings. Where records go (``shard_of``) is a function of a digest,
so the result never depends on how records are batched, sharded or ordered.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import AbstractSet, Iterable, Optional, Sequence

import numpy as np

from .counters import DEDUPE_LINES, chars_key, key
from .sentences import has_at_least_sentences
from .page import Page

try:  # built by pip install where a C compiler is found; line_hash_unicode gives the same hashes
    from .lines_compiled import line_hashes as compiled_line_hashes
except ImportError:
    compiled_line_hashes = None

LINE_DELIMITER = "\n"
DIGEST_BYTES = 16  # md5
RECORD_BYTES = 2 * DIGEST_BYTES  # line hash, then owner key
_WORDS = RECORD_BYTES // 8  # a record as big-endian uint64 words: hash (2), owner (2)


def line_hash_unicode(line: str) -> bytes:
    """c4 >= 2.3.1: Unicode strip and lower-case, then md5 of UTF-8."""
    return hashlib.md5(line.strip().lower().encode("utf-8")).digest()


def line_hash_bytes(line: str) -> bytes:
    """c4 2.2.x: strip and lower-case the UTF-8 bytes (ASCII only), then md5."""
    return hashlib.md5(line.encode("utf-8").strip().lower()).digest()


LINE_HASHES = {"unicode": line_hash_unicode, "bytes": line_hash_bytes}


def owner_key(url: str) -> bytes:
    return hashlib.md5(url.encode("utf-8")).digest()


def line_hashes(text: str, line_hash=line_hash_unicode) -> list[bytes]:
    """The hash of every line of a page, in order (pass 3 needs them all, pass 1 the distinct);
    ``line_hash_unicode``'s compiled where installed (``lines_compiled.c``)."""
    if line_hash is line_hash_unicode and compiled_line_hashes is not None:
        return compiled_line_hashes(text)
    return [line_hash(line) for line in text.split(LINE_DELIMITER)]


def owner_records(hashes: Iterable[bytes], owner: bytes) -> bytes:
    """Pass 1 for one page: a record per distinct line hash, concatenated."""
    distinct = set(hashes)
    return owner.join(distinct) + owner if distinct else b""  # each hash followed by the owner


def shard_of(digest: bytes, shards: int) -> int:
    """Which of ``shards`` groups a line hash or owner key belongs to (its first 8 bytes)."""
    return int.from_bytes(digest[:8], "big") % shards


def _as_words(records: bytes) -> np.ndarray:
    if len(records) % RECORD_BYTES:
        raise ValueError(f"owner records are {RECORD_BYTES}-byte multiples, got {len(records)} bytes")
    return np.frombuffer(records, dtype=">u8").reshape(-1, _WORDS)


def split_records(records: bytes, shards: int, by: str) -> dict[int, bytes]:
    """Records grouped by ``shard_of`` their line hash (``by="line"``) or owner key (``"owner"``)."""
    words = _as_words(records)
    column = {"line": 0, "owner": 2}[by]
    shard = words[:, column] % np.uint64(shards)  # == shard_of(digest) for each record
    order = np.argsort(shard, kind="stable")
    shard, words = shard[order], words[order]
    bounds = np.flatnonzero(np.diff(shard)) + 1
    starts = np.concatenate(([0], bounds)).tolist()
    ends = np.concatenate((bounds, [len(shard)])).tolist()
    return {int(shard[s]): words[s:e].tobytes() for s, e in zip(starts, ends)}


def pick_line_owners(records: bytes) -> bytes:
    """Pass 2: of the records of each line hash, the one with the smallest owner key."""
    words = _as_words(records)
    if not len(words):
        return b""
    # by hash, then owner: records as 32-byte items, which numpy compares byte by byte, the
    # order of their big-endian words (one sort instead of lexsort's four)
    ranked = np.sort(np.frombuffer(records, dtype=f"V{RECORD_BYTES}")).view(">u8").reshape(-1, _WORDS)
    first = np.ones(len(ranked), dtype=bool)
    first[1:] = (ranked[1:, 0] != ranked[:-1, 0]) | (ranked[1:, 1] != ranked[:-1, 1])
    return ranked[first].tobytes()


def owned_lines(records: Iterable[bytes]) -> dict[bytes, set[bytes]]:
    """Winning records → {owner key: line hashes it owns}."""
    words = _as_words(b"".join(records))
    if not len(words):
        return {}
    # Sorted by owner, each owner's hashes are one slice; numpy cuts the digests out in C.
    by_owner = np.ascontiguousarray(words[np.lexsort((words[:, 3], words[:, 2]))])
    digests = by_owner.view(f"V{DIGEST_BYTES}").reshape(-1, 2)
    hashes = digests[:, 0].tolist()
    starts = np.flatnonzero(np.r_[True, (by_owner[1:, 2] != by_owner[:-1, 2]) | (by_owner[1:, 3] != by_owner[:-1, 3])])
    owners = digests[starts, 1].tolist()
    ends = np.r_[starts[1:], len(by_owner)].tolist()
    return {owner: set(hashes[start:end]) for owner, start, end in zip(owners, starts.tolist(), ends)}


def remove_duplicate_lines(
    page: Page,
    owned_hashes: AbstractSet[bytes],
    counters: Counter,
    min_num_sentences: int,
    local_dedup: bool = True,
    line_hash=line_hash_unicode,
    hashes: Optional[Sequence[bytes]] = None,
) -> Optional[Page]:
    """Keeps the lines this page owns; None if the page ends up empty or too short.

    ``hashes``: the page's ``line_hashes``, if pass 1 already computed them.
    """
    ns = DEDUPE_LINES
    if hashes is None:
        hashes = line_hashes(page.text, line_hash)
    elif len(hashes) != page.text.count(LINE_DELIMITER) + 1:
        raise ValueError(f"{len(hashes)} line hashes for a page of {page.text.count(LINE_DELIMITER) + 1} lines")
    global_dup = global_dup_chars = local_dup = local_dup_chars = 0
    if owned_hashes.issuperset(hashes) and (not local_dedup or len(set(hashes)) == len(hashes)):
        kept_lines, text = len(hashes), page.text  # most pages: every line kept, the text as it is
    else:
        kept: list[str] = []
        seen: set[bytes] = set()
        for line, h in zip(page.text.split(LINE_DELIMITER), hashes):
            if h not in owned_hashes:
                global_dup += 1
                global_dup_chars += len(line)
            elif local_dedup and h in seen:
                local_dup += 1
                local_dup_chars += len(line)
            else:
                kept.append(line)
                seen.add(h)
        kept_lines, text = len(kept), LINE_DELIMITER.join(kept)
    # counted per page, not per line: same totals, a fraction of the Counter updates
    if global_dup:
        counters[key(ns, "line-filtered:global_duplicate")] += global_dup
        counters[chars_key(ns, "line-filtered:global_duplicate")] += global_dup_chars
    if local_dup:
        counters[key(ns, "line-filtered:local_duplicate")] += local_dup
        counters[chars_key(ns, "line-filtered:local_duplicate")] += local_dup_chars
    if kept_lines:
        counters[key(ns, "line-passed")] += kept_lines
    if not text:
        counters[key(ns, "filtered:empty")] += 1
        return None
    if min_num_sentences and not has_at_least_sentences(text, min_num_sentences):
        counters[key(ns, "filtered:too_few_sentences")] += 1
        counters[chars_key(ns, "filtered:too_few_sentences")] += len(text)
        return None
    counters[key(ns, "passed")] += 1
    return page.replace(text=text)
