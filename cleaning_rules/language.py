"""English detection exactly as C4: langdetect 1.0.9, seed 0, top language 'en' with p >= 0.99.

langdetect is deterministic only with ``DetectorFactory.seed`` set; each detection then
reseeds its own generator from it, so the result is a pure function of the text.
``langdetect_top`` uses ``langdetect_exact`` (the same computation, bit for bit, about 10x
faster); ``langdetect_reference_top`` calls langdetect itself (under a lock, as TFDS does:
the module is not thread-safe) and is what the tests compare against.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Optional, Sequence

from .counters import ENGLISH, chars_key, key
from .page import Page

MIN_PROBABILITY = 0.99
_lock = threading.Lock()


def langdetect_top(text: str) -> tuple[Optional[str], float, str]:
    """(language, probability, verdict); verdict is a TFDS english-filter counter suffix."""
    from . import langdetect_exact

    return langdetect_exact.detect_top(text)


def langdetect_reference_top(text: str) -> tuple[Optional[str], float, str]:
    """``langdetect_top`` computed by langdetect 1.0.9 itself."""
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:
        langdetect.DetectorFactory.seed = 0
        try:
            predictions = langdetect.detect_langs(text)
        except LangDetectException:
            return None, 0.0, "filtered:langdetect_exception"
    if not predictions:
        return None, 0.0, "filtered:no_predictions"
    best = predictions[0]
    return best.lang, best.prob, "ok"


def english_verdict(lang: Optional[str], prob: float, min_probability: float = MIN_PROBABILITY) -> str:
    if prob < min_probability:
        return "filtered:low_confidence"
    if lang != "en":
        return "filtered:ignored_language"
    return "passed"


def detect_english(page: Page, counters: Counter, min_probability: float = MIN_PROBABILITY) -> Optional[Page]:
    """The page with language='en', or None (counted under ``english-filter``)."""
    return english_or_none(page, langdetect_top(page.text), counters, min_probability)


def detect_english_batch(pages: Sequence[Page], counters: Counter,
                         min_probability: float = MIN_PROBABILITY) -> list[Optional[Page]]:
    """``[detect_english(p, ...) for p in pages]``, the detections computed together
    (``langdetect_exact.detect_top_many``: same results, less per-text overhead)."""
    from . import langdetect_exact

    tops = langdetect_exact.detect_top_many([p.text for p in pages])
    return [english_or_none(page, top, counters, min_probability) for page, top in zip(pages, tops)]


def english_or_none(page: Page, top: tuple[Optional[str], float, str], counters: Counter,
                    min_probability: float) -> Optional[Page]:
    """The english-filter decision on a (language, probability, verdict) top, counted;
    shared with the other backends of ``--langid`` (``langid.py``) so their counters match."""
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
