"""Turning WET records into pages: TFDS ``split_wet_file`` semantics as rules.

The reader (``pipeline/readers/wet.py``) gets records from warcio; this module decides what
a page is. With ``quirks=True`` (the c4-en profiles) it reproduces TFDS's line-based
parser exactly: every line of the file, header or body, goes through one state machine,
so body lines starting with ``WARC``/``Content-``/``CONTENT-`` vanish, body lines like
``WARC-Date: ...`` overwrite the record's fields, and a body line ``WARC/1.0`` starts a
new page. With ``quirks=False`` a record is one page: fields come from its headers only
and every non-blank body line is text.

The body comes in blocks of lines (the reader's pieces). A block whose lines need no
stripping and none of which starts like a field or delimiter (as almost every Common
Crawl body) is added to the page as one text; any other block goes line by line.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Iterator, Optional, Sequence

from .counters import SPLIT_WET_FILE, key
from .length_cap import length_cap
from .page import Page
from .urls import normalize_url

try:  # built by pip install where a C compiler is found; the regex below gives the same answers
    from .lines_compiled import plain_wet_block as _compiled_plain_block
except ImportError:
    _compiled_plain_block = None

PAGE_DELIMITER = "WARC/1.0"
URL_KEY = "WARC-Target-URI:"
DATE_KEY = "WARC-Date:"
CONTENT_TYPE_KEY = "Content-Type:"
CONTENT_LENGTH_KEY = "Content-Length:"
METADATA_PREFIXES = ("WARC", "CONTENT-", "Content-")


def split_universal_lines(text: str) -> list[str]:
    """``text`` split as TFDS reads it through io.TextIOWrapper (universal newlines):
    ``\\r\\n``, ``\\r`` and ``\\n`` end a line, but not the other separators
    str.splitlines() knows. (As ``re.split(r"\\r\\n|\\r|\\n", text)``, at a third of the cost.)"""
    return universal_newlines_to_lf(text).split("\n")


def universal_newlines_to_lf(text: str) -> str:
    """``text`` with each universal newline (``\\r\\n``, ``\\r``, ``\\n``) made ``\\n``."""
    if "\r" in text:
        # Every "\r\n" is one line end (pairs cannot overlap), then every other "\r" is one.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# A "\n" next to whitespace (another "\n" included): a line to strip or an empty line.
# (re's \s is exactly str.isspace(), the whitespace str.strip() removes; a test checks.)
_NEWLINE_NEXT_TO_SPACE = re.compile(r"\n(?:\s|(?<=\s\n))")
# A "\n" before a line that starts like a delimiter or field (METADATA_PREFIXES).
_NEWLINE_BEFORE_FIELD = re.compile(r"\n(?:WARC|CONTENT-|Content-)")
# Either of the two, in one pass.
_NEWLINE_NEXT_TO_SPACE_OR_FIELD = re.compile(r"\n(?:\s|(?<=\s\n)|WARC|CONTENT-|Content-)")


def page_text_of(block: str) -> str:
    """``block`` (lines joined with ``\\n``) as page text: its lines stripped, the empty
    ones dropped, joined with ``\\n``. A block of clean lines, as Common Crawl writes
    them, is returned as is, without splitting it into lines."""
    if len(block.strip()) == len(block) and not _NEWLINE_NEXT_TO_SPACE.search(block):
        return block
    return "\n".join(filter(None, map(str.strip, block.split("\n"))))


def is_plain_block(block: str) -> bool:
    """Every line of ``block`` (lines joined with ``\\n``) is non-empty, stripped and starts
    like no field or delimiter (``METADATA_PREFIXES``): the block can be page text as it is.
    Compiled where installed (``lines_compiled.plain_wet_block``)."""
    if _compiled_plain_block is not None:
        return _compiled_plain_block(block)
    return is_plain_block_py(block)


def is_plain_block_py(block: str) -> bool:
    """``is_plain_block`` with Python's regex (the compiled one is tested against it)."""
    return (len(block.strip()) == len(block) > 0 and not block.startswith(METADATA_PREFIXES)
            and not _NEWLINE_NEXT_TO_SPACE_OR_FIELD.search(block))


def page_validity(url: str, has_text: bool, timestamp: str, require_timestamp: bool = True) -> str:
    """The ``split-wet-file`` counter for a finished page: 'passed' or why it is dropped."""
    if not url:
        return "filtered:no_url"
    if not has_text:
        return "filtered:no_content"
    if require_timestamp and not timestamp:
        return "filtered:no_timestamp"
    return "passed"


