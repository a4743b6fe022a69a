"""Plain WET files: records read without warcio, when the whole file is known to be plain.

A WET file as Common Crawl writes it is *plain*: one gzip member per record, no padding
between members, each member exactly ``WARC/1.0`` CRLF, header lines ``Name: value``
CRLF, a blank line, a body of Content-Length bytes, then CRLF CRLF. For such a record,
warcio's general path (buffered line reads, header parsing, the strict checks of
``strict_warcio.py``) finds exactly what ``split_plain_record`` finds with a few bytes
operations, and none of its checks can fire.

Whether a file is plain is decided during the UTF-8 check (``utf8.py``), which
decompresses every member anyway: ``PlainFileCheck`` sees each member whole. Only then
does the reader take the fast path (``plain_records``), for the whole file; any other
file, and any file whose check failed, goes through warcio as before. So the pages, the
counters and the log of every file are what the general path gives.
"""

from __future__ import annotations

from collections import deque
from typing import BinaryIO, Iterator, NamedTuple, Optional

from .gzip_members import gunzip_chunks

try:  # built by pip install where a C compiler is found; the Python split gives the same records
    from . import plain_wet_compiled
except ImportError:
    plain_wet_compiled = None

VERSION_LINE = b"WARC/1.0\r\n"
HEADER_END = b"\r\n\r\n"
RECORD_END = b"\r\n\r\n"
# A member larger than this is not plain: the general path reads its body in bounded pieces.
MAX_PLAIN_MEMBER_BYTES = 1 << 20


class PlainRecord(NamedTuple):
    version_line: str  # what warcio gives as the record's protocol
    headers: list[tuple[str, str]]  # warcio's (name, value) pairs, in order
    body: bytes


def split_plain_record(member: bytes) -> Optional[PlainRecord]:
    """The record of one decompressed gzip member, as warcio would parse it, or None when
    the member is not a plain record (then the general path must read the file).
    Compiled where installed (``plain_wet_compiled.c``), otherwise ``split_plain_record_py``."""
    if plain_wet_compiled is None:
        return split_plain_record_py(member)
    found = plain_wet_compiled.split(member)
    if found is None:
        return None
    headers, body_at, length = found
    return PlainRecord("WARC/1.0", headers, member[body_at:body_at + length])


def split_plain_record_py(member: bytes) -> Optional[PlainRecord]:
    """``split_plain_record`` in Python (the compiled split is tested against it).

    warcio reads header lines up to ``\\n``, rstrips them, stops at the first empty one,
    splits each at its first ``:`` (name rstripped of spaces and tabs, value lstripped),
    appends lines that start with a space or tab to the header before, and drops lines
    without ``:``. Plain headers have no continuation, no line without ``:``, no CR or
    LF inside a line and no line that rstrips to empty, so each line is one pair here.
    """
    if len(member) > MAX_PLAIN_MEMBER_BYTES or not member.startswith(VERSION_LINE):
        return None
    header_end = member.find(HEADER_END, len(VERSION_LINE) - 2)
    if header_end < 0:
        return None
    block = member[len(VERSION_LINE):header_end]
    if not block:
        return None
    body_at = header_end + len(HEADER_END)
    separators = block.count(b"\r\n")
    if block.count(b"\n") != separators or block.count(b"\r") != separators:
        return None  # a CR or LF inside a header line
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    headers = []
    length = None
    for line in text.split("\r\n"):
        if line[:1] in (" ", "\t"):
            return None
        line = line.rstrip()
        name, colon, value = line.partition(":")
        if not colon or not line:
            return None
        name, value = name.rstrip(" \t"), value.lstrip()
        if name.lower() == "content-length":
            # warcio reads the first such header with int(); plain: one, ASCII digits only
            if length is not None or not (value.isdigit() and value.isascii()):
                return None
            length = int(value)
        headers.append((name, value))
    if length is None or body_at + length + len(RECORD_END) != len(member) \
            or not member.endswith(RECORD_END):
        return None
    return PlainRecord("WARC/1.0", headers, member[body_at:body_at + length])


class HeldRecords(NamedTuple):
    """The records a plain file's check kept, so that the reader need not decompress them again."""

    records: deque  # PlainRecord, in file order (the reader pops them as it goes)
    resume_at: Optional[int]  # compressed offset of the first record not held; None: all held


class PlainFileCheck:
    """Fed the decompressed pieces of a file in order (``gunzip_chunks``), tells whether
    every member is a plain record (and there is at least one).

    ``hold_bytes``: keep the records of the file's first members, up to that many
    decompressed bytes, for the reader (``held()``): a file that fits is read once."""

    def __init__(self, hold_bytes: int = 0):
        self.plain = True
        self.members = 0
        self._member_at: Optional[int] = None
        self._pieces: list[bytes] = []
        self._size = 0
        self._hold_bytes = hold_bytes
        self._held: deque = deque()
        self._held_bytes = 0
        self._resume_at: Optional[int] = None

    def look(self, member_at: Optional[int], piece: bytes) -> None:
        if not self.plain:
            return
        if member_at is None:  # not gzip
            self.plain = False
            return
        if member_at != self._member_at:
            self._end_member()
            self._member_at = member_at
        self._size += len(piece)
        if self._size > MAX_PLAIN_MEMBER_BYTES:
            self.plain = False
            self._pieces = []
            return
        self._pieces.append(piece)

    def padding(self) -> None:
        """Zero bytes between members (Python's gzip allows them; warcio's path differs)."""
        self._not_plain()

    def finish(self) -> bool:
        self._end_member()
        if self.members == 0:
            self._not_plain()
        return self.plain

    def held(self) -> HeldRecords:
        """What was kept of a file ``finish()`` found plain."""
        return HeldRecords(self._held, self._resume_at)

    def _not_plain(self) -> None:
        self.plain = False
        self._held.clear()

    def _end_member(self) -> None:
        if self._member_at is None or not self.plain:
            return
        member = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        self._pieces, self._size = [], 0
        record = split_plain_record(member)
        if record is None:
            self._not_plain()
            return
        if self._resume_at is None:
            if self._held_bytes + len(member) <= self._hold_bytes:
                self._held.append(record)
                self._held_bytes += len(member)
            else:
                self._resume_at = self._member_at
        self.members += 1


def plain_records(raw: BinaryIO, start_at: int = 0) -> Iterator[PlainRecord]:
    """The records of a file ``PlainFileCheck`` found plain, from the member at compressed
    offset ``start_at`` on (the bytes before it are read, not decompressed). ValueError if it
    no longer is (the file changed between the two reads)."""
    while start_at > 0:
        skipped = raw.read(min(start_at, 1 << 20))
        if not skipped:
            raise ValueError("the file is shorter than when it was checked: it changed while it was read")
        start_at -= len(skipped)
    member_at: Optional[int] = None
    pieces: list[bytes] = []
    for at, _, piece in gunzip_chunks(raw):
        if at != member_at and pieces:
            yield _plain(pieces)
            pieces = []
        member_at = at
        pieces.append(piece)
    if pieces:
        yield _plain(pieces)


def _plain(pieces: list[bytes]) -> PlainRecord:
    record = split_plain_record(pieces[0] if len(pieces) == 1 else b"".join(pieces))
    if record is None:
        raise ValueError("a record is no longer plain: the file changed while it was read")
    return record
