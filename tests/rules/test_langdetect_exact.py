"""langdetect_exact gives langdetect 1.0.9's (seed 0) results bit for bit.

Every comparison is against the real langdetect, run in the same process: the full
``detect_langs`` list -- languages, order and float probabilities, compared with ``==`` --
or the LangDetectException, and, separately, the n-gram sequence and the profiles.
Inputs: hand-picked edge cases (scripts, normalizations, capitals, URLs, e-mails, the
10,000-char cut), seeded random texts, and the shared real-web WET pages (raw, after C4's
line cleaning, and prefixes / suffixes / line subsets / case changes of them).
The batch API ``detect_top_many`` is compared the same way (exact tuples) with langdetect
and with ``detect_top``, over batch sizes, mixes of texts, forced hash collisions and
small limits that exercise its rarer paths, on both of its paths: the compiled detector
(langdetect_compiled.c, used where it was built) and the numpy batch path.
"""

from __future__ import annotations

import collections
import os
import random
import threading
import unicodedata

import numpy as np
import pytest

from c4forge.cleaning_rules.language import langdetect_exact as L

from conftest import SHARED

REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
EXC = "LangDetectException"

EN = ("The quick brown fox jumps over the lazy dog and runs away into the forest. "
      "Later that evening it came back home, tired but happy. ")


def reference(text: str):
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    langdetect.DetectorFactory.seed = 0
    try:
        return [(x.lang, x.prob) for x in langdetect.detect_langs(text)]
    except LangDetectException:
        return EXC


def exact(text: str):
    from langdetect.lang_detect_exception import LangDetectException

    try:
        return L.detect_langs(text)
    except LangDetectException:
        return EXC


def reference_ngrams(text: str) -> list[str]:
    from langdetect import detector_factory

    detector_factory.init_factory()
    detector = detector_factory._factory.create()
    detector.append(text)
    detector.cleaning_text()
    return detector._extract_ngrams()


def exact_ngrams(text: str) -> list[str]:
    model = L._get_model()
    inverse = {row: word for word, row in model.vocab.items()}
    return [inverse[r] for r in L._ngram_rows(model, L._word_cache, text).tolist()]


def assert_same(texts, what="detect_langs"):
    bad = []
    for i, text in enumerate(texts):
        ref, got = reference(text), exact(text)
        if ref != got:
            bad.append((i, text[:80], ref, got))
    assert not bad, f"{len(bad)}/{len(texts)} {what} differ, first: {bad[:3]}"


# --------------------------------------------------------------------------- edge cases

VI_DECOMPOSED = unicodedata.normalize("NFD", "Tiếng Việt là ngôn ngữ của người Việt và là ngôn ngữ chính thức")
EDGE = [
    "", " ", "   ", "\n\n\t", "12345 67890", "!!! ??? ...", "a", "I", "é", "ab", "abc", "a b c",
    "http://example.com/only-a-url", "https://a.example/b?c=d&e=f#g and more words here",
    "mail me at john.doe@example.com please, or at jane@x.org", "a @ b", "x://y not a url",
    "NASA USA FBI CIA", "HELLO world", "Hello World", "ABC def GHI jkl", "McDonald iPhone eBay",
    "ÄRGER über STRASSE Öl", "ǅemal Ⅻ Ⓐⓑ 𝐀𝐁𝐂 word",  # titlecase, Other_Uppercase, math capitals
    "über straße ärger öffentlich", "«quote» 45° a\xa0b ©®",  # Latin-1 excluded chars -> space
    VI_DECOMPOSED, unicodedata.normalize("NFC", VI_DECOMPOSED), "ạảấầẩẫậắằẳẵặẹẻẽềểễệ",
    "țară și școală", "ţară şi şcoală",  # Romanian comma-below / cedilla
    "中文字符测试，这是一个句子。", "這是繁體中文的句子，用來測試。",
    "これは日本語の文章です。カタカナとひらがな。", "ｶﾀｶﾅ ﾊﾝｶｸ", "ㄅㄆㄇㄈ 注音",
    "한국어 문장입니다. 테스트.", "ᄒᆞᆫ글 자모",
    "هذا نص عربي للاختبار", "این یک متن فارسی است ی ک", "זהו טקסט בעברית",
    "Это русский текст для проверки.", "Αυτό είναι ελληνικό κείμενο.", "นี่คือข้อความภาษาไทย",
    "यह हिंदी में एक वाक्य है।", "এটি বাংলা বাক্য", "ఇది తెలుగు వాక్యం",
    "English text with 中文 mixed in and more English words",
    "中文中文中文中文中文 abc def",  # Latin letters dropped (latin * 2 < non-Latin)
    "日本語のテキスト with some English words ok", "Ελληνικά and English mixed together here",
    "😀😀 hello 😀 world 𠀀𠀁𠀂", "\ud800abc \udfff def",  # emoji, CJK ext B, lone surrogates
    "hello\u2014world\u2026 \u201cquoted\u201d \u2019s", "zero\u200bwidth\u200djoiner",
    "foo\x85bar baz", "日本\u3000語\u3000です", "a\u1680b c", "e\u0301 a\u0300 o\u0303",
    "the " * 3000, EN * 100, "x" * 12000, "Ab" * 6000,
    "http://example.com/" + "a" * 3000 + " " + EN * 80,  # URL removed before the 10,000 cut
    EN * 77 + "中" * 300,  # the cut falls inside another script
    "zzzz qqqq xxxx", "OK", "ok", "Ok",
    "b" * 9999 + "e\u0301 và " * 5, "x\u0301 q\u0300 ∑\u0323",  # normalize_vi before the cut
    "b" * 9998 + "e\u0301", "b" * 10000 + "e\u0301 và", "b" * 10001 + "e\u0301",  # a mark just past the cut
    "b" * 9999 + "ü" + "e\u0301",  # not ASCII before the cut, the only mark after it
]



