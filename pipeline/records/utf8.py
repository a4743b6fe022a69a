"""Strict UTF-8 over a whole decompressed file, as TFDS decodes each WET file, and where
the record holding the first invalid byte starts."""

from __future__ import annotations

import codecs
import zlib
from typing import BinaryIO, Callable, NamedTuple, Optional

from .gzip_members import FAST_INFLATE, FastInflateRefused, gunzip_chunks
from .plain_wet import HeldRecords, PlainFileCheck
from .read_errors import READ_ERRORS

try:
    from . import utf8_compiled
except ImportError:  # no C compiler at install: Python's decoder checks (about 3x slower)
    utf8_compiled = None


class Utf8Check(NamedTuple):
    bad_at: Optional[int]  # decompressed offset of the first invalid byte
    record_at: Optional[int]  # decompressed offset of the record holding it
    record_file_offset: Optional[int]  # its offset in the file, when known
    read_error: Optional[BaseException]
    plain: bool = False  # valid, and every record plain (plain_wet.py): no warcio needed
    held: Optional[HeldRecords] = None  # of a plain file: the records kept for the reader

    def record_location(self) -> str:
        """Where the record holding the invalid byte starts, for a log message."""
        if self.record_file_offset is not None:
            return f"offset {self.record_file_offset}"
        if self.record_at is not None:
            return f"decompressed offset {self.record_at}"
        return "the start of the file (no WARC/ line before it)"


def check_utf8(open_file: Callable[[], BinaryIO], find_plain: bool = False, hold_bytes: int = 0) -> Utf8Check:
    """Strict UTF-8 over the whole decompressed file, and where the first invalid byte's
    record starts (the last line starting ``WARC/`` before it). Read errors (a truncated
    gzip) end the check without a verdict: the record reader reports them with their
    record.

    The record is looked for only once an invalid byte is found, by reading the file
    again: looking in every piece as it goes is slower, and almost every file is valid.
    ``find_plain``: also tell whether every record is plain (``plain_wet.py``), in the
    same pass (the check decompresses every member anyway), and keep a plain file's records
    up to ``hold_bytes`` decompressed bytes (``Utf8Check.held``)."""
    found = _fast_clean_scan(open_file, find_plain, hold_bytes)
    if found is not None:
        return found
    found = _scan(open_file, None, PlainFileCheck(hold_bytes) if find_plain else None)
    if found.bad_at is None:
        return found
    located = _scan(open_file, _RecordStartFinder())
    return located if located.bad_at == found.bad_at else Utf8Check(found.bad_at, None, None, None)  # read failed


def _fast_clean_scan(open_file: Callable[[], BinaryIO], find_plain: bool, hold_bytes: int) -> Optional[Utf8Check]:
    """The check inflating with ISA-L (``gzip_members.FAST_INFLATE``), if installed, when it
    finds the file whole and valid; None for any other outcome, which zlib decides again: its
    errors, and what it hands out before them, are the ones TFDS's reader meets."""
    if FAST_INFLATE is None:
        return None
    try:
        found = _scan(open_file, None, PlainFileCheck(hold_bytes) if find_plain else None, inflate=FAST_INFLATE)
    except (FAST_INFLATE.error, FastInflateRefused):  # ISA-L's own errors, or a header it must not be given
        return None
    return found if found.bad_at is None and found.read_error is None else None


def _scan(open_file: Callable[[], BinaryIO], finder: Optional["_RecordStartFinder"],
          plain: Optional[PlainFileCheck] = None, inflate=zlib) -> Utf8Check:
    validator = _CompiledUtf8() if utf8_compiled is not None else _DecoderUtf8()
    pos = 0  # decompressed offset of the current piece
    try:
        with open_file() as raw:
            for member_at, member_out, piece in gunzip_chunks(raw, plain and plain.padding, inflate):
                if plain is not None:
                    plain.look(member_at, piece)
                bad_at = validator.feed(piece, pos)
                if bad_at is not None:
                    if finder is not None:
                        finder.look(piece, pos, (member_at, member_out), bad_at)
                    return _verdict(bad_at, finder)
                if finder is not None:
                    finder.look(piece, pos, (member_at, member_out))
                pos += len(piece)
            bad_at = validator.end()
            if bad_at is not None:  # a sequence cut by the end of the file
                return _verdict(bad_at, finder)
    except READ_ERRORS as e:  # reported with its record by the record reader
        return Utf8Check(None, None, None, e)
    if plain is None or not plain.finish():
        return Utf8Check(None, None, None, None)
    return Utf8Check(None, None, None, None, True, plain.held())


class _DecoderUtf8:
    """Python's strict decoder over the pieces (non-empty) of a stream: the offset of the
    first invalid sequence (the decoder's error start), or None."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._pos = 0
        self._pending = 0  # bytes of an unfinished sequence the decoder holds from the pieces before

    def feed(self, piece: bytes, pos: int) -> Optional[int]:
        try:
            self._decoder.decode(piece)
        except UnicodeDecodeError as e:
            return pos - self._pending + e.start
        self._pos = pos + len(piece)
        # After an ASCII byte nothing is pending (else the decoder had raised).
        self._pending = len(self._decoder.getstate()[0]) if piece[-1] >= 0x80 else 0
        return None

    def end(self) -> Optional[int]:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            return self._pos - self._pending + e.start
        return None


class _CompiledUtf8:
    """The same offsets from ``utf8_compiled.scan``, which validates without decoding."""

    def __init__(self):
        self._state = 0
        self._lead_at = 0  # where the sequence left unfinished by the last piece starts

    def feed(self, piece: bytes, pos: int) -> Optional[int]:
        bad_at, self._state, self._lead_at = utf8_compiled.scan(piece, pos, self._state, self._lead_at)
        return bad_at if bad_at >= 0 else None

    def end(self) -> Optional[int]:
        return self._lead_at if self._state else None


def _verdict(bad_at: int, finder: Optional["_RecordStartFinder"]) -> Utf8Check:
    if finder is None:
        return Utf8Check(bad_at, None, None, None)
    return Utf8Check(bad_at, finder.record_at, finder.record_file_offset, None)


class _RecordStartFinder:
    """The last line starting ``WARC/`` in the pieces seen, and its offset in the file
    when known (uncompressed, or the record starts its own gzip member)."""

    def __init__(self):
        self.record_at: Optional[int] = None
        self.record_file_offset: Optional[int] = None
        self._tail = b"\n"  # last bytes before the piece; the file start counts as a line start
        self._previous_member: Optional[tuple[Optional[int], int]] = None

    def look(self, piece: bytes, pos: int, member: tuple[Optional[int], int], bad_at: Optional[int] = None) -> None:
        """Look in ``piece`` (at decompressed offset ``pos``, from gzip ``member``); with
        ``bad_at``, only for a ``WARC/`` line starting before that byte."""
        window, window_start = self._tail + piece, pos - len(self._tail)
        limit = len(window) if bad_at is None else min(len(window), bad_at - window_start + 5)
        hit = max(window.rfind(b"\nWARC/", 0, limit), window.rfind(b"\rWARC/", 0, limit))
        if hit >= 0:
            self.record_at = window_start + hit + 1
            holder = member
            if self.record_at < pos and self._previous_member is not None:
                holder = self._previous_member  # the line started in the piece before
            member_at, member_out = holder
            if member_at is None:
                self.record_file_offset = self.record_at
            elif member_out == self.record_at:  # the record starts its own gzip member
                self.record_file_offset = member_at
            else:
                self.record_file_offset = None
        self._previous_member = member
        self._tail = window[-6:]
