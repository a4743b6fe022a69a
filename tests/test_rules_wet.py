"""WET records -> pages (TFDS ``split_wet_file`` + ``is_valid_length``, c4_reference.md 7.2).

Records are fed to ``wet.WetPageAssembler`` the way the reader does: the version line,
the header (name, value) tuples, then the body split at universal newlines."""

from __future__ import annotations

from collections import Counter

import pytest

from c4forge.cleaning_rules import wet
from c4forge.cleaning_rules.page import Page

DATE = "2019-04-24T09:23:58Z"


def conversion(url, body, date=DATE, version="WARC/1.0", extra_headers=()):
    headers = [("WARC-Type", "conversion")]
    if url is not None:
        headers.append(("WARC-Target-URI", url))
    if date is not None:
        headers.append(("WARC-Date", date))
    headers += [("WARC-Record-ID", "<urn:uuid:0000>"), *extra_headers,
                ("Content-Type", "text/plain"), ("Content-Length", str(len(body.encode("utf-8"))))]
    return version, headers, body


def warcinfo(body="isPartOf: CC-MAIN-2019-18\noperator: Common Crawl Admin\n"):
    headers = [("WARC-Type", "warcinfo"), ("WARC-Date", DATE), ("WARC-Filename", "x.warc.wet.gz"),
               ("Content-Type", "application/warc-fields"), ("Content-Length", str(len(body)))]
    return "WARC/1.0", headers, body


def assemble(records, quirks=True, require_timestamp=True, max_page_length=None, finish=True):
    counters: Counter = Counter()
    asm = wet.WetPageAssembler(counters, quirks=quirks, require_timestamp=require_timestamp,
                               max_page_length=max_page_length)
    pages = []
    for version, headers, body in records:
        pages += list(asm.feed_record(version, headers, wet.split_universal_lines(body)))
    if finish:
        pages += list(asm.finish())
    return pages, counters


def ns(counters, namespace):
    prefix = namespace + "/"
    return {k[len(prefix):]: v for k, v in counters.items() if k.startswith(prefix)}


# --- TFDS test_split_wet_file, restated -------------------------------------------

def test_tfds_case_warcinfo_plus_six_pages():
    records = [warcinfo()] + [
        conversion(f"http://site{i}.example.com/page/{i}", f"Title {i}\nBody line of page {i}.\n")
        for i in range(6)
    ]
    pages, counters = assemble(records)
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 6, "filtered:no_url": 1}
    assert [p.url for p in pages] == [f"http://site{i}.example.com/page/{i}" for i in range(6)]
    assert pages[3] == Page(
        url="http://site3.example.com/page/3",
        normalized_url="site3.example.com/page/3",
        text="Title 3\nBody line of page 3.",
        timestamp=DATE,
        content_type="text/plain",
        content_length=str(len("Title 3\nBody line of page 3.\n")),
    )


# --- basic parsing -----------------------------------------------------------------

def test_lines_are_stripped_and_blank_lines_vanish():
    body = "  first line \t\n\n\u00a0second line\u3000\r\n   \r\nthird\rfourth\n\n"
    pages, _ = assemble([conversion("http://a.com/", body)])
    assert pages[0].text == "first line\nsecond line\nthird\nfourth"


def test_split_universal_lines_only_breaks_on_cr_lf():
    assert wet.split_universal_lines("a\rb\r\nc\nd\x1ce\u2028f\x85g\x0bh") == ["a", "b", "c", "d\x1ce\u2028f\x85g\x0bh"]
    assert wet.split_universal_lines("a\n") == ["a", ""]
    assert wet.split_universal_lines("a\r\rb") == ["a", "", "b"]


def test_rare_separators_stay_inside_a_line():
    pages, _ = assemble([conversion("http://a.com/", "one\x1ctwo\u2028three\n")])
    assert pages[0].text == "one\x1ctwo\u2028three"


def test_headers_fill_fields_and_normalized_url():
    pages, _ = assemble([conversion("https://www.a.com/x/?utm_source=1", "Hello.")])
    p = pages[0]
    assert (p.url, p.normalized_url, p.timestamp, p.content_type, p.content_length) == (
        "https://www.a.com/x/?utm_source=1", "a.com/x", DATE, "text/plain", "6")
    assert p.language is None


def test_repeated_header_last_value_wins():
    version, headers, body = conversion("http://a.com/", "Hello.")
    headers = headers + [("WARC-Date", "2019-04-30T00:00:00Z"), ("WARC-Target-URI", "http://b.com/")]
    pages, _ = assemble([(version, headers, body)])
    assert (pages[0].url, pages[0].timestamp) == ("http://b.com/", "2019-04-30T00:00:00Z")


# --- quirks (quirks=True, c4-en) ------------------------------------------------------

def test_body_lines_with_metadata_prefixes_are_dropped():
    body = ("WARCRAFT is a game.\nContent-based routing is neat.\nCONTENT-FREE zone.\n"
            "Warcraft stays.\ncontent-based stays.\nCONTENT stays.\nWARC/1.0 extra\n  WARC stays? no.\nkept\n")
    pages, _ = assemble([conversion("http://a.com/", body)])
    assert pages[0].text == "Warcraft stays.\ncontent-based stays.\nCONTENT stays.\nkept"


