"""Reading WET files: warcio records → pages, streaming, with bad input counted and skipped.

A file never fails the run. What cannot be read is logged with the file and the record
offset and counted (``split-wet-file/...``); pages read before the problem are kept.
With the profile's ``wet_quirks`` (c4-en), a file that is not valid UTF-8 anywhere is
skipped whole: TFDS decodes each file strictly, so such a file failed its job and had to
be listed in ``_KNOWN_CORRUPT_WET_FILES``.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import zlib
from collections import Counter
from typing import BinaryIO, Callable, Iterator, Optional

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader

from c4forge.cleaning_rules.counters import SPLIT_WET_FILE, key
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile
from c4forge.cleaning_rules.wet import WetPageAssembler, split_universal_lines

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
# Errors that mean "this file cannot be read further".
READ_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError)


class _RawUriRecordLoader(ArcWarcRecordLoader):
    """warcio percent-encodes spaces in WARC-Target-URI and unwraps <...>; C4 keeps the raw
    header value (it is the example's url and feeds the dedup and split hashes)."""

    def _ensure_target_uri_format(self, rec_headers):
        return rec_headers.get_header("WARC-Target-URI")


def _open_default(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    # warcio detects and decompresses gzip (per-record members) itself.
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _maybe_gunzip(f: BinaryIO) -> BinaryIO:
    head = f.read(2)
    f.seek(0)
    return gzip.GzipFile(fileobj=f) if head == b"\x1f\x8b" else f


def first_invalid_utf8(open_file: Callable[[], BinaryIO]) -> Optional[int]:
    """Decompressed byte offset (approximate, within a few bytes) of the first invalid
    UTF-8 sequence, or None. Read errors (truncated gzip) end the check silently: the
    record reader reports them with their record.
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    consumed = 0
    with open_file() as raw:
        stream = _maybe_gunzip(raw)
        try:
            while True:
                chunk = stream.read(CHUNK_BYTES)
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as e:
                    return consumed + max(e.start, 0)
                if not chunk:
                    return None
                consumed += len(chunk)
        except READ_ERRORS:
            return None


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

    def take(self) -> str:
        line = self._stand_in if self._stand_in is not None else "".join(self._parts)
        self._reset()
        return line


def iter_body_lines(stream: BinaryIO, max_line_chars: int, errors: str = "strict") -> Iterator[str]:
    """A record body as text lines split at universal newlines, decoded incrementally."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    buffer = _LineBuffer(max_line_chars)
    while True:
        chunk = stream.read(CHUNK_BYTES)
        parts = split_universal_lines(decoder.decode(chunk, final=not chunk))
        for part in parts[:-1]:
            buffer.add(part)
            yield buffer.take()
        buffer.add(parts[-1])
        if not chunk:
            yield buffer.take()
            return


def read_wet_pages(
    path: str,
    profile: Profile,
    counters: Counter,
    open_file: Callable[[str], BinaryIO] = _open_default,
) -> Iterator[Page]:
    """Pages of one WET file that pass parsing and the length cap (TFDS stages 6-7)."""
    ns = SPLIT_WET_FILE
    try:
        if profile.wet_quirks:
            bad_at = first_invalid_utf8(lambda: open_file(path))
            if bad_at is not None:
                counters[key(ns, "skipped-file:invalid_utf8")] += 1
                logger.error(
                    "%s: invalid UTF-8 at decompressed byte %d (record at offset %s); "
                    "file skipped, as TFDS's strict per-file decoding would fail it "
                    "(use --no-wet-quirks to skip only bad records)",
                    path, bad_at, _record_offset_at(path, bad_at, open_file),
                )
                return
        with open_file(path) as f:
            yield from _read_records(path, f, profile, counters)
    except READ_ERRORS as e:  # cannot even open
        counters[key(ns, "skipped-file:unreadable")] += 1
        logger.error("%s: cannot read file: %s", path, e)


def _read_records(path: str, f: BinaryIO, profile: Profile, counters: Counter) -> Iterator[Page]:
    ns = SPLIT_WET_FILE
    max_len = profile.max_page_length
    assembler = WetPageAssembler(counters, profile.wet_quirks, profile.require_timestamp, max_len)
    max_line_chars = max_len or 10**9
    records = ArchiveIterator(f, arc2warc=True)
    records.loader = _RawUriRecordLoader(verify_http=False, arc2warc=True)
    n_records = 0
    offset = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except READ_ERRORS as e:
            counters[key(ns, "read-error")] += 1
            logger.error("%s: unreadable data after offset %d (record %d): %s; "
                         "%d records before it were read", path, offset, n_records + 1,
                         str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, n_records)
            break
        n_records += 1
        offset = records.offset
        if not profile.wet_quirks and record.rec_type not in ("conversion", "warcinfo"):
            counters[key(ns, "filtered:not_conversion_record")] += 1
            continue
        try:
            # Materialised per record so a record that breaks midway yields nothing.
            pages = list(assembler.feed_record(
                record.rec_headers.protocol or record.rec_headers.statusline,
                record.rec_headers.headers,
                iter_body_lines(record.content_stream(), max_line_chars),
            ))
        except UnicodeDecodeError as e:
            assembler.abandon_record()
            counters[key(ns, "filtered:invalid_utf8_record")] += 1
            logger.warning("%s: record at offset %d is not UTF-8 (%s); record skipped", path, offset, e.reason)
            continue
        except READ_ERRORS as e:
            assembler.abandon_record()
            counters[key(ns, "filtered:truncated_record")] += 1
            counters[key(ns, "read-error")] += 1
            logger.error("%s: record at offset %d is cut off (%s); file read up to it", path, offset,
                         type(e).__name__)
            yield from assembler.finish()
            return
        yield from pages
    if n_records == 0:
        counters[key(ns, "skipped-file:no_records")] += 1
        logger.warning("%s: no WARC records", path)
    yield from assembler.finish()


def _record_offset_at(path: str, decompressed_offset: int, open_file) -> str:
    """Best effort: the compressed offset of the record holding a decompressed position."""
    try:
        with open_file(path) as f:
            records = ArchiveIterator(f)
            records.loader = _RawUriRecordLoader(verify_http=False)
            seen = 0
            for record in records:
                body = record.content_stream().read()
                seen += len(body) + 1024  # headers: rough; this only names the record
                if seen >= decompressed_offset:
                    return str(records.offset)
    except Exception:  # noqa: BLE001 - a diagnostic must not fail the run
        pass
    return "unknown"
