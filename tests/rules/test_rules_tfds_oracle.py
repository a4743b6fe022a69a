"""Differential tests: our rule functions against TFDS's own ``c4_utils`` (4.9.10, c4 3.1.0)
on the real pages of ../shared and on crafted edge cases.

TFDS's sentence tokenizer would call ``nltk.download("punkt")`` (offline here), so its
memoized tokenizer is set to ours; Beam counters are redirected into dictionaries.
Skipped when TensorFlow / TFDS are not installed or ../shared is absent."""

from __future__ import annotations

import dataclasses
import gzip
import os
from collections import Counter
from pathlib import Path

import pytest

from c4forge.cleaning_rules import badwords as bw
from c4forge.cleaning_rules import chain, language, lines, profiles, urldedup, urls
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.sentences import load_punkt

from conftest import SHARED

REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
LDNOOBW = SHARED / "assets" / "ldnoobw"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def c4u():
    pytest.importorskip("tensorflow", reason="TensorFlow (the 'test' extra) is needed to run TFDS c4_utils")
    c4_utils = pytest.importorskip("tensorflow_datasets.text.c4_utils")
    saved_tok, saved_counter = c4_utils._SENTENCE_TOKENIZER, c4_utils.get_counter_inc_fn
    c4_utils._SENTENCE_TOKENIZER = load_punkt()
    sink: Counter = Counter()

    def get_counter_inc_fn(namespace):
        def inc(name, amt=1):
            sink[f"{namespace}/{name}"] += amt
        return inc

    c4_utils.get_counter_inc_fn = get_counter_inc_fn
    c4_utils._test_sink = sink
    yield c4_utils
    c4_utils._SENTENCE_TOKENIZER, c4_utils.get_counter_inc_fn = saved_tok, saved_counter
    del c4_utils._test_sink


@pytest.fixture(scope="module")
def realweb_pages():
    if not REALWEB_WET.is_file():
        pytest.skip("../shared is absent (a user's machine): no ../shared/data/realweb/realweb-dev.warc.wet.gz")
    from c4forge.pipeline.readers import read_wet_pages

    return list(read_wet_pages(str(REALWEB_WET), profiles.C4_EN_3_1_0, Counter()))


@pytest.fixture(scope="module")
def realweb_cleaned(realweb_pages):
    rules = lines.CleaningRules()
    return [p for p in (lines.clean_page(p, rules, Counter()) for p in realweb_pages) if p is not None]


def to_tfds(c4u, page: Page):
    return c4u.PageFeatures(**dataclasses.asdict(page))


def from_tfds(tp) -> Page:
    return Page(**dataclasses.asdict(tp))


def without_chars(counters: Counter) -> dict:
    return {k: v for k, v in counters.items() if not k.startswith("chars/") and v}


# --- clean_page ------------------------------------------------------------------------------

EDGE_TEXTS = [
    "The river flooded the lower town in early spring.\nMost families moved upstairs in time.\n"
    "The water went down again after two weeks.\n" + extra
    for extra in [
        "This line has one " + "z" * 1000 + "[1] token.",
        "The result was confirmed later on. [3]",
        "[1] Most families moved their furniture upstairs.",
        "This sentence ends with empty brackets.[]",
        "Four words here [2] .",
        "Nothing much happened and then it stopped....",
        "Nothing much happened and then it stopped..",
        'Nothing much happened and then it said "stop..."',
        "Nothing much happened and then it said \u201cstop\u201d",
        "Nothing much happened and then it stopped\u2026",
        "five\u00a0words\u00a0joined\u00a0by\u00a0nbsp.",
        "one\u200btwo\u200bthree\u200bfour\u200bfive.",
        "This sentence is cut\u2028right in the middle of it.",
        "The first line.\x1cThe second line is here.\x85Third line is here too.",
        "Lorem ipsum heading",
        "Lorem ipsum is here, sadly. [7]",
        "var x = {a: 1}",
        "Enable JavaScript { now } to see our pages.",
        "Lorem ipsum needs javascript to render here.",
        "Read our privacy policy {here} before you go.",
        "Read our COO\u212aIE POLICY before you order.",
        "LOREM IPSUM DOLOR SIT AMET HERE.",
        "\u3000 A padded line ends with a period here.\u00a0\t",
        "This line ends with a zero width space.\u200b",
    ]
] + [
    "",
    "\n\n \n",
    "Only one line. With two sentences.",
    'Then she said "we are leaving now"\nEveryone stood up and left.\nNobody came back after that.',
]


