"""GroupByKey and CoGroupByKey by reference, for a local build whose workers all run in this
process (FnApiRunner in memory or multi-threaded).

Beam's local shuffle copies every value about ten times on its way through a GroupByKey
(encoded into the data stream, a protobuf message, the runner's grouping buffer, encoded
again for the consumer, decoded), and its multi-input Flatten before a CoGroupByKey is always
materialized. Where every worker is a thread of this process, the values need not move at
all. The transforms here are drop-in replacements that pass them by reference:

1. ``_HoldGroups``: each bundle groups its (key, value) pairs in a dict per partition (by
   ``hash(key)``, stable within the process), merges them into the run's store under a lock
   when the bundle finishes, and emits only (partition, None) tokens.
2. A real GroupByKey of those tokens: small, and the barrier (every bundle has merged its
   groups before any reader starts).
3. ``_ReleaseGroups``: per partition, its groups taken out of the store and emitted as
   GroupByKey does ((key, [values]); CoGroupByKey: (key, {tag: [values]})).

The store lives in a module-global registry opened by ``in_process_store`` around the run and
emptied when it closes, failed or not. A worker in another process finds no store and fails
with a message saying so, never with a silently empty group: ``runs_in_this_process`` decides
up front where these transforms apply. Group order is arbitrary, as with Beam's GroupByKey;
the stages that consume it do not depend on it (``tests/pipeline/test_shuffle_in_process.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import pickle
import threading
import time
import uuid
from typing import Iterator, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.transforms.window import GlobalWindows

# Readers that may run at once (multi-threaded workers) and the granularity they free memory at.
PARTITIONS = 64

# Freed memory is handed back to the OS at most this often while groups are released.
RETURN_FREED_MEMORY_EVERY_S = 1.0

# run id -> shuffle id -> partition -> key -> values (GroupByKey) or [values per tag] (CoGroupByKey)
_RUNS: dict[str, dict[str, dict[int, dict]]] = {}
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class InProcessStore:
    """The run whose store the shuffles hold their groups in, and the process that holds it."""

    run_id: str
    pid: int
    partitions: int = PARTITIONS


def runs_in_this_process(options: PipelineOptions) -> bool:
    """Whether every worker of a run with ``options`` is a thread of this process: FnApiRunner,
    unless multi_processing. (DirectRunner may hand the job to Prism, which runs elsewhere.)"""
    runner = (options.view_as(StandardOptions).runner or "").rsplit(".", 1)[-1]
    return (runner.lower() == "fnapirunner"
            and options.view_as(DirectOptions).direct_running_mode != "multi_processing")


@contextlib.contextmanager
def in_process_store(run_id: str) -> Iterator[InProcessStore]:
    """The run's store, open while the run lives; whatever it still holds is dropped after."""
    with _LOCK:
        if run_id in _RUNS:
            raise ValueError(f"an in-process shuffle store for run {run_id} is already open")
        _RUNS[run_id] = {}
    try:
        yield InProcessStore(run_id, os.getpid())
    finally:
        with _LOCK:
            _RUNS.pop(run_id, None)


def open_stores() -> list[str]:
    """The runs whose stores are open (for tests: a closed run leaves nothing behind)."""
    with _LOCK:
        return list(_RUNS)


def _shuffle_groups(store: InProcessStore, shuffle_id: str) -> dict[int, dict]:
    """The shuffle's partitions in the run's store (call under ``_LOCK``)."""
    run = _RUNS.get(store.run_id) if os.getpid() == store.pid else None
    if run is None:
        raise RuntimeError(
            f"in-process shuffle of run {store.run_id}: no store in process {os.getpid()} (it lives in process "
            f"{store.pid} while the run is open): these transforms need every worker in the driver's process")
    return run.setdefault(shuffle_id, {})


def _load_malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): the allocator decides alone
        return None


_MALLOC_TRIM = _load_malloc_trim()
_last_return = [0.0]


def return_freed_memory() -> bool:
    """Give the pages freed by released groups back to the OS (glibc's ``malloc_trim``), at
    most once per ``RETURN_FREED_MEMORY_EVERY_S``; whether it did. Without it the decoded pages
    a stage frees stay in the process's heap, scattered between records still held (the sink's),
    and the peak grows with them: 1,084 against 701 to 743 MB on a 40,000-record file
    (docs/speed.md).
    A call costs 10 to 40 ms there."""
    now = time.monotonic()
    with _LOCK:
        if _MALLOC_TRIM is None or now - _last_return[0] < RETURN_FREED_MEMORY_EVERY_S:
            return False
        _last_return[0] = now
    _MALLOC_TRIM(0)
    return True


