"""Writing the final corpus: a TFDS dataset directory of TFRecords, and allenai-style JSONL.gz.

Both sinks take a PCollection of ``(split_name, page)`` and share one sharding scheme, the
one TFDS's ``BeamWriter`` uses when it builds ``c4``:

- each example gets a 128-bit shuffle key ``md5(split_name + url)`` (TFDS's ``Hasher``, with
  the split as salt);
- shard = ``floor(key * num_buckets / largest_key_of_the_split)``; empty buckets are dropped
  and the others renumbered without gaps;
- inside a shard, records are sorted by key (then by record bytes, so duplicate URLs too
  have a fixed order).

Nothing depends on arrival order, bundles, retries or the number of workers, so the output
is byte-identical between runs and runners. The number of buckets comes from the data, in
the pipeline (a per-split combine used as side input): a fixed ``num_shards``, or
``target_shard_bytes``, or by default TFDS's own rule (``ShardConfig``: 1024 shards for the
full c4/en train split, 8 for validation). With the default rule and the same examples,
the example-to-shard mapping and the order within shards are those of ``tfds build c4/en``.
Records are serialized with ``deterministic=True`` (feature map sorted by name). TFDS's own
serializer does not ask for that, and under protobuf's upb backend the map order of a plain
``SerializeToString()`` changes from process to process, so TFDS's shards are not
byte-reproducible; ours are, and they parse to the same examples.

Layouts::

    WriteTfdsDataset:  <output_dir>/<name>/<config>/<version>/
                           <name>-<split>.tfrecord-00000-of-00004   (TFRecord of tf.train.Example)
                           features.json, dataset_info.json          (written last, by a worker)
    WriteJsonlSplits:  <output_dir>/<prefix>-<split>.00000-of-00004.json.gz

A split without examples gets no files, and is left out of ``dataset_info.json``: TFDS
cannot read a split with no data (``as_dataset`` raises "Instruction [] corresponds to no
data!" whether it has zero shards or one empty shard, and ``tfds.load(split=None)`` then
fails for every split), and its own ``write_metadata`` derives the splits from the files.
The summaries the sinks return still list it, with zero examples.

Every file is written under a temporary name and renamed when complete; the final step also
deletes temporary leftovers and shards of these splits left by an earlier run with another
shard count. All I/O goes through Beam's ``FileSystems`` (local, gs://, s3://).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import struct
import tempfile
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Optional, Sequence, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from c4forge.tokenizer_training import corpus

from . import spill as spill_lib

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation")
FEATURE_NAMES = ("text", "url", "content-type", "content-length", "timestamp")
JSONL_KEYS = ("text", "timestamp", "url")
TFRECORD_OVERHEAD_BYTES = 16  # length (8) + crc of length (4) + crc of data (4)
COUNTER_NAMESPACE = "c4forge-sinks"
# Temporary files are named "<final name>.incomplete-<random>"; the final step deletes leftovers.
INCOMPLETE_MARK = ".incomplete-"
TFDS_FILENAME_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"

# TFDS's c4 builder metadata (tensorflow_datasets/text/c4.py, 3.1.0), restated so that writing
# needs neither the builder module nor TensorFlow. tests/test_sinks.py checks it against tfds.
C4_DESCRIPTION = """\
A colossal, cleaned version of Common Crawl's web crawl corpus.

Based on Common Crawl dataset: https://commoncrawl.org

