"""The vocabulary sample as a Beam job, for corpora too big to read in one process.

Writes the same shard files as the local sampler (``c4forge.tokenizer_training.sampling``,
which defines the sample): every unit whose key is at most the k-th smallest key, sharded by
key range and sorted by (key, text). The k-th smallest key is found exactly without holding
every key in one place: a histogram of the keys' top 16 bits (counts and bytes per bucket)
says which bucket holds it and at what rank, then only that bucket's keys (about
units / 65,536) are collected and sorted.

The corpus is read three times (histogram, boundary bucket, selection) rather than once
with the units kept between stages: an in-process runner would hold every unit in memory,
while a re-read costs only time, spread over the workers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Optional, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.corpus.reader import Corpus
from c4forge.tokenizer_training.sampling import (
    HISTOGRAM_BITS, SAMPLE_INFO_NAME, SHARD_TARGET_BYTES, SampleInfo, document_units, histogram_bucket, make_info,
    shard_name, shard_of, sorted_shard_text, unit_bytes,
)

from .beam_storage import worker_storage
from .build import with_default_runner

logger = logging.getLogger(__name__)
SPLIT = "train"


class KeyHistogram(beam.CombineFn):
    """Units and bytes per key bucket (top HISTOGRAM_BITS bits)."""

    def create_accumulator(self):
        return np.zeros((2, 1 << HISTOGRAM_BITS), dtype=np.int64)

    def add_input(self, accumulator, key_and_bytes):
        key, nbytes = key_and_bytes
        bucket = histogram_bucket(key)
        accumulator[0, bucket] += 1
        accumulator[1, bucket] += nbytes
        return accumulator

    def merge_accumulators(self, accumulators):
        return sum(accumulators, self.create_accumulator())

    def extract_output(self, accumulator):
        return accumulator


def boundary_of(histogram: np.ndarray, k: int) -> Optional[dict]:
    """Where the k-th smallest key is: its bucket, its rank there (1-based), and the units
    and bytes in the buckets below. None for an empty split."""
    counts, nbytes = histogram
    total = int(counts.sum())
    if total == 0:
        return None
    wanted = min(k, total)
    cumulative = np.cumsum(counts)
    bucket = int(np.searchsorted(cumulative, wanted))  # first bucket reaching `wanted`
    below = int(cumulative[bucket - 1]) if bucket else 0
    return {"bucket": bucket, "rank": wanted - below, "units_below": below,
            "bytes_below": int(nbytes[:bucket].sum()), "units_total": total}


def finish_info(bucket_units: Iterable[tuple[int, int]], boundary: Optional[dict], seed: int, k: int,
                max_bytes: int, shard_target_bytes: int) -> SampleInfo:
    """The SampleInfo from the boundary bucket's (key, bytes) pairs."""
    if boundary is None:
        return make_info(seed, k, max_bytes, 0, -1, 0, 0, shard_target_bytes)
    ordered = sorted(bucket_units)
    threshold = ordered[boundary["rank"] - 1][0]
    chosen = [nbytes for key, nbytes in ordered if key <= threshold]  # ties at the threshold too
    return make_info(seed, k, max_bytes, boundary["units_total"], threshold,
                     boundary["units_below"] + len(chosen), boundary["bytes_below"] + sum(chosen), shard_target_bytes)


def in_boundary_bucket(key_and_bytes: tuple[int, int], boundary: Optional[dict]) -> bool:
    return boundary is not None and histogram_bucket(key_and_bytes[0]) == boundary["bucket"]


class ReadUnits(beam.DoFn):
    """One corpus file → (key, text) for each unit of its documents."""

    def __init__(self, corpus: Corpus, seed: int, max_bytes: int):
        self.corpus, self.seed, self.max_bytes = corpus, seed, max_bytes

    def process(self, path: str):
        for example in self.corpus.iter_examples(SPLIT, files=[path]):
            yield from document_units(example, self.seed, self.max_bytes)


