"""benchmarks/crawl_on_paper.py: the model's arithmetic on made-up builds, and (slow) the script in
small, whose model must predict a real spilled multi-process build within its tolerances."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import BENCHMARKS, REALWEB_WET


@pytest.fixture(scope="module")
def crawl_on_paper():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import crawl_on_paper
    finally:
        sys.path.remove(str(BENCHMARKS))
    return crawl_on_paper


def made_up_build(cop, segments: int) -> dict:
    """A build whose quantities are 100 fixed + 10 per page, or 1,000 per page for bytes."""
    pages = 1000 * segments
    q = {key: 100 + 10 * pages for key in cop.LINEAR}
    q.update(pages=pages, gzip_bytes=5000 * pages, partitions=segments, spill_files=3 * segments,
             documents=pages // 4, train_documents=pages // 4, train_bytes=1000 * pages, validation_documents=0,
             validation_bytes=0)
    q["group:line-group-bytes"] = {"groups": 16, "total": 1000 * pages, "largest": 2 * 1000 * pages // 16}
    q["group:spill/JoinPagesAndOwnedLines/group-bytes"] = {"groups": 0, "total": 0, "largest": 0}
    return q


def test_model_is_a_line_through_the_two_builds(crawl_on_paper):
    cop = crawl_on_paper
    model = cop.Model(made_up_build(cop, 2), made_up_build(cop, 4), "pages", stage_view=[])
    assert model.at(10_000)["cpu_s"] == pytest.approx(100 + 10 * 10_000)
    predicted = model.predict(10_000, partitions=7, line_groups=40)
    # the mean of 40 groups of 10,000 pages' bytes, times the measured largest/mean (2)
    assert predicted["line_group_bytes"] == pytest.approx(1000 * 10_000 / 40 * 2)
    assert predicted["spill_files"] == 3 * 7 and predicted["sink_run_files"] == 7
    measured = dict(made_up_build(cop, 10), line_group_bytes=0, join_group_bytes=0,
                    output_shards=predicted["output_shards"], sink_run_files=7, spill_files=21)
    rows = {row[0]: row[-1] for row in cop.check_rows(predicted, measured)}
    assert rows["pages read"] == "ok" and rows["CPU s (process tree)"] == "ok"
    measured["cpu_s"] *= 1.5  # past the CPU tolerance
    assert {row[0]: row[-1] for row in cop.check_rows(predicted, measured)}["CPU s (process tree)"] == "OFF"


def test_cpu_never_scales_down_when_start_up_noise_hides_the_per_page_cost(crawl_on_paper):
    cop = crawl_on_paper
    small, large = made_up_build(cop, 2), made_up_build(cop, 4)
    small["cpu_s"] = large["cpu_s"] + 5  # the larger build happened to cost less
    rules = [{"stage": "parse", "ms_per_page": 1.5}, {"stage": "language", "ms_per_page": 2.5}]
    model = cop.Model(small, large, "pages", stage_view=rules)
    assert model.rate["cpu_s"] == pytest.approx(0.004)  # the rules' 4 ms per page: a lower bound
    assert model.at(large["pages"])["cpu_s"] == pytest.approx(large["cpu_s"]) and model.notes
    assert cop.Model(made_up_build(cop, 2), large, "pages", stage_view=[]).notes == []


@pytest.mark.slow
def test_script_predicts_a_small_spilled_build_and_prints_the_crawl(crawl_on_paper, tmp_path, capsys):
    if not REALWEB_WET.is_file():
        pytest.skip("../shared is absent: the segments are made from ../shared/data/realweb/realweb-dev.warc.wet.gz")
    result_path = tmp_path / "result.json"
    rc = crawl_on_paper.main(["--segments", "3", "--records", "200", "--calibrate", "1,2",
                              "--cache-dir", str(tmp_path / "segments"), "--json", str(result_path)])
    out = capsys.readouterr().out
    result = json.loads(result_path.read_text())
    assert rc == 0, out
    assert [row[-1] for row in result["check"]] == ["ok"] * len(result["check"])
    built = result["builds"]["3"]
    assert built["documents"] > 60 and built["output_bytes"] > 100_000 and built["spill_files"] > 0
    assert result["crawl"]["pages"] == pytest.approx(crawl_on_paper.CRAWL_PAGES, rel=0.01)
    assert result["worker_hours"] > 0 and min(result["costs_usd"].values()) > 0
    for line in ("shuffle: URL dedup", "largest group: line owners", "files written: output shards",
                 "worker-hours", "cost: Dataflow", "cost: Flink on EMR", "cost: Spark on Dataproc"):
        assert line in out


@pytest.mark.parametrize("scale_by", ["pages", "bytes"])
def test_crawl_table_has_every_figure_by_pages_or_by_bytes(crawl_on_paper, scale_by):
    cop = crawl_on_paper
    small, large = made_up_build(cop, 2), made_up_build(cop, 4)
    for build in (small, large):
        build["group:spill/GroupByNormalizedUrl/group-bytes"] = {"groups": 10, "total": 100, "largest": 30}
    model = cop.Model(small, large, scale_by, stage_view=[{"stage": "clean_page", "ms_per_page": 0.004}])
    rows, summary = cop.crawl_rows(model, cop.PRICES, vcpus=4, utilization=0.5)
    pages = cop.CRAWL_PAGES if scale_by == "pages" else cop.CRAWL_GZIP_BYTES / 5000
    assert summary["cpu_hours"] == pytest.approx(10 * pages / 3600)  # 10 CPU-s per page
    assert summary["worker_hours"] == pytest.approx(summary["cpu_hours"] / 4 / 0.5)
    assert summary["costs_usd"]["Flink on EMR"] == pytest.approx(summary["worker_hours"] * cop.PRICES["emr_worker_usd"])
    assert summary["costs_usd"]["Dataflow"] > summary["worker_hours"] * 4 * cop.PRICES["dataflow_vcpu_usd"]
    assert any(row[0].startswith("largest group: line owners") for row in rows)
    stages = cop.stage_rows(model, cop.CRAWL_PAGES if scale_by == "pages" else cop.CRAWL_GZIP_BYTES)
    assert stages[-1][1] == "10000.000"  # CPU-ms per page
    assert any(row[-1].endswith("10000.00 CPU-ms per page") for row in rows)