def run_in_threads(work, n: int) -> None:
    """work(0) .. work(n - 1), each in its own thread, all at once."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

def test_edge_cases_match_langdetect():
    assert_same(EDGE)


def test_edge_case_ngrams_match_langdetect():
    bad = [t[:60] for t in EDGE if exact_ngrams(t) != reference_ngrams(t)]
    assert not bad


def random_texts(seed: int = 20240611) -> list[str]:
    """400 texts over random mixes of scripts and marks, 100 English word salads."""
    rng = random.Random(seed)
    pieces = [
        "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \n\t.,;:!?'\"()-",
        "äöüßéèêàçñõãíóúâîôûëïÿœæøå", "ÄÖÜÉÈÀÇÑ", "абвгдежзийклмнопрстуфхцчшщъыьэюя", "АБВГД",
        "αβγδεζηθικλμνξοπρστυφχψω", "的一是不了人我在有他这中大来上国个到说们",
        "あいうえおかきくけこさしすせそ", "アイウエオカキクケコ", "가나다라마바사아자차카타파하",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "ی", "\u0300\u0301\u0303\u0309\u0323", "ạảấ",
        "\xa0\xab\xb0\xbb\u2014\u2026\u3000\x85", "😀🎉", "ș ț",
    ]
    texts = []
    for _ in range(400):
        alphabet = "".join(rng.sample(pieces, rng.randint(1, 4)))
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.choice([1, 2, 5, 20, 80, 300]))))
    words = EN.split()
    for _ in range(100):  # word salads, with capital runs
        ws = [rng.choice(words) for _ in range(rng.randint(1, 30))]
        texts.append(" ".join(w.upper() if rng.random() < 0.2 else w for w in ws))
    return texts


def test_random_texts_match_langdetect():
    assert_same(random_texts())


# --------------------------------------------------------------------------- pieces


def test_profiles_equal_langdetects():
    from langdetect import detector_factory

    detector_factory.init_factory()
    factory = detector_factory._factory
    model = L._get_model()
    assert list(model.langlist) == factory.langlist
    assert set(model.vocab) == set(factory.word_lang_prob_map)
    n = len(factory.langlist)
    for word, probs in factory.word_lang_prob_map.items():
        assert model.matrix[model.vocab[word]].tolist() == probs[:n]
    assert not model.matrix[0].any()  # the unused row


def test_normalization_table_equals_ngram_normalize_bmp():
    from langdetect.utils.ngram import NGram

    lut = L._get_model().lut
    cps = list(range(0x10000)) + list(range(0x10000, 0x110000, 97))
    bad = [cp for cp in cps if chr(lut[cp]) != NGram.normalize(chr(cp))]
    assert not bad


@pytest.mark.slow
def test_normalization_table_equals_ngram_normalize_everywhere():
    from langdetect.utils.ngram import NGram

    lut = L._get_model().lut
    assert len(lut) == 0x110000
    normalize = NGram.normalize
    assert all(lut[cp] == ord(normalize(chr(cp))) for cp in range(0x10000, 0x110000))


def test_word_split_whitespace():
    """After NGram.normalize, str.split() splits only at ' ' and at U+0085, U+1680, U+3000,
    which _ngram_rows checks for (langdetect keeps those three inside words)."""
    lut = L._get_model().lut
    left = {cp for cp in range(0x110000) if chr(lut[cp]).isspace() and lut[cp] != 32}
    assert {int(lut[cp]) for cp in left} == {0x85, 0x1680, 0x3000}


def test_self_check_passes_and_backend_is_numpy():
    assert L._self_check() == ""
    assert L.backend() == "numpy"


def test_random_stream_is_pythons():
    rng = random.Random(0)
    arr, words = L._stream(5000)
    assert words[:5000] == [rng.getrandbits(32) for _ in range(5000)]
    assert arr[:5000].tolist() == words[:5000]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 31, 32, 33, 1000, 4096, 4097, 29999])
def test_draws_follow_detector_random_calls(n):
    """The exact call sequence of _detect_block: gauss per trial, then choice per update."""
    rng = random.Random()
    rng.seed(0)
    draws = L._Draws(n, np.arange(n, dtype=np.int32), np.arange(n, dtype=np.float64)[:, None])
    _, words = L._stream(64)
    q, gauss_next = 0, None
    lengths = [1, 6, 1001, 11, 46, 1, 301]
    for updates in lengths:
        g = rng.gauss(0.0, 1.0)
        if gauss_next is None:
            z, gauss_next = L._gauss_pair(words, q)
            q += 4
        else:
            z, gauss_next = gauss_next, None
        assert 0.0 + z * 1.0 == g
        a = draws.first(q)
        expect = [rng.choice(range(n)) for _ in range(updates)]
        assert draws.factor_rows(a, a + updates)[:, 0].tolist() == expect
        q = int(draws.pos[a + updates - 1]) + 1


def test_remove_mails_equals_the_regex_sub():
    rng = random.Random(11)
    alphabet = ["a", "Z", "0", ".", "-", "_", "@", "@", " ", "é", "+", "\n"]
    texts = []
    for _ in range(30000):
        weights = [rng.random() for _ in alphabet]
        texts.append("".join(rng.choices(alphabet, weights, k=rng.choice([1, 3, 10, 40, 70, 130, 300]))))
    for _ in range(500):  # runs around the 64-char and 255-char bounds
        part = "x" * rng.randint(0, 140) + "@" + "y" * rng.randint(0, 600) + rng.choice(["", ".", ".com", "@z", " "])
        texts.append(part * rng.randint(1, 3))
    texts += ["a@b", "@", "a@", "@b", "a@@b.c", "x" * 64 + "@b.c", "x" * 65 + "@b.c", "a@b@c.d e@f"]
    bad = [t for t in texts if L._remove_mails(t) != L._MAIL_RE.sub(" ", t)]
    assert not bad, bad[:3]


# --------------------------------------------------------------------------- API


def test_detect_top_verdicts():
    assert L.detect_top("") == (None, 0.0, "filtered:langdetect_exception")
    assert L.detect_top("12345 !!! ???") == (None, 0.0, "filtered:langdetect_exception")
    lang, prob, verdict = L.detect_top(EN)
    assert (lang, verdict) == ("en", "ok") and prob == reference(EN)[0][1]


def test_no_predictions_verdict(monkeypatch):
    # no natural text found where every language stays <= 0.1; the mapping is checked here
    monkeypatch.setattr(L, "_detect", lambda text: [])
    assert L.detect_top("whatever") == (None, 0.0, "filtered:no_predictions")


def test_detect_langs_raises_langdetects_exception():
    from langdetect.lang_detect_exception import LangDetectException

    with pytest.raises(LangDetectException):
        L.detect_langs("   ")


def test_language_module_uses_this_path_and_matches_langdetect(monkeypatch):
    from c4forge.cleaning_rules.language import english_filter
    from c4forge.cleaning_rules.page import Page

    for text in EDGE[:40] + [EN, "The cat sat on the mat. El gato se sentó en la alfombra."]:
        assert english_filter.langdetect_top(text) == L.detect_top(text) == reference_top(text)
        page = Page(url="http://x.example/", normalized_url="x.example", text=text, timestamp="t")
        fast_counts: collections.Counter = collections.Counter()
        reference_counts: collections.Counter = collections.Counter()
        fast = english_filter.detect_english(page, fast_counts)
        with monkeypatch.context() as m:
            m.setattr(english_filter, "langdetect_top", reference_top)
            reference = english_filter.detect_english(page, reference_counts)
        assert fast == reference
        assert fast_counts == reference_counts


def test_threads_give_the_same_results():
    texts = EDGE[:50] * 2
    expected = [exact(t) for t in texts]
    results: dict[int, list] = {}

    def work(k):
        order = list(range(len(texts)))
        random.Random(k).shuffle(order)
        got = {i: exact(texts[i]) for i in order}
        results[k] = [got[i] for i in range(len(texts))]

    run_in_threads(work, 4)
    assert all(results[k] == expected for k in range(4))


def test_results_do_not_depend_on_cache_or_growth_paths(monkeypatch):
    texts = EDGE[:60] + [EN * 3, "Das ist ein deutscher Satz. " * 20, "mixed EN und deutsch " * 30]
    expected = [reference(t) for t in texts]
    monkeypatch.setattr(L, "_WORD_CACHE_MAX", 3)  # generation switch every few words
    monkeypatch.setattr(L, "_DRAWS_INITIAL", 8)  # draws regrown many times per text
    monkeypatch.setattr(L, "_STREAM_INITIAL", 16)  # random stream regrown from scratch
    monkeypatch.setattr(L, "_stream_state", None)
    L.clear_caches()
    try:
        assert [exact(t) for t in texts] == expected
        assert [exact(t) for t in texts] == expected  # warm
    finally:
        L.clear_caches()


def test_batch_rows_equal_word_rows():
    model = L._get_model()
    rng = random.Random(5)
    words = [w for text in EDGE for w in L._prepare(model, text).split()][:3000]
    words += ["a", "I", "Ab", "AB", "ABC", "aBC", "ABc", "𐐀𐐁x", "x𐐀𐐁", "𝐀𝐁", "ǅǅ", "ⒶⒷ", "中", "中文",
              "\ud800", "e\u0301"]
    alphabet = "abcXYZäÄ中あア가ابвГ𐐀𐐨\u0301"
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(2000)]
    words = list(dict.fromkeys(words))
    assert model.batch_ok
    assert L._rows_batch(model, words) == [L._word_rows(model.lookup, w, True) for w in words]


@pytest.mark.parametrize("batch_min", [1, 10**9])
def test_batch_and_per_word_paths(monkeypatch, batch_min):
    monkeypatch.setattr(L, "_BATCH_MIN", batch_min)
    L.clear_caches()
    try:
        texts = EDGE + [" ".join(EN.split()[::-1]) * 3, "Das ist ein deutscher Satz mit Wörtern. " * 9]
        assert [exact(t) for t in texts] == [reference(t) for t in texts]
    finally:
        L.clear_caches()


def restore_compiled_state(monkeypatch) -> None:
    """The compiled detector's globals as they are now, again after the test."""
    for name in ("_compiled_on", "_compiled_problem", "_compiled_detector"):
        monkeypatch.setattr(L, name, getattr(L, name))


