"""Pages as compact bytes for the shuffles: the values of a shuffle are bytes, not pages.

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

from c4forge.cleaning_rules.page import Page

_FIELDS = ("url", "normalized_url", "text", "timestamp", "content_length", "content_type", "language")
_HEADER = struct.Struct(f"<{len(_FIELDS)}q")
_ENCODING, _ERRORS = "utf-8", "surrogatepass"


def encode_page(page: Page) -> bytes:
    language = page.language
    parts = [value.encode(_ENCODING, _ERRORS) for value in (
        page.url, page.normalized_url, page.text, page.timestamp, page.content_length, page.content_type,
        language or "")]
    header = _HEADER.pack(*map(len, parts[:-1]), -1 if language is None else len(parts[-1]))
    return header + b"".join(parts)


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
