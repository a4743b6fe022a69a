"""The two shard file formats: TFDS TFRecord shards and allenai/c4 JSONL.gz shards.

Each format names its shard files, encodes a page into one record, and writes a shard's
records (in the order given) to an open binary handle, returning the file's size and sha256
(for the build's manifest, computed as the bytes go out: the files are never read back).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import re
from typing import Any, BinaryIO, Iterable, NamedTuple, Union

from .example import example_bytes
from .jsonl import jsonl_line
from .tfrecord import TFRECORD_OVERHEAD_BYTES, frame_tfrecord


class WrittenFile(NamedTuple):
    bytes: int
    sha256: str


class _CountingWriter(io.RawIOBase):
    """Passes writes through, counting and hashing the bytes (the compressed ones, for gzip)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._hash = hashlib.sha256()
        self._bytes = 0

    def writable(self):
        return True

    def write(self, data):
        self._raw.write(data)
        self._hash.update(data)
        self._bytes += len(data)
        return len(data)

    def written(self) -> WrittenFile:
        return WrittenFile(self._bytes, self._hash.hexdigest())


@dataclasses.dataclass(frozen=True)
class TfrecordFormat:
    """TFDS shard files: ``<dataset>-<split>.tfrecord-00000-of-00004`` in the dataset dir."""

    directory: str
    dataset_name: str = "c4"
    kind = "tfrecord"
    overhead_bytes = TFRECORD_OVERHEAD_BYTES

    def encode(self, page: Any) -> bytes:
        return example_bytes(page)

    def file_name(self, split: str, index: int, count: int) -> str:
        return f"{self.dataset_name}-{split}.tfrecord-{index:05d}-of-{count:05d}"

    def shard_name_regex(self, split: str) -> re.Pattern:
        return re.compile(rf"{re.escape(self.dataset_name)}-{re.escape(split)}\.tfrecord-\d{{5,}}-of-\d{{5,}}")

    def write(self, handle: BinaryIO, records: Iterable[bytes]) -> WrittenFile:
        counter = _CountingWriter(handle)
        for record in records:
            counter.write(frame_tfrecord(record))
        return counter.written()


@dataclasses.dataclass(frozen=True)
class JsonlFormat:
    """allenai/c4 files: ``<prefix>-<split>.00000-of-01024.json.gz``. gzip with mtime 0, no
    file name in the header and a fixed level, so equal input gives equal bytes (with the
    same zlib)."""

    directory: str
    prefix: str = "c4"
    ensure_ascii: bool = False
    compresslevel: int = 6
    kind = "jsonl"
    overhead_bytes = 0

    def encode(self, page: Any) -> bytes:
        return jsonl_line(page, self.ensure_ascii)

    def file_name(self, split: str, index: int, count: int) -> str:
        return f"{self.prefix}-{split}.{index:05d}-of-{count:05d}.json.gz"

    def shard_name_regex(self, split: str) -> re.Pattern:
        return re.compile(rf"{re.escape(self.prefix)}-{re.escape(split)}\.\d{{5,}}-of-\d{{5,}}\.json\.gz")

    def write(self, handle: BinaryIO, records: Iterable[bytes]) -> WrittenFile:
        counter = _CountingWriter(handle)
        with gzip.GzipFile(filename="", mode="wb", fileobj=counter, compresslevel=self.compresslevel, mtime=0) as gz:
            for record in records:
                gz.write(record)
        return counter.written()


ShardFormat = Union[TfrecordFormat, JsonlFormat]