def test_fallback_to_langdetect_when_self_check_fails(monkeypatch):
    L._get_model()
    monkeypatch.setattr(L._word_cache, "model", L._word_cache.model)
    monkeypatch.setattr(L, "_model_ok", None)
    monkeypatch.setattr(L, "_model", None)
    restore_compiled_state(monkeypatch)
    monkeypatch.setattr(L, "_self_check", lambda: "simulated difference")
    with pytest.warns(RuntimeWarning, match="falling back"):
        assert L.backend() == "langdetect"
    assert "simulated difference" in L.compiled_problem()
    assert [exact(t) for t in EDGE[:30]] == [reference(t) for t in EDGE[:30]]


# --------------------------------------------------------------------------- real web pages


@pytest.fixture(scope="module")
def realweb():
    if not REALWEB_WET.is_file():
        pytest.skip(f"{REALWEB_WET} is absent (../shared holds the real-web WET file)")
    from c4forge.cleaning_rules import lines
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
    from c4forge.pipeline.readers import read_wet_pages

    pages = list(read_wet_pages(str(REALWEB_WET), C4_EN_3_1_0, collections.Counter()))
    cleaned = []
    for page in pages:
        out = lines.clean_page(page, lines.CleaningRules(), collections.Counter())
        if out is not None:
            cleaned.append(out.text)
    return [p.text for p in pages], cleaned


