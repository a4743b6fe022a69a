"""WET records -> pages (TFDS ``split_wet_file`` + ``is_valid_length``, c4_reference.md 7.2).

Records are fed to ``wet.WetPageAssembler`` the way the reader does: the version line,
the header (name, value) tuples, then the body split at universal newlines."""

from __future__ import annotations

import random
import re
import sys
from collections import Counter

import pytest

from c4forge.cleaning_rules import wet
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.urls import normalize_url

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
        pages += list(asm.feed_record_blocks(version, headers, wet.split_universal_lines(body)))
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
    assert list(asm.feed_record_blocks(version, headers, wet.split_universal_lines(body))) == []
    assert [p.text for p in asm.finish()] == ["Only page."]
    assert list(asm.finish()) == []  # already emitted
    assert counters["split-wet-file/passed"] == 1


def test_abandoned_record_drops_partial_page_with_quirks():
    counters: Counter = Counter()
    asm = wet.WetPageAssembler(counters)
    a = conversion("http://a.com/", "Text of A.\n")
    b = conversion("http://b.com/", "Partial B.\n")
    list(asm.feed_record_blocks(a[0], a[1], wet.split_universal_lines(a[2])))
    out = list(asm.feed_record_blocks(b[0], b[1], wet.split_universal_lines(b[2])))
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


# --- bodies in blocks (the reader's pieces), against the rules applied line by line ------

FIELD_KEYS = (("WARC-Target-URI:", "url"), ("WARC-Date:", "timestamp"),
              ("Content-Type:", "content_type"), ("Content-Length:", "content_length"))


def line_by_line(records, quirks=True, require_timestamp=True, max_page_length=None):
    """TFDS's split_wet_file loop (+ is_valid_length), one line at a time: the reference."""
    pages, counters = [], Counter({"split-wet-file/wet-file": 1})

    def new():
        return {"url": "", "timestamp": "", "content_type": "", "content_length": "", "lines": []}

    def set_field(draft, line):
        for field_key, field in FIELD_KEYS:
            if line.startswith(field_key):
                draft[field] = line[len(field_key):].strip()
                return

    def emit(d):
        text = "\n".join(d["lines"])
        verdict = wet.page_validity(d["url"], bool(text), d["timestamp"], require_timestamp)
        counters["split-wet-file/" + verdict] += 1
        if verdict != "passed":
            return
        if max_page_length is not None:
            too_long = len(text) > max_page_length
            counters["too-long-filter/" + ("filtered" if too_long else "passed")] += 1
            if too_long:
                counters["chars/too-long-filter/filtered"] += len(text)
                return
        pages.append(Page(url=d["url"], normalized_url=normalize_url(d["url"]) if d["url"] else "",
                          text=text, timestamp=d["timestamp"], content_type=d["content_type"],
                          content_length=d["content_length"]))

    draft = None
    for version, headers, body in records:
        if not quirks:
            d = new()
            for name, value in headers:
                set_field(d, f"{name}: {value}")
            d["lines"] = [s for s in (raw.strip() for raw in wet.split_universal_lines(body)) if s]
            emit(d)
            continue
        for raw in [version, *(f"{name}: {value}" for name, value in headers), *wet.split_universal_lines(body)]:
            line = raw.strip()
            if not line:
                continue
            if line == "WARC/1.0":
                if draft is not None:
                    emit(draft)
                draft = new()
            if draft is None:
                draft = new()
            if line.startswith(("WARC", "CONTENT-", "Content-")):
                set_field(draft, line)
            else:
                draft["lines"].append(line)
    if quirks and draft is not None:
        emit(draft)
    return pages, +counters


def random_record(rng):
    pieces = ["word", "two words", "WARC/1.0", "WARC/1.1", "WARC-Date: body-date", "Content-Length: 7",
              "CONTENT-x", "WARC-Target-URI: http://body.example/", "é€😀", "WARCRAFT", "\x00", "x" * 40,
              " ", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\r", "\r\n", "\n", "\n\n"]
    body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
    names = ["WARC-Type", "WARC-Target-URI", "WARC-Date", "WARC-Record-ID", "Content-Type", "Content-Length",
             "warc-date", "WARC-Date:", "WARC-Datex", "Foo", "WARC/1.0", "Content-Type-X"]
    values = ["", " ", "v", " padded value ", "http://a.example/p", "2019-04-18T12:00:00Z", "a\rb", "\u3000x\u3000"]
    headers = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 6))]
    return rng.choice(["WARC/1.0", "WARC/1.0", "WARC/1.1", " WARC/1.0 ", "", "other"]), headers, body


def as_blocks(rng, body):
    """The body's lines in random runs, each run one block (lines joined with "\\n")."""
    lines, blocks, i = wet.split_universal_lines(body), [], 0
    while i < len(lines):
        n = rng.randint(1, 4)
        blocks.append("\n".join(lines[i:i + n]))
        i += n
    return blocks


