"""Generators of good and broken WET files for the reader tests (``test_bad_inputs.py``).

Plain functions, no pytest: each writes one file under a directory and returns its path.
Import with ``sys.path`` pointing at ``tests/`` (tests/ is not a package).

A record is built as CC WET files build it: ``WARC/1.0`` line, headers, blank line, the
body (one text block per line, ``\\n``-separated), ``\\r\\n\\r\\n``. Files are gzipped
one member per record ("chunked", as Common Crawl does) unless told otherwise.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Iterable, Optional, Sequence

DATE = "2019-04-18T12:00:00Z"
RECORD_ID = "<urn:uuid:00000000-0000-0000-0000-{n:012d}>"


def warcinfo(version: str = "WARC/1.0") -> bytes:
    body = b"Software-Info: c4forge-tests\r\nisPartOf: CC-MAIN-2019-18\r\n"
    head = (
        f"{version}\r\nWARC-Type: warcinfo\r\nWARC-Date: {DATE}\r\n"
        f"WARC-Record-ID: {RECORD_ID.format(n=0)}\r\nContent-Type: application/warc-fields\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body + b"\r\n\r\n"


def conversion(
    url: str,
    text: str | bytes,
    *,
    date: Optional[str] = DATE,
    version: str = "WARC/1.0",
    content_length: Optional[int] = None,
    n: int = 1,
    url_bytes: Optional[bytes] = None,
) -> bytes:
    """One WET conversion record. ``text``: the body (bytes to put invalid UTF-8 in it);
    ``content_length``: a wrong length to write instead of the real one; ``url_bytes``:
    raw bytes for the WARC-Target-URI value (e.g. invalid UTF-8 in a header)."""
    body = text.encode("utf-8") if isinstance(text, str) else text
    length = len(body) if content_length is None else content_length
    lines = [version.encode(), b"WARC-Type: conversion",
             b"WARC-Target-URI: " + (url_bytes if url_bytes is not None else url.encode())]
    if date is not None:
        lines.append(f"WARC-Date: {date}".encode())
    lines += [
        RECORD_ID.format(n=n).join(["WARC-Record-ID: ", ""]).encode(),
        b"WARC-Refers-To: <urn:uuid:11111111-0000-0000-0000-000000000000>",
        b"Content-Type: text/plain",
        f"Content-Length: {length}".encode(),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body + b"\r\n\r\n"


def page_text(i: int) -> str:
    return f"Title of page {i}\nThis is the first line of page {i}, with some words.\nAnd a second line."


def good_records(count: int = 3, start: int = 1, version: str = "WARC/1.0") -> list[bytes]:
    return [conversion(f"http://example.com/page{i}", page_text(i), n=i, version=version)
            for i in range(start, start + count)]


def write_chunked_gz(path: Path, records: Sequence[bytes]) -> Path:
    """One gzip member per record, as Common Crawl writes WET files."""
    with open(path, "wb") as f:
        for rec in records:
            f.write(gzip.compress(rec, compresslevel=6, mtime=0))
    return path


def write_single_gz(path: Path, records: Sequence[bytes]) -> Path:
    """The whole file as one gzip member ("non-chunked gzip" to warcio)."""
    path.write_bytes(gzip.compress(b"".join(records), mtime=0))
    return path


def write_plain(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def member_offsets(records: Sequence[bytes]) -> list[int]:
    """Compressed offsets of the records in a file written by ``write_chunked_gz``."""
    offsets, pos = [], 0
    for rec in records:
        offsets.append(pos)
        pos += len(gzip.compress(rec, compresslevel=6, mtime=0))
    return offsets


def gzip_member_offsets(path: Path) -> list[int]:
    """Offsets of the gzip members of a file (stops at the first thing that is not one)."""
    data, offsets, pos = Path(path).read_bytes(), [], 0
    while data[pos:pos + 2] == b"\x1f\x8b":
        offsets.append(pos)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            d.decompress(data[pos:])
        except zlib.error:
            break
        if not d.eof:
            break
        pos = len(data) - len(d.unused_data)
        while data[pos:pos + 1] == b"\x00":
            pos += 1
    return offsets


def plain_record_offsets(path: Path) -> list[int]:
    """Offsets of the lines starting ``WARC/1.`` in an uncompressed file."""
    data = Path(path).read_bytes()
    offsets, pos = [0] if data.startswith(b"WARC/1.") else [], 0
    while (pos := data.find(b"\nWARC/1.", pos)) >= 0:
        pos += 1
        offsets.append(pos)
    return offsets


# --- the bad inputs --------------------------------------------------------------------

def invalid_utf8_body(d: Path) -> Path:
    """Record 2 of 3 has a stray 0xff byte in its body."""
    recs = [warcinfo(), *good_records(1, 1),
            conversion("http://example.com/bad", b"Broken \xff byte here\nmore text", n=2),
            *good_records(1, 3)]
    return write_chunked_gz(d / "invalid-utf8-body.warc.wet.gz", recs)


def invalid_utf8_header(d: Path) -> Path:
    """Record 2 of 3 has a Latin-1 byte in its WARC-Target-URI header."""
    recs = [warcinfo(), *good_records(1, 1),
            conversion("", page_text(2), n=2, url_bytes=b"http://example.com/caf\xe9"),
            *good_records(1, 3)]
    return write_chunked_gz(d / "invalid-utf8-header.warc.wet.gz", recs)


def truncated_gzip(d: Path) -> Path:
    """Chunked gzip of 4 records, cut in the middle of the 3rd record's member."""
    recs = [warcinfo(), *good_records(3, 1)]
    data = b"".join(gzip.compress(r, mtime=0) for r in recs)
    offs = member_offsets(recs)
    cut = offs[2] + (offs[3] - offs[2]) // 2
    return write_plain(d / "truncated.warc.wet.gz", data[:cut])


