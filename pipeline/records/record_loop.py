"""The record loop both readers share: one WARC/WET file's records → pages, streaming,
with bad input counted and skipped.

A file never fails the run. What cannot be read is logged with the file and the record
offset and counted under the reader's namespace (``split-wet-file/...``,
``split-warc-file/...``); pages read before the problem are kept, and after unparseable
data the loop resumes at the next record. A file that cannot be opened is
``skipped-file:unreadable``, one without records ``skipped-file:no_records``, a bug met on
odd input ``internal-error``. A gzip file that is not one member per record is read again
as one stream, skipping the records already read.

Offsets in log messages: for Common Crawl's one-gzip-member-per-record files, the record's
offset in the compressed file (as in the CC index); for uncompressed files, the byte
offset; for a gzip file that is one stream ("non-chunked"), offsets in the decompressed
data, and the message says so.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from warcio.recordloader import ArcWarcRecord

from c4forge.cleaning_rules.counters import key
from c4forge.cleaning_rules.page import Page

from .gzip_members import decompressed_stream
from .read_errors import READ_ERRORS, GuardedFile, InputCutOff, describe_error, guarded_open
from .strict_warcio import NonChunkedGzip, StrictArchiveIterator


class RecordPages(Protocol):
    """What a reader makes of records; the loop does the rest."""

    def pages_of(self, record: ArcWarcRecord, body: BinaryIO) -> Iterable[Page]:
        """The pages of one record (``body``: its content stream). When the loop holds
        pages, those it yields are not counted as passed: see ``count_kept``."""

    def count_kept(self, page: Page) -> None:
        """Count a held page the loop hands on (it proved its record's length right)."""

    def abandon_record(self) -> None:
        """The current record could not be read to its end: drop its partial page."""

    def finish(self) -> Iterable[Page]:
        """End of file: the pages still pending."""


class RecordLoop:
    """One file's records → pages, counted under ``namespace`` and logged to ``log``.

    ``hold_pages``: a record's pages are held until the next record is reached: only then
    is it known whether its Content-Length was right (the record must be followed by a
    blank line); with a wrong one they are dropped, counted ``filtered:bad_content_length``.
    Without it, pages are handed on as they come and kept whatever the length.

    ``body_read_whole``: ``pages_of`` reads each body to its end, so a body short of its
    Content-Length is known: in an uncompressed file the file is cut off; in a gzip member
    (complete, checksum verified) the Content-Length is too large.
    """

    def __init__(self, path: str, open_file: Callable[[str], BinaryIO], counters: Counter, namespace: str,
                 log: logging.Logger, *, hold_pages: bool = False, body_read_whole: bool = False):
        self.path = path
        self.open_file = open_file
        self.counters = counters
        self.namespace = namespace
        self.log = log
        self.hold_pages = hold_pages
        self.body_read_whole = body_read_whole
        self.decompressed_offsets = False  # set when a non-chunked gzip is read as one stream
        self.n_records = 0
        self.had_errors = False
        self._record_pages: RecordPages  # set once the file is open

    def count(self, name: str, n: int = 1) -> None:
        self.counters[key(self.namespace, name)] += n

    def open(self) -> GuardedFile:
        """The file, any failure to open or read it an OSError (a READ_ERROR)."""
        return guarded_open(self.open_file, self.path)

    def guarded(self, pages: Iterator[Page], passes_through: tuple[type[BaseException], ...] = ()) -> Iterator[Page]:
        """``pages``, with no exception escaping (except ``passes_through``): a file that
        cannot be opened is counted and logged, as is a bug met on odd input."""
        try:
            yield from pages
        except passes_through:
            raise
        except READ_ERRORS as e:  # cannot even open
            self.count("skipped-file:unreadable")
            self.log.error("%s: cannot read file: %s", self.path, describe_error(e))
        except Exception:  # noqa: BLE001 - a bug met on odd input must not end a long run
            self.count("internal-error")
            self.log.exception("%s: unexpected error; the rest of the file is skipped", self.path)

    def pages(self, start: Callable[[], RecordPages]) -> Iterator[Page]:
        """The file's pages; ``start()`` makes the reader's RecordPages once the file is open."""
        with self.open() as f:
            self._record_pages = start()
            try:
                yield from self._records(f, skip=0)
                done = True
            except NonChunkedGzip:
                done = False
        if not done:
            self.count("non-chunked-gzip")
            self.log.warning("%s: gzip is not one member per record (non-chunked gzip); reading it as "
                             "one stream from record %d on (offsets are decompressed)", self.path,
                             self.n_records + 1)
            self.decompressed_offsets = True
            with self.open() as f:
                yield from self._records(decompressed_stream(f), skip=self.n_records)
        if self.n_records == 0 and not self.had_errors:
            self.count("skipped-file:no_records")
            self.log.warning("%s: no WARC records", self.path)
        yield from self._record_pages.finish()

    def where(self, offset: int) -> str:
        return f"decompressed offset {offset}" if self.decompressed_offsets else f"offset {offset}"

    def _on_event(self, kind: str, offset: int, detail: str) -> None:
        if kind == "bad_length":
            self.count("bad-content-length")
            self.log.warning("%s: record at %s: wrong Content-Length (%s)%s", self.path, self.where(offset),
                             detail, "; its page is dropped" if self.hold_pages else "")
        elif kind == "unparseable":
            self.count("unparseable-data")
            self.had_errors = True
            self.log.error("%s: data at %s is not a WARC record (%s); skipping to the next record",
                           self.path, self.where(offset), detail)
        elif kind == "resumed":
            self.log.warning("%s: reading resumes with the record at %s", self.path, self.where(offset))

    def _release(self, held: list[Page], records: StrictArchiveIterator) -> list[Page]:
        """The held pages of the previous record, unless its Content-Length proved wrong."""
        if held and records.last_record_bad_length:
            self.count("filtered:bad_content_length", len(held))
            return []
        for page in held:
            self._record_pages.count_kept(page)
        return held

    def _records(self, f: BinaryIO, skip: int) -> Iterator[Page]:
        records = StrictArchiveIterator(f, self._on_event)
        held: list[Page] = []
        seen = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except NonChunkedGzip:
                yield from self._release(held, records)
                raise
            except Exception as e:  # noqa: BLE001 - warcio on bad data: count, keep the run going
                yield from self._release(held, records)
                self._read_error_between_records(records, seen > skip, e)
                return
            yield from self._release(held, records)
            held = []
            seen += 1
            if seen <= skip:  # read before the switch to one-stream gzip
                continue
            self.n_records += 1
            offset = records.offset
            if records.header_invalid_utf8:
                self.count("filtered:invalid_utf8_record")
                self.log.warning("%s: record at %s has a header that is not UTF-8; record skipped",
                                 self.path, self.where(offset))
                continue
            body = record.content_stream()
            try:
                pages = self._record_pages.pages_of(record, body)
                if self.hold_pages:
                    held = list(pages)
                else:
                    yield from pages
                if self.body_read_whole:
                    self._check_body_length(body, records, offset)
            except UnicodeDecodeError as e:
                self._record_pages.abandon_record()
                self.count("filtered:invalid_utf8_record")
                self.log.warning("%s: record at %s is not UTF-8 (%s); record skipped", self.path,
                                 self.where(offset), e.reason)
                continue
            except READ_ERRORS as e:
                self._record_pages.abandon_record()
                # its held pages (at most the one page of the record) are not kept
                self.count("filtered:truncated_record", len(held) or 1)
                self.count("read-error")
                self.had_errors = True
                self.log.error("%s: record at %s is cut off (%s); file read up to it", self.path,
                               self.where(offset), describe_error(e))
                return
        yield from self._release(held, records)

    def _read_error_between_records(self, records: StrictArchiveIterator, past_skip: bool, e: Exception) -> None:
        self.count("read-error")
        self.had_errors = True
        if records.record is not None and records.member_info is None and past_skip:
            # failed while reading the previous record to its end
            self.log.error("%s: record %d at %s could not be read to its end (%s); file read up to it",
                           self.path, self.n_records, self.where(records.offset), describe_error(e))
        else:
            self.log.error("%s: unreadable data at %s (record %d): %s; file read up to it",
                           self.path, self.where(records.offset), self.n_records + 1, describe_error(e))

    def _check_body_length(self, body: BinaryIO, records: StrictArchiveIterator, offset: int) -> None:
        missing = getattr(body, "limit", 0)  # LimitReader: bytes short of Content-Length
        if missing <= 0:
            return
        if not records.gzip_members:  # uncompressed: the file ends
            raise InputCutOff(f"the file ends {missing} bytes before the record's Content-Length")
        # its gzip member (complete, checksum verified) ended first: the Content-Length is too large
        self.count("bad-content-length")
        self.log.warning("%s: record at %s: wrong Content-Length (its gzip member ends %d bytes "
                         "before it); page kept", self.path, self.where(offset), missing)