class _HoldGroups(beam.DoFn):
    """(key, value) → the value held in its key's group; per partition touched, one token.
    ``tag``/``tags``: for a CoGroupByKey, this input's place among its inputs."""

    def __init__(self, store: InProcessStore, shuffle_id: str, tag: Optional[int] = None, tags: int = 0):
        self._store, self._shuffle_id = store, shuffle_id
        self._tag, self._tags = tag, tags

    def start_bundle(self):
        self._groups: dict[int, dict] = {}

    def process(self, key_value):
        key, value = key_value
        groups = self._groups.setdefault(hash(key) % self._store.partitions, {})
        values = groups.get(key)
        if values is None:
            values = groups[key] = [] if self._tag is None else [[] for _ in range(self._tags)]
        (values if self._tag is None else values[self._tag]).append(value)

    def finish_bundle(self):
        held, self._groups = self._groups, {}
        with _LOCK:
            partitions = _shuffle_groups(self._store, self._shuffle_id)
            for partition, groups in held.items():
                into = partitions.setdefault(partition, {})
                for key, values in groups.items():
                    merged = into.get(key)
                    if merged is None:
                        into[key] = values
                    elif self._tag is None:
                        merged.extend(values)
                    else:
                        merged[self._tag].extend(values[self._tag])
        for partition in held:
            yield GlobalWindows.windowed_value((partition, None))


class ReleasedGroup:
    """The element type of a released group, (key, values) or (key, {tag: values}): its coder
    is ``ReleasedGroupCoder``. (Only a type hint; the elements are plain tuples.)"""


class ReleasedGroupCoder(beam.coders.Coder):
    """Pickles a released group where a runner must encode it (never, while its consumer runs
    fused in this process). Its size estimate counts the group's values instead: the runner
    samples every bundle's first elements for its byte-size metric, and a released group is
    one of a few large elements, so estimating by encoding would pickle nearly every page of
    the shuffle once more (36,001 pickled pages in a 40,000-record build, docs/speed.md)."""

    def encode(self, value):
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded):
        return pickle.loads(encoded)

    def is_deterministic(self):
        return False

    def estimate_size(self, value):
        values = value[1]
        return sum(map(len, values.values())) if isinstance(values, dict) else len(values)


beam.coders.registry.register_coder(ReleasedGroup, ReleasedGroupCoder)


class _ReleaseGroups(beam.DoFn):
    """(partition, tokens) → its groups, taken out of the store, as GroupByKey or, with
    ``tags``, CoGroupByKey emits them."""

    def __init__(self, store: InProcessStore, shuffle_id: str, tags: Optional[tuple] = None):
        self._store, self._shuffle_id, self._tags = store, shuffle_id, tags

    def process(self, partition_and_tokens):
        with _LOCK:
            groups = _shuffle_groups(self._store, self._shuffle_id).pop(partition_and_tokens[0], {})
        while groups:  # popped one by one: a group emitted is no longer held here
            key, values = groups.popitem()
            yield key, (values if self._tags is None else dict(zip(self._tags, values)))
        return_freed_memory()


class InProcessGroupByKey(beam.PTransform):
    def __init__(self, store: InProcessStore):
        super().__init__()
        self._store = store

    def expand(self, pcoll):
        shuffle_id = uuid.uuid4().hex  # names the shuffle's groups in the store; not in any output
        return (pcoll
                | "HoldGroups" >> beam.ParDo(_HoldGroups(self._store, shuffle_id))
                | "Barrier" >> beam.GroupByKey()
                | "ReleaseGroups" >> beam.ParDo(_ReleaseGroups(self._store, shuffle_id))
                .with_output_types(ReleasedGroup))


class InProcessCoGroupByKey(beam.PTransform):
    """A dict {tag: PCollection of (key, value)} → (key, {tag: [values]}), every tag present."""

    def __init__(self, store: InProcessStore):
        super().__init__()
        self._store = store

    def expand(self, tagged):
        shuffle_id = uuid.uuid4().hex
        tags = tuple(tagged)
        tokens = [tagged[tag] | f"HoldGroups[{tag}]" >> beam.ParDo(_HoldGroups(self._store, shuffle_id, i, len(tags)))
                  for i, tag in enumerate(tags)]
        return (tokens
                | "Tokens" >> beam.Flatten()
                | "Barrier" >> beam.GroupByKey()
                | "ReleaseGroups" >> beam.ParDo(_ReleaseGroups(self._store, shuffle_id, tags))
                .with_output_types(ReleasedGroup))