class _PageDraft:
    __slots__ = ("url", "timestamp", "content_type", "content_length", "lines", "text_length")

    def __init__(self):
        self.url = self.timestamp = self.content_type = self.content_length = ""
        self.lines: list[str] = []
        self.text_length = 0  # len("\n".join(lines)) if every line had been kept

    def add_text_line(self, line: str, max_length: int | None) -> None:
        """``line``: one stripped, non-empty line, or several joined with ``\\n``."""
        self.text_length += len(line) + (1 if self.text_length else 0)
        if max_length is None or self.text_length <= max_length:
            self.lines.append(line)
        elif self.lines:  # past the cap the page is dropped anyway: stop holding its text
            self.lines = []

    def to_page(self) -> Page:
        return Page(
            url=self.url,
            normalized_url=normalize_url(self.url) if self.url else "",
            text="\n".join(self.lines),
            timestamp=self.timestamp,
            content_type=self.content_type,
            content_length=self.content_length,
        )


class WetPageAssembler:
    """Feeds WET records in file order, yields pages that pass parsing and the length cap.

    One assembler per file. With quirks on, a page can span records exactly as in the
    reference (e.g. after a ``WARC/1.1`` delimiter, which TFDS does not recognise).
    The length cap (TFDS ``is_valid_length``, the next stage) is applied here so an
    over-long record is never held in memory; it still counts as ``too-long-filter``.

    With ``count_passed_pages=False`` the pages it yields are not counted as passed
    (``split-wet-file/passed`` and ``too-long-filter/passed``) until ``count_kept(page)``:
    the reader holds a record's page until the next record proves its Content-Length
    right, and counts it only if it keeps it.
    """

    def __init__(
        self,
        counters: Counter,
        quirks: bool = True,
        require_timestamp: bool = True,
        max_page_length: int | None = None,
        count_passed_pages: bool = True,
    ):
        self._counters = counters
        self._count_passed_pages = count_passed_pages
        self._quirks = quirks
        self._require_timestamp = require_timestamp
        self._max_length = max_page_length
        self._draft: _PageDraft | None = None  # None: no delimiter seen yet (TFDS's i == 0)
        counters[key(SPLIT_WET_FILE, "wet-file")] += 1

    def feed_record_blocks(
        self, version_line: str, headers: Sequence[tuple[str, str]], body_blocks: Iterable[str]
    ) -> Iterator[Page]:
        """One record: its version line, its headers, and its body split at universal
        newlines (lines not stripped), in blocks of consecutive lines joined with ``\\n``
        (the reader's pieces; a line alone is a block too): a block is handled as one
        text, not line by line."""
        if self._quirks:
            yield from self._feed_lines((version_line,))
            for name, value in headers:
                field = _HEADER_FIELDS.get(name, _ANY_OTHER)
                if field is _ANY_OTHER or self._draft is None:
                    yield from self._feed_lines((f"{name}: {value}",))
                elif field:
                    setattr(self._draft, field, value.strip())
            for block in body_blocks:
                yield from self._feed_block(block)
        else:
            draft = _PageDraft()
            for name, value in headers:
                field = _HEADER_FIELDS.get(name, _ANY_OTHER)
                if field is _ANY_OTHER:
                    _apply_header_line(draft, f"{name}: {value}")
                elif field:
                    setattr(draft, field, value.strip())
            for block in body_blocks:
                text = page_text_of(block)
                if text:
                    draft.add_text_line(text, self._max_length)
            yield from self._emit_if_valid(draft)

    def count_kept(self, page: Page) -> None:
        """Count a page yielded uncounted (``count_passed_pages=False``) as passed."""
        self._counters[key(SPLIT_WET_FILE, "passed")] += 1
        self._counters.update(length_cap(len(page.text), self._max_length)[1])

    def abandon_record(self) -> None:
        """The current record could not be read to its end: drop its partial page."""
        if self._quirks:
            self._draft = None

    def finish(self) -> Iterator[Page]:
        """End of file: the last page is validated (TFDS does so even with no delimiter)."""
        if self._quirks and self._draft is not None:
            draft, self._draft = self._draft, None
            yield from self._emit_if_valid(draft)

    def _feed_block(self, block: str) -> Iterator[Page]:
        if is_plain_block(block):
            text = block  # clean lines, none a delimiter or field: the common case
        else:
            text = page_text_of(block)
            if not text:
                return
            if text.startswith(METADATA_PREFIXES) or _NEWLINE_BEFORE_FIELD.search(text):
                # A line is a delimiter or a field ("WARC" covers PAGE_DELIMITER): line by line.
                yield from self._feed_lines(text.split("\n"))
                return
        if self._draft is None:  # text before the first delimiter belongs to the first page
            self._draft = _PageDraft()
        self._draft.add_text_line(text, self._max_length)

    def _feed_lines(self, lines: Iterable[str]) -> Iterator[Page]:
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if line == PAGE_DELIMITER:
                if self._draft is not None:
                    yield from self._emit_if_valid(self._draft)
                self._draft = _PageDraft()
            draft = self._draft
            if draft is None:  # text before the first delimiter belongs to the first page
                draft = self._draft = _PageDraft()
            if line.startswith(METADATA_PREFIXES):
                _apply_header_line(draft, line)
                continue
            draft.add_text_line(line, self._max_length)

    def whole_record_fields(self, headers: Sequence[tuple[str, str]]) -> Optional[dict[str, str]]:
        """With quirks, the page fields a record's headers set when every header is a usual
        one (``_HEADER_FIELDS``), as ``feed_record_blocks`` sets them; None otherwise. A record
        whose body is also a plain block (``is_plain_block``) is then a page of its own, which
        ``feed_whole_record`` counts without the text itself."""
        if not self._quirks:
            return None
        fields = dict.fromkeys(("url", "timestamp", "content_type", "content_length"), "")
        for name, value in headers:
            field = _HEADER_FIELDS.get(name, _ANY_OTHER)
            if field is _ANY_OTHER:
                return None
            if field:
                fields[field] = value.strip()
        return fields

    def feed_whole_record(self, fields: dict[str, str], text_length: int) -> tuple[list[Page], bool]:
        """A record whose headers gave ``fields`` (``whole_record_fields``) and whose body is one
        plain block of ``text_length`` characters, as ``feed_record_blocks`` would take it:
        (the pages its delimiter finishes, whether its own page is kept). The page itself is
        the caller's to make, from the fields and the body: its text is the body."""
        finished = []
        if self._draft is not None:  # the record's "WARC/1.0" finishes the page before it
            finished = list(self._emit_if_valid(self._draft))
            self._draft = None  # nothing more can join this record's page: the next record starts anew
        return finished, self._keeps(fields["url"], fields["timestamp"], text_length)

    def _emit_if_valid(self, draft: _PageDraft) -> Iterator[Page]:
        # Judged on text_length, not the held lines: an over-long page holds none.
        if self._keeps(draft.url, draft.timestamp, draft.text_length):
            yield draft.to_page()

    def _keeps(self, url: str, timestamp: str, text_length: int) -> bool:
        """A finished page's verdict, counted: whether it is kept. Uncounted when it passes and
        ``count_passed_pages`` is off (``count_kept`` counts it if the reader keeps it)."""
        verdict = page_validity(url, text_length > 0, timestamp, self._require_timestamp)
        kept, cap_counts = length_cap(text_length, self._max_length)
        if verdict == "passed" and kept and not self._count_passed_pages:
            return True
        self._counters[key(SPLIT_WET_FILE, verdict)] += 1
        if verdict != "passed":
            return False
        self._counters.update(cap_counts)
        return kept


