"""Reading WET files: records → pages (TFDS stages 6-7: ``split_wet_file`` and the length
cap), streaming, with bad input counted under ``split-wet-file/...`` (see
``records/record_loop.py``).

With the profile's ``wet_quirks`` (c4-en), a file that is not valid UTF-8 anywhere is
skipped whole: TFDS decodes each file strictly, so such a file failed its job and had to
be listed in ``_KNOWN_CORRUPT_WET_FILES``. So with quirks the UTF-8 check (decompression
and decoding) must finish before the first page is handed on. The check also tells whether
every record is plain, as Common Crawl writes them, and keeps such records up to
``hold_bytes`` (memory in proportion to the file, so only where the caller can afford it:
a local build whose shuffles are in memory); the file's records not kept are read a second
time, split without warcio (``records/plain_wet.py``). Without
quirks a record that is not UTF-8 is skipped alone, only ``conversion`` records are read,
and a record's page is dropped when its Content-Length proves wrong.

With quirks the pages of a well-formed file are exactly TFDS's. A file with a wrong
Content-Length (uncompressed, or inside a gzip member) can differ: the lines skipped on the
way to the next record are lost here, while TFDS, which ignores Content-Length, reads them.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import BinaryIO, Callable, Iterable, Iterator

from warcio.recordloader import ArcWarcRecord

from c4forge.cleaning_rules.counters import SPLIT_WET_FILE, key
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile
from c4forge.cleaning_rules.wet import WetPageAssembler

from ..page_bytes import AnyPage, RawPage
from ..records.body_lines import iter_body_blocks, whole_body_blocks
from ..records.plain_wet import HeldRecords, PlainRecord, plain_records
from ..records.record_loop import RecordLoop
from ..records.utf8 import check_utf8
from .beam_files import open_input
from .skipped_files import count_skipped_file, regular_files_only

try:  # built by pip install where a C compiler is found; without it every page is decoded as it is read
    from c4forge.cleaning_rules.lines_compiled import plain_wet_block_utf8
except ImportError:
    plain_wet_block_utf8 = None

logger = logging.getLogger(__name__)


def read_wet_pages(
    path: str,
    profile: Profile,
    counters: Counter,
    open_file: Callable[[str], BinaryIO] = open_input,
    hold_bytes: int = 0,
    raw_pages: bool = False,
) -> Iterator[AnyPage]:
    """Pages of one WET file that pass parsing and the length cap (TFDS stages 6-7).

    ``hold_bytes`` (with quirks): the UTF-8 check keeps a plain file's records up to that
    many decompressed bytes, so the second read starts after them, or never happens when
    they are the whole file. Pages and counters are the same whatever it is; only memory
    (up to ``hold_bytes`` while the file is read) and time change.

    ``raw_pages`` (with quirks, for a consumer that encodes pages with ``page_bytes``): a plain
    record that is a page of its own (usual headers, a plain body) comes as a ``RawPage``, its
    text not decoded; ``page_bytes.as_page`` gives the same page the reader would."""
    loop = RecordLoop(path, open_file, counters, SPLIT_WET_FILE, logger,
                      hold_pages=not profile.wet_quirks, body_read_whole=True)
    return loop.guarded(regular_files_only(loop, _pages(loop, profile, counters, hold_bytes, raw_pages)))


def _pages(loop: RecordLoop, profile: Profile, counters: Counter, hold_bytes: int,
           raw_pages: bool) -> Iterator[AnyPage]:
    if profile.wet_quirks:
        check = check_utf8(loop.open, find_plain=True, hold_bytes=hold_bytes)
        if check.plain:
            yield from _plain_file_pages(loop, _WetRecordPages(profile, counters, raw_pages), check.held)
            return
        if check.bad_at is not None:
            loop.count("skipped-file:invalid_utf8")
            count_skipped_file(counters, "invalid_utf8", loop.path)
            logger.error(
                "%s: invalid UTF-8 at decompressed byte %d, in the record at %s; "
                "file skipped, as TFDS's strict per-file decoding would fail it "
                "(use --no-wet-quirks to skip only bad records)",
                loop.path, check.bad_at, check.record_location(),
            )
            return
    yield from loop.pages(lambda: _WetRecordPages(profile, counters))


def _plain_file_pages(loop: RecordLoop, record_pages: "_WetRecordPages", held: HeldRecords) -> Iterator[AnyPage]:
    """A valid file whose records are all plain (``records/plain_wet.py``): the pages the
    record loop would give, without warcio. The records the check held come first (each let
    go once read), then the rest of the file, read again from the first record not held."""
    while held.records:
        loop.n_records += 1
        yield from record_pages.pages_of_plain(held.records.popleft())
    if held.resume_at is not None:
        with loop.open() as f:
            for record in plain_records(f, start_at=held.resume_at):
                loop.n_records += 1
                yield from record_pages.pages_of_plain(record)
    yield from record_pages.finish()


class _WetRecordPages:
    """Records → pages through one file's WetPageAssembler. Without quirks the loop holds
    a record's page, so the assembler leaves it uncounted until the loop keeps it."""

    def __init__(self, profile: Profile, counters: Counter, raw_pages: bool = False):
        self._quirks = profile.wet_quirks
        self._counters = counters
        self._max_line_chars = profile.max_page_length or 10**9
        self._max_page_length = sys.maxsize if profile.max_page_length is None else profile.max_page_length
        # a record that is a page of its own goes on as a RawPage, its text not decoded
        self._raw_pages = raw_pages and profile.wet_quirks and plain_wet_block_utf8 is not None
        self._assembler = WetPageAssembler(counters, profile.wet_quirks, profile.require_timestamp,
                                           profile.max_page_length, count_passed_pages=profile.wet_quirks)
        self.count_kept = self._assembler.count_kept
        self.abandon_record = self._assembler.abandon_record
        self.finish = self._assembler.finish

    def pages_of_plain(self, record: PlainRecord) -> Iterable[AnyPage]:
        if self._raw_pages:
            fields = self._assembler.whole_record_fields(record.headers)
            if fields is not None:
                text_length = plain_wet_block_utf8(record.body)
                if 0 < text_length <= self._max_page_length:
                    return self._whole_record_pages(fields, record.body, text_length)
        return self._assembler.feed_record_blocks(
            record.version_line, record.headers, whole_body_blocks(record.body, self._max_line_chars))

    def _whole_record_pages(self, fields: dict[str, str], body: bytes, text_length: int) -> list[AnyPage]:
        pages, kept = self._assembler.feed_whole_record(fields, text_length)
        if kept:
            pages.append(RawPage.of_record(fields, body))
        return pages

    def pages_of(self, record: ArcWarcRecord, body: BinaryIO) -> Iterable[Page]:
        if not self._quirks and record.rec_type not in ("conversion", "warcinfo"):
            self._counters[key(SPLIT_WET_FILE, "filtered:not_conversion_record")] += 1
            return ()
        return self._assembler.feed_record_blocks(
            record.rec_headers.protocol or record.rec_headers.statusline,
            record.rec_headers.headers,
            iter_body_blocks(body, self._max_line_chars),
        )
