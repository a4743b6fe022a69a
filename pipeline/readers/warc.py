"""Reading WARC files (HTML ``response`` records) into pages, for ``--input-format warc``.

Each HTTP response record with an HTML payload becomes one page, laid out as a WET
record would be:

- ``url`` = the raw ``WARC-Target-URI`` (not percent-encoded, as the WET reader keeps it),
  ``timestamp`` = ``WARC-Date``, ``content_type`` = ``text/plain``;
- ``text`` = the extracted text (``cleaning_rules/html_text.py``: charset from BOM, HTTP
  header, ``<meta>``, then detection; never an error), one block per line;
- ``content_length`` = the text's length in UTF-8 bytes, as in a WET record header.

Then the length cap (``too-long-filter``) as for WET, and the same rule profiles.

Bad input is handled by the record loop the WET reader uses (``records/record_loop.py``):
data that is not a record is counted (``unparseable-data``) and skipped to the next
record; a read error ends the file (``read-error``) keeping the pages before it; a file
that cannot be opened is ``skipped-file:unreadable``, a local FIFO, socket or device
``skipped-file:not_regular_file`` (never opened); a non-chunked gzip is re-read as one
stream. A page is kept whatever its record's Content-Length. Counts go under
``split-warc-file/`` (the run report's ``pages_read`` adds its ``passed`` to the WET
reader's); per record, what is not a page is counted there (``filtered:not_response``,
``filtered:http_status``, ``filtered:not_html``, ``filtered:bad_http_headers``,
``filtered:content_encoding``, ``filtered:html_too_large``, ``filtered:extraction_error``,
``filtered:no_content``) and the charset's source under ``html-extraction/charset:<source>``.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections import Counter
from typing import BinaryIO, Callable, Iterable, Iterator, Optional

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException

from c4forge.cleaning_rules import html_text
from c4forge.cleaning_rules.counters import SPLIT_WARC_FILE, key
from c4forge.cleaning_rules.length_cap import length_cap
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile
from c4forge.cleaning_rules.urls import normalize_url

from ..records.read_errors import describe_error
from ..records.record_loop import RecordLoop
from .beam_files import open_input
from .skipped_files import regular_files_only

logger = logging.getLogger(__name__)

HTML_EXTRACTION = "html-extraction"
MAX_HTML_BYTES = 32 << 20
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "")
HTTP_PARSER = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/0.9"], verify=False)


def read_warc_pages(
    path: str,
    profile: Profile,
    counters: Counter,
    extractor: str = html_text.DEFAULT_EXTRACTOR,
    open_file: Callable[[str], BinaryIO] = open_input,
) -> Iterator[Page]:
    """Pages of the HTML response records of one WARC file (bad input counted, never raised)."""
    loop = RecordLoop(path, open_file, counters, SPLIT_WARC_FILE, logger)
    pages = loop.pages(lambda: _WarcRecordPages(counters, extractor, profile.max_page_length))
    return loop.guarded(regular_files_only(loop, pages), passes_through=(html_text.ExtractorUnavailable,))


class _WarcRecordPages:
    """Response records → one page each (``record_to_page``); nothing is held."""

    def __init__(self, counters: Counter, extractor: str, max_page_length: Optional[int]):
        self._counters = counters
        self._extractor = extractor
        self._max_page_length = max_page_length

    def pages_of(self, record: ArcWarcRecord, body: BinaryIO) -> Iterable[Page]:
        if record.rec_type != "response":
            if record.rec_type not in ("warcinfo", "request", "metadata"):
                self._counters[key(SPLIT_WARC_FILE, "filtered:not_response")] += 1
            return ()
        headers = record.rec_headers
        page = record_to_page(headers.get_header("WARC-Target-URI") or "",
                              (headers.get_header("WARC-Date") or "").strip(),
                              body, self._counters, self._extractor, self._max_page_length)
        return () if page is None else (page,)

    def count_kept(self, page: Page) -> None:
        raise AssertionError("WARC pages are not held: they are counted as they are made")

    def abandon_record(self) -> None:
        pass  # a record is one page, made only once its body is read

    def finish(self) -> Iterable[Page]:
        return ()


def record_to_page(
    url: str,
    date: str,
    block: BinaryIO,
    counters: Counter,
    extractor: str = html_text.DEFAULT_EXTRACTOR,
    max_page_length: Optional[int] = None,
) -> Optional[Page]:
    """One WARC response block (HTTP status line, headers, payload) → page, or None (counted)."""
    ns = SPLIT_WARC_FILE
    if not url:
        counters[key(ns, "filtered:no_url")] += 1
        return None
    if not date:
        counters[key(ns, "filtered:no_timestamp")] += 1
        return None
    try:
        http = HTTP_PARSER.parse(block)
    except (StatusAndHeadersParserException, EOFError, ValueError, UnicodeDecodeError):
        counters[key(ns, "filtered:bad_http_headers")] += 1
        return None
    if not (http.protocol or "").upper().startswith("HTTP/"):
        counters[key(ns, "filtered:bad_http_headers")] += 1
        return None
    status = (http.get_statuscode() or "").strip()
    if not status.startswith("2"):
        counters[key(ns, "filtered:http_status")] += 1
        return None
    content_type = http.get_header("Content-Type") or ""
    if content_type.split(";")[0].strip().lower() not in HTML_TYPES:
        counters[key(ns, "filtered:not_html")] += 1
        return None
    body = block.read(MAX_HTML_BYTES + 1)
    if len(body) > MAX_HTML_BYTES:
        counters[key(ns, "filtered:html_too_large")] += 1
        return None
    body = _decode_content_encoding(body, http.get_header("Content-Encoding") or "")
    if body is None:
        counters[key(ns, "filtered:content_encoding")] += 1
        return None
    html, source = html_text.decode_html(body, content_type)
    counters[key(HTML_EXTRACTION, f"charset:{source}")] += 1
    try:
        text = html_text.extract_text(html, extractor)
    except html_text.ExtractorUnavailable:
        raise
    except Exception as e:  # noqa: BLE001 - an extractor failing on odd HTML is one bad record
        counters[key(ns, "filtered:extraction_error")] += 1
        logger.warning("%s: text extraction failed (%s); record skipped", url, describe_error(e))
        return None
    if not text:
        counters[key(ns, "filtered:no_content")] += 1
        return None
    counters[key(ns, "passed")] += 1
    kept, cap_counts = length_cap(len(text), max_page_length)
    counters.update(cap_counts)
    if not kept:
        return None
    return Page(url=url, normalized_url=normalize_url(url), text=text, timestamp=date,
                content_length=str(len(text.encode("utf-8"))), content_type="text/plain")


def _decode_content_encoding(body: bytes, encoding: str) -> Optional[bytes]:
    """The HTTP payload without its Content-Encoding, or None if it cannot be undone."""
    enc = encoding.strip().lower()
    if enc in ("", "identity", "none"):
        return body
    try:
        if enc in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if enc == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        if enc == "br":
            import brotli

            return brotli.decompress(body)
    except Exception:  # noqa: BLE001 - a bad payload is one bad record
        return None
    return None