def write_shard(shard: tuple[int, Iterable[tuple[int, str]]], info: SampleInfo, out_dir: str) -> str:
    """Deterministic bytes under a deterministic name, so a retried bundle rewrites it identically."""
    index, units = shard
    path = FileSystems.join(out_dir, shard_name(index, info.shards))
    with FileSystems.create(path) as handle:
        handle.write(sorted_shard_text(units))
    return path


def write_info(info: SampleInfo, out_dir: str) -> None:
    with FileSystems.create(FileSystems.join(out_dir, SAMPLE_INFO_NAME)) as handle:
        handle.write(info.to_json().encode("utf-8"))


def build_sampling(pipeline, corpus: Corpus, files: Sequence[str], seed: int, k: int, max_bytes: int,
                   out_dir: str, shard_target_bytes: int = SHARD_TARGET_BYTES) -> None:
    def units(label: str):
        return (pipeline
                | f"{label}Files" >> beam.Create(list(files))
                | f"{label}Spread" >> beam.Reshuffle()
                | f"{label}Units" >> beam.ParDo(ReadUnits(corpus, seed, max_bytes)))

    def key_bytes(unit):
        return unit[0], unit_bytes(unit[1])

    boundary = (units("Histogram")
                | "KeyBytes" >> beam.Map(key_bytes)
                | "Histogram" >> beam.CombineGlobally(KeyHistogram())
                | "Boundary" >> beam.Map(boundary_of, k))
    info = (units("Boundary")
            | "BoundaryKeyBytes" >> beam.Map(key_bytes)
            | "InBoundaryBucket" >> beam.Filter(in_boundary_bucket, beam.pvalue.AsSingleton(boundary))
            | "CollectBucket" >> beam.combiners.ToList()
            | "Info" >> beam.Map(finish_info, beam.pvalue.AsSingleton(boundary), seed, k, max_bytes,
                                 shard_target_bytes))
    info | "WriteInfo" >> beam.Map(write_info, out_dir)
    (units("Select")
     | "Selected" >> beam.Filter(lambda unit, i: unit[0] <= i.threshold, beam.pvalue.AsSingleton(info))
     | "ToShard" >> beam.Map(lambda unit, i: (shard_of(unit[0], i.threshold, i.shards), unit),
                             beam.pvalue.AsSingleton(info))
     | "GroupShards" >> beam.GroupByKey()
     | "WriteShards" >> beam.Map(write_shard, beam.pvalue.AsSingleton(info), out_dir))


def sample_with_beam(corpus: Corpus, seed: int, sentences: int, max_bytes: int, out_dir: str,
                     beam_args: Sequence[str] = (), shard_target_bytes: int = SHARD_TARGET_BYTES) -> SampleInfo:
    """Run the job (default runner FnApiRunner; other Beam options pass through) and return
    what it sampled. ``out_dir`` must be reachable by the workers and by this process."""
    corpus = dataclasses.replace(corpus, storage=worker_storage(corpus.root))  # as the job's I/O reads it
    files = corpus.split_files(SPLIT)
    if not FileSystems.exists(out_dir):
        FileSystems.mkdirs(out_dir)
    pipeline = beam.Pipeline(options=PipelineOptions(with_default_runner(beam_args)))
    build_sampling(pipeline, corpus, files, seed, sentences, max_bytes, out_dir, shard_target_bytes)
    pipeline.run().wait_until_finish()
    with FileSystems.open(FileSystems.join(out_dir, SAMPLE_INFO_NAME)) as handle:
        info = SampleInfo.from_json(handle.read().decode("utf-8"))
    for name in info.shard_names:  # a key range can be empty in a tiny sample: GroupByKey wrote nothing
        path = FileSystems.join(out_dir, name)
        if not FileSystems.exists(path):
            FileSystems.create(path).close()
    logger.info("beam sample: %d of %d units, %d bytes, %d shard(s)", info.sentences, info.units_total,
                info.sample_bytes, info.shards)
    return info
