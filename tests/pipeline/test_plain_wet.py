"""Plain WET records (pipeline/records/plain_wet.py): read without warcio only where warcio's
path gives the same record, and the reader's pages and counters are the general path's."""

from __future__ import annotations

import dataclasses
import gzip
import io
import random
from collections import Counter

import pytest

from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
from c4forge.pipeline.readers import read_wet_pages
from c4forge.pipeline.readers import wet as wet_reader
from c4forge.pipeline.records import plain_wet, utf8
from c4forge.pipeline.records.body_lines import iter_body_blocks, whole_body_blocks
from c4forge.pipeline.records.gzip_members import gunzip_chunks
from c4forge.pipeline.records.plain_wet import split_plain_record
from c4forge.pipeline.records.strict_warcio import StrictArchiveIterator
from conftest import REALWEB_WET


def record(headers: list[str], body: bytes, *, version: bytes = b"WARC/1.0", length=None,
           trailer: bytes = b"\r\n\r\n") -> bytes:
    length = len(body) if length is None else length
    lines = [version] + [h.encode("utf-8") if isinstance(h, str) else h for h in headers]
    if length is not False:
        lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + trailer


def conversion(url: str, body: bytes, *extra: str, **kw) -> bytes:
    return record(["WARC-Type: conversion", f"WARC-Target-URI: {url}", "WARC-Date: 2019-04-24T09:23:58Z",
                   "Content-Type: text/plain", *extra], body, **kw)


PLAIN = [
    record(["WARC-Type: warcinfo", "Content-Type: application/warc-fields"], b"isPartOf: CC-MAIN-2019-18\r\n"),
    conversion("http://a.example/1", b"First line of a page.\nSecond line of it.\n"),
    conversion("http://b.example/2", b"Body\rwith\r\nmixed\nnewlines\xc2\x85and \xe2\x80\xa8separators."),
    conversion("http://c.example/3", b"Intro.\nWARC/1.0\nWARC-Target-URI: http://d.example/4\n"
               b"WARC-Date: 2019-04-25T00:00:00Z\nAfter the split.\n"),
    conversion("http://e.example/5", b""),
    conversion("http://f.example/6 with space", b"Odd headers.", "X-Spaced   :   value  ", "WARC-Empty:",
               "Name:no-space", "Caf\u00e9: cr\u00e8me"),
    conversion("http://g.example/7", "Ünïcödé text. 日本語のテキスト。".encode()),
    record(["WARC-Type: conversion", "WARC-Target-URI: http://h.example/8", "WARC-Date: 2019-04-24T09:23:58Z",
            "content-length: 12"], b"Lower-case l", length=False),
    record(["WARC-Type: conversion", "WARC-Target-URI: http://i.example/9", "WARC-Date: 2019-04-24T09:23:58Z",
            "Content-Length\t : 4"], b"text", length=False),
]

NOT_PLAIN = {
    "version 1.1": conversion("http://x.example/", b"text", version=b"WARC/1.1"),
    "continuation": conversion("http://x.example/", b"text", "X-Long: a", "  continued"),
    "line without colon": conversion("http://x.example/", b"text", "NoColonHere"),
    "two lengths": conversion("http://x.example/", b"text", "Content-Length: 4"),
    "length too small": conversion("http://x.example/", b"text text", length=4),
    "length too large": conversion("http://x.example/", b"text", length=6, trailer=b"\r\n"),
    "length with sign": conversion("http://x.example/", b"text", length="+4"),
    "no length": record(["WARC-Type: conversion"], b"text", length=False),
    "extra trailer": conversion("http://x.example/", b"text", trailer=b"\r\n\r\n\r\n"),
    "short trailer": conversion("http://x.example/", b"text", trailer=b"\r\n"),
    "CR inside a header": conversion("http://x.example/", b"text", "X-Odd: a\rb"),
    "LF inside a header": conversion("http://x.example/", b"text", "X-Odd: a\nb"),
    "blank-looking header": conversion("http://x.example/", b"text", "   "),
    "not utf-8 header": conversion("http://x.example/", b"text", b"X-Latin: caf\xe9"),
    "no headers": b"WARC/1.0\r\n\r\ntext\r\n\r\n",
}


def warcio_record(member: bytes):
    """(version line, headers, body) as the general path's warcio reads the member."""
    records = StrictArchiveIterator(io.BytesIO(gzip.compress(member)), lambda *a: None)
    rec = next(records)
    return (rec.rec_headers.protocol or rec.rec_headers.statusline, list(rec.rec_headers.headers),
            rec.content_stream().read())


