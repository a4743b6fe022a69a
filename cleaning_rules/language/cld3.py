"""CLD3, as TFDS ``c4/multilingual`` 3.1.0 (mC4) uses it: the gcld3 identifier and mC4's
language step (``predict_language``: every page labelled with one of ``MC4_LANGUAGES``, or
``UNKNOWN_LANGUAGE``). ``english_filter`` uses the same identifier for ``--langid cld3``.

CLD3 is pluggable: ``predict_language`` takes any ``identifier(text) -> LanguageResult``.
The default, ``gcld3_identifier``, needs the ``gcld3`` package, which has no wheel on PyPI
(its build needs protoc and libprotobuf); without it the run stops at start with
``LanguageIdUnavailable`` naming the commands to install it. Nothing is vendored.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, NamedTuple, Optional

from ..counters import chars_key, key
from ..page import Page

LANGUAGE_FILTER = "language-filter"
UNKNOWN_LANGUAGE = "und"
MC4_MIN_PROBABILITY = 0.95  # below it (or unreliable) mC4 labels the page UNKNOWN_LANGUAGE
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
    "or pass another identifier to the language step (make_identifier= of chain.rule_chain or graph.build_c4)."
)


class LanguageIdUnavailable(RuntimeError):
    """A language identifier's package cannot be imported; the message says how to install it."""


class LanguageResult(NamedTuple):
    language: str
    probability: float
    is_reliable: bool


Identifier = Callable[[str], LanguageResult]


def gcld3_identifier(min_num_bytes: int = CLD3_MIN_NUM_BYTES, max_num_bytes: int = CLD3_MAX_NUM_BYTES) -> Identifier:
    """TFDS's CLD3 (gcld3.NNetLanguageIdentifier(min_num_bytes=100, max_num_bytes=10000)):
    shorter texts are unreliable, longer ones are read up to 10,000 bytes."""
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
                     min_probability: float = MC4_MIN_PROBABILITY,
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
