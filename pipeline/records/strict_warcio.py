"""warcio, made strict and bounded: what warcio does not check and these subclasses do.

- a gzip member cut off at the end of the file (``InputCutOff``) and corrupt deflate data
  raise (warcio ends the record silently, or prints to stderr and returns nothing);
- a record not followed by its blank line (a wrong ``Content-Length``) is reported;
- headers that are not UTF-8 are flagged (warcio silently decodes them as Latin-1);
- a gzip file that is not one member per record raises ``NonChunkedGzip`` (warcio stops
  after the first record; TFDS reads such a file whole, so the reader re-reads it whole);
- lines are read ``MAX_LINE_BYTES`` at a time at most (headers of a bad record can be huge).

Only WARC is read: ARC files and other data are reported as unparseable. These classes
override warcio methods that are private to warcio (``_init_decomp``, ``_next_record``,
...); they are checked against the pinned warcio version by the bad-input tests.
"""

from __future__ import annotations

import zlib
from typing import Callable

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParser

from .gzip_members import GZIP_MAGIC
from .read_errors import InputCutOff, describe_error

MAX_LINE_BYTES = 1 << 20


class NonChunkedGzip(ArchiveLoadFailed):
    """The gzip file is not one member per record: it must be read as one stream."""


class StrictReader(DecompressingBufferedReader):
    """warcio's reader, except that a cut-off gzip member and corrupt deflate data raise
    (warcio ends the record silently or prints to stderr and returns nothing), and that a
    line is read ``MAX_LINE_BYTES`` at a time at most (headers of a bad record can be huge)."""

    def _init_decomp(self, decomp_type):
        super()._init_decomp(decomp_type)
        self._fed = False

    def _decompress(self, data):
        if not (self.decompressor and data):
            return data
        if not self._fed and data[:1] == b"\x00" and self.num_read:
            data = data.lstrip(b"\x00")  # zero padding between members (Python's gzip allows it)
            if not data:
                return b""
        try:
            out = self.decompressor.decompress(data)
        except zlib.error as e:
            if self.num_block_read == 0 and not self._fed and data[:2] != GZIP_MAGIC:
                self.decompressor = None  # not gzip at all: read as is (as warcio does)
                return data
            raise zlib.error(f"corrupt gzip data: {e}") from None
        self._fed = True
        return out

    def _process_read(self, data):
        if not data and self.decompressor is not None and self._fed and not self.decompressor.eof:
            raise InputCutOff("the file ends inside a gzip member")
        super()._process_read(data)

    def readline(self, length=None):
        limit = MAX_LINE_BYTES if length is None else min(length, MAX_LINE_BYTES)
        buff = self.buff
        if buff is not None and limit > 0:  # a whole line in the buffer: what warcio would return
            line = buff.readline(limit)
            if line.endswith(b"\n"):
                return line
            buff.seek(-len(line), 1)  # not a whole line: warcio's way, from the same place
        return super().readline(limit)

    member_start = 0  # file offset of the gzip member being read

    def read_next_member(self):
        if not self.decompressor or not self.decompressor.unused_data:
            return False
        self.member_start = self.stream.tell() - len(self.decompressor.unused_data)
        return super().read_next_member()


class Utf8FlaggingParser(StatusAndHeadersParser):
    """warcio decodes a header line that is not UTF-8 as Latin-1; this notes that it did."""

    def __init__(self, statuslist):
        super().__init__(statuslist)
        self.invalid_utf8 = False

    def decode_header(self, line):  # warcio calls it through self
        if isinstance(line, bytes):
            try:
                return line.decode("utf-8")
            except UnicodeDecodeError:
                self.invalid_utf8 = True
                return line.decode("iso-8859-1")
        return line


class RawUriRecordLoader(ArcWarcRecordLoader):
    """warcio percent-encodes spaces in WARC-Target-URI and unwraps <...>; C4 keeps the raw
    header value (it is the example's url and feeds the dedup and split hashes)."""

    def __init__(self):
        super().__init__(verify_http=False, arc2warc=False)
        self.warc_parser = Utf8FlaggingParser(self.WARC_TYPES)

    def _ensure_target_uri_format(self, rec_headers):
        return rec_headers.get_header("WARC-Target-URI")