@pytest.mark.parametrize("member", PLAIN)
def test_plain_records_split_as_warcio_reads_them(member):
    plain = split_plain_record(member)
    assert plain is not None
    assert (plain.version_line, plain.headers, plain.body) == warcio_record(member)


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_records_the_fast_path_cannot_prove_plain_are_left_to_warcio(name):
    assert split_plain_record(NOT_PLAIN[name]) is None


def write(path, members, *, padding: bytes = b""):
    path.write_bytes(padding.join(gzip.compress(m) for m in members))
    return str(path)


def general_path(path, profile=C4_EN_3_1_0):
    """The reader with the plain check switched off: warcio for every record."""
    original = utf8.check_utf8
    wet_reader.check_utf8 = lambda open_file, find_plain=False, hold_bytes=0: original(open_file)
    try:
        counts = Counter()
        return list(read_wet_pages(path, profile, counts)), counts
    finally:
        wet_reader.check_utf8 = original


def fast_path(path, profile=C4_EN_3_1_0, hold_bytes=0):
    counts = Counter()
    return list(read_wet_pages(path, profile, counts, hold_bytes=hold_bytes)), counts


def is_plain(path) -> bool:
    return utf8.check_utf8(lambda: open(path, "rb"), find_plain=True).plain


def test_a_plain_file_takes_the_fast_path_with_the_general_paths_pages_and_counters(tmp_path):
    path = write(tmp_path / "plain.warc.wet.gz", PLAIN)
    assert is_plain(path)
    pages, counts = fast_path(path)
    assert len(pages) == 8
    assert (pages, counts) == general_path(path)


@pytest.mark.parametrize("name", sorted(NOT_PLAIN))
def test_one_record_not_plain_sends_the_whole_file_through_warcio(tmp_path, name):
    path = write(tmp_path / "mixed.warc.wet.gz", PLAIN[:3] + [NOT_PLAIN[name]] + PLAIN[3:])
    assert not is_plain(path)
    assert fast_path(path) == general_path(path)


def test_padding_between_members_or_no_gzip_is_not_plain(tmp_path):
    padded = write(tmp_path / "padded.warc.wet.gz", PLAIN, padding=b"\x00\x00")
    assert not is_plain(padded)
    assert fast_path(padded) == general_path(padded)
    raw = tmp_path / "raw.warc.wet"
    raw.write_bytes(b"".join(PLAIN))
    assert not is_plain(str(raw))
    one_stream = tmp_path / "one-stream.warc.wet.gz"
    one_stream.write_bytes(gzip.compress(b"".join(PLAIN)))
    assert not is_plain(str(one_stream))
    assert fast_path(str(one_stream)) == general_path(str(one_stream))


def test_an_invalid_utf8_file_is_skipped_whole_not_read_plain(tmp_path):
    path = write(tmp_path / "bad.warc.wet.gz", PLAIN + [conversion("http://z.example/", b"caf\xe9 au lait.")])
    pages, counts = fast_path(path)
    assert pages == [] and counts["split-wet-file/skipped-file:invalid_utf8"] == 1
    assert (pages, counts) == general_path(path)


def test_the_real_web_file_reads_plain_with_the_general_paths_pages(tmp_path):
    if not REALWEB_WET.is_file():
        pytest.skip(f"{REALWEB_WET} is absent (../shared)")
    assert is_plain(str(REALWEB_WET))
    assert fast_path(str(REALWEB_WET)) == general_path(str(REALWEB_WET))


# --- records held by the check: a file read once ------------------------------------------

def counted_opens(path, hold_bytes):
    """(pages, counters, times the file was opened) of the reader with ``hold_bytes``."""
    opens = []

    def opener(p):
        opens.append(p)
        return open(p, "rb")

    counts = Counter()
    pages = list(read_wet_pages(path, C4_EN_3_1_0, counts, open_file=opener, hold_bytes=hold_bytes))
    return pages, counts, len(opens)


def test_held_records_give_the_same_pages_and_counters_and_spare_the_second_read(tmp_path):
    path = write(tmp_path / "plain.warc.wet.gz", PLAIN)
    expected = general_path(path)
    size = sum(len(m) for m in PLAIN)
    # nothing held: read twice; part held: the second read starts after it; all held: read once
    for hold_bytes, opens in ((0, 2), (len(PLAIN[0]) + len(PLAIN[1]), 2), (size - 1, 2), (size, 1), (1 << 40, 1)):
        pages, counts, n = counted_opens(path, hold_bytes)
        assert ((pages, counts), n) == (expected, opens), hold_bytes


