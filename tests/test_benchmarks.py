"""Smoke test of the C4 benchmark (benchmarks/make_segment.py, benchmarks/c4_benchmark.py)
on a ~200-record synthetic segment: the generator's file is well-formed and deterministic,
both stage-view chains and both end-to-end runs keep the same documents, --compare-with
measures two versions of c4forge with the same counters; and of the skew
benchmark (benchmarks/skew_benchmark.py): hot keys leave the largest groups as they were."""

from __future__ import annotations

import collections
import json
import sys
import zlib
from pathlib import Path

import pytest

from conftest import REALWEB_WET, REPO

ROOT = REPO
RECORDS = 200

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench():
    if not REALWEB_WET.is_file():
        pytest.skip("../shared is absent (a user's machine): the benchmark builds its input from "
                    "../shared/data/realweb/realweb-dev.warc.wet.gz")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import c4_benchmark
        import make_segment
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return c4_benchmark, make_segment


@pytest.fixture(scope="module")
def segment(bench, tmp_path_factory):
    _, make_segment = bench
    path = make_segment.make_segment(RECORDS, tmp_path_factory.mktemp("segment-cache"))
    return path, make_segment.segment_stats(path)


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        d = zlib.decompressobj(31)
        members.append(d.decompress(data))
        assert d.eof
        data = d.unused_data
    return members


def test_segment_is_a_wet_file_of_the_requested_size(bench, segment):
    from c4forge.cleaning_rules import profiles
    from c4forge.pipeline.readers import read_wet_pages

    path, stats = segment
    assert stats["records"] == RECORDS
    assert stats["recaptures"] == round(RECORDS * 0.06)
    members = gzip_members(path.read_bytes())
    assert len(members) == RECORDS + 1  # warcinfo + one member per record
    assert members[0].startswith(b"WARC/1.0\r\nWARC-Type: warcinfo\r\n")
    for m in members[1:]:
        head, _, rest = m.partition(b"\r\n\r\n")
        length = int(head.rsplit(b"Content-Length: ", 1)[1])
        assert len(rest) == length + 4 and rest.endswith(b"\r\n\r\n")  # Content-Length is exact

    for profile in (profiles.C4_EN_3_1_0, profiles.C4_EN_3_1_0.with_switches(wet_quirks=False)):
        counts = collections.Counter()
        pages = list(read_wet_pages(str(path), profile, counts))
        assert len(pages) == stats["expected_pages"], profile.name
        assert len({p.url for p in pages}) == len(pages)  # every record has its own URL
        assert len({p.normalized_url for p in pages}) == stats["expected_distinct_urls"]
        assert not any(k.startswith("split-wet-file/") and ("error" in k or "bad" in k) for k in counts)
    # Re-captures: same normalized URL, same text, a different date.
    by_url = collections.defaultdict(list)
    for p in pages:
        by_url[p.normalized_url].append(p)
    recaptured = [v for v in by_url.values() if len(v) > 1]
    assert len(recaptured) == stats["expected_pages"] - stats["expected_distinct_urls"] > 0
    assert all(len({p.text for p in v}) == 1 and len({p.timestamp for p in v}) == len(v) for v in recaptured)


def test_segment_is_deterministic_and_cached(bench, segment, tmp_path):
    _, make_segment = bench
    path, _ = segment
    again = make_segment.make_segment(RECORDS, tmp_path)
    assert again.read_bytes() == path.read_bytes()
    mtime = again.stat().st_mtime_ns
    assert make_segment.make_segment(RECORDS, tmp_path) == again and again.stat().st_mtime_ns == mtime
    other = make_segment.make_segment(RECORDS, tmp_path, seed=1)
    assert other.read_bytes() != again.read_bytes()
    # Bodies vary between records built from the same real page (own lines are reshuffled);
    # re-captures repeat one, and so do records of a real page without own text (menus only).
    bodies = [m.partition(b"\r\n\r\n")[2] for m in gzip_members(path.read_bytes())[1:]]
    assert len(set(bodies)) >= 0.9 * (RECORDS - round(RECORDS * 0.06))


