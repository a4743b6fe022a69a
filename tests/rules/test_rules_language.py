"""English detection (TFDS ``detect_english``; c4_reference.md section 6): langdetect 1.0.9,
seed 0, top language must be 'en' with probability >= 0.99."""

from __future__ import annotations

from collections import Counter

import pytest

from c4forge.cleaning_rules import language
from c4forge.cleaning_rules.page import Page

EN = ("The quick brown fox jumps over the lazy dog and runs away into the forest. "
      "Later that evening it came back home, tired but happy.")
FR = "Le renard brun rapide saute par-dessus le chien paresseux et s'enfuit dans la forêt."
MIXED = "The cat sat on the mat. El gato se sentó en la alfombra."


def detect(text, **kw):
    counters: Counter = Counter()
    page = Page(url="http://x.example/", normalized_url="x.example", text=text, timestamp="t")
    return language.detect_english(page, counters, **kw), counters


def test_english_page_passes_with_language_set():
    out, counters = detect(EN)
    assert out == Page(url="http://x.example/", normalized_url="x.example", text=EN, timestamp="t", language="en")
    assert dict(counters) == {"english-filter/passed": 1}


def test_other_language_is_ignored_with_per_language_counter():
    out, counters = detect(FR)
    assert out is None
    assert dict(counters) == {
        "english-filter/filtered:ignored_language": 1,
        "english-filter/filtered:ignored_language-fr": 1,
        "chars/english-filter/filtered:ignored_language": len(FR),
    }


@pytest.mark.parametrize("text", ["", "12345 !!! ???", "   \n  ", "http://example.com/only-a-url"])
def test_no_features_is_a_langdetect_exception(text):
    out, counters = detect(text)
    assert out is None
    assert counters["english-filter/filtered:langdetect_exception"] == 1
    assert counters["chars/english-filter/filtered:langdetect_exception"] == len(text)


def test_low_confidence_english_is_dropped():
    lang, prob, verdict = language.langdetect_top(MIXED)
    assert (lang, verdict) == ("en", "ok")
    assert 0.5 < prob < 0.99
    out, counters = detect(MIXED)
    assert out is None
    assert dict(counters) == {"english-filter/filtered:low_confidence": 1,
                              "chars/english-filter/filtered:low_confidence": len(MIXED)}
    # a lower threshold lets it through
    out, counters = detect(MIXED, min_probability=0.5)
    assert out is not None and out.language == "en"


def test_short_text_is_confidently_wrong():
    # seed-0 langdetect calls "OK" Portuguese with high probability: the page is dropped
    lang, prob, _ = language.langdetect_top("OK")
    assert lang == "pt" and prob > 0.99
    assert detect("OK")[0] is None


def test_deterministic_across_calls_and_equal_to_seeded_langdetect():
    import langdetect

    first = [language.langdetect_top(t) for t in (EN, FR, MIXED, "hello")]
    # disturb the global seed: detection must reseed to 0 each time
    langdetect.DetectorFactory.seed = 12345
    second = [language.langdetect_top(t) for t in (EN, FR, MIXED, "hello")]
    assert first == second
    langdetect.DetectorFactory.seed = 0
    direct = langdetect.detect_langs(MIXED)[0]
    assert (direct.lang, direct.prob) == first[2][:2]
    assert first[3][0] == "fi" and abs(first[3][1] - 0.714282) < 1e-5


@pytest.mark.parametrize("lang, prob, verdict", [
    ("en", 0.99, "passed"),                     # >= threshold
    ("en", 0.9899999, "filtered:low_confidence"),
    ("fr", 0.999, "filtered:ignored_language"),
    ("fr", 0.5, "filtered:low_confidence"),     # probability checked before the language
    (None, 0.0, "filtered:low_confidence"),
])
def test_english_verdict(lang, prob, verdict):
    assert language.english_verdict(lang, prob) == verdict


def test_threshold_constant():
    assert language.MIN_PROBABILITY == 0.99


def test_batch_equals_one_by_one_with_counters():
    texts = [EN, FR, MIXED, "", "12345 !!!", EN + " " + FR, "Short.", EN.upper()] * 3
    pages = [Page(url=f"http://x.example/{i}", normalized_url=f"x.example/{i}", text=t, timestamp="t")
             for i, t in enumerate(texts)]
    one_counters: Counter = Counter()
    one = [language.detect_english(p, one_counters) for p in pages]
    batch_counters: Counter = Counter()
    batch = language.detect_english_batch(pages, batch_counters)
    assert batch == one
    assert batch_counters == one_counters
    kept = sum(p is not None for p in batch)
    assert 0 < kept < len(pages) and batch_counters["english-filter/passed"] == kept
    assert language.detect_english_batch([], Counter()) == []


def test_compiled_detector_missing_only_for_langdetect_without_the_compiled_detector(monkeypatch):
    from c4forge.cleaning_rules.language import langdetect_exact

    if langdetect_exact.compiled_installed():
        assert not language.compiled_detector_missing(language.LANGDETECT)
    monkeypatch.setattr(langdetect_exact, "_compiled", None)
    assert not langdetect_exact.compiled_installed()
    assert language.compiled_detector_missing(language.LANGDETECT)
    assert not language.compiled_detector_missing(language.CLD3)
