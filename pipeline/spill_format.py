"""The files of ``--spill-dir`` (``pipeline/spill.py``): how records lie in them, read back whole
or as a byte range, and deleted once read. No Beam here.

A file is a sequence of chunks: an 8-byte length, then that many bytes of zlib (level 1: the
files live for one build). A chunk holds records, each a 16-byte header (key bytes, value
bytes) and the two byte strings. A sorted run is a range of whole chunks whose records have
the run's elements as keys and empty values.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Iterable, Iterator, Optional

RECORD_HEADER = struct.Struct("<QQ")  # key bytes, value bytes
CHUNK_HEADER = struct.Struct("<Q")  # compressed bytes of the chunk that follows
RUN_CHUNK_BYTES = 8 << 20  # a sorted run is written in chunks of about this many bytes


def dir_name(label: str) -> str:
    """A transform's label as a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "shuffle"


def record(key_bytes: bytes, value_bytes: bytes = b"") -> bytes:
    return RECORD_HEADER.pack(len(key_bytes), len(value_bytes)) + key_bytes + value_bytes


def write_chunk(f, records: list[bytes]) -> int:
    """Framed records as one zlib chunk; returns the bytes written."""
    chunk = zlib.compress(b"".join(records), 1)
    f.write(CHUNK_HEADER.pack(len(chunk)) + chunk)
    return CHUNK_HEADER.size + len(chunk)


def write_run_chunks(f, elements: Iterable[bytes], chunk_bytes: int = RUN_CHUNK_BYTES) -> int:
    """``elements`` (bytes, in order) as records in chunks of about ``chunk_bytes``; returns
    the framed bytes before compression."""
    pending, pending_bytes, framed_bytes = [], 0, 0
    for element in elements:
        pending.append(record(element))
        pending_bytes += len(pending[-1])
        if pending_bytes >= chunk_bytes:
            write_chunk(f, pending)
            framed_bytes, pending, pending_bytes = framed_bytes + pending_bytes, [], 0
    if pending:
        write_chunk(f, pending)
    return framed_bytes + pending_bytes


def read_records(path: str, start: int = 0, end: Optional[int] = None) -> Iterator[tuple[bytes, bytes]]:
    """(key bytes, value bytes) of a whole file, or of its chunks from byte ``start`` to ``end``."""
    with open(path, "rb") as f:
        f.seek(start)
        while end is None or f.tell() < end:
            header = f.read(CHUNK_HEADER.size)
            if not header:
                return
            (size,) = CHUNK_HEADER.unpack(header)
            data = memoryview(zlib.decompress(f.read(size)))
            offset = 0
            while offset < len(data):
                key_size, value_size = RECORD_HEADER.unpack_from(data, offset)
                offset += RECORD_HEADER.size
                yield bytes(data[offset:offset + key_size]), bytes(data[offset + key_size:offset + key_size + value_size])
                offset += key_size + value_size


def grouped_values(paths: Iterable[str]) -> dict[bytes, list[bytes]]:
    """The records of one partition's files as {key bytes: [value bytes]}. Values stay pickled
    until their key is handed on: the partition is held in its compact form."""
    groups: dict[bytes, list[bytes]] = {}
    for path in paths:
        for key_bytes, value_bytes in read_records(path):
            groups.setdefault(key_bytes, []).append(value_bytes)
    return groups


def delete_files(paths: Iterable[str]) -> None:
    for path in paths:
        os.remove(path)
        try:
            os.rmdir(os.path.dirname(path))  # the bundle's directory, once its last file is read
        except OSError:
            pass
