"""Bad-words filter (c4_reference.md section 5): the 3.x page filter with ``\\W``/^/$ flanks,
the 2.2.0 per-line ``[^a-z]`` regex, the soft filter, allowlists, pinned LDNOOBW lists."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter

import pytest

from c4forge.cleaning_rules import badwords as bw
from c4forge.cleaning_rules.page import Page

from conftest import SHARED

LDNOOBW = SHARED / "assets" / "ldnoobw"
EN_SHA256 = "a506cbcf8a31935b122299f3bb1d32be6db3d0ad498765d28f365dfc4f4d7b8c"


def need_ldnoobw():
    if not (LDNOOBW / bw.EN_COMMIT / "en").is_file():
        pytest.skip("../shared is absent (a user's machine): no LDNOOBW lists at ../shared/assets/ldnoobw")


@pytest.fixture(params=["compiled", "pyahocorasick"], autouse=True)
def matcher_path(request, monkeypatch):
    """Every test here runs with the compiled search (``badwords_compiled.c``) and with
    pyahocorasick plus the flank checks in Python (an install without a C compiler)."""
    if request.param == "pyahocorasick":
        monkeypatch.setattr(bw, "badwords_compiled", None)
    elif bw.badwords_compiled is None:
        pytest.skip("the compiled bad-words search is not built in this install (no C compiler at pip install)")
    return request.param


@pytest.fixture(autouse=True)
def _no_env_dir(monkeypatch):
    # never read a developer's env-configured list
    monkeypatch.delenv(bw.BADWORDS_DIR_ENV, raising=False)


def run_filter(text, language, words_by_lang, fraction=1.0, normalized_url="x.example/page"):
    regexes = {lang: bw.page_badword_matcher(words, lang) for lang, words in words_by_lang.items()}
    counters: Counter = Counter()
    keep = bw.badwords_filter(Page(text=text, language=language, normalized_url=normalized_url),
                              regexes, fraction, counters)
    return keep, counters


# --- TFDS test_badwords_filter / test_soft_badwords_filter, restated -------------------

PADDING = ("The page begins with harmless words.\n"
           "Nothing here is rude, these are plain sentences.\n"
           "Now comes the last line... is it clean?\n")


@pytest.mark.parametrize("last_line, language, keep", [
    ("We asked for assistance with the cutlass and the compass.", "en", True),   # inside words
    ("He loaded the bags on his ass before the long walk.", "en", False),        # plain hit
    ("Ass is another name for a donkey, said the farmer.", "en-US", False),      # lower-cased; lang suffix cut
    ('A donkey is also called an "ass".', "en", False),                          # punctuation flanks
    ("Ass is not on the Spanish list.", "es", True),                             # other language's list
    ("Pero culo si lo es.", "es", False),
    ("Ass und culo stehen auf keiner Liste.", "de", True),                       # no list for de
])
def test_tfds_case_badwords_filter(last_line, language, keep):
    words = {"en": ["ass"], "es": ["culo"]}
    assert run_filter(PADDING + last_line, language, words)[0] is keep


def test_tfds_case_soft_filter_half():
    # fraction 0.5 -> (1, 2): a hit page survives iff md5(normalized url) is odd
    words = {"": ["bad"]}
    odd, even = "good.example/one", "good.example/two"
    assert int(hashlib.md5(odd.encode()).hexdigest(), 16) % 2 == 1
    assert int(hashlib.md5(even.encode()).hexdigest(), 16) % 2 == 0
    assert run_filter("a good page", "", words, 0.5, even)[0] is True
    assert run_filter("a bad page", "", words, 0.5, even)[0] is False
    assert run_filter("a bad page", "", words, 0.5, odd)[0] is True


# --- counters -------------------------------------------------------------------------------

def test_counters():
    words = {"en": ["ass"]}
    keep, c = run_filter("clean text", "en", words)
    assert keep and dict(c) == {"badwords-filter-en/passed": 1, "badwords-filter/passed": 1}
    keep, c = run_filter("an ass here", "en", words)
    assert not keep and dict(c) == {"badwords-filter/filtered": 1, "badwords-filter-en/filtered": 1,
                                    "chars/badwords-filter/filtered": len("an ass here")}
    keep, c = run_filter("an ass here", "en", words, 0.0)
    assert keep and dict(c) == {"badwords-filter/soft-passed": 1, "badwords-filter-en/soft-passed": 1}
    keep, c = run_filter("an ass here", "de", words)
    assert keep and dict(c) == {"badwords-filter/passed": 1}
    keep, c = run_filter("an ass here", None, words)
    assert keep and dict(c) == {"badwords-filter/passed": 1}


# --- the 3.x page regex -----------------------------------------------------------------------

@pytest.mark.parametrize("text, hit", [
    ("ass", True),                 # start and end of text
    ("ass at the start", True),
    ("at the end ass", True),
    ("at the end ass\n", True),    # $ matches before a final newline
    ("line one\nass\nline three", True),   # \n is a non-word character
    ('"ass".', True),
    ("(ass)", True),
    ("ass-hat", True),             # "-" is \W
    ("ass\u00a0", True),           # NBSP is \W
    ("ass_", False),               # "_" is a word character
    ("_ass", False),
    ("2ass", False),               # digits are word characters
    ("ass2", False),
    ("assé", False),               # Unicode letters are word characters
    ("éass", False),
    ("class", False),
    ("asses", False),
    ("ASS!", True),                # text is lower-cased
    ("a\u0301ss", False),          # combining mark is a word character (no NFC)
])
@pytest.mark.parametrize("make", [bw.page_badword_regex, bw.page_badword_matcher])
def test_page_regex_flanks(text, hit, make):
    rx = make(["ass"], "en")
    assert (rx.search(text.lower()) is not None) is hit


@pytest.mark.parametrize("make", [bw.page_badword_regex, bw.page_badword_matcher])
def test_page_regex_multiword_and_alternation(make):
    rx = make(["two girls", "ass", "assassin"], "en")
    assert rx.search("see two girls here")
    assert not rx.search("see two  girls here")      # exact single space
    assert not rx.search("see two\ngirls here")
    assert rx.search("the assassin.")               # a longer alternative still matches
    assert rx.search("ass.")


@pytest.mark.parametrize("make", [bw.page_badword_regex, bw.page_badword_matcher])
def test_page_regex_escapes_words_3_1_0(make):
    rx = make(["a.b", "c+"], "en")
    assert rx.search("x a.b y") and not rx.search("x axb y")
    assert rx.search("x c+ y") and not rx.search("x cc y")


@pytest.mark.parametrize("make", [bw.page_badword_regex, bw.page_badword_matcher])
@pytest.mark.parametrize("lang", ["ja", "th", "zh"])
def test_no_boundary_languages_match_substrings(lang, make):
    rx = make(["ass", "性"], lang)
    assert rx.search("class") and rx.search("2ass_") and rx.search("女性")
    rx_en = make(["ass", "性"], "en")
    assert not rx_en.search("class") and not rx_en.search("女性")


def test_matcher_finds_what_the_regex_finds_on_random_strings():
    """Every entry shape of the pinned en list (words, phrases, "s&m", "g-spot", an emoji)
    between random flanks: word characters, non-word characters, Unicode, ends."""
    need_ldnoobw()
    import random

    words = sorted(bw.load_badwords("en", str(LDNOOBW)))
    rx, matcher = bw.page_badword_regex(words, "en"), bw.page_badword_matcher(words, "en")
    rng = random.Random(0)
    flank = list("ab2_ -&.\n\u00e9\u0301\U0001f595")
    hits = 0
    for _ in range(20000):
        text = ("".join(rng.choices(flank, k=rng.randint(0, 3))) + rng.choice(words)
                + "".join(rng.choices(flank, k=rng.randint(0, 3))))
        if rng.random() < 0.3:
            text = text.replace(" ", rng.choice(["  ", "_", "\n"]), 1)
        expected = rx.search(text) is not None
        assert (matcher.search(text) is not None) is expected, text
        hits += expected
    assert 2000 < hits < 18000  # both outcomes are exercised


def test_matcher_without_words_finds_nothing():
    assert bw.page_badword_matcher([], "en").search("anything at all") is None


@pytest.mark.parametrize("matcher_path", ["compiled"], indirect=True)
def test_compiled_search_flanks_on_every_code_point(matcher_path):
    """Each code point before, after and inside an entry, in str objects of each width: a word
    character as the regex's \\w decides it (sre: alphanumeric or "_")."""
    words = ["ass", "two girls", "g-spot", "\U0001f595", "\u00e9t\u00e9", "\u4e2d\u6587"]
    rx, matcher = bw.page_badword_regex(words, "en"), bw.page_badword_matcher(words, "en")
    chunk = 2048
    for first in range(0, 0x110000, chunk):
        for c in map(chr, range(first, min(first + chunk, 0x110000), 7 if first >= 0x30000 else 1)):
            for text in (f"{c}ass", f"ass{c}", f"x{c}two girls{c}x", f"{c}\U0001f595{c}", f"{c}g-spot",
                         f"\u00e9t\u00e9{c}", f"{c}\u4e2d\u6587", f"as{c}s"):
                assert (matcher.search(text) is not None) is (rx.search(text) is not None), ascii(text)