To generate this dataset, please follow
[the instructions from t5](https://github.com/google-research/text-to-text-transfer-transformer#c4).

Due to the overhead of cleaning the dataset, it is recommend you prepare it with
a distributed service like Cloud Dataflow. More info at
https://www.tensorflow.org/datasets/beam_datasets.
"""
C4_CITATION = """
@article{2019t5,
  author = {Colin Raffel and Noam Shazeer and Adam Roberts and Katherine Lee and Sharan Narang and Michael Matena and Yanqi Zhou and Wei Li and Peter J. Liu},
  title = {Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer},
  journal = {arXiv e-prints},
  year = {2019},
  archivePrefix = {arXiv},
  eprint = {1910.10683},
}
"""
C4_HOMEPAGE = "https://github.com/google-research/text-to-text-transfer-transformer#datasets"
C4_MODULE_NAME = "tensorflow_datasets.text.c4"
C4_CONFIG_DESCRIPTIONS = {
    "en": "English C4 dataset.",
    "en.noclean": "Disables all cleaning (deduplication, removal based on bad words, etc.)",
    "realnewslike": (
        "Filters from the default config to only include content from the domains used in"
        " the 'RealNews' dataset (Zellers et al., 2019)."
    ),
}

NumShards = Union[None, int, Mapping[str, int]]


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


def example_features(page: Any) -> dict:
    """The five c4 features of a Page (or of an already built example dict)."""
    return dict(page) if isinstance(page, Mapping) else page.to_example()


def example_bytes(page: Any) -> bytes:
    """A serialized tf.train.Example, each feature a one-value bytes_list of UTF-8 (as
    ``tfds.features.Text`` encodes it). Deterministic serialization sorts the feature map,
    so the bytes never depend on the protobuf runtime's map order."""
    from tensorflow_datasets.proto import tf_example_pb2, tf_feature_pb2

    features = example_features(page)
    feature_map = {
        name: tf_feature_pb2.Feature(
            bytes_list=tf_feature_pb2.BytesList(value=[features[name].encode("utf-8")])
        )
        for name in FEATURE_NAMES
    }
    example = tf_example_pb2.Example(features=tf_feature_pb2.Features(feature=feature_map))
    return example.SerializeToString(deterministic=True)


def jsonl_line(page: Any, ensure_ascii: bool = False) -> bytes:
    """One allenai/c4 JSON line: keys text, timestamp, url; compact separators as in the
    allenai files. ``ensure_ascii=False`` writes non-ASCII characters as UTF-8 (smaller,
    and any JSON reader gives the same strings)."""
    features = example_features(page)
    record = {key: features[key] for key in JSONL_KEYS}
    text = json.dumps(record, ensure_ascii=ensure_ascii, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


_masked_crc32c = corpus.masked_crc32c


def frame_tfrecord(data: bytes) -> bytes:
    """TFRecord framing: uint64 LE length, masked crc32c of it, data, masked crc32c of data."""
    length = struct.pack("<Q", len(data))
    return b"".join(
        [length, struct.pack("<I", _masked_crc32c(length)), data, struct.pack("<I", _masked_crc32c(data))]
    )


# ---------------------------------------------------------------------------------------
# Sharding (TFDS BeamWriter's scheme)
# ---------------------------------------------------------------------------------------


def shuffle_key(split: str, url: str) -> bytes:
    """TFDS's ``Hasher(salt=split).hash_key(url)`` as 16 big-endian bytes (byte order equals
    integer order, and bytes travel through Beam coders without 128-bit ints)."""
    # tfds.core.hashing._to_bytes normalizes backslashes in str keys (a Windows path habit).
    return hashlib.md5(split.encode("utf-8") + url.replace("\\", "/").encode("utf-8")).digest()


def bucket_of(key: bytes, num_buckets: int, largest_key: bytes) -> int:
    """TFDS's ``shuffle.get_bucket_number``: floor(key * n / largest), capped at n - 1.
    The same float expression as TFDS, so boundary cases fall the same way."""
    hkey = int.from_bytes(key, "big")
    max_hkey = int.from_bytes(largest_key, "big") or 2**128
    return min(math.trunc((hkey * num_buckets) / max_hkey), num_buckets - 1)


@dataclasses.dataclass(frozen=True)
class Sharding:
    """How many buckets a split is cut into (empty buckets are then dropped).

    num_shards: a fixed count, or one per split ({"train": 1024, "validation": 8}).
    target_shard_bytes: about this many file bytes per shard.
    Neither: TFDS's rule (``ShardConfig.calculate_number_shards``, imprecise sharding),
    which gives c4/en's 1024 train / 8 validation shards.
    """

    num_shards: NumShards = None
    target_shard_bytes: Optional[int] = None

    def __post_init__(self):
        if self.num_shards is not None and self.target_shard_bytes is not None:
            raise ValueError("give num_shards or target_shard_bytes, not both")
        if self.target_shard_bytes is not None and self.target_shard_bytes <= 0:
            raise ValueError("target_shard_bytes must be positive")

    def fixed_count(self, split: str) -> Optional[int]:
        if isinstance(self.num_shards, Mapping):
            return self.num_shards.get(split)
        return self.num_shards

    def number_of_buckets(self, split: str, num_examples: int, total_bytes: int, overhead_bytes: int) -> int:
        fixed = self.fixed_count(split)
        if fixed is not None:
            if fixed < 1:
                raise ValueError(f"num_shards for {split!r} must be at least 1, got {fixed}")
            return fixed
        if self.target_shard_bytes is not None:
            file_bytes = total_bytes + overhead_bytes * num_examples
            return max(1, min(num_examples, math.ceil(file_bytes / self.target_shard_bytes)))
        return tfds_number_of_shards(num_examples, total_bytes)


def tfds_number_of_shards(num_examples: int, total_bytes: int) -> int:
    """What TFDS's BeamWriter picks for a split of this many serialized bytes."""
    from tensorflow_datasets.core.utils.shard_utils import ShardConfig

    return ShardConfig.calculate_number_shards(
        total_size=total_bytes, num_examples=num_examples, uses_precise_sharding=False
    )


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


# ---------------------------------------------------------------------------------------
# File formats
# ---------------------------------------------------------------------------------------


class _CountingWriter(io.RawIOBase):
    """Passes writes through and counts the bytes (the compressed size, for gzip)."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.bytes_written = 0

    def writable(self):
        return True

    def write(self, data):
        self._raw.write(data)
        self.bytes_written += len(data)
        return len(data)


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

    def write(self, handle: BinaryIO, records: Iterable[bytes]) -> int:
        counter = _CountingWriter(handle)
        for record in records:
            counter.write(frame_tfrecord(record))
        return counter.bytes_written


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

    def write(self, handle: BinaryIO, records: Iterable[bytes]) -> int:
        counter = _CountingWriter(handle)
        with gzip.GzipFile(filename="", mode="wb", fileobj=counter, compresslevel=self.compresslevel, mtime=0) as gz:
            for record in records:
                gz.write(record)
        return counter.bytes_written


ShardFormat = Union[TfrecordFormat, JsonlFormat]


# ---------------------------------------------------------------------------------------
# Atomic file writes through Beam FileSystems
# ---------------------------------------------------------------------------------------


def _delete_quietly(paths: Sequence[str]) -> None:
    try:
        FileSystems.delete(list(paths))
    except Exception as err:  # noqa: BLE001 - cleanup must not hide the original error
        logger.warning("could not delete %s: %s", paths, err)


@contextlib.contextmanager
def atomic_create(path: str) -> Iterator[BinaryIO]:
    """A file handle that becomes ``path`` only when the block completes: a failed or
    retried writer never leaves a partial file under the final name."""
    tmp_path = f"{path}{INCOMPLETE_MARK}{uuid.uuid4().hex}"
    try:
        with FileSystems.create(tmp_path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            yield handle
    except BaseException:
        _delete_quietly([tmp_path])
        raise
    if FileSystems.exists(path):  # a retry after an earlier attempt finished
        FileSystems.delete([path])
    FileSystems.rename([tmp_path], [path])


def write_file_atomically(path: str, content: bytes) -> None:
    with atomic_create(path) as handle:
        handle.write(content)


def _list_files(directory: str, name_prefix: str) -> list[str]:
    pattern = FileSystems.join(directory, name_prefix + "*")
    try:
        (match,) = FileSystems.match([pattern])
    except Exception:  # noqa: BLE001 - a missing directory has nothing to list
        return []
    return [m.path for m in match.metadata_list]


# ---------------------------------------------------------------------------------------
# The shared sharded write
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ShardResult:
    split: str
    index: int
    num_shards: int
    num_examples: int
    num_bytes: int  # serialized records, without framing or compression (TFDS's num_bytes)
    file_bytes: int
    path: str


def _keyed_record(split_page, fmt: ShardFormat):
    split, page = split_page
    features = example_features(page)
    return split, (shuffle_key(split, features["url"]), fmt.encode(features))


def _plan(split_stats, sharding: Sharding, overhead_bytes: int):
    split, (num_examples, total_bytes, largest_key) = split_stats
    buckets = sharding.number_of_buckets(split, num_examples, total_bytes, overhead_bytes)
    return split, (buckets, largest_key)


def _assign_bucket(split_keyed_record, plans):
    split, (key, record) = split_keyed_record
    num_buckets, largest_key = plans[split]
    return (split, bucket_of(key, num_buckets, largest_key)), (key, record)


def _non_empty_buckets_by_split(split_buckets) -> dict:
    by_split: dict = {}
    for split, bucket in split_buckets:
        by_split.setdefault(split, []).append(bucket)
    return {split: sorted(buckets) for split, buckets in by_split.items()}


def _write_shard(shard, fmt: ShardFormat, non_empty_buckets) -> ShardResult:
    (split, bucket), keyed_records = shard
    buckets = non_empty_buckets[split]
    index = bisect.bisect_left(buckets, bucket)  # renumber without the empty buckets
    records = [record for _, record in sorted(keyed_records)]
    path = FileSystems.join(fmt.directory, fmt.file_name(split, index, len(buckets)))
    with atomic_create(path) as handle:
        file_bytes = fmt.write(handle, records)
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-{split}-examples").inc(len(records))
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-shards").inc()
    return ShardResult(
        split=split,
        index=index,
        num_shards=len(buckets),
        num_examples=len(records),
        num_bytes=sum(map(len, records)),
        file_bytes=file_bytes,
        path=path,
    )


RUNS_PER_SHARD = 64  # --spill-dir: a shard is sorted in this many key ranges, one in memory at a time


def _assign_bucket_and_run(split_keyed_record, plans):
    """((split, bucket, run), (key, record)): ``run`` never decreases as ``key`` grows
    (the same monotone expression as the bucket, finer), so sorted runs in run order are
    the bucket's records in key order."""
    split, (key, record) = split_keyed_record
    num_buckets, largest_key = plans[split]
    run = bucket_of(key, num_buckets * RUNS_PER_SHARD, largest_key)
    return (split, bucket_of(key, num_buckets, largest_key), run), (key, record)


def _write_run(run_records, spill):
    (split, bucket, run), keyed_records = run_records
    records = [record for _, record in sorted(keyed_records)]
    return (split, bucket), (run, spill_lib.write_run(spill, "ShardRuns", records))


def _write_shard_from_runs(shard_runs, fmt: ShardFormat, non_empty_buckets) -> ShardResult:
    """``_write_shard`` streaming the records from sorted run files (deleted once read)."""
    (split, bucket), runs = shard_runs
    buckets = non_empty_buckets[split]
    index = bisect.bisect_left(buckets, bucket)
    counted = {"examples": 0, "bytes": 0}

    def records():
        for _, path in sorted(runs):
            for record in spill_lib.read_run(path):
                counted["examples"] += 1
                counted["bytes"] += len(record)
                yield record

    path = FileSystems.join(fmt.directory, fmt.file_name(split, index, len(buckets)))
    with atomic_create(path) as handle:
        file_bytes = fmt.write(handle, records())
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-{split}-examples").inc(counted["examples"])
    beam.metrics.Metrics.counter(COUNTER_NAMESPACE, f"{fmt.kind}-shards").inc()
    return ShardResult(split=split, index=index, num_shards=len(buckets), num_examples=counted["examples"],
                       num_bytes=counted["bytes"], file_bytes=file_bytes, path=path)


class _WriteShards(beam.PTransform):
    """(split, page) → one element: the list of every ShardResult written."""

    def __init__(self, fmt: ShardFormat, sharding: Sharding, spill: Optional[spill_lib.SpillConfig] = None):
        super().__init__()
        self._fmt = fmt
        self._sharding = sharding
        self._spill = spill

    def expand(self, split_pages):
        keyed = split_pages | "Encode" >> beam.Map(_keyed_record, self._fmt)
        plans = (
            keyed
            | "SplitStats" >> beam.CombinePerKey(_SplitStats())
            | "PlanShards" >> beam.Map(_plan, self._sharding, self._fmt.overhead_bytes)
        )
        if self._spill is not None:
            return self._expand_spilled(keyed, plans)
        shards = (
            keyed
            | "AssignShard" >> beam.Map(_assign_bucket, plans=beam.pvalue.AsDict(plans))
            | "GroupShards" >> beam.GroupByKey()
        )
        non_empty = (
            shards
            | "ShardIds" >> beam.Keys()
            | "CollectShardIds" >> beam.combiners.ToList()
            | "NonEmptyBySplit" >> beam.Map(_non_empty_buckets_by_split)
        )
        return (
            shards
            | "WriteShards" >> beam.Map(_write_shard, self._fmt, non_empty_buckets=beam.pvalue.AsSingleton(non_empty))
            | "CollectShards" >> beam.combiners.ToList()
        )

    def _expand_spilled(self, keyed, plans):
        """The same shards with no PCollection of records and no whole shard held in memory:
        ``keyed`` waits for ``plans`` in files rather than in the runner's buffer; each shard
        is grouped as ``RUNS_PER_SHARD`` key ranges, each sorted into a run file, and the
        runs, concatenated in key order, are the shard's sorted records."""
        assigned = (
            keyed
            | "SpillEncoded" >> spill_lib.SpilledMaterialize(self._spill)
            | "AssignShardAndRun" >> beam.Map(_assign_bucket_and_run, plans=beam.pvalue.AsDict(plans))
        )
        non_empty = (
            assigned
            | "ShardIds" >> beam.Map(lambda run_record: run_record[0][:2])
            | "CollectShardIds" >> beam.combiners.ToSet()
            | "NonEmptyBySplit" >> beam.Map(_non_empty_buckets_by_split)
        )
        return (
            assigned
            | "GroupRuns" >> spill_lib.SpilledGroupByKey(self._spill)
            | "WriteRuns" >> beam.Map(_write_run, self._spill)
            | "GroupShardRuns" >> beam.GroupByKey()
            | "WriteShards" >> beam.Map(_write_shard_from_runs, self._fmt,
                                        non_empty_buckets=beam.pvalue.AsSingleton(non_empty))
            | "CollectShards" >> beam.combiners.ToList()
        )


def _shards_by_split(results: Iterable[ShardResult], splits: Sequence[str]) -> dict[str, list[ShardResult]]:
    by_split: dict[str, list[ShardResult]] = {split: [] for split in splits}
    for result in results:
        by_split.setdefault(result.split, []).append(result)
    for split, shards in by_split.items():
        shards.sort(key=lambda r: r.index)
        if [r.index for r in shards] != list(range(len(shards))):
            raise RuntimeError(f"split {split!r}: shard indices are not 0..n-1: {[r.index for r in shards]}")
    return by_split


def _base_name(path: str) -> str:
    return path.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def _delete_leftovers(fmt: ShardFormat, name_prefix: str, by_split: Mapping[str, list[ShardResult]]) -> None:
    """Temporary files of failed attempts, and shards of these splits from an earlier run
    with another shard count (they would otherwise sit next to the new ones)."""
    written = {_base_name(r.path) for shards in by_split.values() for r in shards}
    regexes = [fmt.shard_name_regex(split) for split in by_split]
    stale = []
    for path in _list_files(fmt.directory, name_prefix):
        base = _base_name(path)
        if INCOMPLETE_MARK in base or (base not in written and any(rx.fullmatch(base) for rx in regexes)):
            stale.append(path)
    if stale:
        logger.info("deleting %d leftover files in %s", len(stale), fmt.directory)
        _delete_quietly(stale)


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
    }


# ---------------------------------------------------------------------------------------
# TFDS dataset
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TfdsMetadata:
    """What dataset_info.json says besides the splits. Nothing time- or machine-dependent."""

    name: str = "c4"
    config: Optional[str] = "en"
    version: str = "3.1.0"
    description: Optional[str] = C4_DESCRIPTION
    citation: Optional[str] = C4_CITATION
    homepage: Optional[str] = C4_HOMEPAGE
    config_description: Optional[str] = None
    module_name: str = C4_MODULE_NAME


def dataset_dir_of(output_dir: str, meta: TfdsMetadata) -> str:
    parts = [meta.name] + ([meta.config] if meta.config else []) + [meta.version]
    return FileSystems.join(output_dir, *parts)


def tfds_dataset_info(meta: TfdsMetadata, split_shard_lengths: Mapping[str, tuple[list[int], int]], local_dir: str):
    """A ``tfds.core.DatasetInfo`` like the c4 builder's, with the given splits
    ({split: (shard_lengths, num_bytes)}; splits without shards are left out). Needs no
    TensorFlow. ``local_dir`` is only where tfds's file templates point; it is not written."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import dataset_info as dataset_info_lib

    identity = dataset_info_lib.DatasetIdentity(
        name=meta.name,
        version=tfds.core.Version(meta.version),
        data_dir=local_dir,
        module_name=meta.module_name,
        config_name=meta.config,
        config_description=meta.config_description,
    )
    features = tfds.features.FeaturesDict({name: tfds.features.Text() for name in FEATURE_NAMES})
    info = tfds.core.DatasetInfo(
        builder=identity,
        description=meta.description,
        features=features,
        citation=meta.citation,
        homepage=meta.homepage,
    )
    info.set_file_format("tfrecord")
    split_infos = [
        tfds.core.SplitInfo(name=split, shard_lengths=list(lengths), num_bytes=num_bytes, filename_template=None)
        for split, (lengths, num_bytes) in sorted(split_shard_lengths.items())
        if lengths
    ]
    info.set_splits(tfds.core.SplitDict(split_infos))
    return info


def tfds_metadata_files(meta: TfdsMetadata, split_shard_lengths: Mapping[str, tuple[list[int], int]]) -> dict[str, bytes]:
    """{file name: content} of what ``DatasetInfo.write_to_directory`` writes (features.json,
    dataset_info.json), produced by tfds itself in a local temporary directory."""
    with tempfile.TemporaryDirectory(prefix="c4forge-tfds-meta-") as local_dir:
        tfds_dataset_info(meta, split_shard_lengths, local_dir).write_to_directory(local_dir)
        return {name: Path(local_dir, name).read_bytes() for name in sorted(os.listdir(local_dir))}


def write_tfds_metadata(dataset_dir: str, meta: TfdsMetadata, split_shard_lengths) -> list[str]:
    """Writes the metadata files into ``dataset_dir`` (any Beam filesystem), dataset_info.json
    last: TFDS treats its presence as "the dataset is prepared"."""
    files = tfds_metadata_files(meta, split_shard_lengths)
    names = sorted(files, key=lambda name: name == "dataset_info.json")
    paths = []
    for name in names:
        path = FileSystems.join(dataset_dir, name)
        write_file_atomically(path, files[name])
        paths.append(path)
    return paths


def _finalize_tfds(results, fmt: TfrecordFormat, meta: TfdsMetadata, splits: Sequence[str]):
    by_split = _shards_by_split(results, splits)
    write_tfds_metadata(
        fmt.directory,
        meta,
        {split: ([r.num_examples for r in shards], sum(r.num_bytes for r in shards)) for split, shards in by_split.items()},
    )
    _delete_leftovers(fmt, f"{meta.name}-", by_split)
    for split in sorted(by_split):
        yield _summary(fmt, split, by_split[split])


class WriteTfdsDataset(beam.PTransform):
    """Writes ``(split, page)`` as a TFDS dataset: ``<output_dir>/<name>/<config>/<version>/``
    with TFRecord shards, features.json and dataset_info.json, readable with
    ``tfds.builder_from_directory(dir)`` and ``tfds.load("c4/en:3.1.0", data_dir=output_dir)``.

    Returns a PCollection with one summary dict per split (``splits`` plus any other split
    seen): format, directory, split, num_examples, num_shards, num_bytes (serialized
    examples, TFDS's measure), file_bytes, shard_lengths, files.
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
        spill: Optional[spill_lib.SpillConfig] = None,
    ):
        super().__init__()
        self._spill = spill
        if config_description is None and name == "c4":
            config_description = C4_CONFIG_DESCRIPTIONS.get(config or "")
        self.metadata = TfdsMetadata(
            name=name,
            config=config,
            version=version,
            description=description,
            citation=citation,
            homepage=homepage,
            config_description=config_description,
            module_name=module_name,
        )
        self.dataset_dir = dataset_dir_of(output_dir, self.metadata)
        self._format = TfrecordFormat(directory=self.dataset_dir, dataset_name=name)
        self._sharding = Sharding(num_shards=num_shards, target_shard_bytes=target_shard_bytes)
        self._splits = tuple(splits)

    def expand(self, split_pages):
        return (
            split_pages
            | "WriteTfrecordShards" >> _WriteShards(self._format, self._sharding, self._spill)
            | "WriteDatasetInfo" >> beam.FlatMap(_finalize_tfds, self._format, self.metadata, self._splits)
        )


# ---------------------------------------------------------------------------------------
# JSONL.gz (allenai/c4 layout)
# ---------------------------------------------------------------------------------------


def _finalize_jsonl(results, fmt: JsonlFormat, splits: Sequence[str]):
    by_split = _shards_by_split(results, splits)
    _delete_leftovers(fmt, f"{fmt.prefix}-", by_split)
    for split in sorted(by_split):
        yield _summary(fmt, split, by_split[split])


class WriteJsonlSplits(beam.PTransform):
    """Writes ``(split, page)`` as ``<output_dir>/<prefix>-<split>.00000-of-00008.json.gz``,
    one ``{"text","timestamp","url"}`` object per line, with the same sharding and order as
    WriteTfdsDataset. (For allenai's exact counts pass num_shards={"train": 1024,
    "validation": 8}; the default TFDS rule gives those for the full corpus anyway.)

    Returns one summary dict per split, as WriteTfdsDataset does (num_bytes = uncompressed
    JSON bytes, file_bytes = gzip bytes).
    """

    def __init__(
        self,
        output_dir: str,
        prefix: str = "c4",
        *,
        splits: Sequence[str] = SPLITS,
        num_shards: NumShards = None,
        target_shard_bytes: Optional[int] = None,
        ensure_ascii: bool = False,
        compresslevel: int = 6,
        spill: Optional[spill_lib.SpillConfig] = None,
    ):
        super().__init__()
        self._spill = spill
        self._format = JsonlFormat(
            directory=output_dir, prefix=prefix, ensure_ascii=ensure_ascii, compresslevel=compresslevel
        )
        self._sharding = Sharding(num_shards=num_shards, target_shard_bytes=target_shard_bytes)
        self._splits = tuple(splits)

    def expand(self, split_pages):
        return (
            split_pages
            | "WriteJsonlShards" >> _WriteShards(self._format, self._sharding, self._spill)
            | "Summarize" >> beam.FlatMap(_finalize_jsonl, self._format, self._splits)
        )


# ---------------------------------------------------------------------------------------
# Reading back without TensorFlow or Beam: c4forge.tokenizer_training.corpus (the vocabulary
# and pretraining stages read the corpus too); here on any Beam filesystem.
# ---------------------------------------------------------------------------------------


def _open_raw(path: str) -> BinaryIO:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def iter_tfrecords(path: str, verify_crc: bool = True) -> Iterator[bytes]:
    return corpus.iter_tfrecords(path, verify_crc, opener=_open_raw)


def iter_tfrecord_examples(path: str) -> Iterator[dict]:
    return corpus.iter_tfrecord_examples(path, opener=_open_raw)


def iter_jsonl(path: str) -> Iterator[dict]:
    return corpus.iter_jsonl(path, opener=_open_raw)


def tfds_split_files(dataset_dir: str, split: str) -> list[str]:
    return corpus.tfds_split_files(dataset_dir, split, opener=_open_raw, join=FileSystems.join)


parse_example = corpus.parse_example