# Usual record header names: the draft field their line sets, or None where it sets none
# (the name starts with a METADATA_PREFIX but its line with no field key). For these,
# setting the field to value.strip() is what _apply_header_line(f"{name}: {value}") does.
_HEADER_FIELDS = {
    URL_KEY[:-1]: "url",
    DATE_KEY[:-1]: "timestamp",
    CONTENT_TYPE_KEY[:-1]: "content_type",
    CONTENT_LENGTH_KEY[:-1]: "content_length",
    **dict.fromkeys(("WARC-Type", "WARC-Record-ID", "WARC-Refers-To", "WARC-Block-Digest",
                     "WARC-Payload-Digest", "WARC-Identified-Content-Language", "WARC-Filename",
                     "WARC-Warcinfo-ID", "WARC-Concurrent-To", "WARC-IP-Address")),
}
_ANY_OTHER = object()


def _apply_header_line(draft: _PageDraft, line: str) -> None:
    if line.startswith(URL_KEY):
        draft.url = line[len(URL_KEY):].strip()
    elif line.startswith(DATE_KEY):
        draft.timestamp = line[len(DATE_KEY):].strip()
    elif line.startswith(CONTENT_TYPE_KEY):
        draft.content_type = line[len(CONTENT_TYPE_KEY):].strip()
    elif line.startswith(CONTENT_LENGTH_KEY):
        draft.content_length = line[len(CONTENT_LENGTH_KEY):].strip()
