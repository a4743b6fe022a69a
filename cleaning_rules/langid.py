"""Backends of the English filter (``c4forge build --langid``).

``langdetect`` (default) is C4's own rule, bit for bit (``language.py``). ``cld3`` is
Google's CLD3 through gcld3, the identifier mC4 uses; it **changes the output**: the
corpus is then no longer C4. It is ~5x cheaper than langdetect 1.0.9 itself, but not
cheaper than c4forge's exact re-implementation (``langdetect_exact``), which the default
uses; ``benchmarks/langid_agreement.py`` measures both, and the agreement.

CLD3 rule: keep a page iff CLD3's top language is 'en', the result is reliable and its
probability is >= ``CLD3_EN_MIN_PROBABILITY`` (0.95), i.e. iff mC4's language step would
label the page 'en'. The identifier is mC4's (TFDS's ``min_num_bytes=100,
max_num_bytes=10000``: shorter texts are unreliable, longer ones are read up to 10,000 bytes).

Both backends count under the same ``english-filter/...`` names (``language.english_or_none``),
so reports of the two stay comparable: an unreliable CLD3 result counts as
``filtered:no_predictions`` (TFDS's name for it in mC4), a low probability as
``filtered:low_confidence``, another language as ``filtered:ignored_language[-<lang>]``.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Optional, Sequence

from . import language, mc4
from .page import Page

LANGDETECT = "langdetect"
CLD3 = "cld3"
BACKENDS = (LANGDETECT, CLD3)

# mC4's own bar (mc4.MIN_PROBABILITY): a page is kept iff mC4's language step would label
# it 'en'. Measured on the pages that reach the filter (benchmarks/langid_agreement.py),
# keep/drop agreement with langdetect is the same for every threshold from CLD3's own
# is_reliable (p >= 0.7) up to 0.95 and falls above it (0.99, langdetect's own bar, drops
# more English pages), so the constant mC4 already uses is as good as any.
CLD3_EN_MIN_PROBABILITY = mc4.MIN_PROBABILITY

CLD3_INSTALL_HINT = (
    "--langid cld3 needs CLD3 through the 'gcld3' package, which has no wheel on PyPI: "
    "sudo apt-get install -y protobuf-compiler libprotobuf-dev && pip install gcld3==3.0.13 "
    "(the c4forge[mc4] extra); or keep C4's own --langid langdetect"
)

EnglishBatchDetector = Callable[[Sequence[Page], Counter], list[Optional[Page]]]


def differs_from_c4(backend: str) -> Optional[str]:
    """The warning a build with this backend carries in its log and report; None for C4's own."""
    if backend == LANGDETECT:
        return None
    return (f"--langid {backend}: the English filter uses {backend.upper()} instead of langdetect 1.0.9, "
            f"so this output differs from C4 (other pages kept and dropped); use --langid langdetect for C4")


def check_backend(backend: str) -> None:
    """ValueError for an unknown backend; mc4.LanguageIdUnavailable (one line, with the
    install commands) when the backend's package cannot be imported."""
    if backend not in BACKENDS:
        raise _unknown_backend(backend)
    if backend == CLD3:
        cld3_identifier()  # fail before the run, not in a worker


def cld3_identifier() -> mc4.Identifier:
    """mC4's CLD3 identifier, or LanguageIdUnavailable naming what --langid cld3 needs."""
    try:
        return mc4.gcld3_identifier()
    except mc4.LanguageIdUnavailable as e:
        raise mc4.LanguageIdUnavailable(CLD3_INSTALL_HINT) from e


def cld3_top(result: mc4.LanguageResult) -> tuple[Optional[str], float, str]:
    """A CLD3 result as langdetect's (language, probability, verdict) top."""
    if not result.is_reliable:
        return result.language, result.probability, "filtered:no_predictions"
    return result.language, result.probability, "ok"


def detect_english_cld3(page: Page, identify: mc4.Identifier, counters: Counter,
                        min_probability: float = CLD3_EN_MIN_PROBABILITY) -> Optional[Page]:
    """The page with language='en' iff CLD3 says 'en', reliably, with p >= min_probability."""
    return language.english_or_none(page, cld3_top(identify(page.text)), counters, min_probability)


def english_batch_detector(backend: str,
                           langdetect_min_probability: float = language.MIN_PROBABILITY) -> EnglishBatchDetector:
    """``detect(pages, counters) -> [page with language='en' or None]`` for one backend.
    Loads CLD3's model now: call it once per worker."""
    if backend == LANGDETECT:
        return lambda pages, counters: language.detect_english_batch(pages, counters, langdetect_min_probability)
    if backend == CLD3:
        identify = cld3_identifier()
        return lambda pages, counters: [detect_english_cld3(p, identify, counters) for p in pages]
    raise _unknown_backend(backend)


def _unknown_backend(backend: str) -> ValueError:
    return ValueError(f"unknown --langid {backend!r}; choose from {', '.join(BACKENDS)}")