def variants(text: str, k: int) -> list[str]:
    lines = text.split("\n")
    out = [text[:50], text[:500], text[-700:], "\n".join(lines[::2]), "\n".join(lines[1::2]),
           "\n".join(lines[:3]), lines[-1]]
    if k % 8 == 0:
        out += [text[:3000].upper(), text[:3000].lower(), text[:10050], text[9990:20010]]
    return out


def test_realweb_sample_matches_langdetect(realweb):
    raw, cleaned = realweb
    texts = raw[::12] + cleaned[::12]
    for k, text in enumerate(cleaned[5::24]):
        texts += variants(text, k)
    assert len(texts) > 300
    assert_same(texts)
    bad = [t[:60] for t in cleaned[::40] if exact_ngrams(t) != reference_ngrams(t)]
    assert not bad


@pytest.mark.slow
def test_realweb_all_pages_and_variants_match_langdetect(realweb):
    raw, cleaned = realweb
    texts = list(raw) + list(cleaned)
    for k, text in enumerate(cleaned):
        texts += variants(text, k)
    assert len(texts) > 5000
    assert_same(texts)


# --------------------------------------------------------------------------- batch API

# texts with trials that run to langdetect's iteration limit (update 1000; found by search)
LIMIT = ["en tidak", "di ikke jeg", "zrl", "ødt n", "eñp sbå", "c dic"]
NON_LATIN = [
    "中文字符测试，这是一个句子。" * 40, "これは日本語の文章です。" * 30, "هذا نص عربي للاختبار " * 50,
    "Это русский текст для проверки. " * 30, "한국어 문장입니다. " * 40, "นี่คือข้อความภาษาไทย" * 20,
    "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(12000)),  # one 10,000-char "word"
    "Ελληνικά " * 3, "עברית", "ქართული ენა",  # Georgian: no profile, no features
]