@pytest.mark.parametrize("matcher_path", ["compiled"], indirect=True)
def test_lower_chars_is_str_lower_on_every_code_point(matcher_path):
    """The per-character lower-casing of search_lowered is str.lower on every code point but
    the two str.lower does not map alone (those make search_lowered lower the whole text)."""
    text = "".join(chr(c) for c in range(0x110000) if c not in (0x130, 0x3A3))
    assert bw.badwords_compiled.lower_chars(text) == text.lower()
    assert len("\u0130".lower()) == 2 and "\u03a3".lower() != "a\u03a3".lower()[1:]


def test_search_lower_cased_is_search_of_the_lower_cased_text_on_every_code_point():
    """search_lower_cased(text) == search(text.lower()), positions included, with each code
    point in and around upper- and mixed-case entries (U+0130 and U+03A3 among them)."""
    words = ["ass", "two girls", "kiss", "\U0001f595", "\u00e9t\u00e9", "\u03c3\u03c5", "bi\u0307t"]
    matcher = bw.page_badword_matcher(words, "en")
    chunk = 2048
    for first in range(0, 0x110000, chunk):
        for c in map(chr, range(first, min(first + chunk, 0x110000), 7 if first >= 0x30000 else 1)):
            for text in (f"{c}ASS", f"aSs{c}", f"X{c}Two GIRLS{c}x", f"{c}\U0001f595{c}", f"{c}\u212aISS",
                         f"\u00c9T\u00c9{c}", f"{c}\u03a3\u03a5 \u03a3\u03a5", f"B{c}T B\u0130T", f"As{c}S"):
                assert matcher.search_lower_cased(text) == matcher.search(text.lower()), ascii(text)


