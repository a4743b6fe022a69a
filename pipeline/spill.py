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

The files' layout (zlib chunks of framed records) is ``spill_format.py``'s.

``SpilledSortedRuns`` reads the same partitions but writes each key's values, sorted, as one
run: all runs of a partition go into one file, so the files number at most the partitions,
however many runs (the sinks ask for 64 per output shard). ``DeleteRunFilesAfter`` deletes
them once every run was read.

What each shuffle wrote and its largest group are Beam distributions in the namespace the
report's ``shuffle`` section reads (``spill/<label>/...``: per file its pickled bytes, what a
runner's shuffle would move, and its bytes on disk; per group its values and bytes).

Keys must pickle to the same bytes whenever they are equal (str, bytes, int and tuples of
them do), as Beam's GroupByKey needs deterministic key coders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pickle
import uuid
from typing import Iterator, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from .spill_format import (RUN_CHUNK_BYTES, delete_files, dir_name, grouped_values, read_records, record,
                           write_chunk, write_run_chunks)

PARTITION_TARGET_BYTES = 64 << 20  # decompressed text per partition: what one reader holds
WET_GZIP_EXPANSION = 2.5  # WET text / its gzip size (2.2-2.4 measured on real and generated WET)
MAX_PARTITIONS = 4096
SHUFFLE_METRICS = "c4forge-shuffle"  # the namespace build.shuffle_sizes reads (as dedup.SHUFFLE_METRICS)


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


class _FileMetrics:
    """Per file a shuffle writes: its pickled bytes (what a runner's shuffle would move) and its
    bytes on disk, as distributions (count = files, sum, max)."""

    def __init__(self, label: str):
        self._pickled = Metrics.distribution(SHUFFLE_METRICS, f"spill/{label}/file-pickled-bytes")
        self._on_disk = Metrics.distribution(SHUFFLE_METRICS, f"spill/{label}/file-disk-bytes")

    def written(self, pickled_bytes: int, disk_bytes: int) -> None:
        self._pickled.update(pickled_bytes)
        self._on_disk.update(disk_bytes)


class _GroupMetrics:
    """Per group a spilled shuffle hands on: its values and their pickled bytes (max = the
    largest group)."""

    def __init__(self, label: str):
        self._values = Metrics.distribution(SHUFFLE_METRICS, f"spill/{label}/group-values")
        self._bytes = Metrics.distribution(SHUFFLE_METRICS, f"spill/{label}/group-bytes")

    def grouped(self, value_bytes: list[bytes]) -> None:
        self._values.update(len(value_bytes))
        self._bytes.update(sum(map(len, value_bytes)))


class _WritePartitions(beam.DoFn):
    """(key, value) → appended to its partition's file; emits (partition, path) per file
    written in the bundle. ``tag_index`` marks values of one CoGroupByKey input."""

    def __init__(self, spill: SpillConfig, label: str, tag_index: Optional[int] = None,
                 buffer_bytes: int = 32 << 20):
        self._spill = spill
        self._label = label
        self._tag_index = tag_index
        self._buffer_bytes = buffer_bytes  # bounds the bundle's memory, whatever P
        self._metrics = _FileMetrics(label)

    def start_bundle(self):
        self._bundle_dir = os.path.join(self._spill.directory, dir_name(self._label), uuid.uuid4().hex)
        self._pending: dict[int, list[bytes]] = {}
        self._pending_bytes = 0
        self._written: dict[int, list[int]] = {}  # partition: [pickled bytes, bytes on disk]

    def process(self, key_value):
        key, value = key_value
        key_bytes = pickle.dumps(key, protocol=pickle.HIGHEST_PROTOCOL)
        if self._tag_index is not None:
            value = (self._tag_index, value)
        value_bytes = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        framed = record(key_bytes, value_bytes)
        self._pending.setdefault(partition_of(key_bytes, self._spill.partitions), []).append(framed)
        self._pending_bytes += len(framed)
        if self._pending_bytes >= self._buffer_bytes:
            self._flush()

    def finish_bundle(self):
        self._flush()
        for partition, (pickled_bytes, disk_bytes) in sorted(self._written.items()):
            self._metrics.written(pickled_bytes, disk_bytes)
            yield GlobalWindows.windowed_value((partition, self._path(partition)))

    def _path(self, partition: int) -> str:
        return os.path.join(self._bundle_dir, f"part-{partition:05d}")

    def _flush(self):
        if not self._pending:
            return
        os.makedirs(self._bundle_dir, exist_ok=True)
        for partition, records in sorted(self._pending.items()):
            with open(self._path(partition), "ab") as f:
                disk_bytes = write_chunk(f, records)
            sizes = self._written.setdefault(partition, [0, 0])
            sizes[0] += sum(map(len, records))
            sizes[1] += disk_bytes
        self._pending, self._pending_bytes = {}, 0


