"""Language identification (docs/language-id.md).

* ``english_filter``: c4/en's English filter, its decision and counters, and its backends
  (``--langid langdetect``, C4's own, or ``cld3``).
* ``cld3``: CLD3 through gcld3, and mC4's language step (``predict_language``).
* ``langdetect_exact``: langdetect 1.0.9 (seed 0), bit for bit, per text and in batches.

Callers use the names below: ``from c4forge.cleaning_rules import language``, then
``language.english_batch_detector(...)``, ``language.predict_language(...)``, ...
"""

from .cld3 import (
    CLD3_MAX_NUM_BYTES,
    CLD3_MIN_NUM_BYTES,
    GCLD3_INSTALL_HINT,
    LANGUAGE_FILTER,
    MC4_LANGUAGES,
    MC4_MIN_PROBABILITY,
    UNKNOWN_LANGUAGE,
    Identifier,
    LanguageIdUnavailable,
    LanguageResult,
    check_gcld3,
    gcld3_identifier,
    predict_language,
)
from .english_filter import (
    BACKENDS,
    CLD3,
    CLD3_EN_MIN_PROBABILITY,
    CLD3_INSTALL_HINT,
    LANGDETECT,
    MIN_PROBABILITY,
    EnglishBatchDetector,
    LanguageTop,
    check_backend,
    cld3_identifier,
    compiled_detector_missing,
    detect_english,
    detect_english_batch,
    detect_english_cld3,
    differs_from_c4,
    english_batch_detector,
    english_or_none,
    english_verdict,
    langdetect_top,
)

__all__ = [
    "BACKENDS", "CLD3", "CLD3_EN_MIN_PROBABILITY", "CLD3_INSTALL_HINT", "CLD3_MAX_NUM_BYTES",
    "CLD3_MIN_NUM_BYTES", "GCLD3_INSTALL_HINT", "LANGDETECT", "LANGUAGE_FILTER", "MC4_LANGUAGES",
    "MC4_MIN_PROBABILITY", "MIN_PROBABILITY", "UNKNOWN_LANGUAGE",
    "EnglishBatchDetector", "Identifier", "LanguageIdUnavailable", "LanguageResult", "LanguageTop",
    "check_backend", "check_gcld3", "cld3_identifier", "compiled_detector_missing", "detect_english", "detect_english_batch",
    "detect_english_cld3", "differs_from_c4", "english_batch_detector", "english_or_none",
    "english_verdict", "gcld3_identifier", "langdetect_top", "predict_language",
]