def truncated_gzip_single(d: Path) -> Path:
    """One gzip member for the whole file, cut in its middle."""
    recs = [warcinfo(), *good_records(40, 1)]
    data = gzip.compress(b"".join(recs), mtime=0)
    return write_plain(d / "truncated-single.warc.wet.gz", data[: len(data) // 2])


def truncated_plain(d: Path) -> Path:
    """Uncompressed WET of 4 records, cut in the middle of the last record's body."""
    recs = [warcinfo(), *good_records(3, 1)]
    data = b"".join(recs)
    return write_plain(d / "truncated-plain.warc.wet", data[: len(data) - 40])


def corrupt_gzip(d: Path) -> Path:
    """Chunked gzip whose 3rd member has its deflate data overwritten with garbage."""
    recs = [warcinfo(), *good_records(3, 1)]
    members = [bytearray(gzip.compress(r, mtime=0)) for r in recs]
    m = members[2]
    for i in range(12, len(m) - 8):
        m[i] = 0xFF
    return write_plain(d / "corrupt.warc.wet.gz", b"".join(bytes(x) for x in members))


def empty_file(d: Path) -> Path:
    return write_plain(d / "empty.warc.wet.gz", b"")


def empty_gzip(d: Path) -> Path:
    """A valid gzip stream of zero bytes."""
    return write_plain(d / "empty-member.warc.wet.gz", gzip.compress(b"", mtime=0))


def random_text(d: Path) -> Path:
    lines = [f"Lorem ipsum dolor sit amet {i}, consectetur adipiscing elit." for i in range(50)]
    return write_plain(d / "random.txt", ("\n".join(lines) + "\n").encode())


def png_file(d: Path) -> Path:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    return write_plain(d / "image.png", data + os.urandom(200))


def gzipped_png(d: Path) -> Path:
    return write_plain(d / "image.png.gz", gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), mtime=0))


def warc_1_1(d: Path) -> Path:
    recs = [warcinfo("WARC/1.1"), *good_records(3, 1, version="WARC/1.1")]
    return write_chunked_gz(d / "warc11.warc.wet.gz", recs)


def non_chunked_gzip(d: Path) -> Path:
    recs = [warcinfo(), *good_records(3, 1)]
    return write_single_gz(d / "non-chunked.warc.wet.gz", recs)


def wrong_content_length(d: Path, delta: int) -> Path:
    """Record 2 of 4 claims ``delta`` bytes more (or fewer) than its body has."""
    body = page_text(2)
    bad = conversion("http://example.com/page2", body, n=2,
                     content_length=len(body.encode()) + delta)
    recs = [warcinfo(), *good_records(1, 1), bad, *good_records(2, 3)]
    name = f"content-length-{'long' if delta > 0 else 'short'}.warc.wet.gz"
    return write_chunked_gz(d / name, recs)


def wrong_content_length_uncompressed(d: Path, delta: int) -> Path:
    body = page_text(2)
    bad = conversion("http://example.com/page2", body, n=2,
                     content_length=len(body.encode()) + delta)
    recs = [warcinfo(), *good_records(1, 1), bad, *good_records(2, 3)]
    name = f"content-length-{'long' if delta > 0 else 'short'}.warc.wet"
    return write_plain(d / name, b"".join(recs))