def reference_top(text: str):
    """detect_top's (language, probability, verdict), from langdetect itself."""
    ref = reference(text)
    if ref == EXC:
        return None, 0.0, "filtered:langdetect_exception"
    if not ref:
        return None, 0.0, "filtered:no_predictions"
    return ref[0][0], ref[0][1], "ok"


def assert_same_tops(got, expected, texts):
    """Exact equality: same tuples, the probabilities compared as floats with ==."""
    assert len(got) == len(expected) == len(texts)
    bad = [(i, texts[i][:60], e, g) for i, (g, e) in enumerate(zip(got, expected))
           if g != e or type(g[1]) is not float]
    assert not bad, f"{len(bad)}/{len(texts)} differ, first: {bad[:3]}"


def mixed_texts() -> list[str]:
    """Texts converging after very different numbers of blocks, in one shuffled list."""
    texts = EDGE + LIMIT + NON_LATIN + random_texts(7)[::3]
    texts += [EN * k for k in (1, 3, 20)] + ["Das ist ein deutscher Satz. " * 12, "mixed EN und deutsch " * 30]
    random.Random(3).shuffle(texts)
    return texts


@pytest.fixture(params=["compiled", "numpy"])
def batch_path(request, monkeypatch):
    """detect_top_many on the compiled detector, then on the numpy batch path."""
    L._get_model()
    if request.param == "compiled":
        if not L._compiled_on:
            pytest.skip(f"the compiled detector is off: {L.compiled_problem()}")
    else:
        monkeypatch.setattr(L, "_compiled_on", False)
    return request.param


@pytest.fixture
def numpy_batch_path(monkeypatch):
    """Tests of the numpy batch path's own internals."""
    L._get_model()
    monkeypatch.setattr(L, "_compiled_on", False)


def test_detect_top_many_matches_langdetect(batch_path):
    texts = EDGE + LIMIT + NON_LATIN
    expected = [reference_top(t) for t in texts]
    assert_same_tops(L.detect_top_many(texts), expected, texts)
    assert_same_tops(L.detect_top_many(texts, batch_size=7), expected, texts)


@pytest.mark.parametrize("batch_size", [1, 2, 7, 300])
def test_detect_top_many_equals_detect_top(batch_size, batch_path):
    texts = mixed_texts()
    texts += texts[:40] + [EN] * 5  # duplicates, in and across batches
    assert_same_tops(L.detect_top_many(texts, batch_size=batch_size), [L.detect_top(t) for t in texts], texts)


def test_detect_top_many_small_inputs(batch_path):
    assert L.detect_top_many([]) == []
    assert L.detect_top_many([""]) == [(None, 0.0, "filtered:langdetect_exception")]
    assert L.detect_top_many(["12345 !!! ???", "   "]) == [(None, 0.0, "filtered:langdetect_exception")] * 2
    assert L.detect_top_many(t for t in [EN, "ab"]) == [L.detect_top(EN), L.detect_top("ab")]
    assert L.detect_top_many([EN]) == [reference_top(EN)]


def test_limit_texts_reach_the_iteration_limit():
    """LIMIT covers trials stopped by ITERATION_LIMIT, not by convergence (langdetect's own
    count of _update_lang_prob calls per trial: 1001 when stopped at update 1000)."""
    from langdetect import detector_factory

    detector_factory.init_factory()
    stopped = 0
    for text in LIMIT:
        detector = detector_factory._factory.create()
        detector.append(text)
        updates: list[int] = []  # per trial (random.gauss starts one)

        def count_update(*args, updates=updates, update=detector._update_lang_prob):
            updates[-1] += 1
            return update(*args)

        def new_trial(*args, updates=updates, gauss=detector.random.gauss):
            updates.append(0)
            return gauss(*args)

        detector._update_lang_prob, detector.random.gauss = count_update, new_trial
        detector.seed = 0
        detector._detect_block()
        assert len(updates) == 7
        stopped += updates.count(1001)
    assert stopped >= 10


