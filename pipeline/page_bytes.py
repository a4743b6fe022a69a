"""Pages as compact bytes for the shuffles that encode their values: there a shuffle's values
are bytes, not pages (line dedup's in-process shuffle passes its pages by reference instead,
``pipeline/dedup.py``).

A page crossing a shuffle on the local runners is encoded and decoded twice (the producer
encodes, the runner's grouping buffer decodes, re-encodes for the consumer, which decodes);
as a pickled ``Page`` that is Beam's fallback coder each time. As bytes made here once
before the shuffle and read once after it, the runner only copies bytes.

Layout: a header of the fields' UTF-8 lengths in bytes (``language`` None: -1), then the
fields' UTF-8 bytes in order (``surrogatepass``: any ``str`` round-trips). Equal pages give
equal bytes.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, Optional, Union

from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.urls import normalize_url

_FIELDS = ("url", "normalized_url", "text", "timestamp", "content_length", "content_type", "language")
_HEADER = struct.Struct(f"<{len(_FIELDS)}q")
_ENCODING, _ERRORS = "utf-8", "surrogatepass"


def encode_page(page: Page) -> bytes:
    return _encoded(page.url, page.normalized_url, page.text.encode(_ENCODING, _ERRORS), page.timestamp,
                    page.content_length, page.content_type, page.language)


def _encoded(url: str, normalized_url: str, text_utf8: bytes, timestamp: str, content_length: str,
             content_type: str, language: Optional[str]) -> bytes:
    parts = [b"", url.encode(_ENCODING, _ERRORS), normalized_url.encode(_ENCODING, _ERRORS), text_utf8,
             *(value.encode(_ENCODING, _ERRORS) for value in (timestamp, content_length, content_type, language or ""))]
    parts[0] = _HEADER.pack(*map(len, parts[1:-1]), -1 if language is None else len(parts[-1]))
    return b"".join(parts)


class RawPage(NamedTuple):
    """A page whose text is still its WET record's body, as UTF-8 bytes: a plain record's page
    on its way to URL dedup's shuffle, where it travels as ``encode_page``'s bytes anyway. Its
    text is decoded once, after the shuffle, instead of once by the reader and once there; and
    never encoded. ``text_utf8`` is valid UTF-8 (the file passed the strict check)."""

    url: str
    normalized_url: str
    timestamp: str
    content_length: str
    content_type: str
    text_utf8: bytes

    @classmethod
    def of_record(cls, fields: dict[str, str], body: bytes) -> "RawPage":
        """The page of a record whose headers gave ``fields`` (url, timestamp, content_length,
        content_type) and whose body is its text, as the reader's draft would make it."""
        url = fields["url"]
        return cls(url, normalize_url(url) if url else "", fields["timestamp"], fields["content_length"],
                   fields["content_type"], body)

    def page(self) -> Page:
        return Page(url=self.url, normalized_url=self.normalized_url, text=self.text_utf8.decode(_ENCODING),
                    timestamp=self.timestamp, content_length=self.content_length, content_type=self.content_type)

    def encoded(self) -> bytes:
        """``encode_page(self.page())``, without decoding the text."""
        return _encoded(self.url, self.normalized_url, self.text_utf8, self.timestamp, self.content_length,
                        self.content_type, None)


AnyPage = Union[Page, RawPage]


def as_page(page: AnyPage) -> Page:
    return page.page() if isinstance(page, RawPage) else page


def encode_any_page(page: AnyPage) -> bytes:
    return page.encoded() if isinstance(page, RawPage) else encode_page(page)


def decode_page(data: bytes) -> Page:
    values, start = [], _HEADER.size
    view = memoryview(data)
    for n in _HEADER.unpack_from(data):
        if n < 0:
            values.append(None)
        else:
            values.append(str(view[start:start + n], _ENCODING, _ERRORS))
            start += n
    return Page(*values)
