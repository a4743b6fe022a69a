"""Turning WET records into pages: TFDS ``split_wet_file`` semantics as rules.

The reader (``pipeline/sources.py``) gets records from warcio; this module decides what
a page is. With ``quirks=True`` (the c4-en profiles) it reproduces TFDS's line-based
parser exactly: every line of the file, header or body, goes through one state machine,
so body lines starting with ``WARC``/``Content-``/``CONTENT-`` vanish, body lines like
``WARC-Date: ...`` overwrite the record's fields, and a body line ``WARC/1.0`` starts a
new page. With ``quirks=False`` a record is one page: fields come from its headers only
and every non-blank body line is text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Iterator, Sequence

from .counters import SPLIT_WET_FILE, TOO_LONG, chars_key, key
from .page import Page
from .urls import normalize_url

PAGE_DELIMITER = "WARC/1.0"
URL_KEY = "WARC-Target-URI:"
DATE_KEY = "WARC-Date:"
CONTENT_TYPE_KEY = "Content-Type:"
CONTENT_LENGTH_KEY = "Content-Length:"
METADATA_PREFIXES = ("WARC", "CONTENT-", "Content-")

# TFDS reads through io.TextIOWrapper (universal newlines): \r\n, \r and \n end a line,
# but not the other separators str.splitlines() knows.
_UNIVERSAL_NEWLINE = re.compile(r"\r\n|\r|\n")


def split_universal_lines(text: str) -> list[str]:
    return _UNIVERSAL_NEWLINE.split(text)


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
        self.text_length += len(line) + (1 if self.text_length else 0)
        # Past the cap the page is dropped anyway: stop holding its text.
        if max_length is None or self.text_length <= max_length:
            self.lines.append(line)

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
    """

    def __init__(
        self,
        counters: Counter,
        quirks: bool = True,
        require_timestamp: bool = True,
        max_page_length: int | None = None,
    ):
        self._counters = counters
        self._quirks = quirks
        self._require_timestamp = require_timestamp
        self._max_length = max_page_length
        self._draft: _PageDraft | None = None  # None: no delimiter seen yet (TFDS's i == 0)
        counters[key(SPLIT_WET_FILE, "wet-file")] += 1

    def feed_record(
        self, version_line: str, headers: Sequence[tuple[str, str]], body_lines: Iterable[str]
    ) -> Iterator[Page]:
        """``body_lines``: the record body split at universal newlines (not stripped)."""
        if self._quirks:
            yield from self._feed_lines((version_line,))
            yield from self._feed_lines(f"{name}: {value}" for name, value in headers)
            yield from self._feed_lines(body_lines)
        else:
            draft = _PageDraft()
            for name, value in headers:
                _apply_header_line(draft, f"{name}: {value}")
            for raw in body_lines:
                line = raw.strip()
                if line:
                    draft.add_text_line(line, self._max_length)
            yield from self._emit_if_valid(draft)

    def abandon_record(self) -> None:
        """The current record could not be read to its end: drop its partial page."""
        if self._quirks:
            self._draft = None

    def finish(self) -> Iterator[Page]:
        """End of file: the last page is validated (TFDS does so even with no delimiter)."""
        if self._quirks and self._draft is not None:
            draft, self._draft = self._draft, None
            yield from self._emit_if_valid(draft)

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

    def _emit_if_valid(self, draft: _PageDraft) -> Iterator[Page]:
        # Judged on text_length, not the held lines: an over-long page holds none.
        verdict = page_validity(draft.url, draft.text_length > 0, draft.timestamp, self._require_timestamp)
        self._counters[key(SPLIT_WET_FILE, verdict)] += 1
        if verdict != "passed":
            return
        if self._max_length is not None:
            too_long = draft.text_length > self._max_length
            self._counters[key(TOO_LONG, "filtered" if too_long else "passed")] += 1
            if too_long:
                self._counters[chars_key(TOO_LONG, "filtered")] += draft.text_length
                return
        yield draft.to_page()


def _apply_header_line(draft: _PageDraft, line: str) -> None:
    if line.startswith(URL_KEY):
        draft.url = line[len(URL_KEY):].strip()
    elif line.startswith(DATE_KEY):
        draft.timestamp = line[len(DATE_KEY):].strip()
    elif line.startswith(CONTENT_TYPE_KEY):
        draft.content_type = line[len(CONTENT_TYPE_KEY):].strip()
    elif line.startswith(CONTENT_LENGTH_KEY):
        draft.content_length = line[len(CONTENT_LENGTH_KEY):].strip()