def missing_date(d: Path) -> Path:
    recs = [warcinfo(), *good_records(1, 1),
            conversion("http://example.com/nodate", page_text(2), date=None, n=2),
            *good_records(1, 3)]
    return write_chunked_gz(d / "missing-date.warc.wet.gz", recs)


def zero_padded_gzip(d: Path) -> Path:
    """Chunked gzip with zero bytes between members (Python's gzip module accepts it)."""
    recs = [warcinfo(), *good_records(3, 1)]
    data = b"\x00" * 7 + b"".join(gzip.compress(r, mtime=0) + b"\x00" * 5 for r in recs)
    return write_plain(d / "zero-padded.warc.wet.gz", data[7:])


def trailing_garbage(d: Path) -> Path:
    """A good chunked file followed by bytes that are not gzip."""
    recs = [warcinfo(), *good_records(2, 1)]
    path = write_chunked_gz(d / "trailing-garbage.warc.wet.gz", recs)
    with open(path, "ab") as f:
        f.write(b"this is not gzip\n")
    return path


# --- huge records, generated streaming ---------------------------------------------------

def _write_big_record(path: Path, head_url: str, body_pieces: Iterable[bytes], body_len: int,
                      tail_records: Sequence[bytes] = ()) -> Path:
    """Chunked gzip: warcinfo, a good record, the big record (streamed), then tail_records."""
    with open(path, "wb") as raw:
        raw.write(gzip.compress(warcinfo(), mtime=0))
        raw.write(gzip.compress(good_records(1, 1)[0], mtime=0))
        head = (
            f"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: {head_url}\r\n"
            f"WARC-Date: {DATE}\r\nWARC-Record-ID: {RECORD_ID.format(n=99)}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {body_len}\r\n\r\n"
        ).encode()
        comp = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        raw.write(comp.compress(head))
        written = 0
        for piece in body_pieces:
            written += len(piece)
            raw.write(comp.compress(piece))
        assert written == body_len, (written, body_len)
        raw.write(comp.compress(b"\r\n\r\n"))
        raw.write(comp.flush())
        for rec in tail_records:
            raw.write(gzip.compress(rec, mtime=0))
    return path


def huge_lines_record(d: Path, size: int = 300 * 2**20) -> Path:
    """A record of ``size`` bytes of repeated 100-byte lines, between good records."""
    line = b"All work and no play makes Jack a dull boy. " * 2
    line = line[:99] + b"\n"  # 100 bytes
    block = line * 10_000  # 1 MB
    n_blocks, rest = divmod(size, len(block))

    def pieces():
        for _ in range(n_blocks):
            yield block
        yield block[:rest]

    return _write_big_record(d / "huge-lines.warc.wet.gz", "http://example.com/huge", pieces(), size,
                             tail_records=good_records(1, 3))


def huge_single_line_record(d: Path, size: int = 300 * 2**20) -> Path:
    """A record whose body is one ``size``-byte line with no newline at all."""
    block = b"abcdefghij" * 100_000  # 1 MB, no whitespace
    n_blocks, rest = divmod(size, len(block))

    def pieces():
        for _ in range(n_blocks):
            yield block
        yield block[:rest]

    return _write_big_record(d / "huge-one-line.warc.wet.gz", "http://example.com/oneline", pieces(),
                             size, tail_records=good_records(1, 3))


ALL_SMALL = {
    "invalid_utf8_body": invalid_utf8_body,
    "invalid_utf8_header": invalid_utf8_header,
    "truncated_gzip": truncated_gzip,
    "truncated_gzip_single": truncated_gzip_single,
    "truncated_plain": truncated_plain,
    "corrupt_gzip": corrupt_gzip,
    "empty_file": empty_file,
    "empty_gzip": empty_gzip,
    "random_text": random_text,
    "png_file": png_file,
    "gzipped_png": gzipped_png,
    "warc_1_1": warc_1_1,
    "non_chunked_gzip": non_chunked_gzip,
    "content_length_long": lambda d: wrong_content_length(d, +25),
    "content_length_short": lambda d: wrong_content_length(d, -25),
    "content_length_long_plain": lambda d: wrong_content_length_uncompressed(d, +25),
    "content_length_short_plain": lambda d: wrong_content_length_uncompressed(d, -25),
    "missing_date": missing_date,
    "trailing_garbage": trailing_garbage,
    "zero_padded_gzip": zero_padded_gzip,
}


def make_all_small(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    return {name: make(d) for name, make in ALL_SMALL.items()}
