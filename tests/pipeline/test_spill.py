"""`c4forge build --spill-dir`: disk-backed GroupByKey / CoGroupByKey (``pipeline/spill.py``)."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from c4forge import cli
from c4forge.pipeline import spill
from c4forge.pipeline.shuffle import Shuffle
from c4forge.pipeline.spill import SpillConfig

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared
from helpers.builds import file_digests, manifest_of_shards


def handmade_pairs() -> list[tuple]:
    """Many keys of several types (str, int, tuple), some with one value, some with many."""
    pairs = []
    for i in range(600):
        key = [f"url-{i % 97}", i % 13, ("train", i % 5)][i % 3]
        pairs.append((key, {"i": i, "text": "x" * (i % 50)}))
    return pairs


def normalized(grouped) -> list:
    """GroupByKey's value order is unspecified: compare values sorted."""
    def sort_values(values):
        return sorted(values, key=repr)

    out = []
    for key, values in grouped:
        if isinstance(values, dict):
            out.append((key, {tag: sort_values(v) for tag, v in values.items()}))
        else:
            out.append((key, sort_values(values)))
    return sorted(out, key=repr)


def run_dofn_bundles(dofn, bundles) -> list:
    """The DoFn over several bundles, as a runner calls it; finish_bundle's windowed values unwrapped."""
    out = []
    dofn.setup()
    for bundle in bundles:
        dofn.start_bundle()
        for element in bundle:
            out.extend(dofn.process(element) or ())
        out.extend(wv.value for wv in dofn.finish_bundle() or ())
    return out


def group_references(references) -> list:
    by_partition: dict = {}
    for partition, path in references:
        by_partition.setdefault(partition, []).append(path)
    return sorted(by_partition.items())


@pytest.mark.parametrize("partitions", [1, 7])
def test_spilled_group_by_key_over_several_bundles_equals_grouping(tmp_path, partitions):
    pairs = handmade_pairs()
    config = SpillConfig(str(tmp_path), partitions)
    # A tiny buffer: each bundle appends several chunks to each of its files.
    writer = spill._WritePartitions(config, "Group/By Key", buffer_bytes=2_000)
    references = run_dofn_bundles(writer, [pairs[0:250], pairs[250:251], pairs[251:]])
    assert len({p for p, _ in references}) == partitions
    grouped = [kv for partition in group_references(references)
               for kv in spill._ReadPartitions().process(partition)]
    expected: dict = {}
    for key, value in pairs:
        expected.setdefault(key, []).append(value)
    assert normalized(grouped) == normalized(expected.items())
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # the readers delete what they read


@pytest.mark.parametrize("partitions", [1, 7])
def test_spilled_transforms_equal_beams_in_a_pipeline(tmp_path, partitions):
    pairs = handmade_pairs()
    other = [(key, f"other-{n}") for n, (key, _) in enumerate(pairs[::4])] + [("only-other", "o")]
    config = SpillConfig(str(tmp_path), partitions)
    with beam.Pipeline(runner="FnApiRunner") as p:
        left = p | "Left" >> beam.Create(pairs)
        right = p | "Right" >> beam.Create(other)
        expected_gbk = normalized([(k, list(v)) for k, v in _group(pairs)])
        expected_cogbk = normalized(_co_group({"left": pairs, "right": other}))
        gbk = left | "Spilled" >> spill.SpilledGroupByKey(config) | "NormG" >> beam.combiners.ToList()
        assert_that(gbk | "SortG" >> beam.Map(normalized), equal_to([expected_gbk]), label="gbk")
        beams = left | "Beams" >> beam.GroupByKey() | "ListB" >> beam.combiners.ToList()
        assert_that(beams | "SortB" >> beam.Map(normalized), equal_to([expected_gbk]), label="beams")
        cogbk = ({"left": left, "right": right} | "SpilledCo" >> spill.SpilledCoGroupByKey(config)
                 | "ListC" >> beam.combiners.ToList())
        assert_that(cogbk | "SortC" >> beam.Map(normalized), equal_to([expected_cogbk]), label="cogbk")
        beams_co = ({"left": left, "right": right} | "BeamsCo" >> beam.CoGroupByKey()
                    | "ListBC" >> beam.combiners.ToList())
        assert_that(beams_co | "SortBC" >> beam.Map(normalized), equal_to([expected_cogbk]), label="beams_co")
        materialized = left | "Materialize" >> spill.SpilledMaterialize(config)
        assert_that(materialized, equal_to(pairs), label="materialized")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def _group(pairs):
    grouped: dict = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped.items()


def _co_group(tagged: dict) -> list:
    grouped: dict = {}
    for tag, pairs in tagged.items():
        for key, value in pairs:
            grouped.setdefault(key, {t: [] for t in tagged})[tag].append(value)
    return list(grouped.items())


