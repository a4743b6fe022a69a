"""Reading WET files: warcio records → pages, streaming, with bad input counted and skipped.

A file never fails the run. What cannot be read is logged with the file and the record
offset and counted (``split-wet-file/...``); pages read before the problem are kept, and
after unparseable data the reader resumes at the next record. With the profile's
``wet_quirks`` (c4-en), a file that is not valid UTF-8 anywhere is skipped whole: TFDS
decodes each file strictly, so such a file failed its job and had to be listed in
``_KNOWN_CORRUPT_WET_FILES``.

Memory does not grow with file or record size: files are read in ``CHUNK_BYTES`` pieces,
decompressed output is bounded, lines are read with a length limit and an over-long line
is replaced by a stand-in (``_LineBuffer``). So with quirks a file is read twice: the
UTF-8 check (decompression and decoding only) must finish before the first page is
handed on, and holding a file's pages until then would take memory in proportion to it.

A record body is decoded a read at a time and handed to the assembler in blocks of lines
(``iter_body_blocks``), not line by line: per-line Python work was most of the cost.

Offsets in log messages: for Common Crawl's one-gzip-member-per-record files, the record's
offset in the compressed file (as in the CC index); for uncompressed files, the byte
offset; for a gzip file that is one stream ("non-chunked"), offsets in the decompressed
data, and the message says so.

What warcio does not check and this module does: a gzip member cut off at the end of the
file (``truncated_record``), corrupt deflate data, a record not followed by its blank line
(a wrong ``Content-Length``), headers that are not UTF-8 (warcio silently decodes them as
Latin-1), a gzip file that is not one member per record (warcio stops after the first
record; TFDS reads such a file whole, so it is read whole here too).

With quirks the pages of a well-formed file are exactly TFDS's. A file with a wrong
Content-Length (uncompressed, or inside a gzip member) can differ: the lines skipped on the
way to the next record are lost here, while TFDS, which ignores Content-Length, reads them.
Only files that are WARC are read: ARC files and other data are counted as unparseable.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import zlib
from collections import Counter
from typing import BinaryIO, Callable, Iterator, NamedTuple, Optional

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParser

from c4forge.cleaning_rules.counters import SPLIT_WET_FILE, TOO_LONG, key
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile
from c4forge.cleaning_rules.wet import WetPageAssembler, universal_newlines_to_lf

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Compressed data is read in smaller pieces: each gzip member that ends inside a piece
# copies the rest of the piece (zlib's unused_data), and a WET file has one per record.
GZIP_READ_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"


class InputCutOff(OSError):
    """The file ends inside a gzip member or inside a record (a truncated download or copy)."""


# Errors that mean "this file cannot be read further". (Not EOFError inside warcio: it
# means "no more records" there, so a cut-off file raises InputCutOff.)
READ_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError)


def open_input(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    # Gzip members are decompressed by warcio (record offsets stay file offsets).
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _short(e: BaseException, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# --- whole-file decompression, for the UTF-8 check and non-chunked gzip -----------------

def _gunzip_chunks(raw: BinaryIO) -> Iterator[tuple[Optional[int], int, bytes]]:
    """Decompressed pieces of at most CHUNK_BYTES as (compressed offset of their gzip member,
    decompressed offset where that member starts, data); a file that does not start with
    the gzip magic is passed through with member offset None. Like Python's gzip module
    (which TFDS reads with): members are concatenated, zero padding between them is
    allowed, anything else raises. A member cut off by the end of the file raises
    InputCutOff.
    """
    read_bytes = min(CHUNK_BYTES, GZIP_READ_BYTES)
    data = raw.read(read_bytes)
    while 0 < len(data) < 2:  # enough to see the magic, whatever CHUNK_BYTES is
        more = raw.read(read_bytes)
        if not more:
            break
        data += more
    out_pos = 0
    if data[:2] != GZIP_MAGIC:
        while data:
            yield None, 0, data
            data = raw.read(CHUNK_BYTES)
        return
    in_pos = 0  # compressed offset of data[0]
    while True:
        member_at, member_out = in_pos, out_pos
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            out = d.decompress(data, CHUNK_BYTES)
            rest = d.unused_data if d.eof else d.unconsumed_tail
            in_pos += len(data) - len(rest)
            data = rest
            if out:
                out_pos += len(out)
                yield member_at, member_out, out
            if d.eof:
                break
            if not data and len(out) < CHUNK_BYTES:  # a full piece may have more pending
                data = raw.read(read_bytes)
                if not data:
                    raise InputCutOff(f"gzip member at offset {member_at} is cut off by the end of the file")
        while True:  # zero padding, then the next member or the end
            stripped = data.lstrip(b"\x00")
            in_pos += len(data) - len(stripped)
            data = stripped
            if len(data) >= 2:
                break
            more = raw.read(read_bytes)
            if not more:
                break
            data += more
        if not data:
            return
        if data[:2] != GZIP_MAGIC:
            raise gzip.BadGzipFile(f"data after the gzip member ending at offset {in_pos} is not gzip")


class _Utf8Check(NamedTuple):
    bad_at: Optional[int]  # decompressed offset of the first invalid byte
    record_at: Optional[int]  # decompressed offset of the record holding it
    record_file_offset: Optional[int]  # its offset in the file, when known
    read_error: Optional[BaseException]


def _check_utf8(open_file: Callable[[], BinaryIO]) -> _Utf8Check:
    """Strict UTF-8 over the whole decompressed file, as TFDS decodes it, and where the
    first invalid byte's record starts (the last line starting ``WARC/`` before it). The
    record is looked for only once an invalid byte is found, by reading the file again."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pos = 0  # decompressed offset of the current piece
    pending = 0  # bytes of an unfinished sequence the decoder holds from the pieces before
    try:
        with open_file() as raw:
            for _, _, piece in _gunzip_chunks(raw):
                try:
                    decoder.decode(piece)
                except UnicodeDecodeError as e:
                    return _locate_invalid_utf8(open_file, pos - pending + e.start)
                pos += len(piece)
                # After an ASCII byte nothing is pending (else the decoder had raised).
                pending = len(decoder.getstate()[0]) if piece[-1] >= 0x80 else 0
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as e:  # a sequence cut by the end of the file
                return _locate_invalid_utf8(open_file, pos - pending + e.start)
    except READ_ERRORS as e:  # reported with its record by the record reader
        return _Utf8Check(None, None, None, e)
    return _Utf8Check(None, None, None, None)