@pytest.mark.parametrize("case", ["not plain", "padding", "invalid utf-8", "one gzip stream"])
def test_a_file_the_plain_reader_cannot_take_ignores_what_was_held(tmp_path, case):
    members = {"not plain": PLAIN[:3] + [NOT_PLAIN["two lengths"]] + PLAIN[3:],
               "invalid utf-8": PLAIN + [conversion("http://z.example/", b"caf\xe9 au lait.")]}.get(case, PLAIN)
    path = tmp_path / "file.warc.wet.gz"
    if case == "one gzip stream":
        path.write_bytes(gzip.compress(b"".join(members)))
    else:
        write(path, members, padding=b"\x00" if case == "padding" else b"")
    pages, counts, _ = counted_opens(str(path), 1 << 40)
    assert (pages, counts) == general_path(str(path))


def test_the_real_web_file_held_whole_or_in_part_reads_as_without(tmp_path):
    if not REALWEB_WET.is_file():
        pytest.skip(f"{REALWEB_WET} is absent (../shared)")
    expected = fast_path(str(REALWEB_WET))
    for hold_bytes, opens in ((1 << 20, 2), (1 << 30, 1)):
        pages, counts, n = counted_opens(str(REALWEB_WET), hold_bytes)
        assert ((pages, counts), n) == (expected, opens)


def test_a_file_shorter_than_where_reading_resumes_is_an_error(tmp_path):
    from c4forge.pipeline.records.plain_wet import plain_records

    data = b"".join(gzip.compress(m) for m in PLAIN)
    assert len(list(plain_records(io.BytesIO(data), start_at=len(gzip.compress(PLAIN[0]))))) == len(PLAIN) - 1
    with pytest.raises(ValueError, match="changed while it was read"):
        list(plain_records(io.BytesIO(data), start_at=len(data) + 10))


# --- the compiled split and the whole-body blocks ----------------------------------------------

needs_compiled_split = pytest.mark.skipif(plain_wet.plain_wet_compiled is None,
                                          reason="plain_wet_compiled not built (no C compiler at install)")

# Pieces spliced into members at random: each condition split_plain_record looks at.
SPLICES = [b"\r", b"\n", b"\r\n", b"\r\n\r\n", b" ", b"\t", b":", b"::", b"0", b"9", b"12", b"+",
           b"Content-Length: 4", b"CONTENT-LENGTH:", b"content-length", b"Content-Length\t:",
           b"\xc2\x85", b"\xc2\xa0", b"\xe2\x80\xa8", b"\xe3\x80\x80", b"\x1c", b"\x0b", b"\x0c",
           b"\xe9", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"WARC/1.0\r\n", b"\xe2\x84\xaa", b"\xc4\xb0"]


def mutated_members(rng: random.Random, members: list[bytes], count: int):
    for _ in range(count):
        member = bytearray(rng.choice(members))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(member) + 1)
            if rng.random() < 0.3:
                del member[at:at + rng.randint(1, 4)]
            else:
                member[at:at] = rng.choice(SPLICES)
        yield bytes(member)


@needs_compiled_split
def test_the_compiled_split_is_the_python_split():
    members = PLAIN + list(NOT_PLAIN.values())
    rng = random.Random(0)
    for member in members + list(mutated_members(rng, members, 30000)):
        assert split_plain_record(member) == plain_wet.split_plain_record_py(member), member


def real_members() -> list[bytes]:
    if not REALWEB_WET.is_file():
        pytest.skip(f"../shared is absent (a user's machine): no {REALWEB_WET}")
    members: dict[int, list[bytes]] = {}
    with open(REALWEB_WET, "rb") as f:
        for member_at, _, piece in gunzip_chunks(f):
            members.setdefault(member_at, []).append(piece)
    return [b"".join(pieces) for pieces in members.values()]


@needs_compiled_split
def test_the_compiled_split_is_the_python_split_on_the_real_web_file():
    members = real_members()
    assert len(members) > 900
    for member in members:
        found = split_plain_record(member)
        assert found is not None and found == plain_wet.split_plain_record_py(member)
    rng = random.Random(1)
    for member in mutated_members(rng, members, 3000):
        assert split_plain_record(member) == plain_wet.split_plain_record_py(member)


def body_blocks(blocks) -> list:
    """What a block reader hands on, an error included where it raises one."""
    out = []
    try:
        out.extend(blocks)
    except UnicodeDecodeError as error:
        out.append(("error", error.start))
    return out


