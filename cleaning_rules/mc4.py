"""mC4 (TFDS ``c4/multilingual`` 3.1.0) rules: paragraph filter, CLD3 language split,
per-language bad words, per-language split names. Pure functions; no Beam.

Stage order (c4.py ``_get_pages_pcollection`` for ``multilingual``): parse → length cap →
URL dedup → **paragraph filter** → (no cleaning) → line dedup without the sentence
re-check → **CLD3** → **bad words per language, soft keep 0.999** → splits ``<lang>`` /
``<lang>-validation`` (``und`` included).

CLD3 is pluggable: ``predict_language`` takes any ``identifier(text) -> LanguageResult``.
The default, ``gcld3_identifier``, needs the ``gcld3`` package, which has no wheel on PyPI
(its build needs protoc and libprotobuf); without it the run stops at start with
``LanguageIdUnavailable`` naming the commands to install it. Nothing is vendored.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Callable, NamedTuple, Optional

from . import badwords as badwords_rules
from .counters import chars_key, key
from .page import Page
from .urls import split_of

PARAGRAPH_FILTER = "paragraph-filter"
LANGUAGE_FILTER = "language-filter"
UNKNOWN_LANGUAGE = "und"
MIN_PROBABILITY = 0.95
MIN_PARAGRAPHS = 3
MIN_PARAGRAPH_LEN = 200
CLD3_MIN_NUM_BYTES = 100
CLD3_MAX_NUM_BYTES = 10000

# tensorflow_datasets/text/c4.py MC4_LANGUAGES (3.1.0): 101 languages + 6 -Latn variants.
MC4_LANGUAGES = (
    "af", "am", "ar", "az", "be", "bg", "bg-Latn", "bn", "ca", "ceb", "co",
    "cs", "cy", "da", "de", "el", "el-Latn", "en", "eo", "es", "et", "eu",
    "fa", "fi", "fil", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "haw", "hi",
    "hi-Latn", "hmn", "ht", "hu", "hy", "id", "ig", "is", "it", "iw", "ja",
    "ja-Latn", "jv", "ka", "kk", "km", "kn", "ko", "ku", "ky", "la", "lb",
    "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my",
    "ne", "nl", "no", "ny", "pa", "pl", "ps", "pt", "ro", "ru", "ru-Latn",
    "sd", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "st", "su", "sv",
    "sw", "ta", "te", "tg", "th", "tr", "uk", "ur", "uz", "vi", "xh", "yi",
    "yo", "zh", "zh-Latn", "zu",
)

GCLD3_INSTALL_HINT = (
    "mC4's language step needs CLD3 through the 'gcld3' package (pycld3 does not build on "
    "Python 3.11). gcld3 has no wheel on PyPI; build it from the sdist:\n"
    "  sudo apt-get install -y protobuf-compiler libprotobuf-dev\n"
    "  pip install gcld3==3.0.13\n"
    "or pass another identifier to the language step (graph.PredictLanguage(make_identifier=...))."
)


class LanguageIdUnavailable(RuntimeError):
    pass


class LanguageResult(NamedTuple):
    language: str
    probability: float
    is_reliable: bool


Identifier = Callable[[str], LanguageResult]


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


# --- language ---------------------------------------------------------------------------

def gcld3_identifier(min_num_bytes: int = CLD3_MIN_NUM_BYTES, max_num_bytes: int = CLD3_MAX_NUM_BYTES) -> Identifier:
    """TFDS's CLD3 (gcld3.NNetLanguageIdentifier(min_num_bytes=100, max_num_bytes=10000))."""
    try:
        import gcld3
    except ImportError as e:
        raise LanguageIdUnavailable(GCLD3_INSTALL_HINT) from e
    detector = gcld3.NNetLanguageIdentifier(min_num_bytes=min_num_bytes, max_num_bytes=max_num_bytes)

    def identify(text: str) -> LanguageResult:
        r = detector.FindLanguage(text=text)
        return LanguageResult(r.language, float(r.probability), bool(r.is_reliable))

    return identify


def check_gcld3() -> None:
    """Raises LanguageIdUnavailable (with install commands) when gcld3 cannot be imported."""
    gcld3_identifier()


def predict_language(page: Page, identify: Identifier, counters: Counter,
                     min_probability: float = MIN_PROBABILITY,
                     valid_languages: frozenset = frozenset(MC4_LANGUAGES)) -> Optional[Page]:
    """TFDS _PredictLanguageFn: unreliable or < min_probability → "und"; a reliable label
    outside MC4_LANGUAGES drops the page. Counters under ``language-filter``."""
    ns = LANGUAGE_FILTER
    result = identify(page.text)
    if not result.is_reliable:
        counters[key(ns, "filtered:no_predictions")] += 1
        lang = UNKNOWN_LANGUAGE
    elif result.probability < min_probability:
        counters[key(ns, "filtered:low_confidence")] += 1
        lang = UNKNOWN_LANGUAGE
    else:
        lang = result.language
        if lang not in valid_languages:
            counters[key(ns, "filtered:ignored_language")] += 1
            counters[chars_key(ns, "filtered:ignored_language")] += len(page.text)
            return None
    counters[key(ns, "passed")] += 1
    counters[key(ns, f"passed:{lang}")] += 1
    return page.replace(language=lang)


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
    return merge_badword_lists({lang: badwords_rules.fetch_badwords_file(lang, badwords_dir)
                                for lang in badword_langs()})


def badword_regexes(words_by_lang: dict[str, frozenset[str]]) -> dict:
    return {lang: badwords_rules.page_badword_regex(words, lang) for lang, words in words_by_lang.items()}


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