def _locate_invalid_utf8(open_file: Callable[[], BinaryIO], bad_at: int) -> _Utf8Check:
    """The check for a file known to hold an invalid byte at ``bad_at``, with its record."""
    found = _check_utf8_locating(open_file)
    return found if found.bad_at == bad_at else _Utf8Check(bad_at, None, None, None)  # read failed


def _check_utf8_locating(open_file: Callable[[], BinaryIO]) -> _Utf8Check:
    """``_check_utf8``, looking for a record start in each piece as it goes (slower)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pos = 0  # decompressed offset of the current piece
    tail = b"\n"  # last bytes before the piece; the file start counts as a line start
    record_at: Optional[int] = None
    record_file_offset: Optional[int] = None
    previous_piece_member: Optional[tuple[Optional[int], int]] = None

    def locate(window: bytes, window_start: int, member: tuple[Optional[int], int], limit: int) -> None:
        nonlocal record_at, record_file_offset
        hit = max(window.rfind(b"\nWARC/", 0, limit), window.rfind(b"\rWARC/", 0, limit))
        if hit < 0:
            return
        record_at = window_start + hit + 1
        if record_at < pos and previous_piece_member is not None:
            member = previous_piece_member
        member_at, member_out = member
        if member_at is None:
            record_file_offset = record_at
        elif member_out == record_at:  # the record starts its own gzip member
            record_file_offset = member_at
        else:
            record_file_offset = None

    try:
        with open_file() as raw:
            for member_at, member_out, piece in _gunzip_chunks(raw):
                pending = len(decoder.getstate()[0])
                window, window_start = tail + piece, pos - len(tail)
                try:
                    decoder.decode(piece)
                except UnicodeDecodeError as e:
                    bad_at = pos - pending + e.start
                    limit = min(len(window), bad_at - window_start + 5)  # a WARC/ line starting before it
                    locate(window, window_start, (member_at, member_out), limit)
                    return _Utf8Check(bad_at, record_at, record_file_offset, None)
                locate(window, window_start, (member_at, member_out), len(window))
                previous_piece_member = (member_at, member_out)
                pos += len(piece)
                tail = window[-6:]
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as e:  # a sequence cut by the end of the file
                return _Utf8Check(pos - pending + e.start, record_at, record_file_offset, None)
    except READ_ERRORS as e:  # reported with its record by the record reader
        return _Utf8Check(None, None, None, e)
    return _Utf8Check(None, None, None, None)


def first_invalid_utf8(open_file: Callable[[], BinaryIO]) -> Optional[int]:
    """Decompressed byte offset of the first invalid UTF-8 sequence, or None. Read errors
    (truncated gzip) end the check silently: the record reader reports them with their
    record.
    """
    return _check_utf8(open_file).bad_at


# --- lines ------------------------------------------------------------------------------

class _LineBuffer:
    """One unterminated line, held in bounded memory.

    Downstream only the stripped line matters, and a stripped line longer than
    ``max_chars`` makes its page too long (dropped). So a line is held whole only while it
    could still be shorter than that; otherwise it becomes a stand-in with the same start
    (prefix rules still see it) and a stripped length of ``max_chars + 1``.
    """

    def __init__(self, max_chars: int):
        self._max = max_chars
        self._reset()

    def _reset(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._after_long_gap = False  # a whitespace run > max_chars follows the content
        self._stand_in: Optional[str] = None

    def add(self, piece: str) -> None:
        if self._stand_in is not None or not piece:
            return
        if self._after_long_gap:
            if piece.strip():  # content after the gap: longer than any page may be
                self._stand_in = self._make_stand_in("".join(self._parts))
            return
        self._parts.append(piece)
        self._size += len(piece)
        if self._size > 2 * self._max + 2:
            self._compact()

    def _compact(self) -> None:
        line = "".join(self._parts).lstrip()
        core = line.rstrip()
        if len(core) > self._max:
            self._stand_in = self._make_stand_in(core)
        elif len(line) - len(core) > self._max:
            self._parts, self._size, self._after_long_gap = [core], len(core), True
        else:
            self._parts, self._size = [line], len(line)

    def _make_stand_in(self, content: str) -> str:
        return (content + " " * self._max)[: self._max] + "\x00"  # NUL is not whitespace

    @property
    def holds_text(self) -> bool:
        return bool(self._parts) or self._stand_in is not None

    def take(self) -> str:
        line = self._stand_in if self._stand_in is not None else "".join(self._parts)
        self._reset()
        return line


def iter_body_lines(stream: BinaryIO, max_line_chars: int, errors: str = "strict") -> Iterator[str]:
    """A record body as text lines split at universal newlines, decoded incrementally.

    Same lines as ``split_universal_lines(whole_body)`` (a ``\\r\\n`` split across two
    reads is one line end), except for lines over ``2 * max_line_chars`` characters: they
    may come stripped, and one whose stripped length exceeds ``max_line_chars`` comes as a
    ``_LineBuffer`` stand-in. Downstream strips every line, so only memory differs.
    """
    for block in iter_body_blocks(stream, max_line_chars, errors):
        yield from block.split("\n")


def iter_body_blocks(stream: BinaryIO, max_line_chars: int, errors: str = "strict") -> Iterator[str]:
    """The lines of ``iter_body_lines`` in blocks, each block consecutive lines joined
    with ``\\n``: the lines each read of ``CHUNK_BYTES`` completes, the last line joining
    the last block (a body of ordinary size is one block). Lines are not split apart here:
    the assembler takes a block as one text, and most blocks never need splitting.

    The block of a short read is handed on once the next read has succeeded (the last
    line may join it); when that read fails, it is handed on first, so an error comes
    after the same lines as in ``iter_body_lines``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    buffer = _LineBuffer(max_line_chars)
    long_line = 2 * max_line_chars + 2  # a longer line must go through the buffer (see there)
    carried_cr = False
    ready: Optional[str] = None  # complete lines of a short read, not handed on yet
    while True:
        try:
            chunk = stream.read(CHUNK_BYTES)
            text = decoder.decode(chunk, final=not chunk)
        except Exception:
            if ready is not None:
                yield ready
            raise
        if carried_cr:
            text, carried_cr = "\r" + text, False
        if chunk and text.endswith("\r"):  # may be the first half of "\r\n"
            text, carried_cr = text[:-1], True
        text = universal_newlines_to_lf(text)
        end = text.rfind("\n")
        if end >= 0:
            unfinished = text[end + 1:]
            if buffer.holds_text:  # the line an earlier read left unfinished ends here
                first_end = text.find("\n")
                buffer.add(text[:first_end])
                block = buffer.take() + text[first_end:end]
            else:
                block = text[:end]
            if len(block) > long_line and _may_hold_line_of(block, long_line + 1):
                lines = block.split("\n")
                for i, line in enumerate(lines):
                    if len(line) > long_line:
                        buffer.add(line)
                        lines[i] = buffer.take()
                block = "\n".join(lines)
            if ready is not None:
                yield ready
                ready = None
            if len(chunk) < CHUNK_BYTES:
                ready = block
            else:  # more is likely to follow: no use holding it (bounded memory)
                yield block
        else:
            unfinished = text
        buffer.add(unfinished)
        if not chunk:
            last = buffer.take()
            yield last if ready is None else ready + "\n" + last
            return


