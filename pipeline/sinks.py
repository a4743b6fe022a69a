"""Writing the final corpus with Beam: a TFDS dataset directory of TFRecords, and allenai-style
JSONL.gz.

Both sinks take a PCollection of ``(split_name, page)`` and share one sharded write: the
sharding scheme of TFDS's ``BeamWriter`` (``c4forge.corpus.sharding``) with the number of
buckets computed in the pipeline (a per-split combine used as side input), and one shard
writer however the shards are grouped (``shuffle``: by the runner, by reference in this
process, or through files when the build spills).
The record bytes and file formats are ``c4forge.corpus``'s.

Layouts::

    WriteTfdsDataset:  <output_dir>/<name>/<config>/<version>/
                           <name>-<split>.tfrecord-00000-of-00004   (TFRecord of tf.train.Example)
                           features.json, dataset_info.json          (written last, by a worker)
    WriteJsonlSplits:  <output_dir>/<prefix>-<split>.00000-of-00004.json.gz

A split without examples gets no files, and is left out of ``dataset_info.json`` (see
``c4forge.corpus.tfds_metadata`` for why). The summaries the sinks return still list it,
with zero examples.

Every file is written atomically (``files.atomic_create``); the final step deletes temporary
leftovers and shards of these splits from an earlier run with another shard count. All I/O
goes through Beam's ``FileSystems`` (local, gs://, s3://); a build writes into its staging
folder (``publish.py``).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from c4forge.corpus.example import SPLITS, example_features
from c4forge.corpus.formats import JsonlFormat, ShardFormat, TfrecordFormat
from c4forge.corpus.manifest import sha256_of
from c4forge.corpus.sharding import NumShards, Sharding, bucket_of, shuffle_key
from c4forge.corpus.tfds_metadata import (
    C4_CITATION, C4_CONFIG_DESCRIPTIONS, C4_DESCRIPTION, C4_HOMEPAGE, C4_MODULE_NAME, SplitShardLengths, TfdsMetadata,
    tfds_metadata_files,
)

from . import spill as spill_lib
from .doc_lengths import SINK_NAMESPACE, counter_name as length_counter_name
from .faults import fault_point
from .files import INCOMPLETE_MARK, atomic_create, base_name, delete_quietly, list_files, write_file_atomically
from .shuffle import RUNNERS_OWN, Shuffle

logger = logging.getLogger(__name__)

COUNTER_NAMESPACE = SINK_NAMESPACE
RUNS_PER_SHARD = 64  # --spill-dir: a shard is sorted in this many key ranges, one in memory at a time


# --- The shared sharded write -------------------------------------------------


class _SplitStats(beam.CombineFn):
    """Per split: (number of examples, serialized bytes, largest shuffle key)."""

    def create_accumulator(self):
        return (0, 0, b"")

    def add_input(self, acc, key_record):
        key, record = key_record
        return (acc[0] + 1, acc[1] + len(record), max(acc[2], key))

    def merge_accumulators(self, accs):
        accs = list(accs)
        return (sum(a[0] for a in accs), sum(a[1] for a in accs), max(a[2] for a in accs))

    def extract_output(self, acc):
        return acc


@dataclasses.dataclass(frozen=True)
class ShardResult:
    split: str
    index: int
    num_shards: int
    num_examples: int
    num_bytes: int  # serialized records, without framing or compression (TFDS's num_bytes)
    file_bytes: int
    sha256: str  # of the file, for the build's manifest
    path: str


def _keyed_record(split_page, fmt: ShardFormat):
    split, page = split_page
    features = example_features(page)
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, length_counter_name(fmt.kind, split, len(features["text"]))).inc()
    return split, (shuffle_key(split, features["url"]), fmt.encode(features))


def _plan(split_stats, sharding: Sharding, overhead_bytes: int):
    split, (num_examples, total_bytes, largest_key) = split_stats
    buckets = sharding.number_of_buckets(split, num_examples, total_bytes, overhead_bytes)
    return split, (buckets, largest_key)


def _assign_bucket(split_keyed_record, plans):
    split, (key, record) = split_keyed_record
    num_buckets, largest_key = plans[split]
    return (split, bucket_of(key, num_buckets, largest_key)), (key, record)


def _assign_bucket_and_run(split_keyed_record, plans):
    """((split, bucket, run), (key, record)): ``run`` never decreases as ``key`` grows
    (the same monotone expression as the bucket, finer), so sorted runs in run order are
    the bucket's records in key order."""
    split, (key, record) = split_keyed_record
    num_buckets, largest_key = plans[split]
    run = bucket_of(key, num_buckets * RUNS_PER_SHARD, largest_key)
    return (split, bucket_of(key, num_buckets, largest_key), run), (key, record)