def test_clean_page_equals_tfds_on_edge_cases(c4u):
    regex = c4u.get_clean_page_fn()
    for text in EDGE_TEXTS:
        page = Page(url="http://u.example/", text=text, timestamp="t")
        tfds_counts: Counter = Counter()
        expected = list(regex(page=to_tfds(c4u, page),
                              counter_inc_fn=lambda n, amt=1: tfds_counts.update({"clean-page/" + n: amt})))
        ours: Counter = Counter()
        got = lines.clean_page(page, lines.CleaningRules(), ours)
        assert ([] if got is None else [got]) == [from_tfds(p) for p in expected], repr(text)
        assert without_chars(ours) == dict(tfds_counts), repr(text)


def test_clean_page_equals_tfds_on_real_pages(c4u, realweb_pages):
    fn = c4u.get_clean_page_fn()
    tfds_counts: Counter = Counter()
    ours: Counter = Counter()
    n_kept = 0
    for page in realweb_pages:
        expected = list(fn(page=to_tfds(c4u, page),
                           counter_inc_fn=lambda n, amt=1: tfds_counts.update({"clean-page/" + n: amt})))
        got = lines.clean_page(page, lines.CleaningRules(), ours)
        assert ([] if got is None else [got]) == [from_tfds(p) for p in expected], page.url
        n_kept += got is not None
    assert without_chars(ours) == dict(tfds_counts)
    assert 500 < n_kept < len(realweb_pages)
    assert tfds_counts["clean-page/filtered:too_few_sentences"] > 0


# --- normalize_url and the split -------------------------------------------------------------

def test_normalize_url_and_split_equal_tfds(c4u, realweb_pages):
    crafted = [
        "https://web.archive.org/web/2019/http://www.example.com/", "HTTP://Example.com/A",
        "https://example.com/a?b=1&utm_source=x", "https://example.com/a/?ref=home", "https://",
        "https://example.com/a?feedback=1", "http://a.com/?http://ref=1", "https://www.münchen.de/Straße/",
        "example.com/page/126", "",
    ]
    is_validation = c4u.get_hashed_url_filter_fn(lambda v: v % 1000 == 0)
    n_val = 0
    for url in [p.url for p in realweb_pages] + crafted:
        norm = urls.normalize_url(url)
        assert norm == c4u.normalize_url(url), url
        tfds_val = is_validation(c4u.PageFeatures(normalized_url=norm))
        assert (urls.split_of(norm) == "validation") == tfds_val
        n_val += tfds_val
    assert n_val >= 1  # example.com/page/126


# --- split_wet_file + is_valid_length ----------------------------------------------------------

