"""The by-reference GroupByKey/CoGroupByKey (pipeline/shuffle_in_process.py): Beam's groups,
over many bundles and threads; the store dropped after the run, failed or not; a worker in
another process refused with a message. A whole build through it writes the same shards as
the runners' own shuffles: tests/pipeline/test_build.py::test_other_runners_write_byte_identical_shards."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from c4forge.pipeline import shuffle_in_process
from c4forge.pipeline.shuffle import Shuffle
from c4forge.pipeline.shuffle_in_process import (InProcessCoGroupByKey, InProcessGroupByKey, InProcessStore,
                                                 in_process_store, open_stores, runs_in_this_process)

IN_MEMORY = ["--runner=FnApiRunner"]
THREADS = ["--runner=FnApiRunner", "--direct_running_mode=multi_threading", "--direct_num_workers=2"]

PAIRS = [(f"key-{i % 37}", i) for i in range(2000)] + [(b"bytes", 1), ((1, "tuple"), 2), (7, 3)]


def sorted_groups(groups):
    return sorted((repr(key), sorted(values)) for key, values in groups)


def sorted_co_groups(groups):
    return sorted((repr(key), {tag: sorted(values) for tag, values in by_tag.items()}) for key, by_tag in groups)


@pytest.mark.parametrize("args", [IN_MEMORY, THREADS], ids=["in_memory", "multi_threading"])
def test_group_by_key_equals_beams_over_many_bundles(args):
    expected = [sorted_groups(_grouped(PAIRS).items())]
    with in_process_store("gbk") as store:
        with beam.Pipeline(options=PipelineOptions(args)) as p:
            pairs = p | beam.Create(PAIRS) | "Spread" >> beam.Reshuffle()
            for name, transform in [("Ours", InProcessGroupByKey(store)), ("Beams", beam.GroupByKey())]:
                assert_that(pairs | name >> transform | f"List{name}" >> beam.combiners.ToList()
                            | f"Sort{name}" >> beam.Map(sorted_groups), equal_to(expected), label=f"{name}Equal")
    assert "gbk" not in open_stores()


def _grouped(pairs):
    groups = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return groups


@pytest.mark.parametrize("args", [IN_MEMORY, THREADS], ids=["in_memory", "multi_threading"])
def test_co_group_by_key_equals_beams_with_every_tag_present(args):
    left = [(f"k{i % 11}", i) for i in range(300)]
    right = [(f"k{i % 13}", -i) for i in range(200)]  # k11, k12 only on the right
    left_groups, right_groups = _grouped(left), _grouped(right)
    expected = [sorted_co_groups(
        (key, {"left": left_groups.get(key, []), "right": right_groups.get(key, []), "empty": []})
        for key in right_groups)]
    with in_process_store("cogbk") as store:
        with beam.Pipeline(options=PipelineOptions(args)) as p:
            tagged = {"left": p | "L" >> beam.Create(left) | "SpreadL" >> beam.Reshuffle(),
                      "right": p | "R" >> beam.Create(right) | "SpreadR" >> beam.Reshuffle(),
                      "empty": p | "E" >> beam.Create([]).with_output_types(tuple[str, int])}
            for name, transform in [("Ours", InProcessCoGroupByKey(store)), ("Beams", beam.CoGroupByKey())]:
                assert_that(tagged | name >> transform | f"List{name}" >> beam.combiners.ToList()
                            | f"Sort{name}" >> beam.Map(sorted_co_groups), equal_to(expected), label=f"{name}Equal")


def _hold_bundle(store, pairs, tag=None, tags=0):
    hold = shuffle_in_process._HoldGroups(store, "shuffle", tag, tags)
    hold.start_bundle()
    for pair in pairs:
        hold.process(pair)
    return [token.value for token in hold.finish_bundle()]


def _release_all(store, tokens, tags=None):
    release = shuffle_in_process._ReleaseGroups(store, "shuffle", tags)
    return [group for partition in sorted({p for p, _ in tokens}) for group in release.process((partition, [None]))]


def test_bundles_merge_their_groups_and_a_release_empties_the_store():
    with in_process_store("bundles") as store:
        tokens = _hold_bundle(store, [("a", 1), ("b", 2), ("a", 3)]) + _hold_bundle(store, [("a", 4), ("c", 5)])
        assert sorted(_release_all(store, tokens)) == [("a", [1, 3, 4]), ("b", [2]), ("c", [5])]
        assert _release_all(store, tokens) == []  # taken out, not copied

        tokens = (_hold_bundle(store, [("a", 1)], tag=0, tags=2) + _hold_bundle(store, [("a", 2), ("b", 3)], 1, 2)
                  + _hold_bundle(store, [("a", 4)], tag=1, tags=2))
        assert sorted(_release_all(store, tokens, ("x", "y")), key=repr) == [
            ("a", {"x": [1], "y": [2, 4]}), ("b", {"x": [], "y": [3]})]


def test_empty_input_groups_nothing():
    with in_process_store("empty") as store:
        with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as p:
            groups = p | beam.Create([]).with_output_types(tuple[str, int]) | InProcessGroupByKey(store)
            assert_that(groups, equal_to([]))


class _FailOn(beam.DoFn):
    def process(self, key_values):
        if key_values[0] == "key-3":
            raise ValueError("a failing consumer")
        yield key_values


def test_store_is_dropped_after_a_failed_run():
    with pytest.raises(Exception, match="a failing consumer"):
        with in_process_store("failed") as store:
            with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as p:
                _ = p | beam.Create(PAIRS) | InProcessGroupByKey(store) | beam.ParDo(_FailOn())
    assert "failed" not in open_stores()


def test_one_store_per_run():
    with in_process_store("twice"):
        with pytest.raises(ValueError, match="already open"):
            with in_process_store("twice"):
                pass
    assert "twice" not in open_stores()


def test_a_worker_in_another_process_is_refused_with_a_message():
    with in_process_store("elsewhere"):
        other = InProcessStore("elsewhere", pid=os.getpid() + 1)  # as a worker process sees the driver's store
        hold = shuffle_in_process._HoldGroups(other, "shuffle")
        hold.start_bundle()
        hold.process(("key", 1))
        with pytest.raises(RuntimeError, match="every worker in the driver's process"):
            list(hold.finish_bundle())
    closed = shuffle_in_process._ReleaseGroups(InProcessStore("closed", pid=os.getpid()), "shuffle")
    with pytest.raises(RuntimeError, match="no store in process"):
        list(closed.process((0, [None])))


@pytest.mark.parametrize("args,expected", [
    (["--runner=FnApiRunner"], True),
    (["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"], True),
    (THREADS, True),
    (["--runner=FnApiRunner", "--direct_running_mode=multi_processing"], False),
    (["--runner=DirectRunner"], False),  # may hand the job to Prism, another process
    (["--runner=PortableRunner", "--job_endpoint=embed"], False),
    (["--runner=DataflowRunner"], False),
])
def test_runs_in_this_process(args, expected):
    assert runs_in_this_process(PipelineOptions(args)) is expected


def test_a_shuffle_spills_or_stays_in_process_not_both(tmp_path):
    from c4forge.pipeline.spill import SpillConfig

    with pytest.raises(ValueError, match="not both"):
        Shuffle(spill=SpillConfig(str(tmp_path), 1), in_process=InProcessStore("r", os.getpid()))
    assert isinstance(Shuffle().group_by_key(), beam.GroupByKey)


def test_freed_memory_is_returned_at_most_once_per_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(shuffle_in_process, "_MALLOC_TRIM", calls.append)
    monkeypatch.setattr(shuffle_in_process, "_last_return", [0.0])
    monkeypatch.setattr(shuffle_in_process, "RETURN_FREED_MEMORY_EVERY_S", 3600)
    assert shuffle_in_process.return_freed_memory()
    assert not shuffle_in_process.return_freed_memory()
    assert calls == [0]
    monkeypatch.setattr(shuffle_in_process, "RETURN_FREED_MEMORY_EVERY_S", 0)
    assert shuffle_in_process.return_freed_memory()
    monkeypatch.setattr(shuffle_in_process, "_MALLOC_TRIM", None)  # not glibc: nothing to call
    assert not shuffle_in_process.return_freed_memory()


def test_releasing_groups_returns_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(shuffle_in_process, "_MALLOC_TRIM", calls.append)
    monkeypatch.setattr(shuffle_in_process, "RETURN_FREED_MEMORY_EVERY_S", 0)
    with in_process_store("trim") as store:
        with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as p:
            _ = p | beam.Create(PAIRS) | InProcessGroupByKey(store)
    assert calls  # once per partition released, with no interval


class _CountsPickles:
    """A value that counts how often it is pickled (class-level: FnApiRunner runs in this process)."""

    pickled = 0

    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        type(self).pickled += 1
        return _CountsPickles, (self.n,)


def _value_of(i):
    return f"key-{i % 4}", _CountsPickles(i)


def test_released_groups_are_not_pickled_for_the_runners_size_metric(monkeypatch):
    """Beam samples each bundle's first elements for a byte-size metric by encoding them; a
    released group is one of a few large elements, so every value in it would be pickled."""
    monkeypatch.setattr(_CountsPickles, "pickled", 0)
    values = 2000
    with in_process_store("metric") as store:
        with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as p:
            groups = (p | beam.Create(range(values)) | beam.Map(_value_of)  # made here: never encoded before
                      | InProcessGroupByKey(store) | beam.MapTuple(lambda key, group: (key, len(group))))
            assert_that(groups, equal_to([(f"key-{k}", values // 4) for k in range(4)]))
    # the Map's own output is sampled too (tens of values); whole groups would be all 2,000
    assert _CountsPickles.pickled < values / 10


def test_released_group_coder_round_trips_and_estimates_by_counting_values():
    coder = shuffle_in_process.ReleasedGroupCoder()
    group = ("key", [b"a" * 100, "text", 3])
    assert coder.decode(coder.encode(group)) == group
    assert coder.estimate_size(group) == 3
    assert coder.estimate_size(("key", {"pages": [1, 2], "owned_lines": [b"x"]})) == 3
    assert not coder.is_deterministic()
