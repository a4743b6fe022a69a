"""Three-sentence-span dedup (the T5 paper's wording; TFDS c4 1.0.0's algorithm) as pure functions.

The paper (arXiv 1910.10683, §2.2): "we discarded all but one of any three-sentence span
occurring more than once in the data set". c4 1.0.0 implemented it per line:

- each line is split into Punkt sentences, lower-cased for hashing;
- the windows of a line are its runs of 3 consecutive sentences (the whole line when it
  has fewer than 3 sentences); a window made only of end-mark "sentences" (".", "?!", ...)
  is skipped: it neither owns nor removes anything;
- every distinct window is owned by the page with the smallest md5(url); in every other
  page holding it, the sentences the window covers are removed;
- each line is rebuilt by joining its remaining sentences (original case) with single
  spaces; a line left without sentences disappears;
- a page left with fewer than ``min_num_sentences`` sentences (3) is dropped.

Pass 1 (``page_window_hashes``) emits each distinct window hash of a page with the page's
owner key (``dedup.owner_key(url)``); the smallest key owns it. Pass 2
(``remove_duplicate_spans``) gets the set of hashes the page owns and removes every
sentence covered by a window it does not own. Deterministic: the result depends on the
set of pages only, never on arrival order or bundling.

Within-page repeats: the owner keeps every occurrence of a window it owns (1.0.0 had no
local dedup; whether its sorted-URL list removed a repeat from the owner page too, as
1.1.0's line dedup did, is unverified, so the reading "all URLs but one" is used).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Iterator, Optional

from .counters import chars_key, key
from .page import Page
from .sentences import load_punkt

DEDUPE_SENTENCES = "dedupe-sentences"
WINDOW_SIZE = 3
END_MARK_CHARS = frozenset('.?!"')
WINDOW_SEPARATOR = "\n"  # never inside a Punkt sentence of one line


def line_sentences(line: str) -> list[str]:
    """Punkt English sentences of one line (original case)."""
    return load_punkt().tokenize(line)


def is_end_mark_only(sentence: str) -> bool:
    stripped = sentence.strip()
    return bool(stripped) and set(stripped) <= END_MARK_CHARS


def windows(sentences: list[str], size: int = WINDOW_SIZE) -> Iterator[tuple[int, int]]:
    """(start, end) of each window: consecutive runs of ``size`` sentences, or the whole line
    when it has fewer than ``size``."""
    n = len(sentences)
    if n == 0:
        return
    if n < size:
        yield 0, n
        return
    for i in range(n - size + 1):
        yield i, i + size


def window_hash(lowered: list[str]) -> bytes:
    return hashlib.md5(WINDOW_SEPARATOR.join(lowered).encode("utf-8")).digest()


def line_windows(sentences: list[str], size: int = WINDOW_SIZE) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, hash) of each window that counts (end-mark-only windows skipped)."""
    lowered = [s.lower() for s in sentences]
    for start, end in windows(sentences, size):
        span = lowered[start:end]
        if all(is_end_mark_only(s) for s in span):
            continue
        yield start, end, window_hash(span)


def page_window_hashes(text: str, size: int = WINDOW_SIZE) -> set[bytes]:
    """Distinct window hashes of a page (what pass 1 emits, once per page)."""
    hashes: set[bytes] = set()
    for line in text.split("\n"):
        for _, _, h in line_windows(line_sentences(line), size):
            hashes.add(h)
    return hashes


def remove_duplicate_spans(
    page: Page,
    owned_hashes: set[bytes],
    counters: Counter,
    min_num_sentences: int = 3,
    size: int = WINDOW_SIZE,
) -> Optional[Page]:
    """Pass 2: removes the sentences covered by windows this page does not own; None if
    the page is left with fewer than ``min_num_sentences`` sentences (or none)."""
    ns = DEDUPE_SENTENCES
    new_lines: list[str] = []
    sentences_left = 0
    for line in page.text.split("\n"):
        sentences = line_sentences(line)
        removed = [False] * len(sentences)
        for start, end, h in line_windows(sentences, size):
            if h not in owned_hashes:
                for i in range(start, end):
                    removed[i] = True
        kept = [s for s, r in zip(sentences, removed) if not r]
        n_removed = len(sentences) - len(kept)
        if n_removed:
            counters[key(ns, "sentence-filtered:global_duplicate")] += n_removed
            counters[chars_key(ns, "sentence-filtered:global_duplicate")] += sum(
                len(s) for s, r in zip(sentences, removed) if r)
        counters[key(ns, "sentence-passed")] += len(kept)
        if not kept:
            if sentences:
                counters[key(ns, "line-filtered:all_sentences_removed")] += 1
            else:
                counters[key(ns, "line-filtered:no_sentences")] += 1
                counters[chars_key(ns, "line-filtered:no_sentences")] += len(line)
            continue
        new_lines.append(" ".join(kept))
        sentences_left += len(kept)
    text = "\n".join(new_lines)
    if not text:
        counters[key(ns, "filtered:empty")] += 1
        return None
    if sentences_left < min_num_sentences:
        counters[key(ns, "filtered:too_few_sentences")] += 1
        counters[chars_key(ns, "filtered:too_few_sentences")] += len(text)
        return None
    counters[key(ns, "passed")] += 1
    return page.replace(text=text)

