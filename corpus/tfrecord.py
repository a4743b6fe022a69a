"""TFRecord files: framing, checksum and reading, without TensorFlow."""

from __future__ import annotations

import struct
from typing import BinaryIO, Iterator

from .opener import Opener, open_local

TFRECORD_OVERHEAD_BYTES = 16  # length (8) + crc of length (4) + crc of data (4)


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: crc32c rotated right by 15 bits plus a constant."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_tfrecord(data: bytes) -> bytes:
    """TFRecord framing: uint64 LE length, masked crc32c of it, data, masked crc32c of data."""
    length = struct.pack("<Q", len(data))
    return b"".join(
        [length, struct.pack("<I", masked_crc32c(length)), data, struct.pack("<I", masked_crc32c(data))]
    )


def _read_exactly(handle: BinaryIO, size: int, path: str, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise ValueError(f"{path}: truncated TFRecord ({what}: wanted {size} bytes, got {len(data)})")
    return data


def iter_tfrecords(path: str, verify_crc: bool = True, opener: Opener = open_local) -> Iterator[bytes]:
    """The records of a TFRecord file (uncompressed), checking both CRCs."""
    with opener(path) as handle:
        while True:
            header = handle.read(12)
            if not header:
                return
            if len(header) != 12:
                raise ValueError(f"{path}: truncated TFRecord header")
            length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
            if verify_crc and masked_crc32c(length_bytes) != length_crc:
                raise ValueError(f"{path}: corrupt TFRecord length (crc mismatch)")
            (length,) = struct.unpack("<Q", length_bytes)
            data = _read_exactly(handle, length, path, "data")
            (data_crc,) = struct.unpack("<I", _read_exactly(handle, 4, path, "data crc"))
            if verify_crc and masked_crc32c(data) != data_crc:
                raise ValueError(f"{path}: corrupt TFRecord data (crc mismatch)")
            yield data