class StrictArchiveIterator(ArchiveIterator):
    """warcio's iterator for WARC (and WET) files, changed where bad input would stop it,
    make it print to stderr, or make it hold unbounded data:

    - only WARC records (a WET file is WARC; warcio would read any line of 5 words as an
      ARC record header), and no HTTP header parsing (the block is the record's text; the
      WARC reader parses the HTTP head itself);
    - a record not followed by a blank line (wrong Content-Length) is reported through
      ``on_event``, not printed, and the line after it is not swallowed;
    - data that is not a record is reported and skipped up to the next line starting
      ``WARC/`` (for chunked gzip, that is the next record's member);
    - a gzip file that is not one member per record raises ``NonChunkedGzip``.

    ``on_event(kind, offset, detail)`` gets ``"bad_length"`` (offset: the record's),
    ``"unparseable"`` (where the skipped data starts; in chunked gzip, the offset of the
    member holding it) and ``"resumed"`` (the record reading resumes at).
    """

    def __init__(self, fileobj, on_event: Callable[[str, int, str], None]):
        super().__init__(fileobj, no_record_parse=True, arc2warc=False)
        self.reader = StrictReader(self.fh, block_size=self.reader.block_size)
        self.loader = RawUriRecordLoader()
        self.known_format = "warc"
        self._on_event = on_event
        self.last_record_bad_length = False
        self._line_member = 0  # gzip member offset of the last line read outside a record

    @property
    def header_invalid_utf8(self) -> bool:
        return self.loader.warc_parser.invalid_utf8

    @property
    def gzip_members(self) -> bool:
        """Whether records are read from gzip members (not from uncompressed data)."""
        return self.reader.decompressor is not None

    def _raise_invalid_gzip_err(self):
        raise NonChunkedGzip("gzip member continues past the record (non-chunked gzip)")

    def _position(self, pending: bytes = b"") -> int:
        """Offset of ``pending`` (a line just read): in an uncompressed stream, exact; in
        chunked gzip, the offset of the gzip member it is in."""
        if self.reader.decompressor:
            return self.reader.member_start
        return self.fh.tell() - self.reader.rem_length() - len(pending)

    def _consume_blanklines(self):
        empty_size = 0
        first_line = True
        while True:
            line = self.reader.readline()
            if not line:
                return None, empty_size
            if not line.rstrip():
                empty_size += len(line)
                first_line = False
                continue
            self._line_member = self.reader.member_start
            if first_line:
                self.last_record_bad_length = True
                self._on_event("bad_length", self.offset,
                               f"record not followed by a blank line; next: {line[:60]!r}")
            return line, empty_size

    def _next_record(self, next_line):
        while True:
            self.loader.warc_parser.invalid_utf8 = False
            try:
                return super()._next_record(next_line)
            except NonChunkedGzip:
                raise
            except ArchiveLoadFailed as e:
                if not self.reader.decompressor:
                    at = self.offset  # exact: warcio counts it from the bytes it holds
                else:  # the gzip member holding the bad data
                    at = self.reader.member_start if next_line is None else self._line_member
                self._on_event("unparseable", at, describe_error(e))
                next_line = self._skip_to_record()
                self.offset = self._position(next_line)
                self._on_event("resumed", self.offset, "")

    def _skip_to_record(self) -> bytes:
        """Read on to the next line starting ``WARC/`` (a piece at a time) and return it;
        EOFError at the end (warcio's signal for "no more records")."""
        at_line_start = True
        while True:
            piece = self.reader.readline()
            if not piece:
                if self.reader.decompressor and self.reader.read_next_member():
                    at_line_start = True
                    continue
                raise EOFError()
            if at_line_start and piece.startswith(b"WARC/"):
                self._line_member = self.reader.member_start
                return piece
            at_line_start = piece.endswith((b"\n", b"\r"))

    def read_to_end(self, record=None):
        if self.record is not None and not self.member_info:
            self.last_record_bad_length = False
        return super().read_to_end(record)