class _ReadPartitions(beam.DoFn):
    """(partition, [paths]) → (key, [values]) per key, or with ``tags`` (key, {tag: [values]})."""

    def __init__(self, tags: Optional[tuple] = None, label: str = "shuffle"):
        self._tags = tags
        self._metrics = _GroupMetrics(label)

    def process(self, partition_and_paths):
        _, paths = partition_and_paths
        paths = sorted(set(paths))
        groups = grouped_values(paths)
        while groups:
            key_bytes, value_bytes = groups.popitem()
            self._metrics.grouped(value_bytes)
            values = [pickle.loads(v) for v in value_bytes]
            del value_bytes
            if self._tags is None:
                yield pickle.loads(key_bytes), values
            else:
                by_tag = {tag: [] for tag in self._tags}
                for tag_index, value in values:
                    by_tag[self._tags[tag_index]].append(value)
                yield pickle.loads(key_bytes), by_tag
        delete_files(paths)


@dataclasses.dataclass(frozen=True)
class RunRange:
    """Where one sorted run lies: bytes ``start`` to ``end`` of the run file ``path``."""

    path: str
    start: int
    end: int


def read_run(run: RunRange) -> Iterator[bytes]:
    """The records of one sorted run, in order (the file is deleted by ``DeleteRunFilesAfter``)."""
    for element, _ in read_records(run.path, run.start, run.end):
        yield element


class _WriteSortedRuns(beam.DoFn):
    """(partition, [paths]) of (run key, (sort key, record bytes)) → (run key, RunRange) per run:
    each run's records sorted by (sort key, record), the partition's runs one after another in
    one file."""

    def __init__(self, spill: SpillConfig, label: str, chunk_bytes: int = RUN_CHUNK_BYTES):
        self._spill = spill
        self._label = label
        self._chunk_bytes = chunk_bytes
        self._groups = _GroupMetrics(label)
        self._files = _FileMetrics(f"{label}/runs")

    def process(self, partition_and_paths):
        partition, paths = partition_and_paths
        paths = sorted(set(paths))
        groups = grouped_values(paths)
        directory = os.path.join(self._spill.directory, dir_name(self._label), "runs")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"runs-{partition:05d}-{uuid.uuid4().hex}")
        runs, pickled_bytes = [], 0
        with open(path, "wb") as f:
            while groups:
                key_bytes, value_bytes = groups.popitem()
                self._groups.grouped(value_bytes)
                in_order = (element for _, element in sorted(pickle.loads(v) for v in value_bytes))
                del value_bytes
                start = f.tell()
                pickled_bytes += write_run_chunks(f, in_order, self._chunk_bytes)
                runs.append((pickle.loads(key_bytes), RunRange(path, start, f.tell())))
            disk_bytes = f.tell()
        self._files.written(pickled_bytes, disk_bytes)
        delete_files(paths)
        yield from runs  # after the file is closed


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
        return _read_after_all_written(files, _ReadPartitions(label=self.label))


class SpilledCoGroupByKey(beam.PTransform):
    """``beam.CoGroupByKey()`` of a dict {tag: PCollection} through files: (key, {tag: [values]})."""

    def __init__(self, spill: SpillConfig):
        super().__init__()
        self._spill = spill

    def expand(self, tagged):
        tags = tuple(tagged)
        files = [
            tagged[tag] | f"WritePartitions[{tag}]" >> beam.ParDo(
                _WritePartitions(self._spill, f"{self.label}[{tag}]", index))
            for index, tag in enumerate(tags)
        ]
        return _read_after_all_written(files | "AllPartitionFiles" >> beam.Flatten(),
                                       _ReadPartitions(tags, label=self.label))


class _ReadSpilledElements(beam.DoFn):
    """(partition, [paths]) → every element written, one at a time; then deletes the files."""

    def process(self, partition_and_paths):
        _, paths = partition_and_paths
        paths = sorted(set(paths))
        for path in paths:
            for element_bytes, _ in read_records(path):
                yield pickle.loads(element_bytes)
        delete_files(paths)


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


class SpilledSortedRuns(beam.PTransform):
    """(run key, (sort key, record bytes)) → (run key, RunRange): the run's records sorted, in
    a file of its spill partition. Files: at most the partitions, however many runs. The files
    stay until ``DeleteRunFilesAfter``."""

    def __init__(self, spill: SpillConfig):
        super().__init__()
        self._spill = spill

    def expand(self, pcoll):
        files = pcoll | "WritePartitions" >> beam.ParDo(_WritePartitions(self._spill, self.label))
        return _read_after_all_written(files, _WriteSortedRuns(self._spill, self.label))


def _delete_run_files(done, paths):
    delete_files(sorted(paths))
    return done


class DeleteRunFilesAfter(beam.PTransform):
    """``done`` (one element, e.g. every shard written) passed on once computed, after the run
    files of ``runs`` ((run key, RunRange) elements) are deleted: a file holds the runs of many
    shards, so it can go only when all of them were read."""

    def __init__(self, runs):
        super().__init__()
        self._runs = runs

    def expand(self, done):
        paths = (self._runs
                 | "RunFiles" >> beam.Map(lambda key_and_run: key_and_run[1].path)
                 | "AllRunFiles" >> beam.combiners.ToSet())
        return done | "DeleteRunFiles" >> beam.Map(_delete_run_files, paths=beam.pvalue.AsSingleton(paths))


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
