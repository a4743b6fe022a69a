"""mC4 (TFDS ``c4/multilingual`` 3.1.0) rules: paragraph filter, per-language bad words,
per-language split names. Pure functions; no Beam. The CLD3 language step is
``language.predict_language`` (``language/cld3.py``).

Stage order (c4.py ``_get_pages_pcollection`` for ``multilingual``): parse → length cap →
URL dedup → **paragraph filter** → (no cleaning) → line dedup without the sentence
re-check → **CLD3** → **bad words per language, soft keep 0.999** → splits ``<lang>`` /
``<lang>-validation`` (``und`` included).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Optional

from . import badwords as badwords_rules
from .counters import chars_key, key
from .language import MC4_LANGUAGES, UNKNOWN_LANGUAGE
from .page import Page
from .urls import split_of

PARAGRAPH_FILTER = "paragraph-filter"
MIN_PARAGRAPHS = 3
MIN_PARAGRAPH_LEN = 200


# --- paragraph filter (§7.6) ------------------------------------------------------------

def passes_paragraph_filter(text: str, min_paragraphs: int = MIN_PARAGRAPHS,
                            min_paragraph_len: int = MIN_PARAGRAPH_LEN) -> bool:
    """TFDS paragraph_filter: >= 3 lines and the 3rd-longest line >= 200 characters."""
    lines = text.split("\n")
    return not (len(lines) < min_paragraphs
                or min(heapq.nlargest(3, [len(l) for l in lines])) < min_paragraph_len)


def paragraph_filter(page: Page, counters: Counter) -> bool:
    if passes_paragraph_filter(page.text):
        counters[key(PARAGRAPH_FILTER, "passed")] += 1
        return True
    counters[key(PARAGRAPH_FILTER, "filtered")] += 1
    counters[chars_key(PARAGRAPH_FILTER, "filtered")] += len(page.text)
    return False


# --- bad words --------------------------------------------------------------------------

def badword_langs() -> list[str]:
    """Every pinned LDNOOBW list (en at its own commit, 27 at 5faf2ba)."""
    return sorted({lang for _, lang in badwords_rules.PINNED_SHA256})


def merge_badword_lists(raw_by_lang: dict[str, bytes]) -> dict[str, frozenset[str]]:
    """As c4.py: suffixes cut at the first '-' (fr-CA merges into fr), lines stripped,
    allowlisted words removed (ja, zh)."""
    words: dict[str, set[str]] = defaultdict(set)
    for lang, data in raw_by_lang.items():
        words[lang.split("-")[0]].update(line.strip() for line in data.decode("utf-8").splitlines(keepends=True))
    for lang, allow in badwords_rules.ALLOWLIST.items():
        words[lang] -= allow
    return {lang: frozenset(w) for lang, w in words.items()}


def load_mc4_badwords(badwords_dir: Optional[str] = None) -> dict[str, frozenset[str]]:
    """All 28 pinned lists (sha256-checked), merged per language."""
    return merge_badword_lists({lang: badwords_rules.read_badwords_file(lang, badwords_dir)
                                for lang in badword_langs()})


# --- splits -----------------------------------------------------------------------------

def mc4_split(page: Page) -> str:
    """``<lang>`` or ``<lang>-validation`` (md5(normalized url) % 1000 == 0)."""
    lang = page.language or UNKNOWN_LANGUAGE
    return lang if split_of(page.normalized_url) == "train" else f"{lang}-validation"


def mc4_split_names(languages=MC4_LANGUAGES) -> tuple[str, ...]:
    """All split names of TFDS c4/multilingual, in TFDS's order (``und`` last)."""
    names = []
    for lang in (*languages, UNKNOWN_LANGUAGE):
        names += [lang, f"{lang}-validation"]
    return tuple(names)