def _non_empty_buckets_by_split(split_buckets) -> dict:
    by_split: dict = {}
    for split, bucket in split_buckets:
        by_split.setdefault(split, []).append(bucket)
    return {split: sorted(buckets) for split, buckets in by_split.items()}


def _shard_of_run(run_key_and_range):
    (split, bucket, run), run_range = run_key_and_range
    return (split, bucket), (run, run_range)


def _sorted_records(keyed_records: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """In memory: a shard's (key, record) pairs, in key order."""
    return (record for _, record in sorted(keyed_records))


def _records_of_runs(runs: Iterable[tuple[int, spill_lib.RunRange]]) -> Iterator[bytes]:
    """Spilled: a shard's sorted runs concatenated in run order."""
    for _, run_range in sorted(runs, key=lambda run: run[0]):
        yield from spill_lib.read_run(run_range)


def _write_shard(shard, fmt: ShardFormat, records_of: Callable[[Any], Iterator[bytes]],
                 non_empty_buckets) -> ShardResult:
    """((split, bucket), grouped values) → one shard file; ``records_of(values)`` streams the
    shard's records in key order, so the file's bytes do not depend on how they were grouped."""
    (split, bucket), values = shard
    buckets = non_empty_buckets[split]
    index = bisect.bisect_left(buckets, bucket)  # renumber without the empty buckets
    counted = {"examples": 0, "bytes": 0}

    def records():
        for record in records_of(values):
            counted["examples"] += 1
            counted["bytes"] += len(record)
            yield record

    path = FileSystems.join(fmt.directory, fmt.file_name(split, index, len(buckets)))
    with atomic_create(path) as handle:
        written = fmt.write(handle, records())
    fault_point("shard-written")
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-{split}-examples").inc(counted["examples"])
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-shards").inc()
    return ShardResult(split=split, index=index, num_shards=len(buckets), num_examples=counted["examples"],
                       num_bytes=counted["bytes"], file_bytes=written.bytes, sha256=written.sha256, path=path)


class _WriteShards(beam.PTransform):
    """(split, page) → one element: the list of every ShardResult written."""

    def __init__(self, fmt: ShardFormat, sharding: Sharding, shuffle: Shuffle = RUNNERS_OWN):
        super().__init__()
        self._fmt = fmt
        self._sharding = sharding
        self._shuffle = shuffle

    def expand(self, split_pages):
        keyed = split_pages | "Encode" >> beam.Map(_keyed_record, self._fmt)
        plans = (
            keyed
            | "SplitStats" >> beam.CombinePerKey(_SplitStats())
            | "PlanShards" >> beam.Map(_plan, self._sharding, self._fmt.overhead_bytes)
        )
        if self._shuffle.spill is not None:
            return self._expand_spilled(keyed, plans)
        assigned = keyed | "AssignShard" >> beam.Map(_assign_bucket, plans=beam.pvalue.AsDict(plans))
        # The shard ids come from before the grouping: the grouped shards then have one consumer
        # and are not held a second time (FnApiRunner keeps a PCollection that two stages read).
        non_empty = (
            assigned
            | "ShardIds" >> beam.Keys()
            | "CollectShardIds" >> beam.combiners.ToSet()
            | "NonEmptyBySplit" >> beam.Map(_non_empty_buckets_by_split)
        )
        return (
            assigned
            | "GroupShards" >> self._shuffle.group_by_key()
            | "WriteShards" >> beam.Map(_write_shard, self._fmt, _sorted_records,
                                        non_empty_buckets=beam.pvalue.AsSingleton(non_empty))
            | "CollectShards" >> beam.combiners.ToList()
        )

    def _expand_spilled(self, keyed, plans):
        """The same shards with no PCollection of records and no whole shard held in memory:
        ``keyed`` waits for ``plans`` in files rather than in the runner's buffer; each shard
        is grouped as ``RUNS_PER_SHARD`` key ranges, each sorted into a run (the runs of a
        spill partition share one file, so the files do not grow with the shards), and the
        runs, concatenated in key order, are the shard's sorted records."""
        assigned = (
            keyed
            | "SpillEncoded" >> spill_lib.SpilledMaterialize(self._shuffle.spill)
            | "AssignShardAndRun" >> beam.Map(_assign_bucket_and_run, plans=beam.pvalue.AsDict(plans))
        )
        non_empty = (
            assigned
            | "ShardIds" >> beam.Map(lambda run_record: run_record[0][:2])
            | "CollectShardIds" >> beam.combiners.ToSet()
            | "NonEmptyBySplit" >> beam.Map(_non_empty_buckets_by_split)
        )
        runs = assigned | "GroupRuns" >> spill_lib.SpilledSortedRuns(self._shuffle.spill)
        return (
            runs
            | "ByShard" >> beam.Map(_shard_of_run)
            | "GroupShardRuns" >> beam.GroupByKey()
            | "WriteShards" >> beam.Map(_write_shard, self._fmt, _records_of_runs,
                                        non_empty_buckets=beam.pvalue.AsSingleton(non_empty))
            | "CollectShards" >> beam.combiners.ToList()
            | "AfterShards" >> spill_lib.DeleteRunFilesAfter(runs)
        )


# --- Finalize: summaries, leftovers, TFDS metadata ----------------------------


def _shards_by_split(results: Iterable[ShardResult], splits: Sequence[str]) -> dict[str, list[ShardResult]]:
    by_split: dict[str, list[ShardResult]] = {split: [] for split in splits}
    for result in results:
        by_split.setdefault(result.split, []).append(result)
    for split, shards in by_split.items():
        shards.sort(key=lambda r: r.index)
        if [r.index for r in shards] != list(range(len(shards))):
            raise RuntimeError(f"split {split!r}: shard indices are not 0..n-1: {[r.index for r in shards]}")
    return by_split


def _delete_leftovers(fmt: ShardFormat, name_prefix: str, by_split: Mapping[str, list[ShardResult]]) -> None:
    """Temporary files of failed attempts, and shards of these splits from an earlier run
    with another shard count (they would otherwise sit next to the new ones)."""
    written = {base_name(r.path) for shards in by_split.values() for r in shards}
    regexes = [fmt.shard_name_regex(split) for split in by_split]
    stale = []
    for path in list_files(fmt.directory, name_prefix):
        base = base_name(path)
        if INCOMPLETE_MARK in base or (base not in written and any(rx.fullmatch(base) for rx in regexes)):
            stale.append(path)
    if stale:
        logger.info("deleting %d leftover files in %s", len(stale), fmt.directory)
        delete_quietly(stale)


def _summary(fmt: ShardFormat, split: str, shards: Sequence[ShardResult]) -> dict:
    return {
        "format": fmt.kind,
        "directory": fmt.directory,
        "split": split,
        "num_examples": sum(r.num_examples for r in shards),
        "num_shards": len(shards),
        "num_bytes": sum(r.num_bytes for r in shards),
        "file_bytes": sum(r.file_bytes for r in shards),
        "shard_lengths": [r.num_examples for r in shards],
        "files": [r.path for r in shards],
        # Every file of this split's dataset with its size and sha256, for the manifest.
        "file_digests": {r.path: [r.file_bytes, r.sha256] for r in shards},
    }


def _clean_up_and_summarize(fmt: ShardFormat, name_prefix: str, by_split: Mapping[str, list[ShardResult]],
                            other_files: Optional[Mapping[str, list]] = None):
    _delete_leftovers(fmt, name_prefix, by_split)
    for split in sorted(by_split):
        summary = _summary(fmt, split, by_split[split])
        summary["file_digests"].update(other_files or {})
        yield summary


def dataset_dir_of(output_dir: str, meta: TfdsMetadata) -> str:
    return FileSystems.join(output_dir, *meta.dir_parts())


def write_tfds_metadata(dataset_dir: str, meta: TfdsMetadata,
                        split_shard_lengths: SplitShardLengths) -> dict[str, list]:
    """Writes the metadata files into ``dataset_dir`` (any Beam filesystem), dataset_info.json
    last: TFDS treats its presence as "the dataset is prepared". Returns {path: [size, sha256]}."""
    files = tfds_metadata_files(meta, split_shard_lengths)
    names = sorted(files, key=lambda name: name == "dataset_info.json")
    written = {}
    for name in names:
        path = FileSystems.join(dataset_dir, name)
        write_file_atomically(path, files[name])
        written[path] = [len(files[name]), sha256_of(files[name])]
    return written


def _finalize_tfds(results, fmt: TfrecordFormat, meta: TfdsMetadata, splits: Sequence[str]):
    by_split = _shards_by_split(results, splits)
    metadata_files = write_tfds_metadata(
        fmt.directory,
        meta,
        {split: ([r.num_examples for r in shards], sum(r.num_bytes for r in shards)) for split, shards in by_split.items()},
    )
    yield from _clean_up_and_summarize(fmt, f"{meta.name}-", by_split, metadata_files)


def _finalize_jsonl(results, fmt: JsonlFormat, splits: Sequence[str]):
    yield from _clean_up_and_summarize(fmt, f"{fmt.prefix}-", _shards_by_split(results, splits))


# --- The sinks ----------------------------------------------------------------


class WriteTfdsDataset(beam.PTransform):
    """Writes ``(split, page)`` as a TFDS dataset: ``<output_dir>/<name>/<config>/<version>/``
    with TFRecord shards, features.json and dataset_info.json, readable with
    ``tfds.builder_from_directory(dir)`` and ``tfds.load("c4/en:3.1.0", data_dir=output_dir)``.

    Returns a PCollection with one summary dict per split (``splits`` plus any other split
    seen): format, directory, split, num_examples, num_shards, num_bytes (serialized
    examples, TFDS's measure), file_bytes, shard_lengths, files, file_digests ({path: [size,
    sha256]} of the split's shards and the dataset's metadata files).
    """

    def __init__(
        self,
        output_dir: str,
        name: str = "c4",
        config: Optional[str] = "en",
        version: str = "3.1.0",
        description: Optional[str] = C4_DESCRIPTION,
        *,
        citation: Optional[str] = C4_CITATION,
        homepage: Optional[str] = C4_HOMEPAGE,
        config_description: Optional[str] = None,
        module_name: str = C4_MODULE_NAME,
        splits: Sequence[str] = SPLITS,
        num_shards: NumShards = None,
        target_shard_bytes: Optional[int] = None,
        shuffle: Shuffle = RUNNERS_OWN,
    ):
        super().__init__()
        self._shuffle = shuffle
        if config_description is None and name == "c4":
            config_description = C4_CONFIG_DESCRIPTIONS.get(config or "")
        self.metadata = TfdsMetadata(
            name=name, config=config, version=version, description=description, citation=citation,
            homepage=homepage, config_description=config_description, module_name=module_name,
        )
        self.dataset_dir = dataset_dir_of(output_dir, self.metadata)
        self._format = TfrecordFormat(directory=self.dataset_dir, dataset_name=name)
        self._sharding = Sharding(num_shards=num_shards, target_shard_bytes=target_shard_bytes)
        self._splits = tuple(splits)

    def expand(self, split_pages):
        return (
            split_pages
            | "WriteTfrecordShards" >> _WriteShards(self._format, self._sharding, self._shuffle)
            | "WriteDatasetInfo" >> beam.FlatMap(_finalize_tfds, self._format, self.metadata, self._splits)
        )


class WriteJsonlSplits(beam.PTransform):
    """Writes ``(split, page)`` as ``<output_dir>/<prefix>-<split>.00000-of-00008.json.gz``,
    one ``{"text","timestamp","url"}`` object per line, with the same sharding and order as
    WriteTfdsDataset. (For allenai's exact counts pass num_shards={"train": 1024,
    "validation": 8}; the default TFDS rule gives those for the full corpus anyway.)

    Returns one summary dict per split, as WriteTfdsDataset does (num_bytes = uncompressed
    JSON bytes, file_bytes = gzip bytes).
    """

    def __init__(self, output_dir: str, prefix: str = "c4", *, splits: Sequence[str] = SPLITS,
                 num_shards: NumShards = None, target_shard_bytes: Optional[int] = None, ensure_ascii: bool = False,
                 compresslevel: int = 6, shuffle: Shuffle = RUNNERS_OWN):
        super().__init__()
        self._shuffle = shuffle
        self._format = JsonlFormat(
            directory=output_dir, prefix=prefix, ensure_ascii=ensure_ascii, compresslevel=compresslevel
        )
        self._sharding = Sharding(num_shards=num_shards, target_shard_bytes=target_shard_bytes)
        self._splits = tuple(splits)

    def expand(self, split_pages):
        return (
            split_pages
            | "WriteJsonlShards" >> _WriteShards(self._format, self._sharding, self._shuffle)
            | "Summarize" >> beam.FlatMap(_finalize_jsonl, self._format, self._splits)
        )