def test_stage_view_and_end_to_end_agree(bench, segment, tmp_path):
    c4_benchmark, _ = bench
    path, stats = segment
    sv = c4_benchmark.stage_view(path, None)
    assert sv["identical"] and sv["documents"] > 0
    for impl in ("reference", "c4forge"):
        rows = {r["stage"]: r for r in sv[impl]}
        assert list(rows) == list(c4_benchmark.STAGES)
        assert rows[c4_benchmark.STAGES[0]]["pages_out"] == stats["expected_pages"]
        assert rows[c4_benchmark.STAGES[1]]["pages_out"] == stats["expected_distinct_urls"]
    assert "total" in c4_benchmark.stage_table(sv)

    runs = {impl: c4_benchmark.run_child(impl, path, tmp_path / "runs", "") for impl in ("reference", "c4forge")}
    report = c4_benchmark.compare_outputs(runs["reference"], runs["c4forge"])
    assert report.identical, report.format_text()
    assert runs["c4forge"]["documents"] == runs["reference"]["documents"] == sv["documents"]
    for run in runs.values():
        assert run["pages_read"] == stats["expected_pages"]
        assert run["cpu_s"] > 0 and run["maxrss_mb"] > 0
    table = c4_benchmark.e2e_table(c4_benchmark.floor(path), runs, stats)
    assert "pages/s/core" in table and "reference / c4forge" in table


@pytest.fixture(scope="module")
def git_checkout(bench):
    c4_benchmark, _ = bench
    try:
        c4_benchmark.resolve_revision("HEAD")
    except c4_benchmark.RevisionError as e:
        pytest.skip(f"--compare-with needs the repository as a git checkout: {e}")


def test_compare_with_an_unknown_revision_is_one_line_and_exit_2(bench, git_checkout, capsys):
    c4_benchmark, _ = bench
    assert c4_benchmark.main(["--compare-with", "no-such-revision", "--skip-e2e", "--no-stage-view"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"--compare-with: unknown revision 'no-such-revision' in {ROOT.resolve()}"]


def test_compare_with_head_runs_both_trees_interleaved_with_equal_counters(bench, git_checkout, segment, tmp_path,
                                                                           capsys):
    c4_benchmark, _ = bench
    path, stats = segment
    out = tmp_path / "results.json"
    assert c4_benchmark.main(["--input", str(path), "--skip-e2e", "--no-stage-view", "--compare-with", "HEAD",
                              "--compare-runs", "1", "--workdir", str(tmp_path / "runs"), "--json", str(out)]) == 0
    cmp = json.loads(out.read_text())["compare_with"]
    rev, tree = cmp["runs"]
    assert (rev["side"], tree["side"]) == ("rev", "tree")
    assert tree["c4forge_dirs"] == [str(ROOT.resolve())] != rev["c4forge_dirs"]
    assert not Path(rev["c4forge_dirs"][0]).exists()  # the REV worktree is removed afterwards
    assert cmp["counters_equal"] and rev["counters"] == tree["counters"]
    assert cmp["documents"]["rev"] == cmp["documents"]["tree"] > 0
    assert rev["pages_read"] == tree["pages_read"] == stats["expected_pages"]
    printed = capsys.readouterr().out
    assert "| rev" in printed and "median CPU s" in printed and "counters equal" in printed


def test_skewed_segment_keeps_tfds_documents_and_groups_do_not_grow_with_hot_keys(bench, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import skew_benchmark
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setenv("C4FORGE_BENCH_DIR", str(tmp_path / "cache"))
    out = tmp_path / "skew.json"
    assert skew_benchmark.main(["--records", str(RECORDS), "--hot-shares", "0.1,0.5", "--captures", "50,500",
                                "--long-page-lines", "20000", "--json", str(out)]) == 0  # 0: identical to TFDS
    small, large = json.loads(out.read_text())["rows"]
    assert large["hot_pages"] == 5 * small["hot_pages"] and large["captures"] == 10 * small["captures"]
    assert large["largest_url_group_pages"] == small["largest_url_group_pages"] == 1
    assert large["largest_line_group_bytes"] <= small["largest_line_group_bytes"] + 32 * 4