def test_search_lower_cased_on_real_pages_in_every_case():
    need_ldnoobw()
    import json
    import random

    jsonl = SHARED / "data" / "realweb" / "realweb-dev.c4-tfds-3.1.0.jsonl"
    if not jsonl.is_file():
        pytest.skip("../shared is absent (a user's machine): no real-web pages at ../shared/data/realweb")
    words = sorted(bw.load_badwords("en", str(LDNOOBW)))
    matcher = bw.page_badword_matcher(words, "en")
    rng = random.Random(0)
    hits = 0
    for line in jsonl.read_text(encoding="utf-8").splitlines()[:300]:
        text = json.loads(line)["text"]  # pages TFDS kept: no bad word yet; one goes into half of them
        if rng.random() < 0.5:
            at = rng.randrange(len(text) + 1)
            text = f"{text[:at]} {rng.choice(words)} {text[at:]}"
        for variant in (text, text.upper(), "".join(c.upper() if rng.random() < 0.5 else c for c in text)):
            found = matcher.search_lower_cased(variant)
            assert found == matcher.search(variant.lower())
            hits += found is not None
    assert 100 < hits < 800  # both outcomes


@pytest.mark.parametrize("matcher_path", ["compiled"], indirect=True)
def test_compiled_search_returns_the_first_flanked_occurrence(matcher_path):
    matcher = bw.page_badword_matcher(["ass", "assassin", "sin"], "en")
    assert matcher.search("class sin") == (6, 9)
    assert matcher.search("the assassin. ass") == (4, 12)  # the longer entry: "ass" is not flanked there
    assert matcher.search("ass") == (0, 3) and matcher.search("") is None and matcher.search("asss") is None


@pytest.mark.parametrize("matcher_path", ["compiled"], indirect=True)
def test_compiled_matcher_refuses_a_malformed_trie(matcher_path):
    Matcher = bw.badwords_compiled.Matcher
    offsets, chars, children, ends = bw._trie(["ab", "b"])
    assert Matcher(offsets, chars, children, ends).search("x b") == (2, 3)
    with pytest.raises(ValueError):
        Matcher(offsets, chars, [0] * len(children), ends)  # an edge back to the root
    with pytest.raises(ValueError):
        Matcher(offsets[:-1], chars, children, ends)
    with pytest.raises(ValueError):
        Matcher([0] + offsets[1:][::-1], chars, children, ends)
    with pytest.raises(ValueError):
        Matcher([0, 0], [], [], [1])  # an empty entry
    with pytest.raises(TypeError):
        Matcher(offsets, chars, children, ends).search(b"bytes")
    broken = Matcher(offsets, chars, children, ends)
    with pytest.raises(ValueError):
        broken.__init__(offsets, chars, children[:-1], ends)
    with pytest.raises(ValueError, match="no trie"):
        broken.search("x b")
    with pytest.raises(ValueError, match="no trie"):
        Matcher.__new__(Matcher).search("x b")


