"""C4's line and page cleaning rules (TFDS ``clean_page``), one small function each.

``judge_line`` applies them to one line in the reference order, and ``clean_page`` to a
page; each removal is counted under the TFDS counter name (namespace ``clean-page``).
Order matters: the too-long-word check runs before citations are deleted, the end-mark
and word-count checks after, and the page killers (lorem ipsum, ``{``) only see lines
that passed the earlier line rules. Most lines of a web page lack an end mark;
``clean_page`` counts those in bulk and judges only the others (``lines_needing_rules``).
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import re
from collections import Counter
from typing import Callable, Optional

from .counters import CLEAN_PAGE, chars_key, key
from .page import Page
from .sentences import load_punkt

try:  # built by pip install where a C compiler is found; the Python path gives the same results
    from . import lines_compiled
except ImportError:
    lines_compiled = None

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
    return len(line) > max_word_length and max(map(len, line.split()), default=0) > max_word_length


def remove_citations(line: str) -> str:
    """Deletes [1], [edit], [citation needed]; does not re-strip (as TFDS)."""
    return CITATION_REGEX.sub("", line) if "[" in line else line


def lacks_end_mark(line: str) -> bool:
    return not line.endswith(END_MARKS) or line.endswith(ELLIPSIS)


def has_too_few_words(line: str, min_words: int = MIN_WORDS_PER_LINE) -> bool:
    # len(line.split()) < min_words, but splitting off at most min_words words: with
    # maxsplit k, str.split returns min(word count, k + 1) pieces (k = -1: no limit).
    return len(line.split(None, min_words - 1)) < min_words


def has_lorem_ipsum(line_lower: str) -> bool:
    return "lorem ipsum" in line_lower


def mentions_javascript(line_lower: str) -> bool:
    return "javascript" in line_lower


def has_curly_bracket(line: str) -> bool:
    return "{" in line


def mentions_policy(line_lower: str) -> bool:
    # Every phrase holds "policy", "cookies" or "terms of use": three scans clear most
    # lines before the six.
    if "policy" in line_lower or "cookies" in line_lower or "terms of use" in line_lower:
        return any(map(line_lower.__contains__, POLICY_SUBSTRINGS))
    return False


# --- sentence threshold --------------------------------------------------------------
# sentences.has_at_least_sentences(text, n) is the whole-text test; dedup uses it.

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


# --- the cleaning stage --------------------------------------------------------------

TOO_LONG_WORD = "line-filtered:too_long_word"
NO_ENDMARK = "line-filtered:no_endmark"
TOO_SHORT = "line-filtered:too_short"
JAVASCRIPT = "line-filtered:javascript"
POLICY = "line-filtered:policy"
LOREM_IPSUM = "filtered:loremipsum"
CURLY_BRACKET = "filtered:squigglybracket"
BADWORD = "filtered:badword"
TOO_FEW_SENTENCES = "filtered:too_few_sentences"
# Verdicts of judge_line that remove the whole page, not just the line.
PAGE_REASONS = frozenset((LOREM_IPSUM, CURLY_BRACKET, BADWORD))


def judge_line(line: str, rules: CleaningRules) -> tuple[Optional[str], str]:
    """The line rules in TFDS order on one stripped line: (reason, cleaned line).

    reason is None when the line is kept (the cleaned line is what goes into the
    page), a ``line-filtered:...`` reason when the line is removed, or one of
    PAGE_REASONS when the line removes its page.
    """
    if rules.max_word_length is not None and has_too_long_word(line, rules.max_word_length):
        return TOO_LONG_WORD, line
    line = remove_citations(line)
    if lacks_end_mark(line):
        return NO_ENDMARK, line
    if has_too_few_words(line, rules.min_words_per_line):
        return TOO_SHORT, line
    line_lower = line.lower()
    if has_lorem_ipsum(line_lower):
        return LOREM_IPSUM, line
    if mentions_javascript(line_lower):
        return JAVASCRIPT, line
    if has_curly_bracket(line):
        return CURLY_BRACKET, line
    if mentions_policy(line_lower):
        return POLICY, line
    if rules.line_badword_hit is not None and rules.line_badword_hit(line_lower):
        return BADWORD, line
    return None, line


# Substrings judge_line's later rules look for (lower-cased line); the policy phrases all hold
# one of the last three.
_LATER_RULE_SUBSTRINGS = ("lorem ipsum", "javascript", "policy", "cookies", "terms of use")


def _lines_needing_all_rules(judged_lines: list[str], rules: CleaningRules) -> Optional[list[bool]]:
    """For each of ``judged_lines`` (raw), whether judge_line must see it: False where its
    verdict is surely its end-mark or word-count verdict (no "[", no "{", no too-long word,
    no substring a later rule looks for). None when that holds for every line: most pages.
    The substrings are ASCII and hold no newline, and lower-casing the lines joined gives
    each line's ASCII characters as lower-casing it alone (only sigma's form depends on
    context), so one look at the joined lines clears the page."""
    if rules.line_badword_hit is not None:
        return [True] * len(judged_lines)
    joined = "\n".join(judged_lines)
    lower = joined.lower()
    mwl = rules.max_word_length
    if not ("[" in joined or "{" in joined or any(map(lower.__contains__, _LATER_RULE_SUBSTRINGS))
            or (mwl is not None and len(joined) > mwl and any(has_too_long_word(line, mwl) for line in judged_lines))):
        return None
    longest = len(joined) if mwl is None else mwl
    return [("[" in line or "{" in line or len(line) > longest
             or any(map(line_lower.__contains__, _LATER_RULE_SUBSTRINGS)))
            for line, line_lower in zip(judged_lines, lower.split("\n"))]


def _judge_end_mark_and_words(line: str, rules: CleaningRules) -> tuple[Optional[str], str]:
    """judge_line for a line of a page where only these two rules can apply."""
    if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
        return NO_ENDMARK, line
    if len(line.split(None, rules.min_words_per_line - 1)) < rules.min_words_per_line:
        return TOO_SHORT, line
    return None, line


def lines_needing_rules(raw_lines: list[str], text: str, max_word_length: Optional[int]) -> list[int]:
    """Indices of the raw lines of text that judge_line must see, in order.

    Every other line is a no_endmark drop: it is no longer than max_word_length (so
    has_too_long_word is False), holds no "[" (so remove_citations leaves it as it is)
    and its stripped form does not end with an end mark (so lacks_end_mark is True).
    That is most lines of a web page; the tests run over the whole page in C
    (map/compress) instead of one Python call per line. Extra indices would only
    cost time, never change the result, so the tests may be looser than the rules
    (a raw line is at least as long as its stripped form).
    """
    count, compress, repeat = itertools.count, itertools.compress, itertools.repeat
    # A line's strip() and rstrip() end alike (or are both empty).
    with_end_mark = compress(count(), map(str.endswith, map(str.rstrip, raw_lines), repeat(END_MARKS)))
    others: list[int] = []
    # Whole-page prechecks first: most pages have no "[" and no line over max_word_length.
    if "[" in text:
        others += compress(count(), map(operator.contains, raw_lines, repeat("[")))
    if (max_word_length is not None and len(text) > max_word_length
            and max(map(len, raw_lines)) > max_word_length):
        others += compress(count(), map(operator.lt, repeat(max_word_length), map(len, raw_lines)))
    if not others:
        return list(with_end_mark)
    return sorted(set(with_end_mark).union(others))


def _judge_lines_in_python(text: str, rules: CleaningRules):
    """judge_line on every stripped line of text, in order, until a line removes the page:
    (kept lines, {reason: lines}, {reason: raw characters}, page reason or None, raw
    characters before the line that removed the page (or all), raw characters kept)."""
    raw_lines = text.splitlines()
    judged = lines_needing_rules(raw_lines, text, rules.max_word_length)

    kept: list[str] = []
    kept_raw_chars = 0
    judged_raw_chars = 0
    removed_lines: dict[str, int] = {}  # reason -> judged lines it removed
    removed_chars: dict[str, int] = {}  # reason -> raw characters of those lines
    page_reason = None
    # Where judging stopped: the line that removed the page, or the end of the page.
    stop_index, judged_before_stop = len(raw_lines), len(judged)
    needs_all_rules = _lines_needing_all_rules([raw_lines[i] for i in judged], rules)
    for position, index in enumerate(judged):
        if needs_all_rules is None or not needs_all_rules[position]:
            reason, line = _judge_end_mark_and_words(raw_lines[index].strip(), rules)
        else:
            reason, line = judge_line(raw_lines[index].strip(), rules)
        if reason in PAGE_REASONS:
            page_reason, stop_index, judged_before_stop = reason, index, position
            break
        raw_length = len(raw_lines[index])
        judged_raw_chars += raw_length
        if reason is None:
            kept.append(line)
            kept_raw_chars += raw_length
        else:
            removed_lines[reason] = removed_lines.get(reason, 0) + 1
            removed_chars[reason] = removed_chars.get(reason, 0) + raw_length

    # The lines before stop_index that were not judged are no_endmark drops.
    raw_chars_before_stop = sum(map(len, itertools.islice(raw_lines, stop_index)))
    unjudged = stop_index - judged_before_stop
    if unjudged:
        removed_lines[NO_ENDMARK] = removed_lines.get(NO_ENDMARK, 0) + unjudged
        removed_chars[NO_ENDMARK] = (removed_chars.get(NO_ENDMARK, 0)
                                     + raw_chars_before_stop - judged_raw_chars)
    return kept, removed_lines, removed_chars, page_reason, raw_chars_before_stop, kept_raw_chars


# lines_compiled.judge_lines' reasons, in its order.
_COMPILED_LINE_REASONS = (TOO_LONG_WORD, NO_ENDMARK, TOO_SHORT, JAVASCRIPT, POLICY)
_COMPILED_PAGE_REASONS = {0: None}
if lines_compiled is not None:
    _COMPILED_PAGE_REASONS.update({lines_compiled.PAGE_LOREM_IPSUM: LOREM_IPSUM,
                                   lines_compiled.PAGE_CURLY_BRACKET: CURLY_BRACKET})


def _judge_lines_compiled(text: str, rules: CleaningRules):
    """_judge_lines_in_python's result from lines_compiled.judge_lines (no line bad words)."""
    mwl = -1 if rules.max_word_length is None else rules.max_word_length
    kept, removed, page_code, raw_chars_before_stop, kept_raw_chars = lines_compiled.judge_lines(
        text, rules.min_words_per_line, mwl, remove_citations)
    removed_lines: dict[str, int] = {}
    removed_chars: dict[str, int] = {}
    for reason, n, chars in zip(_COMPILED_LINE_REASONS, removed[0::2], removed[1::2]):
        if n:
            removed_lines[reason], removed_chars[reason] = n, chars
    return kept, removed_lines, removed_chars, _COMPILED_PAGE_REASONS[page_code], raw_chars_before_stop, kept_raw_chars