@pytest.mark.parametrize("quirks", [True, False])
def test_blocks_give_the_pages_of_line_by_line(quirks):
    for seed in range(400):
        rng = random.Random(seed)
        records = [random_record(rng) for _ in range(rng.randint(1, 5))]
        options = {"quirks": quirks, "require_timestamp": rng.random() < 0.5,
                   "max_page_length": rng.choice([None, 20, 60, 1000])}
        expected = line_by_line(records, **options)
        for by_lines in (False, True):
            counters: Counter = Counter()
            asm = wet.WetPageAssembler(counters, **options)
            pages = []
            for version, headers, body in records:
                if by_lines:
                    pages += asm.feed_record_blocks(version, headers, wet.split_universal_lines(body))
                else:
                    pages += asm.feed_record_blocks(version, headers, as_blocks(rng, body))
            pages += asm.finish()
            assert (pages, +counters) == expected, (seed, by_lines, records)


def test_page_text_of_is_the_stripped_lines():
    rng = random.Random(0)
    alphabet = ["a", "b c", " ", "\t", "\n", "\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0",
                "\u2028", "\u2029", "\u3000", "\u200b", "\x00", "é"]
    for _ in range(3000):
        block = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        expected = "\n".join(s for s in (line.strip() for line in block.split("\n")) if s)
        assert wet.page_text_of(block) == expected, repr(block)
    clean = "Title\nA line, with words.\nLast"
    assert wet.page_text_of(clean) is clean  # taken as it is


def test_regex_whitespace_is_what_strip_removes():
    # page_text_of relies on re's \s being exactly the whitespace of str.strip()
    every_char = "".join(map(chr, range(sys.maxunicode + 1)))
    assert re.findall(r"\s", every_char) == [c for c in every_char if c.isspace()]
    assert all(not c.strip() for c in every_char if c.isspace())


def test_usual_header_names_set_fields_as_their_lines_do():
    for name in wet._HEADER_FIELDS:
        for value in ["", "  ", "v", " padded \t", "a\rb", "\u3000x\u3000", "x: y"]:
            line = f"{name}: {value}"
            for quirks in (True, False):
                got, want = wet._PageDraft(), wet._PageDraft()
                field = wet._HEADER_FIELDS[name]
                if field:
                    setattr(got, field, value.strip())
                wet._apply_header_line(want, line.strip() if quirks else line)
                assert (got.url, got.timestamp, got.content_type, got.content_length) == (
                    want.url, want.timestamp, want.content_type, want.content_length), (name, value)
                assert not quirks or line.strip().startswith(wet.METADATA_PREFIXES)


@pytest.mark.skipif(wet._compiled_plain_block is None, reason="lines_compiled not built (no C compiler at install)")
def test_the_compiled_plain_block_check_is_the_regex_check():
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        for block in (c, c + "ab", "ab" + c, "ab\n" + c + "x", "ab" + c + "\nx", "a\n" + c + "ARC",
                      "a\nW" + c + "RC", "a\nContent" + c, "x" * 5 + "\n" + c):
            assert wet.is_plain_block(block) == wet.is_plain_block_py(block), repr(block)
    rng = random.Random(3)
    pieces = ["a", " ", "\n", "WARC", "WAR", "CONTENT-", "Content-", "content-", "\u2028", "\x85", "\x1c",
              "é", "€", "\u0a0a", "\U0001F600", "\t", "x", "C"]
    for _ in range(100000):  # the three string kinds, and four-code-point words (2-byte kind)
        block = "".join(rng.choice(pieces) for _ in range(rng.randrange(16)))
        assert wet.is_plain_block(block) == wet.is_plain_block_py(block), repr(block)


def plain_without_cr(text: str) -> int:
    return len(text) if "\r" not in text and wet.is_plain_block_py(text) else -1


@pytest.mark.skipif(wet._compiled_plain_block is None, reason="lines_compiled not built (no C compiler at install)")
def test_the_utf8_plain_block_check_is_the_check_of_the_decoded_text():
    from c4forge.cleaning_rules.lines_compiled import plain_wet_block_utf8

    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp < 0xE000:
            continue  # not in valid UTF-8
        c = chr(cp)
        for text in (c, c + "ab", "ab" + c, "ab\n" + c + "x", "ab" + c + "\nx", "a\n" + c + "ARC", c + "\n" + c):
            assert plain_wet_block_utf8(text.encode()) == plain_without_cr(text), repr(text)
    rng = random.Random(4)
    pieces = ["a", " ", "\n", "\r", "\r\n", "WARC", "CONTENT-", "Content-", "\u2028", "\x85", "\x1c", "é", "€",
              "\U0001F600", "\t", "x"]
    for _ in range(100000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(14)))
        assert plain_wet_block_utf8(text.encode()) == plain_without_cr(text), repr(text)