def test_the_comparison_catches_one_ulp():
    import math

    texts = [EN, "Das ist ein deutscher Satz."]
    got = L.detect_top_many(texts)
    lang, prob, verdict = got[1]
    with pytest.raises(AssertionError):
        assert_same_tops([got[0], (lang, math.nextafter(prob, 1.0), verdict)], got, texts)


def test_a_pairwise_sum_would_be_caught(monkeypatch, numpy_batch_path):
    """The tests see summation-order mistakes: numpy's own (pairwise) row sums change
    the probabilities of many texts."""
    texts = mixed_texts()
    expected = [L.detect_top(t) for t in texts]
    monkeypatch.setattr(L, "_row_sums_max", lambda r: (r.sum(axis=1), r.max(axis=1)))
    got = L.detect_top_many(texts)
    assert sum(g != e for g, e in zip(got, expected)) > len(texts) // 10


def test_hash_collisions_take_the_per_text_path(monkeypatch, numpy_batch_path):
    """With a hash that collides all the time (the first code point: also words of
    different lengths), every mismatch is caught and those texts go the per-text path."""
    texts = mixed_texts()
    expected = [L.detect_top(t) for t in texts]
    calls = []
    detect_top = L.detect_top
    monkeypatch.setattr(L, "detect_top", lambda text: calls.append(text) or detect_top(text))
    monkeypatch.setattr(L, "_word_hashes", lambda c, starts, ends: (c[starts].astype(np.uint64) << 1) | 1)
    monkeypatch.setattr(L, "_word_table", L._WordTable())
    assert_same_tops(L.detect_top_many(texts, batch_size=64), expected, texts)
    assert 0 < len(calls) < len(texts)


def test_batch_limits_and_growth_paths(monkeypatch, numpy_batch_path):
    """Tiny limits: the word table fills and empties within batches, many small chunks,
    draws rescanned many times, new words' rows computed in small groups."""
    texts = mixed_texts()[:120] + LIMIT
    expected = [L.detect_top(t) for t in texts]
    monkeypatch.setattr(L, "_word_table", L._WordTable())
    monkeypatch.setattr(L, "_WORD_CACHE_MAX", 40)
    monkeypatch.setattr(L, "_TABLE_MAX_CHARS", 400)
    monkeypatch.setattr(L, "_CHUNK_CHARS", 300)
    monkeypatch.setattr(L, "_BATCH_STREAM", 8)
    monkeypatch.setattr(L, "_ROWS_GROUP", 16)
    monkeypatch.setattr(L, "_STREAM_INITIAL", 16)  # random stream regrown from scratch
    monkeypatch.setattr(L, "_stream_state", None)
    monkeypatch.setattr(L, "_gauss_state", None)
    monkeypatch.setattr(L, "_powers_state", None)
    batches = []
    features = L._batch_features
    monkeypatch.setattr(L, "_batch_features", lambda *a: batches.append(1) or features(*a))
    assert_same_tops(L.detect_top_many(texts, batch_size=50), expected, texts)
    assert len(batches) > 10  # split when the table got full
    assert_same_tops(L.detect_top_many(texts, batch_size=50), expected, texts)  # warm


def test_batch_self_check_and_per_text_fallback(monkeypatch):
    import math

    assert L._batch_self_check() == ""
    assert L._batch_problem == ""
    # a compensated sum (as CPython 3.12's) is noticed ...
    monkeypatch.setattr(L, "sum", math.fsum, raising=False)
    assert L._batch_self_check() != ""
    monkeypatch.undo()
    # ... and then detect_top_many runs detect_top text by text
    texts = EDGE[:20] + LIMIT
    calls = []
    detect_top = L.detect_top
    monkeypatch.setattr(L, "detect_top", lambda text: calls.append(text) or detect_top(text))
    monkeypatch.setattr(L, "_batch_problem", "simulated")
    monkeypatch.setattr(L, "_compiled_on", False)  # (the compiled detector has its own sum: tested below)
    assert L.detect_top_many(texts) == [detect_top(t) for t in texts]
    assert calls == texts


def test_detect_top_many_with_langdetect_fallback(monkeypatch):
    L._get_model()
    monkeypatch.setattr(L, "_model_ok", False)
    texts = EDGE[:10] + [EN]
    assert_same_tops(L.detect_top_many(texts), [reference_top(t) for t in texts], texts)


def test_detect_top_many_threads(batch_path):
    texts = mixed_texts()[:150]
    expected = [L.detect_top(t) for t in texts]
    results: dict[int, list] = {}

    def work(k):
        order = list(range(len(texts)))
        random.Random(k).shuffle(order)
        got = L.detect_top_many([texts[i] for i in order], batch_size=16 + k)
        results[k] = [got[order.index(i)] for i in range(len(texts))]
        if k == 0:
            L.clear_caches()

    run_in_threads(work, 4)
    assert all(results[k] == expected for k in range(4))