# --- the 2.2.0 per-line regex -----------------------------------------------------------------

@pytest.mark.parametrize("line, hit", [
    ("ass at the start of a line.", False),    # needs a character before
    ("the line ends with ass", False),          # needs a character after
    ("the line ends with ass.", True),
    ("one ass here.", True),
    ("2ass2", True),                            # digits are not [a-z]
    ("_ass_", True),
    ("éassé", True),                            # non-ASCII letters are not [a-z]
    ("class", False),
    ("bass.", False),
])
def test_line_regex_2_2_0(line, hit):
    rx = bw.line_badword_regex_2_2_0(["ass"])
    assert (rx.search(line) is not None) is hit


def test_line_regex_2_2_0_is_not_escaped():
    rx = bw.line_badword_regex_2_2_0(["a.b"])
    assert rx.search(" axb ")


# --- soft filter ---------------------------------------------------------------------------------

def test_keeps_badword_page_fraction_one_never_keeps():
    assert (1.0).as_integer_ratio() == (1, 1)
    assert not any(bw.keeps_badword_page(f"example.com/page/{i}", 1.0) for i in range(2000))


def test_keeps_badword_page_fraction_0_999():
    num, den = (0.999).as_integer_ratio()
    assert (num, den) == (8998192055486251, 9007199254740992)
    u = "example.com/page/424"
    assert int(hashlib.md5(u.encode()).hexdigest(), 16) % den == 9002315209549514
    assert bw.keeps_badword_page(u, 0.999)
    assert not bw.keeps_badword_page("example.com/page/423", 0.999)
    kept = sum(bw.keeps_badword_page(f"example.com/page/{i}", 0.999) for i in range(20000))
    assert 5 <= kept <= 45     # ~0.1%


def test_keeps_badword_page_fraction_zero_always_keeps():
    assert all(bw.keeps_badword_page(f"example.com/page/{i}", 0.0) for i in range(200))


def test_keeps_badword_page_matches_formula():
    for frac in (0.25, 0.5, 0.75, 0.999):
        num, den = frac.as_integer_ratio()
        for i in range(300):
            u = f"soft.example/{i}"
            assert bw.keeps_badword_page(u, frac) == (int(hashlib.md5(u.encode()).hexdigest(), 16) % den >= num)


# --- lists: parsing, allowlist, pinned files ----------------------------------------------------

def test_parse_word_list_strips_and_applies_allowlist():
    data = "sm\n グロ \n女の子\nother\n\nx y\n".encode("utf-8")
    assert bw.parse_word_list(data, "ja") == frozenset({"other", "", "x y"})
    assert bw.parse_word_list(data, "ja-Latn") == frozenset({"other", "", "x y"})
    assert bw.parse_word_list(data, "en") == frozenset({"sm", "グロ", "女の子", "other", "", "x y"})
    assert bw.parse_word_list("性\n女性\n".encode(), "zh") == frozenset({"女性"})
    assert bw.ALLOWLIST == {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}


def test_commit_for():
    assert bw.commit_for("en") == "25e679f03d96baa721cde20db9944649e8d0a844"
    assert bw.commit_for("fr") == "5faf2ba42d7b1c0977169ec3611df25a3c08eb13"
    assert bw.PINNED_SHA256[(bw.EN_COMMIT, "en")] == EN_SHA256


def test_load_en_list_from_shared_assets():
    need_ldnoobw()
    words = bw.load_badwords("en", str(LDNOOBW))
    assert len(words) == 377
    assert "" not in words
    assert sum(" " in w for w in words) == 124
    assert {w for w in words if not all((c.isascii() and c.isalpha()) or c == " " for c in w)} == {
        "2g1c", "2 girls 1 cup", "g-spot", "rosy palm and her 5 sisters", "s&m", "\U0001f595"}
    assert {"ass", "asshole", "2 girls 1 cup"} <= words
    rx = bw.page_badword_regex(words, "en")
    assert rx.search("what a load of shit.")
    assert not rx.search("a classic assessment of the scunthorpe problem")
    assert rx.search("hey \U0001f595 you")
    assert not rx.search("a\U0001f595")   # the character before must be \W