def warc_record(version, headers, body: str) -> bytes:
    payload = body.encode("utf-8")
    head = [version] + [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(payload)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + payload + b"\r\n\r\n"


def write_wet(path: Path, records) -> None:
    with open(path, "wb") as f:
        for r in records:
            f.write(gzip.compress(warc_record(*r)))  # one gzip member per record, as CC does


def conv(url, body, date="2019-04-24T09:23:58Z", version="WARC/1.0"):
    headers = [("WARC-Type", "conversion")]
    if url is not None:
        headers.append(("WARC-Target-URI", url))
    if date is not None:
        headers.append(("WARC-Date", date))
    headers += [("WARC-Record-ID", "<urn:uuid:12345678-1234-1234-1234-123456789012>"),
                ("Content-Type", "text/plain")]
    return version, headers, body


QUIRK_RECORDS = [
    ("WARC/1.0", [("WARC-Type", "warcinfo"), ("WARC-Date", "2019-04-27T00:00:00Z"),
                  ("Content-Type", "application/warc-fields")], "isPartOf: CC-MAIN-2019-18\n"),
    conv("http://a.example/1", "Plain first page.\nSecond line of it.\n"),
    conv("https://www.b.example/2/?utm_source=x", "WARCRAFT is a game.\nContent-based routing.\n"
         "CONTENT-FREE zone.\nKept line.\n  padded  \n\n\n"),
    conv("http://c.example/3", "Intro.\nWARC-Date: body-date\nOutro.\n"),
    conv("http://d.example/4", "Before split.\nWARC/1.0\nAfter split, no url.\n"),
    conv("http://e.example/5", "Before split.\n WARC/1.0 \nWARC-Target-URI: http://f.example/6\n"
         "WARC-Date: 2019-04-25T00:00:00Z\nAfter split with url.\n"),
    conv("http://g.example/7", "Text of G.\n"),
    conv("http://h.example/8", "Text of H merges into G.\n", version="WARC/1.1"),
    conv(None, "No url.\n"),
    conv("http://i.example/9", "\n  \n"),
    conv("http://j.example/10", "No date.\n", date=None),
    conv("http://k.example/11", "Line\rwith\r\nmixed\nnewlines\x1cand\u2028separators.\n"),
    conv("http://l.example/12", "Last page."),
]


def run_tfds_split(c4u, path: Path, max_length=1.9e5):
    counts: Counter = Counter()
    pages = list(c4u.split_wet_file(str(path), counter_inc_fn=lambda n, amt=1: counts.update({"split-wet-file/" + n: amt})))
    c4u._test_sink.clear()
    kept = [p for p in pages if c4u.is_valid_length(p, max_length=max_length)]
    counts.update(c4u._test_sink)
    return [from_tfds(p) for p in kept], counts


def run_ours(path: Path, profile=profiles.C4_EN_3_1_0):
    from c4forge.pipeline.readers import read_wet_pages

    counts: Counter = Counter()
    pages = list(read_wet_pages(str(path), profile, counts))
    return pages, counts


def test_split_wet_file_equals_tfds_on_quirk_records(c4u, tmp_path):
    pytest.importorskip("warcio")
    path = tmp_path / "quirks.warc.wet.gz"
    write_wet(path, QUIRK_RECORDS)
    expected, tfds_counts = run_tfds_split(c4u, path)
    got, ours = run_ours(path)
    assert got == expected
    assert without_chars(ours) == dict(tfds_counts)
    assert [p.url for p in got] == [
        "http://a.example/1", "https://www.b.example/2/?utm_source=x", "http://c.example/3",
        "http://d.example/4", "http://e.example/5", "http://f.example/6", "http://h.example/8",
        "http://k.example/11", "http://l.example/12"]


def test_split_wet_file_equals_tfds_with_length_cap(c4u, tmp_path):
    pytest.importorskip("warcio")
    cap = 120
    path = tmp_path / "lengths.warc.wet.gz"
    write_wet(path, [
        conv("http://a.example/1", "x" * 60 + "\n" + "y" * 59),     # exactly 120
        conv("http://b.example/2", "x" * 60 + "\n" + "y" * 60),     # 121
        conv("http://c.example/3", "short\n" + "z" * 500),
        conv("http://d.example/4", "fine"),
    ])
    expected, tfds_counts = run_tfds_split(c4u, path, max_length=cap)
    got, ours = run_ours(path, dataclasses.replace(profiles.C4_EN_3_1_0, max_page_length=cap))
    assert got == expected
    assert [p.url for p in got] == ["http://a.example/1", "http://d.example/4"]
    assert without_chars(ours) == dict(tfds_counts)


def test_split_wet_file_counters_equal_tfds_when_first_line_is_over_the_cap(c4u, tmp_path):
    pytest.importorskip("warcio")
    cap = 120
    path = tmp_path / "longline.warc.wet.gz"
    write_wet(path, [conv("http://a.example/1", "w" * 121 + "\nshort tail"), conv("http://b.example/2", "ok")])
    expected, tfds_counts = run_tfds_split(c4u, path, max_length=cap)
    got, ours = run_ours(path, dataclasses.replace(profiles.C4_EN_3_1_0, max_page_length=cap))
    assert got == expected  # same pages either way
    assert without_chars(ours) == dict(tfds_counts)


@pytest.mark.xfail(strict=True, reason=(
    "minor counter gap: TFDS skips validating the empty first page only when the file's very "
    "first line (i == 0) is WARC/1.0; with blank lines before it TFDS counts one extra "
    "split-wet-file/filtered:no_url. WetPageAssembler never sees those blank lines (warcio "
    "skips them), so it does not count it. Pages are identical; CC files start at line 0."))
def test_split_wet_file_counters_equal_tfds_with_leading_blank_lines(c4u, tmp_path):
    pytest.importorskip("warcio")
    path = tmp_path / "leading.warc.wet.gz"
    with open(path, "wb") as f:
        f.write(gzip.compress(b"\r\n\r\n" + warc_record(*conv("http://a.example/1", "Hello there."))))
        f.write(gzip.compress(warc_record(*conv("http://b.example/2", "Second."))))
    expected, tfds_counts = run_tfds_split(c4u, path)
    got, ours = run_ours(path)
    assert got == expected and len(got) == 2
    assert without_chars(ours) == dict(tfds_counts)


def test_split_wet_file_equals_tfds_on_real_file(c4u, realweb_pages):
    expected, tfds_counts = run_tfds_split(c4u, REALWEB_WET)
    assert realweb_pages == expected
    got, ours = run_ours(REALWEB_WET)
    assert without_chars(ours) == dict(tfds_counts)
    assert tfds_counts["split-wet-file/passed"] == 974


# --- line dedup ----------------------------------------------------------------------------------

def tfds_dedup(c4u, pages, min_num_sentences=3):
    """TFDS's remove_duplicate_text without Beam: its own emit / Top.PerKey / remove functions."""
    from apache_beam.transforms.combiners import TopCombineFn

    per_line: dict[str, list[str]] = {}
    for p in pages:
        for h, url in c4u._emit_url_to_lines(to_tfds(c4u, p)):
            per_line.setdefault(h, []).append(url)
    keep: dict[str, list[str]] = {}
    for h, cand in per_line.items():
        fn = TopCombineFn(1, key=c4u._hash_text, reverse=True)
        acc = fn.create_accumulator()
        for u in cand:
            acc = fn.add_input(acc, u)
        (owner,) = fn.extract_output(acc)
        keep.setdefault(owner, []).append(h)
    counts: Counter = Counter()
    out = []
    for p in pages:
        el = (p.url, {"pages": [to_tfds(c4u, p)], "lines": keep.get(p.url, [])})
        out += [from_tfds(x) for x in c4u._remove_lines_from_text(
            el, lambda n, amt=1: counts.update({"dedupe-lines/" + n: amt}), min_num_sentences)]
    return out, counts


def ours_dedup(pages, min_num_sentences=3):
    counts: Counter = Counter()
    return chain.DedupeLines(min_num_sentences=min_num_sentences).run_in_memory(pages, counts), counts


def test_line_dedup_equals_tfds_on_real_pages(c4u, realweb_cleaned):
    pytest.importorskip("apache_beam")
    # no URL dedup first: the ~6% second captures under URL variants share many lines
    pages = realweb_cleaned
    expected, tfds_counts = tfds_dedup(c4u, pages)
    got, ours = ours_dedup(pages)
    assert got == expected
    assert without_chars(ours) == dict(tfds_counts)
    assert tfds_counts["dedupe-lines/line-filtered:global_duplicate"] > 100
    assert tfds_counts["dedupe-lines/line-filtered:local_duplicate"] > 0


def test_line_dedup_equals_tfds_with_min_sentences_zero(c4u, realweb_cleaned):
    pytest.importorskip("apache_beam")
    pages = realweb_cleaned[::4]
    expected, tfds_counts = tfds_dedup(c4u, pages, 0)
    got, ours = ours_dedup(pages, 0)
    assert got == expected and without_chars(ours) == dict(tfds_counts)


# --- URL dedup ----------------------------------------------------------------------------------

def test_select_page_equals_tfds_when_dates_differ(c4u, realweb_pages):
    groups: dict[str, list[Page]] = {}
    for p in realweb_pages:
        groups.setdefault(p.normalized_url, []).append(p)
    multi = [g for g in groups.values() if len(g) > 1]
    assert len(multi) >= 10
    for g in multi:
        if len({p.timestamp for p in g}) != len(g):
            continue  # TFDS keeps the first seen on equal dates; ours is deterministic
        for order in (g, g[::-1]):
            expected = from_tfds(c4u.select_newest_page([to_tfds(c4u, p) for p in order]))
            got = order[0]
            for p in order[1:]:
                got = urldedup.select_page(got, p)
            assert got == expected


# --- bad words -----------------------------------------------------------------------------------

def test_badwords_filter_equals_tfds(c4u, realweb_cleaned):
    if not (LDNOOBW / bw.EN_COMMIT / "en").is_file():
        pytest.skip("../shared is absent (a user's machine): no LDNOOBW lists")
    words = bw.load_badwords("en", str(LDNOOBW))
    crafted = ["ass_", "2ass", "assé", '"ass".', "ass", "x\nass\ny", "hey \U0001f595 you", "a\U0001f595",
               "2 girls 1 cup", "2 girls  1 cup", "S&M club", "G-SPOT."]
    pages = [dataclasses.replace(p, language="en") for p in realweb_cleaned] + [
        Page(text=t, language="en", normalized_url=f"crafted.example/{i}") for i, t in enumerate(crafted)]
    hits = None
    for fraction in (1.0, 0.999, 0.5):
        if hits is not None:  # soft fractions only matter for pages with a hit
            pages = hits
        tfds_fn = c4u.get_badwords_filter_fn({"en": sorted(words)}, filter_fraction=fraction)
        regex = {"en": bw.page_badword_matcher(words, "en")}
        c4u._test_sink.clear()
        expected = [tfds_fn(to_tfds(c4u, p)) for p in pages]
        ours: Counter = Counter()
        got = [bw.badwords_filter(p, regex, fraction, ours) for p in pages]
        assert got == expected
        assert without_chars(ours) == dict(c4u._test_sink)
        if hits is None:
            hits = [p for p, keep in zip(pages, expected) if not keep]
            assert 10 < len(hits) < len(pages)
            assert bw.badwords_filter(Page(text="2ass", language="en"), regex, 1.0, Counter()) is True


# --- English detection -----------------------------------------------------------------------------

def test_detect_english_equals_tfds(c4u, realweb_cleaned):
    texts = [p.text for p in realweb_cleaned[::25]] + [
        "", "12345 !!!", "OK", "hello", "The cat sat on the mat. El gato se sentó en la alfombra.",
        "Le renard brun rapide saute par-dessus le chien paresseux et s'enfuit dans la forêt."]
    for text in texts:
        page = Page(url="http://x.example/", normalized_url="x.example", text=text, timestamp="t")
        c4u._test_sink.clear()
        expected = [from_tfds(p) for p in c4u.detect_english(to_tfds(c4u, page))]
        ours: Counter = Counter()
        got = language.detect_english(page, ours)
        assert ([] if got is None else [got]) == expected, text[:60]
        assert without_chars(ours) == dict(c4u._test_sink), text[:60]