def test_realweb_detect_top_many_matches_langdetect(realweb, batch_path):
    raw, cleaned = realweb
    texts = raw[3::10] + cleaned[3::10]
    for k, text in enumerate(cleaned[7::30]):
        texts += variants(text, k)
    assert len(texts) > 250
    expected = [reference_top(t) for t in texts]
    assert_same_tops(L.detect_top_many(texts), expected, texts)
    assert_same_tops(L.detect_top_many(texts, batch_size=33), expected, texts)


def test_realweb_all_detect_top_many_equals_detect_top(realweb, batch_path):
    """Every page and variant: the batch path equals the per-text path (itself compared
    with langdetect on all of them by the slow test above)."""
    raw, cleaned = realweb
    texts = list(raw) + list(cleaned)
    for k, text in enumerate(cleaned):
        texts += variants(text, k)
    L.clear_caches()
    assert_same_tops(L.detect_top_many(texts), [L.detect_top(t) for t in texts], texts)


# --------------------------------------------------------------------------- compiled detector


@pytest.fixture
def compiled(monkeypatch):
    """The compiled module, its detector's globals restored after the test."""
    L._get_model()
    if L._compiled is None:
        pytest.skip(f"c4forge's compiled part is not built here: {L.compiled_problem()} "
                    "(.ci/run checks that it is built)")
    restore_compiled_state(monkeypatch)
    return L._compiled


def test_compiled_detector_runs_where_built(compiled, monkeypatch):
    assert L.compiled_problem() == ""
    calls = []
    run = L._detect_top_compiled
    monkeypatch.setattr(L, "_detect_top_compiled", lambda *a: calls.append(1) or run(*a))
    texts = EDGE[:30]
    assert_same_tops(L.detect_top_many(texts), [reference_top(t) for t in texts], texts)
    assert calls


def test_compiled_stream_growth_and_small_word_cache(compiled, monkeypatch):
    """Texts that need more stream words than first passed (regrown many times) and a
    word cache that empties itself every few texts: the same tuples."""
    texts = mixed_texts()[:120] + LIMIT
    expected = [L.detect_top(t) for t in texts]
    model = L._get_model()
    monkeypatch.setattr(L, "_GAUSS_INITIAL", 8)
    monkeypatch.setattr(L, "_STREAM_INITIAL", 16)
    for state in ("_stream_state", "_gauss_state"):
        monkeypatch.setattr(L, state, None)
    small = compiled.Detector(model.lut, model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang,
                              max_words=40, max_chars=400, max_rows=500)
    monkeypatch.setattr(L, "_compiled_detector", small)
    grown = []
    weights = L._trial_weights
    monkeypatch.setattr(L, "_trial_weights", lambda n: grown.append(n) or weights(n))
    assert_same_tops(L.detect_top_many(texts, batch_size=50), expected, texts)
    assert max(grown) >= 1024  # regrown from 8 stream positions
    assert small.cached_words() <= 40 + max(len(t.split()) for t in texts)


@pytest.mark.parametrize("bits", [1, 4])
def test_compiled_word_cache_tells_apart_words_that_share_a_hash(compiled, monkeypatch, bits):
    """Word hashes cut to a few bits: every word shares its hash with many others, and the
    cache still finds each word by its code points (the same tuples)."""
    texts = mixed_texts()[:60] + EDGE[:20]
    expected = [L.detect_top(t) for t in texts]
    model = L._get_model()
    shared = compiled.Detector(model.lut, model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang,
                               sum_mode=L._sum_mode(), word_hash_bits=bits)
    monkeypatch.setattr(L, "_compiled_detector", shared)
    assert_same_tops(L.detect_top_many(texts, batch_size=25), expected, texts)
    assert shared.cached_words() > 2 ** bits  # more words than hashes: they did share


def test_compiled_detector_refuses_a_bad_word_hash_width(compiled):
    model = L._get_model()
    for bits in (0, 65):
        with pytest.raises(ValueError, match="word_hash_bits"):
            compiled.Detector(model.lut, model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang,
                              word_hash_bits=bits)


def test_compiled_detector_off_when_its_check_fails(compiled, monkeypatch):
    """A compiled detector that gets one probability one ulp off is noticed at load: a
    warning, and the numpy path runs (the same results as ever)."""
    import math

    class OffByOneUlp:
        def __init__(self, *args, **kwargs):
            self.inner = compiled.Detector(*args, **kwargs)

        def langprob_many(self, texts, stream, first, nxt, out, counts, start):
            done = self.inner.langprob_many(texts, stream, first, nxt, out, counts, start)
            hit = np.flatnonzero(out.max(axis=1) > 0.5)
            out[hit[0], out[hit[0]].argmax()] = math.nextafter(out[hit[0]].max(), 0.0)
            return done

        def clear(self):
            self.inner.clear()

    class FakeModule:
        Detector = OffByOneUlp

    monkeypatch.setattr(L, "_compiled", FakeModule)
    with pytest.warns(RuntimeWarning, match="differ from the per-text path"):
        L._set_compiled(L._get_model())
    assert not L._compiled_on and "differ" in L.compiled_problem()
    texts = mixed_texts()[:40]
    assert_same_tops(L.detect_top_many(texts), [L.detect_top(t) for t in texts], texts)