def test_body_warc_date_line_overwrites_timestamp():
    body = "Intro line.\nWARC-Date: body-date\nOutro line.\n"
    pages, _ = assemble([conversion("http://a.com/", body)])
    assert pages[0].timestamp == "body-date"
    assert pages[0].text == "Intro line.\nOutro line."


def test_body_target_uri_and_content_lines_overwrite_fields():
    body = ("WARC-Target-URI:   https://www.evil.com/p/   \nContent-Type: text/html\n"
            "Content-Length: 999\nReal text.\n")
    pages, _ = assemble([conversion("http://a.com/", body)])
    p = pages[0]
    assert (p.url, p.normalized_url, p.content_type, p.content_length, p.text) == (
        "https://www.evil.com/p/", "evil.com/p", "text/html", "999", "Real text.")


def test_body_delimiter_line_starts_a_new_page():
    body = "Before the split.\n  WARC/1.0  \nAfter the split.\nWARC-Target-URI: http://c.com/\n"
    pages, counters = assemble([conversion("http://a.com/", body), conversion("http://b.com/", "B text.")])
    # the first half keeps the record's headers; the second half has only what follows
    # the delimiter: a URL from the body, but no timestamp
    assert [(p.url, p.text) for p in pages] == [("http://a.com/", "Before the split."), ("http://b.com/", "B text.")]
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 2, "filtered:no_timestamp": 1}
    pages, counters = assemble([conversion("http://a.com/", body)], require_timestamp=False)
    assert [(p.url, p.text, p.timestamp) for p in pages] == [
        ("http://a.com/", "Before the split.", DATE), ("http://c.com/", "After the split.", "")]


def test_body_delimiter_without_url_gives_no_url():
    body = "Before.\nWARC/1.0\nOrphan text.\n"
    pages, counters = assemble([conversion("http://a.com/", body)])
    assert [p.text for p in pages] == ["Before."]
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 1, "filtered:no_url": 1}


def test_warc_1_1_delimiter_not_recognised_records_merge():
    records = [
        conversion("http://a.com/", "Text of A.\n", date="2019-04-01T00:00:00Z"),
        conversion("http://b.com/", "Text of B.\n", date="2019-04-02T00:00:00Z", version="WARC/1.1"),
        conversion("http://c.com/", "Text of C.\n", date="2019-04-03T00:00:00Z"),
    ]
    pages, counters = assemble(records)
    # A and B form one page with B's headers (they came later) and both texts
    assert [(p.url, p.timestamp, p.text) for p in pages] == [
        ("http://b.com/", "2019-04-02T00:00:00Z", "Text of A.\nText of B."),
        ("http://c.com/", "2019-04-03T00:00:00Z", "Text of C."),
    ]
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 2}


def test_file_starting_with_warc_1_1_has_no_delimiter():
    records = [conversion("http://a.com/", "Text of A.\n", version="WARC/1.1"),
               conversion("http://b.com/", "Text of B.\n", version="WARC/1.1")]
    pages, counters = assemble(records)
    assert [(p.url, p.text) for p in pages] == [("http://b.com/", "Text of A.\nText of B.")]
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 1}


@pytest.mark.parametrize("quirks", [True, False])
def test_invalid_page_counters(quirks):
    records = [
        conversion(None, "No url here.\n"),
        conversion("http://a.com/", "\n   \n"),
        conversion("http://b.com/", "No date here.\n", date=None),
        conversion("", "Empty url value.\n"),
        conversion("http://c.com/", "Fine.\n"),
    ]
    pages, counters = assemble(records, quirks=quirks)
    assert [p.url for p in pages] == ["http://c.com/"]
    assert ns(counters, "split-wet-file") == {
        "wet-file": 1, "passed": 1, "filtered:no_url": 2, "filtered:no_content": 1, "filtered:no_timestamp": 1}
    pages, counters = assemble(records, quirks=quirks, require_timestamp=False)
    assert [p.url for p in pages] == ["http://b.com/", "http://c.com/"]
    assert pages[0].timestamp == ""


def test_validity_order_url_then_content_then_timestamp():
    assert wet.page_validity("", False, "") == "filtered:no_url"
    assert wet.page_validity("u", False, "") == "filtered:no_content"
    assert wet.page_validity("u", True, "") == "filtered:no_timestamp"
    assert wet.page_validity("u", True, "", require_timestamp=False) == "passed"
    assert wet.page_validity("u", True, "d") == "passed"


def test_last_page_needs_finish():
    counters: Counter = Counter()
    asm = wet.WetPageAssembler(counters)
    version, headers, body = conversion("http://a.com/", "Only page.\n")
    assert list(asm.feed_record(version, headers, wet.split_universal_lines(body))) == []
    assert [p.text for p in asm.finish()] == ["Only page."]
    assert list(asm.finish()) == []  # already emitted
    assert counters["split-wet-file/passed"] == 1