def test_a_whole_body_gives_the_blocks_of_the_body_read_in_pieces():
    rng = random.Random(2)
    pieces = ["a", " ", "\r", "\n", "\r\n", "é", "€", "\u2028", "\x85", "WARC", "\t", "xxxxx"]
    for _ in range(20000):
        body = b"".join(rng.choice([p.encode() for p in pieces] + [b"\xff", b"\xe2\x82"])
                        for _ in range(rng.randrange(12)))
        for max_line_chars in (1, 3, 10**9):
            assert body_blocks(whole_body_blocks(body, max_line_chars)) == \
                body_blocks(iter_body_blocks(io.BytesIO(body), max_line_chars)), (body, max_line_chars)
    large = ("A line of a large body.\n" * 50000).encode()  # more than one read
    assert body_blocks(whole_body_blocks(large, 10**9)) == body_blocks(iter_body_blocks(io.BytesIO(large), 10**9))


# --- pages handed on undecoded (RawPage) -------------------------------------------------------

def raw_path(path, profile=C4_EN_3_1_0, hold_bytes=0):
    counts = Counter()
    pages = list(read_wet_pages(path, profile, counts, hold_bytes=hold_bytes, raw_pages=True))
    return pages, counts


FIELDS_IN_BODY = conversion("http://j.example/10", b"Intro line.\nWARC-Date: 2020-01-01T00:00:00Z\nMore.")
LEADING_SPACE = conversion("http://k.example/11", b" Indented first line.\nSecond.")
UNKNOWN_HEADER = conversion("http://l.example/12", b"A page with an odd header.", "X-Odd: value")
NO_URL = record(["WARC-Type: conversion", "WARC-Date: 2019-04-24T09:23:58Z"], b"A page without a URL.")
NO_DATE = record(["WARC-Type: conversion", "WARC-Target-URI: http://m.example/13"], b"A page without a date.")
TOO_LONG = conversion("http://n.example/14", ("A long line of text. " * 10000).encode())
CR_BODY = conversion("http://o.example/15", b"Windows line.\r\nEnds.")


@pytest.mark.skipif(wet_reader.plain_wet_block_utf8 is None, reason="lines_compiled not built (no C compiler at install)")
@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_raw_pages_decode_to_the_readers_pages_with_the_same_counters(tmp_path, order):
    from c4forge.pipeline.page_bytes import RawPage, as_page, decode_page, encode_any_page, encode_page

    members = PLAIN + [FIELDS_IN_BODY, LEADING_SPACE, UNKNOWN_HEADER, NO_URL, NO_DATE, TOO_LONG, CR_BODY]
    members += [conversion(f"http://p.example/{i}", f"Page {i} of a run of plain ones.".encode()) for i in range(3)]
    if order == "reversed":
        members.reverse()
    path = write(tmp_path / "mixed.warc.wet.gz", members)
    expected_pages, expected_counts = general_path(path)
    for hold_bytes in (0, len(members[0]) + len(members[1]), 1 << 30):
        pages, counts = raw_path(path, hold_bytes=hold_bytes)
        assert ([as_page(p) for p in pages], counts) == (expected_pages, expected_counts)
        raw = [p for p in pages if isinstance(p, RawPage)]
        assert 0 < len(raw) < len(pages)  # the odd records above are decoded as they are read
        for page in pages:
            assert decode_page(encode_any_page(page)) == as_page(page)
            assert encode_any_page(page) == encode_page(as_page(page))


def test_raw_pages_only_with_wet_quirks(tmp_path):
    from c4forge.pipeline.page_bytes import RawPage

    path = write(tmp_path / "plain.warc.wet.gz", PLAIN)
    pages, _ = raw_path(path, dataclasses.replace(C4_EN_3_1_0, wet_quirks=False))
    assert pages and not any(isinstance(p, RawPage) for p in pages)


def test_the_real_web_file_read_raw_gives_the_readers_pages():
    from c4forge.pipeline.page_bytes import RawPage, as_page

    if not REALWEB_WET.is_file():
        pytest.skip(f"{REALWEB_WET} is absent (../shared)")
    expected = fast_path(str(REALWEB_WET))
    for hold_bytes in (1 << 20, 1 << 30):
        pages, counts = raw_path(str(REALWEB_WET), hold_bytes=hold_bytes)
        assert ([as_page(p) for p in pages], counts) == expected
        if wet_reader.plain_wet_block_utf8 is not None:
            assert sum(isinstance(p, RawPage) for p in pages) > 900