def test_without_the_compiled_part_numpy_runs(compiled, monkeypatch):
    monkeypatch.setattr(L, "_compiled", None)
    L._set_compiled(L._get_model())
    assert not L._compiled_on and "without its compiled part" in L.compiled_problem()
    texts = mixed_texts()[:40]
    assert_same_tops(L.detect_top_many(texts), [L.detect_top(t) for t in texts], texts)


def test_compiled_detector_rejects_bad_arguments(compiled):
    model = L._get_model()
    with pytest.raises(ValueError, match="inconsistent model sizes"):
        compiled.Detector(model.lut[:100], model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang)
    with pytest.raises(ValueError, match="lut maps outside"):
        bad_lut = model.lut.copy()
        bad_lut[5] = 0x110000
        compiled.Detector(bad_lut, model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang)
    with pytest.raises(ValueError, match="bad n-gram key or row"):
        rows = model.ngram_key_rows.copy()
        rows[0] = len(model.matrix)
        compiled.Detector(model.lut, model.ngram_keys, rows, model.matrix, model.n_lang)
    detector = compiled.Detector(model.lut, model.ngram_keys, model.ngram_key_rows, model.matrix, model.n_lang)
    stream, first, nxt = L._trial_weights(0)
    out, counts = np.zeros((2, model.n_lang)), np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match="sizes do not match"):
        detector.langprob_many([EN], stream, first, nxt, out, counts, 0)
    with pytest.raises(TypeError, match="must be str"):
        detector.langprob_many([EN, b"bytes"], stream, first, nxt, out, counts, 0)
    assert detector.langprob_many([EN, "12345"], stream, first, nxt, out, counts, 0) == 2
    assert counts[0] > 0 and counts[1] == 0 and not out[1].any()


def test_compiled_detector_adds_as_this_interpreters_sum(compiled, monkeypatch):
    """Under a compensated sum() (CPython 3.12's, emulated), the numpy batch path is off,
    the compiled detector adds as Neumaier and still equals the per-text path, whose
    probabilities then differ from the left-to-right sum's for some texts."""
    texts = mixed_texts()
    plain = [L.detect_top(t) for t in texts]
    assert L._sum_mode() == 0
    monkeypatch.setattr(L, "sum", L._neumaier_sum, raising=False)
    assert L._sum_mode() == 1 and L._batch_self_check() != ""
    monkeypatch.setattr(L, "_batch_problem", L._batch_self_check())
    L._set_compiled(L._get_model())
    assert L._compiled_on
    calls = []
    run = L._detect_top_compiled
    monkeypatch.setattr(L, "_detect_top_compiled", lambda *a: calls.append(1) or run(*a))
    compensated = [L.detect_top(t) for t in texts]
    assert sum(a != b for a, b in zip(plain, compensated)) > 0
    assert_same_tops(L.detect_top_many(texts), compensated, texts)
    assert calls
    monkeypatch.setattr(L, "sum", lambda values: 0.5, raising=False)
    assert L._sum_mode() is None


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_sum_emulations_equal_cpythons_sum(version):
    """_left_to_right_sum is CPython 3.11's sum() of floats, _neumaier_sum 3.12's and
    3.13's, checked against those interpreters where they are installed."""
    import json
    import shutil
    import subprocess

    import glob

    candidates = [shutil.which(f"python{version}"),
                  *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))]
    runs = [p for p in candidates if p and subprocess.run([p, "-c", "pass"], capture_output=True).returncode == 0]
    if not runs:
        pytest.skip(f"python{version} is not installed here")
    python = runs[0]
    vectors = L._wide_floats(np.random.default_rng(5), (300, 55)).tolist()
    vectors += [[1e16, 1.0, -1e16], [0.1] * 10, [1.0], [2.0 ** -1074, 1.0, 1e308, 1e308]]
    got = subprocess.run([python, "-c", "import json, sys; print(json.dumps([sum(v) for v in json.load(sys.stdin)]))"],
                         input=json.dumps(vectors), capture_output=True, text=True, timeout=60, check=True)
    expected = L._left_to_right_sum if version == "3.11" else L._neumaier_sum
    assert json.loads(got.stdout) == [expected(v) for v in vectors]
