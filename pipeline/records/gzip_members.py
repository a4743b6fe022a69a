"""Whole-file decompression, for the UTF-8 check and for non-chunked gzip: gzip members
decoded in bounded pieces, and a read-only file over those pieces.

Memory does not grow with file size: the file is read in small pieces and decompressed
output comes ``CHUNK_BYTES`` at a time at most.

Inflating is zlib's (Python's gzip module, which TFDS reads with), or, where a caller asks for
it and the ``isal`` package is installed, Intel ISA-L's (``FAST_INFLATE``): about 1.8 times
faster on WET members, the same bytes for every valid member. On broken data the two differ
(ISA-L hands out slightly less before an error, and reports other errors), and ISA-L accepts a
gzip header with reserved flag bits, which zlib refuses; so ISA-L is used only to find out
that a file is valid, and any other outcome is decided again with zlib (``utf8.check_utf8``).
"""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO, Callable, Iterator, Optional

from .read_errors import READ_ERRORS, InputCutOff

try:
    from isal import isal_zlib as FAST_INFLATE
except ImportError:  # an install without it inflates with zlib alone
    FAST_INFLATE = None

CHUNK_BYTES = 1 << 20
# Compressed data is read in smaller pieces: each gzip member that ends inside a piece
# copies the rest of the piece (zlib's unused_data), and a WET file has one per record.
GZIP_READ_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"
GZIP_RESERVED_FLAGS = 0xE0  # zlib refuses a header that sets them; ISA-L does not


class FastInflateRefused(Exception):
    """ISA-L was asked to inflate a member whose header zlib would refuse (see above)."""


def gunzip_chunks(raw: BinaryIO, on_padding: Optional[Callable[[], None]] = None, inflate=zlib
                  ) -> Iterator[tuple[Optional[int], int, bytes]]:
    """Decompressed pieces of at most CHUNK_BYTES as (compressed offset of their gzip member,
    decompressed offset where that member starts, data); a file that does not start with
    the gzip magic is passed through with member offset None. Like Python's gzip module
    (which TFDS reads with): members are concatenated, zero padding between them is
    allowed, anything else raises. A member cut off by the end of the file raises
    InputCutOff. ``on_padding()`` is called where zero padding follows a member.
    ``inflate``: zlib, or ``FAST_INFLATE`` (its errors are its own; a header with reserved flag
    bits raises FastInflateRefused).
    """
    read_bytes = min(CHUNK_BYTES, GZIP_READ_BYTES)
    data = raw.read(read_bytes)
    while 0 < len(data) < 2:  # enough to see the magic, whatever CHUNK_BYTES is
        more = raw.read(read_bytes)
        if not more:
            break
        data += more
    out_pos = 0
    if data[:2] != GZIP_MAGIC:
        while data:
            yield None, 0, data
            data = raw.read(CHUNK_BYTES)
        return
    in_pos = 0  # compressed offset of data[0]
    while True:
        member_at, member_out = in_pos, out_pos
        if inflate is not zlib:
            while len(data) < 4:  # the header's flags byte
                more = raw.read(read_bytes)
                if not more:
                    raise FastInflateRefused(f"gzip member at offset {member_at} is cut off in its header")
                data += more
            if data[3] & GZIP_RESERVED_FLAGS:
                raise FastInflateRefused(f"gzip member at offset {member_at} sets reserved header flags")
        d = inflate.decompressobj(16 + zlib.MAX_WBITS)
        while True:
            out = d.decompress(data, CHUNK_BYTES)
            rest = d.unused_data if d.eof else d.unconsumed_tail
            in_pos += len(data) - len(rest)
            data = rest
            if out:
                out_pos += len(out)
                yield member_at, member_out, out
            if d.eof:
                break
            if not data and len(out) < CHUNK_BYTES:  # a full piece may have more pending
                data = raw.read(read_bytes)
                if not data:
                    raise InputCutOff(f"gzip member at offset {member_at} is cut off by the end of the file")
        while True:  # zero padding, then the next member or the end
            stripped = data.lstrip(b"\x00")
            if on_padding is not None and len(stripped) < len(data):
                on_padding()
            in_pos += len(data) - len(stripped)
            data = stripped
            if len(data) >= 2:
                break
            more = raw.read(read_bytes)
            if not more:
                break
            data += more
        if not data:
            return
        if data[:2] != GZIP_MAGIC:
            raise gzip.BadGzipFile(f"data after the gzip member ending at offset {in_pos} is not gzip")


class ChunkStream:
    """A read-only file over an iterator of byte strings (decompressed pieces). A read
    error of the iterator is raised once the data before it has been read."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""
        self._at = 0  # read position in _buf
        self._pos = 0  # bytes handed out
        self._error: Optional[BaseException] = None  # raised once the data before it is read

    def read(self, size: int = -1) -> bytes:
        parts = []
        want = size if size is not None and size >= 0 else None
        while want is None or want > 0:
            if self._at >= len(self._buf):
                if self._error is not None:
                    if parts:
                        break
                    error, self._error = self._error, None
                    raise error
                try:
                    self._buf, self._at = next(self._chunks, b""), 0
                except READ_ERRORS as e:
                    self._buf, self._at, self._error = b"", 0, e
                    continue
                if not self._buf:
                    break
            end = len(self._buf) if want is None else min(len(self._buf), self._at + want)
            parts.append(self._buf[self._at:end])
            if want is not None:
                want -= end - self._at
            self._at = end
        out = b"".join(parts)
        self._pos += len(out)
        return out

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._chunks = iter(())


def decompressed_stream(raw: BinaryIO) -> ChunkStream:
    """The whole file, gzip members decompressed (or as is, if not gzip), as one stream."""
    return ChunkStream(piece for _, _, piece in gunzip_chunks(raw))