def test_load_ja_zh_lists_apply_allowlist():
    need_ldnoobw()
    ja = bw.load_badwords("ja", str(LDNOOBW))
    zh = bw.load_badwords("zh", str(LDNOOBW))
    assert not ({"sm", "グロ", "女の子"} & ja) and len(ja) == 177
    assert "性" not in zh and len(zh) == 317


def test_all_pinned_shared_lists_verify():
    need_ldnoobw()
    for (commit, lang), sha in bw.PINNED_SHA256.items():
        data = (LDNOOBW / commit / lang).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
        if commit == bw.commit_for(lang):  # (5faf2ba, en) is pinned but C4 uses the 25e679f en list
            assert bw.read_badwords_file(lang, str(LDNOOBW)) == data


def test_flat_layout_is_accepted(tmp_path):
    need_ldnoobw()
    shutil.copy(LDNOOBW / bw.EN_COMMIT / "en", tmp_path / "en")
    assert len(bw.load_badwords("en", str(tmp_path))) == 377


def test_env_var_dir_is_used(monkeypatch):
    need_ldnoobw()
    monkeypatch.setenv(bw.BADWORDS_DIR_ENV, str(LDNOOBW))
    assert len(bw.load_badwords("en")) == 377


def test_tampered_list_is_refused(tmp_path):
    need_ldnoobw()
    d = tmp_path / bw.EN_COMMIT
    d.mkdir()
    data = (LDNOOBW / bw.EN_COMMIT / "en").read_bytes()
    (d / "en").write_bytes(data.replace(b"\nass\n", b"\n"))
    with pytest.raises(bw.BadwordsError, match="sha256"):
        bw.load_badwords("en", str(tmp_path))
    (d / "en").write_bytes(data + b"extra\n")
    with pytest.raises(bw.BadwordsError, match=EN_SHA256):
        bw.load_badwords("en", str(tmp_path))
    (d / "en").write_bytes(data)
    assert len(bw.load_badwords("en", str(tmp_path))) == 377


def test_tampered_list_refused_without_shared(tmp_path):
    # no ../shared needed: any content other than the pinned file is refused
    d = tmp_path / bw.EN_COMMIT
    d.mkdir()
    (d / "en").write_bytes(b"ass\nshit\n")
    with pytest.raises(bw.BadwordsError, match="expected " + EN_SHA256):
        bw.load_badwords("en", str(tmp_path))


def test_missing_list_and_unpinned_language(tmp_path):
    with pytest.raises(bw.BadwordsError, match="no en list"):
        bw.load_badwords("en", str(tmp_path))
    d = tmp_path / bw.OTHER_COMMIT
    d.mkdir()
    (d / "xx").write_bytes(b"word\n")
    with pytest.raises(bw.BadwordsError, match="no pinned sha256"):
        bw.load_badwords("xx", str(tmp_path))


def _flat_tfds_regex(words):
    """The regex TFDS 3.1.0 compiles: a flat alternation of the escaped words."""
    import re as _re

    return _re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(_re.escape(w) for w in words)))


def test_prefix_sharing_regex_decides_like_the_flat_tfds_regex_on_real_and_adversarial_text():
    import random as _random
    from collections import Counter as _Counter

    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
    from c4forge.pipeline.readers import read_wet_pages

    shared = SHARED
    if not shared.is_dir():
        pytest.skip("../shared is absent (a user's machine): needs the word list and real pages")
    words = bw.load_badwords("en", str(shared / "assets" / "ldnoobw"))
    ours, tfds = bw.page_badword_regex(words), _flat_tfds_regex(words)
    texts = [p.text.lower() for p in read_wet_pages(
        str(shared / "data" / "realweb" / "realweb-dev.warc.wet.gz"), C4_EN_3_1_0, _Counter())]
    rng = _random.Random(0)
    pieces = sorted(words) + ["a", "s", "ss", "hole", "_", "é", " ", "\n", ".", "2", "-"]
    # Words glued to prefixes/suffixes of other words: where a prefix-sharing regex could go wrong.
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(20000)]
    assert [bool(ours.search(t)) for t in texts] == [bool(tfds.search(t)) for t in texts]
    assert sum(bool(tfds.search(t)) for t in texts) > 1000  # both outcomes are exercised


def test_prefix_sharing_regex_for_words_that_are_prefixes_of_each_other():
    rx = bw.page_badword_regex({"ass", "asshole", "a s"})
    assert rx.search("an asshole.") and rx.search("ass") and rx.search("x a s y")
    assert not rx.search("assh") and not rx.search("asses") and not rx.search("a  s")
