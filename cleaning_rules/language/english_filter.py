"""The English filter of c4/en: its decision, its ``english-filter/...`` counters and its two
backends (``c4forge build --langid``).

* ``langdetect`` (default) is C4's own rule, bit for bit: langdetect 1.0.9, seed 0, top
  language 'en' with p >= ``MIN_PROBABILITY`` (0.99), computed by ``langdetect_exact``.
* ``cld3`` is Google's CLD3 through gcld3, mC4's identifier (``cld3.py``). It **changes the
  output**: the corpus is then no longer C4. A page is kept iff CLD3's top language is 'en',
  the result is reliable and its probability is >= ``CLD3_EN_MIN_PROBABILITY`` (0.95), i.e.
  iff mC4's language step would label the page 'en'.

Both backends count under the same names (``english_or_none``), so reports of the two stay
comparable: an unreliable CLD3 result counts as ``filtered:no_predictions`` (TFDS's name for
it in mC4), a low probability as ``filtered:low_confidence``, another language as
``filtered:ignored_language[-<lang>]``. docs/language-id.md compares the backends.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Optional, Sequence

from ..counters import ENGLISH, chars_key, key
from ..page import Page
from . import cld3, langdetect_exact

LANGDETECT = "langdetect"
CLD3 = "cld3"
BACKENDS = (LANGDETECT, CLD3)

MIN_PROBABILITY = 0.99  # C4's: langdetect's top language must be 'en' with p >= this

# mC4's own bar: a page is kept iff mC4's language step would label it 'en'. Measured on the
# pages that reach the filter (benchmarks/langid_agreement.py), keep/drop agreement with
# langdetect is the same for every threshold from CLD3's own is_reliable (p >= 0.7) up to
# 0.95 and falls above it (0.99, langdetect's own bar, drops more English pages), so the
# constant mC4 already uses is as good as any.
CLD3_EN_MIN_PROBABILITY = cld3.MC4_MIN_PROBABILITY

CLD3_INSTALL_HINT = (
    "--langid cld3 needs CLD3 through the 'gcld3' package, which has no wheel on PyPI: "
    "sudo apt-get install -y protobuf-compiler libprotobuf-dev && pip install gcld3==3.0.13 "
    "(the c4forge[mc4] extra); or keep C4's own --langid langdetect"
)

# (language, probability, verdict): verdict "ok", or the english-filter counter suffix of a
# page no language could be read from
LanguageTop = tuple[Optional[str], float, str]
EnglishBatchDetector = Callable[[Sequence[Page], Counter], list[Optional[Page]]]


# --- the decision -----------------------------------------------------------------------

def english_verdict(lang: Optional[str], prob: float, min_probability: float = MIN_PROBABILITY) -> str:
    if prob < min_probability:
        return "filtered:low_confidence"
    if lang != "en":
        return "filtered:ignored_language"
    return "passed"


def english_or_none(page: Page, top: LanguageTop, counters: Counter, min_probability: float) -> Optional[Page]:
    """The english-filter decision on a (language, probability, verdict) top, counted; every
    backend goes through it, so their counters match."""
    lang, prob, verdict = top
    if verdict == "ok":
        verdict = english_verdict(lang, prob, min_probability)
    counters[key(ENGLISH, verdict)] += 1
    if verdict == "filtered:ignored_language":
        counters[key(ENGLISH, f"filtered:ignored_language-{lang}")] += 1
    if verdict != "passed":
        counters[chars_key(ENGLISH, verdict)] += len(page.text)
        return None
    return page.replace(language="en")


# --- langdetect (C4) --------------------------------------------------------------------

def langdetect_top(text: str) -> LanguageTop:
    """langdetect 1.0.9's (seed 0) top language; verdict "ok", "filtered:langdetect_exception"
    or "filtered:no_predictions"."""
    return langdetect_exact.detect_top(text)


def detect_english(page: Page, counters: Counter, min_probability: float = MIN_PROBABILITY) -> Optional[Page]:
    """The page with language='en', or None (counted under ``english-filter``)."""
    return english_or_none(page, langdetect_top(page.text), counters, min_probability)


def detect_english_batch(pages: Sequence[Page], counters: Counter,
                         min_probability: float = MIN_PROBABILITY) -> list[Optional[Page]]:
    """``[detect_english(p, ...) for p in pages]``, the detections computed together
    (``langdetect_exact.detect_top_many``: same results, less per-text overhead)."""
    tops = langdetect_exact.detect_top_many([p.text for p in pages])
    return [english_or_none(page, top, counters, min_probability) for page, top in zip(pages, tops)]


# --- CLD3 (not C4) ----------------------------------------------------------------------

def cld3_identifier() -> cld3.Identifier:
    """mC4's CLD3 identifier, or LanguageIdUnavailable naming what --langid cld3 needs."""
    try:
        return cld3.gcld3_identifier()
    except cld3.LanguageIdUnavailable as e:
        raise cld3.LanguageIdUnavailable(CLD3_INSTALL_HINT) from e


def cld3_top(result: cld3.LanguageResult) -> LanguageTop:
    """A CLD3 result as langdetect's (language, probability, verdict) top."""
    if not result.is_reliable:
        return result.language, result.probability, "filtered:no_predictions"
    return result.language, result.probability, "ok"


def detect_english_cld3(page: Page, identify: cld3.Identifier, counters: Counter,
                        min_probability: float = CLD3_EN_MIN_PROBABILITY) -> Optional[Page]:
    """The page with language='en' iff CLD3 says 'en', reliably, with p >= min_probability."""
    return english_or_none(page, cld3_top(identify(page.text)), counters, min_probability)


# --- choosing a backend -----------------------------------------------------------------

def differs_from_c4(backend: str) -> Optional[str]:
    """The warning a build with this backend carries in its log and report; None for C4's own."""
    if backend == LANGDETECT:
        return None
    return (f"--langid {backend}: the English filter uses {backend.upper()} instead of langdetect 1.0.9, "
            f"so this output differs from C4 (other pages kept and dropped); use --langid langdetect for C4")


def compiled_detector_missing(backend: str) -> bool:
    """Whether this backend would detect with langdetect's numpy path because this install lacks
    the compiled detector (installed where no C compiler was found): the same results, about 3x
    the CPU."""
    return backend == LANGDETECT and not langdetect_exact.compiled_installed()


def check_backend(backend: str) -> None:
    """ValueError for an unknown backend; LanguageIdUnavailable (one line, with the install
    commands) when the backend's package cannot be imported."""
    if backend not in BACKENDS:
        raise _unknown_backend(backend)
    if backend == CLD3:
        cld3_identifier()  # fail before the run, not in a worker


def english_batch_detector(backend: str, langdetect_min_probability: float = MIN_PROBABILITY) -> EnglishBatchDetector:
    """``detect(pages, counters) -> [page with language='en' or None]`` for one backend.
    Loads CLD3's model now: call it once per worker."""
    if backend == LANGDETECT:
        return lambda pages, counters: detect_english_batch(pages, counters, langdetect_min_probability)
    if backend == CLD3:
        identify = cld3_identifier()
        return lambda pages, counters: [detect_english_cld3(p, identify, counters) for p in pages]
    raise _unknown_backend(backend)


def _unknown_backend(backend: str) -> ValueError:
    return ValueError(f"unknown --langid {backend!r}; choose from {', '.join(BACKENDS)}")
