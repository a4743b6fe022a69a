"""Reading WARC files (HTML ``response`` records) into pages, for ``--input-format warc``.

Each HTTP response record with an HTML payload becomes one page, laid out as a WET
record would be:

- ``url`` = the raw ``WARC-Target-URI`` (not percent-encoded, as the WET reader keeps it),
  ``timestamp`` = ``WARC-Date``, ``content_type`` = ``text/plain``;
- ``text`` = the extracted text (``cleaning_rules/html_text.py``: charset from BOM, HTTP
  header, ``<meta>``, then detection; never an error), one block per line;
- ``content_length`` = the text's length in UTF-8 bytes, as in a WET record header.

Then the length cap (``too-long-filter``) as for WET, and the same rule profiles.

Bad input is handled as the WET reader does (``sources.py``, whose warcio iterator is
reused): data that is not a record is counted (``unparseable-data``) and skipped to the
next record; a read error ends the file (``read-error``) keeping the pages before it; a
file that cannot be opened is ``skipped-file:unreadable``; a non-chunked gzip is re-read
as one stream. Per record, what is not a page is counted under ``split-wet-file/``
(``filtered:not_response``, ``filtered:http_status``, ``filtered:not_html``,
``filtered:bad_http_headers``, ``filtered:content_encoding``, ``filtered:html_too_large``,
``filtered:extraction_error``, ``filtered:no_content``) and the charset's source under
``html-extraction/charset:<source>``. The namespace is the WET reader's, so the run
report's ``pages_read`` (``split-wet-file/passed``) counts WARC pages too.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections import Counter
from typing import BinaryIO, Callable, Iterator, Optional

from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException

from c4forge.cleaning_rules import html_text
from c4forge.cleaning_rules.counters import SPLIT_WET_FILE, TOO_LONG, chars_key, key
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile
from c4forge.cleaning_rules.urls import normalize_url

# Reused from the WET reader (not re-implemented): its robust warcio iterator and helpers.
from .sources import (  # noqa: F401 - private helpers of sources.py, used read-only
    READ_ERRORS,
    InputCutOff,
    _ChunkStream,
    _GuardedFile,
    _gunzip_chunks,
    _NonChunkedGzip,
    _short,
    _WetArchiveIterator,
    open_input,
)

logger = logging.getLogger(__name__)

HTML_EXTRACTION = "html-extraction"
MAX_HTML_BYTES = 32 << 20
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "")
_HTTP_PARSER = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/2.0", "HTTP/0.9"], verify=False)


def _decompress(body: bytes, encoding: str) -> Optional[bytes]:
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


def record_to_page(
    url: str,
    date: str,
    block: BinaryIO,
    counters: Counter,
    extractor: str = html_text.DEFAULT_EXTRACTOR,
    max_page_length: Optional[int] = None,
) -> Optional[Page]:
    """One WARC response block (HTTP status line, headers, payload) → page, or None (counted)."""
    ns = SPLIT_WET_FILE
    if not url:
        counters[key(ns, "filtered:no_url")] += 1
        return None
    if not date:
        counters[key(ns, "filtered:no_timestamp")] += 1
        return None
    try:
        http = _HTTP_PARSER.parse(block)
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
    body = _decompress(body, http.get_header("Content-Encoding") or "")
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
        logger.warning("%s: text extraction failed (%s); record skipped", url, _short(e))
        return None
    if not text:
        counters[key(ns, "filtered:no_content")] += 1
        return None
    counters[key(ns, "passed")] += 1
    too_long = max_page_length is not None and len(text) > max_page_length
    counters[key(TOO_LONG, "filtered" if too_long else "passed")] += 1
    if too_long:
        counters[chars_key(TOO_LONG, "filtered")] += len(text)
        return None
    return Page(url=url, normalized_url=normalize_url(url), text=text, timestamp=date,
                content_length=str(len(text.encode("utf-8"))), content_type="text/plain")


def read_warc_pages(
    path: str,
    profile: Profile,
    counters: Counter,
    extractor: str = html_text.DEFAULT_EXTRACTOR,
    open_file: Callable[[str], BinaryIO] = open_input,
) -> Iterator[Page]:
    """Pages of the HTML response records of one WARC file (bad input counted, never raised)."""
    ns = SPLIT_WET_FILE
    state = {"records": 0, "errors": False}

    def on_event(kind: str, offset: int, detail: str) -> None:
        if kind == "bad_length":
            counters[key(ns, "bad-content-length")] += 1
            logger.warning("%s: record at offset %d: wrong Content-Length (%s)", path, offset, detail)
        elif kind == "unparseable":
            counters[key(ns, "unparseable-data")] += 1
            state["errors"] = True
            logger.error("%s: data at offset %d is not a WARC record (%s); skipping to the next record",
                         path, offset, detail)

    def records(stream, skip: int) -> Iterator[Page]:
        it = _WetArchiveIterator(stream, on_event)
        seen = 0
        while True:
            try:
                record = next(it)
            except StopIteration:
                return
            except _NonChunkedGzip:
                raise
            except Exception as e:  # noqa: BLE001 - warcio on bad data
                counters[key(ns, "read-error")] += 1
                state["errors"] = True
                logger.error("%s: unreadable data at offset %d: %s; file read up to it", path, it.offset, _short(e))
                return
            seen += 1
            if seen <= skip:
                continue
            state["records"] += 1
            if it.header_invalid_utf8:
                counters[key(ns, "filtered:invalid_utf8_record")] += 1
                continue
            if record.rec_type != "response":
                if record.rec_type not in ("warcinfo", "request", "metadata"):
                    counters[key(ns, "filtered:not_response")] += 1
                continue
            headers = record.rec_headers
            try:
                page = record_to_page(
                    headers.get_header("WARC-Target-URI") or "", (headers.get_header("WARC-Date") or "").strip(),
                    record.content_stream(), counters, extractor, profile.max_page_length)
            except html_text.ExtractorUnavailable:
                raise
            except READ_ERRORS as e:
                counters[key(ns, "filtered:truncated_record")] += 1
                counters[key(ns, "read-error")] += 1
                state["errors"] = True
                logger.error("%s: record at offset %d is cut off (%s); file read up to it", path, it.offset, _short(e))
                return
            if page is not None:
                yield page

    try:
        with _GuardedFile(open_file(path)) as f:
            try:
                yield from records(f, 0)
                done = True
            except _NonChunkedGzip:
                done = False
        if not done:
            counters[key(ns, "non-chunked-gzip")] += 1
            logger.warning("%s: gzip is not one member per record; reading it as one stream", path)
            read = state["records"]
            with _GuardedFile(open_file(path)) as f:
                yield from records(_ChunkStream(piece for _, _, piece in _gunzip_chunks(f)), read)
        if state["records"] == 0 and not state["errors"]:
            counters[key(ns, "skipped-file:no_records")] += 1
            logger.warning("%s: no WARC records", path)
    except html_text.ExtractorUnavailable:
        raise
    except READ_ERRORS as e:
        counters[key(ns, "skipped-file:unreadable")] += 1
        logger.error("%s: cannot read file: %s", path, _short(e))
    except Exception:  # noqa: BLE001 - a bug met on odd input must not end a long run
        counters[key(ns, "internal-error")] += 1
        logger.exception("%s: unexpected error; the rest of the file is skipped", path)
