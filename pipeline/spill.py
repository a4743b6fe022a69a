"""Disk-backed GroupByKey and CoGroupByKey for the local runner (``c4forge build --spill-dir``).

Beam's FnApiRunner holds every GroupByKey's data in memory, so a local build's peak memory
grows with its input (C4's URL and line dedup shuffle every page). The transforms here are
drop-in replacements that shuffle through files instead:

1. ``_WritePartitions``: each (key, value) is pickled and appended to one of P partition
   files chosen by md5 of the pickled key (stable across processes, unlike ``hash()``);
   a bundle buffers a bounded number of bytes and appends them as zlib chunks, then emits
   only (partition, path) references.
2. A real GroupByKey of those references: small, and the barrier (every writer has closed
   its files before any reader starts).
3. ``_ReadPartitions``: per partition, its files' records grouped by key, emitted as
   GroupByKey does ((key, [values]); CoGroupByKey: (key, {tag: [values]})); then the files
   are deleted. Memory: one partition, not the whole shuffle.

Keys must pickle to the same bytes whenever they are equal (str, bytes, int and tuples of
them do), as Beam's GroupByKey needs deterministic key coders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pickle
import re
import struct
import uuid
import zlib
from typing import Iterable, Iterator, Optional

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

PARTITION_TARGET_BYTES = 64 << 20  # decompressed text per partition: what one reader holds
WET_GZIP_EXPANSION = 2.5  # WET text / its gzip size (2.2-2.4 measured on real and generated WET)
MAX_PARTITIONS = 4096
_RECORD_HEADER = struct.Struct("<QQ")  # key bytes, value bytes
_CHUNK_HEADER = struct.Struct("<Q")  # compressed bytes of the chunk that follows


@dataclasses.dataclass(frozen=True)
class SpillConfig:
    """Where shuffles spill (a local directory, one per run) and into how many partitions."""

    directory: str
    partitions: int

    def __post_init__(self):
        if self.partitions < 1:
            raise ValueError(f"spill partitions must be >= 1, got {self.partitions}")


def partitions_for_input(input_bytes: int, target_bytes: int = PARTITION_TARGET_BYTES) -> int:
    """P such that one partition of a shuffle of all pages holds about ``target_bytes`` of text:
    P grows with the input, so a partition, and with it the peak memory, does not."""
    return min(max(1, math.ceil(input_bytes * WET_GZIP_EXPANSION / target_bytes)), MAX_PARTITIONS)


def partition_of(key_bytes: bytes, partitions: int) -> int:
    return int.from_bytes(hashlib.md5(key_bytes).digest()[:8], "big") % partitions


def _dir_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "shuffle"


class _WritePartitions(beam.DoFn):
    """(key, value) → appended to its partition's file; emits (partition, path) per file
    written in the bundle. ``tag_index`` marks values of one CoGroupByKey input."""

    def __init__(self, spill: SpillConfig, label: str, tag_index: Optional[int] = None,
                 buffer_bytes: int = 32 << 20):
        self._spill = spill
        self._label = label
        self._tag_index = tag_index
        self._buffer_bytes = buffer_bytes  # bounds the bundle's memory, whatever P

    def start_bundle(self):
        self._bundle_dir = os.path.join(self._spill.directory, _dir_name(self._label), uuid.uuid4().hex)
        self._pending: dict[int, list[bytes]] = {}
        self._pending_bytes = 0
        self._written: set[int] = set()

    def process(self, key_value):
        key, value = key_value
        key_bytes = pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL)
        if self._tag_index is not None:
            value = (self._tag_index, value)
        value_bytes = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        record = _RECORD_HEADER.pack(len(key_bytes), len(value_bytes)) + key_bytes + value_bytes
        self._pending.setdefault(partition_of(key_bytes, self._spill.partitions), []).append(record)
        self._pending_bytes += len(record)
        if self._pending_bytes >= self._buffer_bytes:
            self._flush()

    def finish_bundle(self):
        self._flush()
        for partition in sorted(self._written):
            yield GlobalWindows.windowed_value((partition, self._path(partition)))

    def _path(self, partition: int) -> str:
        return os.path.join(self._bundle_dir, f"part-{partition:05d}")

    def _flush(self):
        if not self._pending:
            return
        os.makedirs(self._bundle_dir, exist_ok=True)
        for partition, records in sorted(self._pending.items()):
            with open(self._path(partition), "ab") as f:
                _write_chunk(f, records)
            self._written.add(partition)
        self._pending, self._pending_bytes = {}, 0


def _read_records(path: str) -> Iterator[tuple[bytes, bytes]]:
    """(key bytes, value bytes) of one partition file, chunk by chunk."""
    with open(path, "rb") as f:
        while True:
            header = f.read(_CHUNK_HEADER.size)
            if not header:
                return
            (size,) = _CHUNK_HEADER.unpack(header)
            data = memoryview(zlib.decompress(f.read(size)))
            offset = 0
            while offset < len(data):
                key_size, value_size = _RECORD_HEADER.unpack_from(data, offset)
                offset += _RECORD_HEADER.size
                yield bytes(data[offset:offset + key_size]), bytes(data[offset + key_size:offset + key_size + value_size])
                offset += key_size + value_size


def write_run(spill: SpillConfig, label: str, records: Iterable[bytes], chunk_bytes: int = 8 << 20) -> str:
    """``records`` (bytes, in order) into a new file under the spill directory; its path."""
    directory = os.path.join(spill.directory, _dir_name(label))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, uuid.uuid4().hex)
    with open(path, "wb") as f:
        pending, pending_bytes = [], 0
        for record in records:
            pending.append(_RECORD_HEADER.pack(len(record), 0) + record)
            pending_bytes += len(record)
            if pending_bytes >= chunk_bytes:
                _write_chunk(f, pending)
                pending, pending_bytes = [], 0
        if pending:
            _write_chunk(f, pending)
    return path


def read_run(path: str) -> Iterator[bytes]:
    """The records of a ``write_run`` file, in order; the file is deleted once read."""
    for record, _ in _read_records(path):
        yield record
    os.remove(path)


def _write_chunk(f, records: list[bytes]) -> None:
    chunk = zlib.compress(b"".join(records), 1)
    f.write(_CHUNK_HEADER.pack(len(chunk)) + chunk)


def _delete_files(paths) -> None:
    for path in paths:
        os.remove(path)
        try:
            os.rmdir(os.path.dirname(path))  # the bundle's directory, once its last file is read
        except OSError:
            pass


class _ReadPartitions(beam.DoFn):
    """(partition, [paths]) → (key, [values]) per key, or with ``tags`` (key, {tag: [values]})."""

    def __init__(self, tags: Optional[tuple] = None):
        self._tags = tags

    def process(self, partition_and_paths):
        _, paths = partition_and_paths
        paths = sorted(set(paths))
        groups: dict[bytes, list[bytes]] = {}
        for path in paths:
            for key_bytes, value_bytes in _read_records(path):
                groups.setdefault(key_bytes, []).append(value_bytes)
        # Values stay pickled until their key is emitted: the partition is held in its compact form.
        while groups:
            key_bytes, value_bytes = groups.popitem()
            values = [pickle.loads(v) for v in value_bytes]
            del value_bytes
            if self._tags is None:
                yield pickle.loads(key_bytes), values
            else:
                by_tag = {tag: [] for tag in self._tags}
                for tag_index, value in values:
                    by_tag[self._tags[tag_index]].append(value)
                yield pickle.loads(key_bytes), by_tag
        _delete_files(paths)


def _read_after_all_written(partition_files, reader: beam.DoFn):
    """(partition, path) references → ``reader`` per partition. Grouping the references is
    the barrier: no partition is read before every writer has closed its files."""
    return (partition_files
            | "GroupPartitionFiles" >> beam.GroupByKey()
            | "ReadPartitions" >> beam.ParDo(reader))


class SpilledGroupByKey(beam.PTransform):
    """``beam.GroupByKey()`` through files under ``spill.directory``."""

    def __init__(self, spill: SpillConfig):
        super().__init__()
        self._spill = spill

    def expand(self, pcoll):
        files = pcoll | "WritePartitions" >> beam.ParDo(_WritePartitions(self._spill, self.label))
        return _read_after_all_written(files, _ReadPartitions())


class SpilledCoGroupByKey(beam.PTransform):
    """``beam.CoGroupByKey()`` of a dict {tag: PCollection} through files: (key, {tag: [values]})."""

    def __init__(self, spill: SpillConfig):
        super().__init__()
        self._spill = spill

    def expand(self, tagged):
        tags = tuple(tagged)
        files = [
            tagged[tag] | f"WritePartitions[{tag}]" >> beam.ParDo(_WritePartitions(self._spill, self.label, index))
            for index, tag in enumerate(tags)
        ]
        return _read_after_all_written(files | "AllPartitionFiles" >> beam.Flatten(), _ReadPartitions(tags))


class _ReadSpilledElements(beam.DoFn):
    """(partition, [paths]) → every element written, one at a time; then deletes the files."""

    def process(self, partition_and_paths):
        _, paths = partition_and_paths
        paths = sorted(set(paths))
        for path in paths:
            for element_bytes, _ in _read_records(path):
                yield pickle.loads(element_bytes)
        _delete_files(paths)


class SpilledMaterialize(beam.PTransform):
    """The same elements, passed through files: for a PCollection that a later stage reads
    (e.g. one waiting for a side input computed from it), which the local runner would
    otherwise buffer whole in memory. Elements are spread over partitions by their md5."""

    def __init__(self, spill: SpillConfig):
        super().__init__()
        self._spill = spill

    def expand(self, pcoll):
        files = (pcoll
                 | "AsKeys" >> beam.Map(lambda element: (element, None))
                 | "WritePartitions" >> beam.ParDo(_WritePartitions(self._spill, self.label)))
        return _read_after_all_written(files, _ReadSpilledElements())


def group_by_key(spill: Optional[SpillConfig]) -> beam.PTransform:
    """Beam's GroupByKey, or with a spill config the disk-backed one."""
    return beam.GroupByKey() if spill is None else SpilledGroupByKey(spill)


def co_group_by_key(spill: Optional[SpillConfig]) -> beam.PTransform:
    return beam.CoGroupByKey() if spill is None else SpilledCoGroupByKey(spill)


LOCAL_RUNNERS = ("directrunner", "fnapirunner", "bundlebaseddirectrunner", "switchingdirectrunner", "prismrunner")


def refuse_unless_local_runner(runner: Optional[str], job_endpoint: Optional[str]) -> Optional[str]:
    """A one-line reason why --spill-dir does not apply to this runner, or None when it does."""
    name = (runner or "DirectRunner").rsplit(".", 1)[-1]
    if name.lower() in LOCAL_RUNNERS:
        return None
    if name.lower() == "portablerunner" and (job_endpoint or "embed") == "embed":
        return None
    return (f"--spill-dir is for the local runner (FnApiRunner/DirectRunner); {name}'s shuffle already spills "
            f"to disk: drop --spill-dir")