def compiled_installed() -> bool:
    """Whether this install has the compiled line rules (built where a C compiler was found)."""
    return lines_compiled is not None


def clean_page(page: Page, rules: CleaningRules, counters: Counter) -> Optional[Page]:
    """Returns the cleaned page, or None when a page rule removes it.

    Same result and counters as running judge_line on every stripped line in order
    (tests/test_rules_lines.py checks this against the per-rule functions): compiled
    (``lines_compiled.c``) where installed and no bad-word rule runs per line; otherwise in
    Python, where lines that can only be no_endmark drops (see lines_needing_rules) are
    counted in bulk. Removals are added to counters once per page.
    """
    text = page.text
    judge = _judge_lines_compiled if lines_compiled is not None and rules.line_badword_hit is None \
        else _judge_lines_in_python
    kept, removed_lines, removed_chars, page_reason, raw_chars_before_stop, kept_raw_chars = judge(text, rules)
    for reason, n in removed_lines.items():
        count_name, chars_name = _KEYS[reason]
        counters[count_name] += n
        counters[chars_name] += removed_chars[reason]
    if kept:
        counters[_KEYS["line-passed"][0]] += len(kept)

    if page_reason is None and not lines_have_at_least_sentences(kept, rules.min_num_sentences):
        page_reason = TOO_FEW_SENTENCES
    if page_reason is not None:
        # The page's characters not already counted as removed lines.
        count_name, chars_name = _KEYS[page_reason]
        counters[count_name] += 1
        counters[chars_name] += len(text) - (raw_chars_before_stop - kept_raw_chars)
        return None
    counters[_KEYS["passed"][0]] += 1
    return page.replace(text="\n".join(kept).strip())
