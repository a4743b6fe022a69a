"""C4's line and page cleaning rules (TFDS ``clean_page``), one small function each.

``clean_page`` applies them in the reference order; each removal is counted under the
TFDS counter name (namespace ``clean-page``). Order matters: the too-long-word check
runs before citations are deleted, the end-mark and word-count checks after, and the
page killers (lorem ipsum, ``{``) only see lines that passed the earlier line rules.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Callable, Optional

from .counters import CLEAN_PAGE, chars_key, key
from .page import Page
from .sentences import load_punkt

MIN_WORDS_PER_LINE = 5
MIN_NUM_SENTENCES = 3
MAX_WORD_LENGTH = 1000
END_MARKS = (".", "?", "!", '"')
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# Case-sensitive; "\d*" also matches "[]".
CITATION_REGEX = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")


# --- line rules: True means the rule removes the line (or the page) -------------------

def has_too_long_word(line: str, max_word_length: int = MAX_WORD_LENGTH) -> bool:
    # No word is longer than its line: most lines need no split at all.
    return len(line) > max_word_length and any(len(word) > max_word_length for word in line.split())


def remove_citations(line: str) -> str:
    """Deletes [1], [edit], [citation needed]; does not re-strip (as TFDS)."""
    return CITATION_REGEX.sub("", line) if "[" in line else line


def lacks_end_mark(line: str) -> bool:
    return not line.endswith(END_MARKS) or line.endswith(ELLIPSIS)


def has_too_few_words(line: str, min_words: int = MIN_WORDS_PER_LINE) -> bool:
    return len(line.split()) < min_words


def has_lorem_ipsum(line_lower: str) -> bool:
    return "lorem ipsum" in line_lower


def mentions_javascript(line_lower: str) -> bool:
    return "javascript" in line_lower


def has_curly_bracket(line: str) -> bool:
    return "{" in line


def mentions_policy(line_lower: str) -> bool:
    return any(p in line_lower for p in POLICY_SUBSTRINGS)


# --- sentence threshold --------------------------------------------------------------

def has_at_least_sentences(text: str, n: int) -> bool:
    """Punkt finds >= n sentences in text; stops splitting once n are found."""
    if n <= 0:
        return True
    found = 0
    for _ in load_punkt().span_tokenize(text):
        found += 1
        if found >= n:
            return True
    return False


def lines_have_at_least_sentences(lines: list[str], n: int) -> bool:
    """Sum of per-line Punkt counts >= n (TFDS counts each kept line separately).

    Every kept line is non-blank, and Punkt returns at least one sentence for
    non-blank text, so n lines already make n sentences: Punkt runs only when there
    are fewer kept lines than the threshold.
    """
    if len(lines) >= n:
        return True
    needed = n
    for line in lines:
        for _ in load_punkt().span_tokenize(line):
            needed -= 1
            if needed <= 0:
                return True
    return needed <= 0


@dataclasses.dataclass(frozen=True)
class CleaningRules:
    min_words_per_line: int = MIN_WORDS_PER_LINE
    min_num_sentences: int = MIN_NUM_SENTENCES
    max_word_length: Optional[int] = MAX_WORD_LENGTH
    # c4 2.2.0 only: a bad word on a surviving line drops the page inside cleaning.
    line_badword_hit: Optional[Callable[[str], bool]] = None


class _Keys(dict):
    """reason -> (counter name, characters counter name), built once per reason."""

    def __missing__(self, reason: str) -> tuple[str, str]:
        self[reason] = names = (key(CLEAN_PAGE, reason), chars_key(CLEAN_PAGE, reason))
        return names


_KEYS = _Keys()


def clean_page(page: Page, rules: CleaningRules, counters: Counter) -> Optional[Page]:
    """Returns the cleaned page, or None when a page rule removes it."""
    kept: list[str] = []
    removed_chars = 0

    def drop_line(reason: str, raw: str) -> None:
        nonlocal removed_chars
        count_name, chars_name = _KEYS[reason]
        counters[count_name] += 1
        counters[chars_name] += len(raw)
        removed_chars += len(raw)

    def drop_page(reason: str) -> None:
        count_name, chars_name = _KEYS[reason]
        counters[count_name] += 1
        counters[chars_name] += len(page.text) - removed_chars

    for raw in page.text.splitlines():
        line = raw.strip()
        if rules.max_word_length is not None and has_too_long_word(line, rules.max_word_length):
            drop_line("line-filtered:too_long_word", raw)
            continue
        line = remove_citations(line)
        if lacks_end_mark(line):
            drop_line("line-filtered:no_endmark", raw)
            continue
        if has_too_few_words(line, rules.min_words_per_line):
            drop_line("line-filtered:too_short", raw)
            continue
        line_lower = line.lower()
        if has_lorem_ipsum(line_lower):
            drop_page("filtered:loremipsum")
            return None
        if mentions_javascript(line_lower):
            drop_line("line-filtered:javascript", raw)
            continue
        if has_curly_bracket(line):
            drop_page("filtered:squigglybracket")
            return None
        if mentions_policy(line_lower):
            drop_line("line-filtered:policy", raw)
            continue
        if rules.line_badword_hit is not None and rules.line_badword_hit(line_lower):
            drop_page("filtered:badword")
            return None
        kept.append(line)
        counters[_KEYS["line-passed"][0]] += 1
    if not lines_have_at_least_sentences(kept, rules.min_num_sentences):
        drop_page("filtered:too_few_sentences")
        return None
    counters[_KEYS["passed"][0]] += 1
    return page.replace(text="\n".join(kept).strip())