def _may_hold_line_of(text: str, length: int) -> bool:
    """False when ``text`` surely has no line of ``length`` characters or more: every
    stretch of ``(length + 1) // 2`` characters starting at a multiple of it has a newline
    (a line that long holds one such stretch whole)."""
    run = (length + 1) // 2
    return any(text.find("\n", i, i + run) < 0 for i in range(0, len(text) - run + 1, run))


# --- warcio, made strict and bounded ----------------------------------------------------

class _NonChunkedGzip(ArchiveLoadFailed):
    pass


class _StrictReader(DecompressingBufferedReader):
    """warcio's reader, except that a cut-off gzip member and corrupt deflate data raise
    (warcio ends the record silently or prints to stderr and returns nothing), and that a
    line is read ``CHUNK_BYTES`` at a time at most (headers of a bad record can be huge)."""

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
        limit = CHUNK_BYTES if length is None else min(length, CHUNK_BYTES)
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


class _ChunkStream:
    """A read-only file over an iterator of byte strings (decompressed pieces)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self._at = 0  # read position in _buf
        self._pos = 0  # bytes handed out
        self._error: Optional[BaseException] = None  # raised once the data before it is read

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = size if size is not None and size >= 0 else None
        while want is None or want > 0:
            if self._at >= len(self._buf):
                if self._error is not None:
                    if parts:
                        break
                    error, self._error = self._error, None
                    raise error
                try:
                    self._buf, self._at = next(self._chunks, b""), 0
                except READ_ERRORS as e:
                    self._buf, self._at, self._error = b"", 0, e
                    continue
                if not self._buf:
                    break
            end = len(self._buf) if want is None else min(len(self._buf), self._at + want)
            parts.append(self._buf[self._at:end])
            if want is not None:
                want -= end - self._at
            self._at = end
        out = b"".join(parts)
        self._pos += len(out)
        return out

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._chunks = iter(())


class _Utf8FlaggingParser(StatusAndHeadersParser):
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


class _RawUriRecordLoader(ArcWarcRecordLoader):
    """warcio percent-encodes spaces in WARC-Target-URI and unwraps <...>; C4 keeps the raw
    header value (it is the example's url and feeds the dedup and split hashes)."""

    def __init__(self):
        super().__init__(verify_http=False, arc2warc=False)
        self.warc_parser = _Utf8FlaggingParser(self.WARC_TYPES)

    def _ensure_target_uri_format(self, rec_headers):
        return rec_headers.get_header("WARC-Target-URI")


class _WetArchiveIterator(ArchiveIterator):
    """warcio's iterator for WET (WARC) files, changed where bad input would stop it, make
    it print to stderr, or make it hold unbounded data:

    - only WARC records (a WET file is WARC; warcio would read any line of 5 words as an
      ARC record header), and no HTTP header parsing (the block is the record's text);
    - a record not followed by a blank line (wrong Content-Length) is reported through
      ``on_event``, not printed, and the line after it is not swallowed;
    - data that is not a record is reported and skipped up to the next line starting
      ``WARC/`` (for chunked gzip, that is the next record's member);
    - a gzip file that is not one member per record raises ``_NonChunkedGzip``.

    ``on_event(kind, offset, detail)`` gets ``"bad_length"`` (offset: the record's),
    ``"unparseable"`` (where the skipped data starts; in chunked gzip, the offset of the
    member holding it) and ``"resumed"`` (the record reading resumes at).
    """

    def __init__(self, fileobj, on_event: Callable[[str, int, str], None]):
        super().__init__(fileobj, no_record_parse=True, arc2warc=False)
        self.reader = _StrictReader(self.fh, block_size=self.reader.block_size)
        self.loader = _RawUriRecordLoader()
        self.known_format = "warc"
        self._on_event = on_event
        self.last_record_bad_length = False
        self._line_member = 0  # gzip member offset of the last line read outside a record

    @property
    def header_invalid_utf8(self) -> bool:
        return self.loader.warc_parser.invalid_utf8

    def _raise_invalid_gzip_err(self):
        raise _NonChunkedGzip("gzip member continues past the record (non-chunked gzip)")

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
            except _NonChunkedGzip:
                raise
            except ArchiveLoadFailed as e:
                if not self.reader.decompressor:
                    at = self.offset  # exact: warcio counts it from the bytes it holds
                else:  # the gzip member holding the bad data
                    at = self.reader.member_start if next_line is None else self._line_member
                self._on_event("unparseable", at, _short(e))
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


# --- the reader -------------------------------------------------------------------------

def read_wet_pages(
    path: str,
    profile: Profile,
    counters: Counter,
    open_file: Callable[[str], BinaryIO] = open_input,
) -> Iterator[Page]:
    """Pages of one WET file that pass parsing and the length cap (TFDS stages 6-7)."""
    ns = SPLIT_WET_FILE

    def guarded_open() -> "_GuardedFile":
        try:
            return _GuardedFile(open_file(path))
        except READ_ERRORS:
            raise
        except Exception as e:  # noqa: BLE001 - a filesystem client's own error type
            raise OSError(f"{type(e).__name__}: {e}") from e

    try:
        if profile.wet_quirks:
            check = _check_utf8(guarded_open)
            if check.bad_at is not None:
                counters[key(ns, "skipped-file:invalid_utf8")] += 1
                logger.error(
                    "%s: invalid UTF-8 at decompressed byte %d, in the record at %s; "
                    "file skipped, as TFDS's strict per-file decoding would fail it "
                    "(use --no-wet-quirks to skip only bad records)",
                    path, check.bad_at, _describe_record(check),
                )
                return
        yield from _FileReader(path, profile, counters, lambda _path: guarded_open()).pages()
    except READ_ERRORS as e:  # cannot even open
        counters[key(ns, "skipped-file:unreadable")] += 1
        logger.error("%s: cannot read file: %s", path, _short(e))
    except Exception:  # noqa: BLE001 - a bug met on odd input must not end a long run
        counters[key(ns, "internal-error")] += 1
        logger.exception("%s: unexpected error; the rest of the file is skipped", path)


class _GuardedFile:
    """The opened file, with any read failure turned into OSError (a remote filesystem's
    client may raise its own exception types) so it is handled as a read error."""

    def __init__(self, f: BinaryIO):
        self._f = f

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except READ_ERRORS:
            raise
        except Exception as e:  # noqa: BLE001
            raise OSError(f"{type(e).__name__}: {e}") from e

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "_GuardedFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe_record(check: _Utf8Check) -> str:
    if check.record_file_offset is not None:
        return f"offset {check.record_file_offset}"
    if check.record_at is not None:
        return f"decompressed offset {check.record_at}"
    return "the start of the file (no WARC/ line before it)"


class _FileReader:
    """One file's records → pages. Without quirks, a record's page (and its counts) is
    held until the next record is reached: only then is it known whether its
    Content-Length was right (the record must be followed by a blank line)."""

    def __init__(self, path: str, profile: Profile, counters: Counter, open_file):
        self.path = path
        self.profile = profile
        self.counters = counters
        self.open_file = open_file
        self.decompressed_offsets = False  # set when a non-chunked gzip is read as one stream
        # Without quirks the assembler counts into a scratch Counter, moved over per record.
        self.assembler_counts = counters if profile.wet_quirks else Counter()
        self.assembler: Optional[WetPageAssembler] = None  # made once the file is open
        self.max_line_chars = profile.max_page_length or 10**9
        self.n_records = 0
        self.had_errors = False

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[key(SPLIT_WET_FILE, name)] += n

    def _where(self, offset: int) -> str:
        return f"decompressed offset {offset}" if self.decompressed_offsets else f"offset {offset}"

    def _on_event(self, kind: str, offset: int, detail: str) -> None:
        if kind == "bad_length":
            self._count("bad-content-length")
            logger.warning("%s: record at %s: wrong Content-Length (%s)%s", self.path, self._where(offset),
                           detail, "" if self.profile.wet_quirks else "; its page is dropped")
        elif kind == "unparseable":
            self._count("unparseable-data")
            self.had_errors = True
            logger.error("%s: data at %s is not a WARC record (%s); skipping to the next record",
                         self.path, self._where(offset), detail)
        elif kind == "resumed":
            logger.warning("%s: reading resumes with the record at %s", self.path, self._where(offset))

    def pages(self) -> Iterator[Page]:
        try:
            with self.open_file(self.path) as f:
                profile = self.profile
                self.assembler = WetPageAssembler(self.assembler_counts, profile.wet_quirks,
                                                  profile.require_timestamp, profile.max_page_length)
                try:
                    yield from self._records(f, skip=0)
                    done = True
                except _NonChunkedGzip:
                    done = False
            if not done:
                self._count("non-chunked-gzip")
                logger.warning("%s: gzip is not one member per record (non-chunked gzip); reading it as "
                               "one stream from record %d on (offsets are decompressed)", self.path,
                               self.n_records + 1)
                self.decompressed_offsets = True
                with self.open_file(self.path) as f:
                    stream = _ChunkStream(piece for _, _, piece in _gunzip_chunks(f))
                    yield from self._records(stream, skip=self.n_records)
            if self.n_records == 0 and not self.had_errors:
                self._count("skipped-file:no_records")
                logger.warning("%s: no WARC records", self.path)
            yield from self.assembler.finish()
        finally:
            self._move_counts()

    def _move_counts(self, drop_pages: int = 0, reason: str = "filtered:bad_content_length") -> None:
        """Without quirks: move the assembler's counts over; ``drop_pages`` passed pages of
        the held record are counted as ``reason`` instead."""
        scratch = self.assembler_counts
        if scratch is self.counters:
            return
        if drop_pages:
            scratch[key(SPLIT_WET_FILE, "passed")] -= drop_pages
            scratch[key(SPLIT_WET_FILE, reason)] += drop_pages
            scratch[key(TOO_LONG, "passed")] -= drop_pages
        self.counters.update({k: v for k, v in scratch.items() if v})
        scratch.clear()

    def _release(self, held: list[Page], records: "_WetArchiveIterator") -> list[Page]:
        """The held pages of the previous record, unless its Content-Length proved wrong."""
        if held and records.last_record_bad_length:
            self._move_counts(drop_pages=len(held))
            return []
        self._move_counts()
        return held

    def _records(self, f: BinaryIO, skip: int) -> Iterator[Page]:
        quirks = self.profile.wet_quirks
        records = _WetArchiveIterator(f, self._on_event)
        held: list[Page] = []
        seen = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except _NonChunkedGzip:
                yield from self._release(held, records)
                raise
            except Exception as e:  # noqa: BLE001 - warcio on bad data: count, keep the run going
                yield from self._release(held, records)
                self._count("read-error")
                self.had_errors = True
                if records.record is not None and records.member_info is None and seen > skip:
                    # failed while reading the previous record to its end
                    logger.error("%s: record %d at %s could not be read to its end (%s); "
                                 "file read up to it", self.path, self.n_records,
                                 self._where(records.offset), _short(e))
                else:
                    logger.error("%s: unreadable data at %s (record %d): %s; file read up to it",
                                 self.path, self._where(records.offset), self.n_records + 1, _short(e))
                return
            yield from self._release(held, records)
            held = []
            seen += 1
            if seen <= skip:  # read before the switch to one-stream gzip
                continue
            self.n_records += 1
            offset = records.offset
            if records.header_invalid_utf8:
                self._count("filtered:invalid_utf8_record")
                logger.warning("%s: record at %s has a header that is not UTF-8; record skipped",
                               self.path, self._where(offset))
                continue
            if not quirks and record.rec_type not in ("conversion", "warcinfo"):
                self._count("filtered:not_conversion_record")
                continue
            body = record.content_stream()
            pages = self.assembler.feed_record_blocks(
                record.rec_headers.protocol or record.rec_headers.statusline,
                record.rec_headers.headers,
                iter_body_blocks(body, self.max_line_chars),
            )
            try:
                if quirks:  # pages end at WARC/1.0 lines: one record's body can hold many
                    yield from pages
                else:  # one page per record at most
                    held = list(pages)
                missing = getattr(body, "limit", 0)  # LimitReader: bytes short of Content-Length
                if missing > 0:
                    if records.reader.decompressor is None:  # uncompressed: the file ends
                        raise InputCutOff(f"the file ends {missing} bytes before the record's Content-Length")
                    # its gzip member (complete, checksum verified) ended first: the
                    # Content-Length is too large
                    self._count("bad-content-length")
                    logger.warning("%s: record at %s: wrong Content-Length (its gzip member ends %d bytes "
                                   "before it); page kept", self.path, self._where(offset), missing)
            except UnicodeDecodeError as e:
                self.assembler.abandon_record()
                self._count("filtered:invalid_utf8_record")
                logger.warning("%s: record at %s is not UTF-8 (%s); record skipped", self.path,
                               self._where(offset), e.reason)
                continue
            except READ_ERRORS as e:
                self.assembler.abandon_record()
                if held:  # assembler counted it as passed
                    self._move_counts(drop_pages=len(held), reason="filtered:truncated_record")
                    held = []
                else:
                    self._count("filtered:truncated_record")
                self._count("read-error")
                self.had_errors = True
                logger.error("%s: record at %s is cut off (%s); file read up to it", self.path,
                             self._where(offset), _short(e))
                return
        yield from self._release(held, records)