def test_partitions_grow_with_the_input():
    assert spill.partitions_for_input(0) == 1
    assert spill.partitions_for_input(150 << 20) < spill.partitions_for_input(1500 << 20)
    assert spill.partitions_for_input(1 << 50) == spill.MAX_PARTITIONS


def build(out: Path, *extra: str) -> int:
    require_shared()
    return cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out),
                     "--badwords-dir", str(BADWORDS_DIR), "--format", "both", *extra])


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--num-shards", "3"], ["--dedup", "spans"]],
                         ids=["lines-3-shards", "spans"])
def test_spilled_build_is_byte_identical_and_leaves_no_files(tmp_path, extra):
    assert build(tmp_path / "memory", *extra) == 0
    spill_dir = tmp_path / "spill"
    assert build(tmp_path / "spilled", "--spill-dir", str(spill_dir), *extra) == 0
    in_memory = file_digests(tmp_path / "memory")
    assert any(name.endswith("dataset_info.json") for name in in_memory)
    assert file_digests(tmp_path / "spilled") == in_memory
    assert manifest_of_shards(tmp_path / "spilled") == manifest_of_shards(tmp_path / "memory")
    assert list(spill_dir.iterdir()) == []  # the run's directory, files and all, is removed


@pytest.mark.parametrize("runner_args", [["--runner=DataflowRunner"], ["--runner=SparkRunner"],
                                         ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]])
def test_spill_dir_is_refused_for_a_runner_whose_shuffle_spills(tmp_path, capsys, runner_args):
    rc = cli.main(["build", "--input", str(tmp_path / "any.wet.gz"), "--output", str(tmp_path / "out"),
                   "--spill-dir", str(tmp_path / "spill"), *runner_args])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--spill-dir is for the local runner" in err
    assert not (tmp_path / "spill").exists()


def test_local_runners_are_accepted():
    for runner, endpoint in [(None, None), ("FnApiRunner", None), ("DirectRunner", None),
                             ("PortableRunner", "embed"), ("PortableRunner", None)]:
        assert spill.refuse_unless_local_runner(runner, endpoint) is None


def test_spilled_line_dedup_uses_more_shards_as_partitions_grow():
    from c4forge.pipeline import dedup as dedup_transforms

    assert dedup_transforms.spilled_line_dedup_shards(1, None) == dedup_transforms.line_dedup_shards(1)
    small, large = SpillConfig("/unused", 1), SpillConfig("/unused", 64)
    assert dedup_transforms.spilled_line_dedup_shards(1, small) == dedup_transforms.line_dedup_shards(1)
    assert dedup_transforms.spilled_line_dedup_shards(1, large) == 64 * dedup_transforms.LINE_DEDUP_SHARDS_PER_SPILL_PARTITION


# --- the sink's sorted runs: files bounded by the spill partitions -----------------------------

def run_spilled_jsonl_sink(out: Path, split_pages, num_shards: int, spill_config) -> dict:
    """The JSONL sink alone; returns the spill distributions of the run (report "shuffle" names)."""
    from apache_beam.metrics.metric import MetricsFilter
    from c4forge.pipeline import sinks

    pipeline = beam.Pipeline(runner="FnApiRunner")
    _ = (pipeline | beam.Create(split_pages)
         | sinks.WriteJsonlSplits(str(out), num_shards=num_shards, shuffle=Shuffle(spill=spill_config)))
    result = pipeline.run()
    result.wait_until_finish()
    query = result.metrics().query(MetricsFilter().with_namespace(spill.SHUFFLE_METRICS))
    return {m.key.metric.name: m.committed for m in query["distributions"]}


def sink_pages(n: int) -> list[tuple]:
    from c4forge.cleaning_rules.page import Page

    return [("validation" if i % 10 == 0 else "train",
             Page(url=f"https://site{i % 13}.example/{i}", text=f"page {i}\nline two of {i}",
                  timestamp="2019-04-20T00:00:00Z", content_type="text/plain", content_length="30"))
            for i in range(n)]


def test_spilled_sink_writes_as_many_files_for_1_shard_as_for_1024(tmp_path, monkeypatch):
    pages = sink_pages(1500)
    partitions = 4
    deleted: list[str] = []
    delete_files = spill.delete_files

    def counting_delete(paths):
        paths = list(paths)
        deleted.extend(paths)
        delete_files(paths)

    monkeypatch.setattr(spill, "delete_files", counting_delete)  # every spill file ends there
    run_files, all_files = {}, {}
    for shards in (1, 1024):  # 1024 shards x 64 runs: more runs than pages
        deleted.clear()
        config = SpillConfig(str(tmp_path / f"spill-{shards}"), partitions)
        metrics = run_spilled_jsonl_sink(tmp_path / f"out-{shards}", pages, shards, config)
        run_files[shards] = metrics["spill/GroupRuns/runs/file-disk-bytes"].count
        all_files[shards] = len(set(deleted))
        assert all_files[shards] == sum(d.count for name, d in metrics.items() if name.endswith("/file-disk-bytes"))
        runs = metrics["spill/GroupRuns/group-values"]
        assert runs.sum == len(pages) and runs.count > run_files[shards]
        assert not [p for p in Path(config.directory).rglob("*") if p.is_file()]  # deleted after the shards
    assert len(list((tmp_path / "out-1024").glob("*.json.gz"))) > 500
    # Before, one file per non-empty run: 127 for 1 shard, nearly one per page (1,500) for 1,024.
    assert run_files == {1: partitions, 1024: partitions}
    # Records waiting for the plan, runs' partitions, runs: P files each (one bundle in this runner).
    assert all_files == {1: 3 * partitions, 1024: 3 * partitions}