def test_abandoned_record_drops_partial_page_with_quirks():
    counters: Counter = Counter()
    asm = wet.WetPageAssembler(counters)
    a = conversion("http://a.com/", "Text of A.\n")
    b = conversion("http://b.com/", "Partial B.\n")
    list(asm.feed_record(a[0], a[1], wet.split_universal_lines(a[2])))
    out = list(asm.feed_record(b[0], b[1], wet.split_universal_lines(b[2])))
    assert [p.url for p in out] == ["http://a.com/"]
    asm.abandon_record()
    assert list(asm.finish()) == []


def test_empty_assembler_counts_only_the_file():
    pages, counters = assemble([])
    assert pages == [] and dict(counters) == {"split-wet-file/wet-file": 1}


# --- quirks=False: one record, one page --------------------------------------------------

def test_no_quirks_record_is_page_from_headers_and_body_lines_kept():
    body = ("WARCRAFT is a game.\nContent-based routing.\nWARC-Date: body-date\n"
            "WARC-Target-URI: http://evil.com/\nWARC/1.0\n\n  spaced  \n")
    records = [
        warcinfo(),
        conversion("http://a.com/", body),
        conversion("http://b.com/", "Text of B.\n", version="WARC/1.1"),
    ]
    pages, counters = assemble(records, quirks=False)
    assert [(p.url, p.timestamp, p.text) for p in pages] == [
        ("http://a.com/", DATE,
         "WARCRAFT is a game.\nContent-based routing.\nWARC-Date: body-date\n"
         "WARC-Target-URI: http://evil.com/\nWARC/1.0\nspaced"),
        ("http://b.com/", DATE, "Text of B."),
    ]
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 2, "filtered:no_url": 1}


# --- length cap (TFDS is_valid_length, 190000 code points) ------------------------------

def test_length_cap_counters_at_exact_boundary():
    cap = 50
    exact = "x" * 20 + "\n" + "y" * 29              # 50 chars joined
    over = "x" * 20 + "\n" + "y" * 30               # 51
    records = [
        conversion("http://a.com/", exact),
        conversion("http://b.com/", over),
        conversion("http://c.com/", "z" * 20 + "\n" + "z" * 40),
        conversion(None, "w" * 500),                # invalid pages are not length-checked
        conversion("http://d.com/", "short"),
    ]
    pages, counters = assemble(records, max_page_length=cap)
    assert [(p.url, p.text) for p in pages] == [("http://a.com/", exact), ("http://d.com/", "short")]
    assert ns(counters, "too-long-filter") == {"passed": 2, "filtered": 2}
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 4, "filtered:no_url": 1}
    assert counters["chars/too-long-filter/filtered"] == 51 + 61


@pytest.mark.parametrize("quirks", [True, False])
def test_length_cap_page_whose_first_line_is_over_the_cap(quirks):
    records = [conversion("http://c.com/", "z" * 51 + "\nshort tail")]
    pages, counters = assemble(records, quirks=quirks, max_page_length=50)
    assert pages == []
    assert ns(counters, "split-wet-file") == {"wet-file": 1, "passed": 1}
    assert ns(counters, "too-long-filter") == {"filtered": 1}
    assert counters["chars/too-long-filter/filtered"] == 51 + 1 + 10


def test_length_cap_counts_stripped_text_not_raw_bytes():
    # 60 raw characters, 50 after stripping and dropping blank and metadata lines
    body = "   " + "a" * 25 + "   \n\n\nWARC junk line\n" + "b" * 24 + "\n"
    pages, counters = assemble([conversion("http://a.com/", body)], max_page_length=50)
    assert pages[0].text == "a" * 25 + "\n" + "b" * 24
    assert ns(counters, "too-long-filter") == {"passed": 1}


def test_length_cap_is_code_points_not_bytes():
    text = "é" * 50  # 100 UTF-8 bytes
    pages, counters = assemble([conversion("http://a.com/", text)], max_page_length=50)
    assert [p.text for p in pages] == [text]


def test_length_cap_default_profile_value():
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0, C4_EN_2_2_0
    assert C4_EN_3_1_0.max_page_length == 190_000
    assert C4_EN_2_2_0.max_page_length == 190_000
    ok = "a" * 99_999 + "\n" + "b" * 90_000         # exactly 190000
    pages, counters = assemble([conversion("http://a.com/", ok), conversion("http://b.com/", ok + "c")],
                               max_page_length=190_000)
    assert [p.url for p in pages] == ["http://a.com/"]
    assert ns(counters, "too-long-filter") == {"passed": 1, "filtered": 1}


def test_no_length_cap_means_no_counters():
    pages, counters = assemble([conversion("http://a.com/", "q" * 300_000)])
    assert len(pages[0].text) == 300_000
    assert ns(counters, "too-long-filter") == {}


def test_merged_records_are_length_checked_together():
    records = [
        conversion("http://a.com/", "a" * 30),
        conversion("http://b.com/", "b" * 30, version="WARC/1.1"),  # merges: 61 chars
        conversion("http://c.com/", "c" * 30),
    ]
    pages, counters = assemble(records, max_page_length=50)
    assert [p.url for p in pages] == ["http://c.com/"]
    assert ns(counters, "too-long-filter") == {"passed": 1, "filtered": 1}