def test_spilled_sink_is_byte_identical_to_the_in_memory_one_with_many_shards(tmp_path):
    from c4forge.pipeline import sinks
    from helpers.builds import file_digests

    pages = sink_pages(1500)
    with beam.Pipeline(runner="FnApiRunner") as p:
        _ = p | beam.Create(pages) | sinks.WriteJsonlSplits(str(tmp_path / "memory"), num_shards=16)
    run_spilled_jsonl_sink(tmp_path / "spilled", pages, 16, SpillConfig(str(tmp_path / "spill"), 3))
    in_memory = file_digests(tmp_path / "memory")
    assert len(in_memory) == 32 and file_digests(tmp_path / "spilled") == in_memory


def test_sorted_runs_read_back_in_order_from_one_file_per_partition(tmp_path):
    config = SpillConfig(str(tmp_path), 3)
    pairs = [((f"run-{i % 10}"), (bytes([i % 7]), f"record {i}".encode())) for i in range(200)]
    references = run_dofn_bundles(spill._WritePartitions(config, "Runs", buffer_bytes=500),
                                  [pairs[:120], pairs[120:]])
    writer = spill._WriteSortedRuns(config, "Runs", chunk_bytes=64)  # several chunks per run
    runs = [run for partition in group_references(references) for run in writer.process(partition)]
    assert len({run_range.path for _, run_range in runs}) == 3
    for run_key, run_range in runs:
        expected = sorted(value for key, value in pairs if key == run_key)
        assert list(spill.read_run(run_range)) == [record for _, record in expected]


def test_spill_distributions_are_in_the_reports_shuffle_namespace():
    from c4forge.pipeline import dedup

    assert spill.SHUFFLE_METRICS == dedup.SHUFFLE_METRICS


# --- the report's shuffle section: each sink's shuffles counted --------------------------------

def test_a_both_formats_report_adds_up_both_sinks_shuffles(tmp_path):
    """Each sink shuffles its records under the same names (``spill/GroupRuns/...``, one step
    per sink): the report's ``shuffle`` holds both sinks' figures, not the last one's."""
    import json

    out = tmp_path / "out"
    assert cli.main(["build", "--sample", "--output", str(out), "--format", "both", "--num-shards", "2",
                     "--spill-dir", str(tmp_path / "spill")]) == 0
    report = json.loads((out / "c4forge-report.json").read_text())
    kept, shuffle = report["pages_kept"], report["shuffle"]
    assert kept > 0 and {s["format"] for s in report["splits"]} == {"tfrecord", "jsonl"}
    assert shuffle["spill/GroupRuns/group-values"]["total"] == 2 * kept  # every record of each sink


def test_shuffle_sizes_add_up_one_name_over_its_steps_and_keep_the_largest_group():
    from apache_beam.metrics.cells import DistributionData, DistributionResult
    from apache_beam.metrics.execution import MetricKey, MetricResult
    from apache_beam.metrics.metricbase import MetricName

    from c4forge.pipeline.build import shuffle_sizes

    def result(step, name, count, total, largest):
        d = DistributionResult(DistributionData(total, count, 1, largest))
        return MetricResult(MetricKey(step, MetricName(spill.SHUFFLE_METRICS, name)), d, d)

    class Run:
        def metrics(self):
            return self

        def query(self, _filter):
            return {"distributions": [result("WriteTfds/WriteTfrecordShards/GroupRuns/ReadPartitions",
                                             "spill/GroupRuns/group-bytes", 3, 300, 200),
                                      result("WriteJsonl/WriteJsonlShards/GroupRuns/ReadPartitions",
                                             "spill/GroupRuns/group-bytes", 4, 250, 150),
                                      result("DedupeUrls/SelectPage", "url-group-pages", 5, 6, 2)]}

    assert shuffle_sizes(Run()) == {"spill/GroupRuns/group-bytes": {"groups": 7, "total": 550, "largest": 200},
                                    "url-group-pages": {"groups": 5, "total": 6, "largest": 2}}
