"""A local build spills on its own when its estimated in-memory peak passes the budget
(``pipeline/spill_setup.py``), keeps its shuffles in memory with --no-spill, and writes the same
bytes either way."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge import cli
from c4forge.pipeline import spill_setup
from c4forge.pipeline.shuffle_in_process import open_stores
from c4forge.pipeline.spill_setup import SpillFolder, decide_auto_spill

from helpers.builds import file_digests, manifest_of_shards

MB, GIB = 2**20, 2**30
ONE_WET_FILE = 195 * MB  # gzipped, 40,000 records (benchmarks/c4_benchmark.py)
ROOMY = [SpillFolder("/out/.c4forge-spill", free_bytes=100 * GIB), SpillFolder("/tmp", free_bytes=100 * GIB)]


RUNNER_SHUFFLE, IN_PROCESS = False, True


def test_one_wet_file_stays_in_memory_where_it_fits():
    for memory in (24 * GIB, 256 * GIB):
        for in_process in (RUNNER_SHUFFLE, IN_PROCESS):
            assert decide_auto_spill(ONE_WET_FILE, memory, ROOMY, in_process) == spill_setup.SpillDecision(None, None)
    assert decide_auto_spill(0, 1 * GIB, ROOMY, IN_PROCESS).directory is None


def test_past_the_cap_a_build_spills_even_on_a_big_machine():
    # memory flat as the input grows: these would fit 256 GiB, yet they spill, said as information
    for files, in_process in ((2, RUNNER_SHUFFLE), (8, IN_PROCESS)):
        decision = decide_auto_spill(files * ONE_WET_FILE, 256 * GIB, ROOMY, in_process)
        assert decision.directory == "/out/.c4forge-spill" and decision.level == logging.INFO
        assert "more than 4.0 GiB" in decision.message and "--no-spill" in decision.message
    # by reference in this process, a few files' shuffles still fit the cap
    assert decide_auto_spill(6 * ONE_WET_FILE, 256 * GIB, ROOMY, IN_PROCESS).directory is None


def test_a_machine_short_of_memory_spills_with_a_warning():
    decision = decide_auto_spill(10 * ONE_WET_FILE, 24 * GIB, ROOMY, RUNNER_SHUFFLE)  # ~26 GiB in memory
    assert decision.directory == "/out/.c4forge-spill" and decision.level == logging.WARNING
    assert "25.7 GiB" in decision.message and "half the 24.0 GiB available" in decision.message
    small = decide_auto_spill(ONE_WET_FILE, 4 * GIB, ROOMY, RUNNER_SHUFFLE)  # ~2.6 GiB > half of 4
    assert small.directory == "/out/.c4forge-spill" and small.level == logging.WARNING
    small = decide_auto_spill(4 * ONE_WET_FILE, 4 * GIB, ROOMY, IN_PROCESS)  # ~2.3 GiB > half of 4
    assert small.directory == "/out/.c4forge-spill" and small.level == logging.WARNING


def test_a_folder_without_room_or_in_memory_is_passed_over():
    input_bytes = 10 * ONE_WET_FILE
    folders = [SpillFolder("/out/.c4forge-spill", free_bytes=input_bytes),  # less than twice the input
               SpillFolder("/dev/shm", unusable="memory-backed (tmpfs)"),
               SpillFolder("/scratch", free_bytes=3 * input_bytes)]
    assert decide_auto_spill(input_bytes, 24 * GIB, folders, IN_PROCESS).directory == "/scratch"


def test_no_folder_with_room_keeps_memory_and_says_why():
    folders = [SpillFolder("/out/.c4forge-spill", free_bytes=1 * MB), SpillFolder("/tmp", unusable="memory-backed (tmpfs)")]
    short = decide_auto_spill(10 * ONE_WET_FILE, 24 * GIB, folders, RUNNER_SHUFFLE)
    assert short.directory is None and short.level == logging.WARNING
    assert "--spill-dir DIR" in short.message and "/tmp: memory-backed (tmpfs)" in short.message
    roomy_memory = decide_auto_spill(2 * ONE_WET_FILE, 256 * GIB, folders, RUNNER_SHUFFLE)
    assert roomy_memory.directory is None and roomy_memory.level == logging.INFO


def test_spill_hint_when_an_in_memory_build_would_not_fit():
    assert spill_setup.spill_hint(200 * MB, 24 * GIB, RUNNER_SHUFFLE) is None  # one WET file here: ~2.6 GiB
    hint = spill_setup.spill_hint(2 * GIB, 24 * GIB, RUNNER_SHUFFLE)  # ten of them: ~27 GiB
    assert "--spill-dir" in hint and "27.0 GiB" in hint
    assert spill_setup.spill_hint(2 * GIB, 24 * GIB, IN_PROCESS) is None  # ~5.4 GiB
    assert "12.9 GiB" in spill_setup.spill_hint(5 * GIB, 24 * GIB, IN_PROCESS)


def test_memory_backed_folders_are_found_from_the_mount_table(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\ntmpfs /tmp/my\\040ram tmpfs rw 0 0\n")
    assert spill_setup._mount_type("/dev/shm/c4", str(mounts)) == "tmpfs"
    assert spill_setup._mount_type("/tmp/my ram/x", str(mounts)) == "tmpfs"
    assert spill_setup._mount_type("/dev/shmx", str(mounts)) == "ext4"
    monkeypatch.setattr(spill_setup, "_mount_type", lambda path: "tmpfs")
    assert spill_setup.spill_folder(str(tmp_path / "not" / "made")).unusable == "memory-backed (tmpfs)"
    monkeypatch.setattr(spill_setup, "_mount_type", lambda path: "ext4")
    folder = spill_setup.spill_folder(str(tmp_path / "not" / "made"))
    assert folder.unusable is None and folder.free_bytes > 0 and not (tmp_path / "not").exists()


def test_auto_spill_folders_put_a_local_output_first(tmp_path):
    local = spill_setup.auto_spill_folders(str(tmp_path / "out"))
    assert local[0].path == str(tmp_path / "out" / ".c4forge-spill") and len(local) == 2
    assert len(spill_setup.auto_spill_folders("gs://bucket/out")) == 1  # the temporary folder only


def test_runners_whose_shuffle_spills_and_no_spill_are_left_in_memory(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(spill_setup, "available_memory_bytes", lambda: MB)
    dataflow = PipelineOptions(["--runner=DataflowRunner"])
    with spill_setup.build_memory(None, False, dataflow, str(tmp_path), [], 10 * GIB, "r1") as memory:
        assert memory == spill_setup.BuildMemory(hold_file_bytes=0)  # the runner's shuffle, workers' memory
    local = PipelineOptions(["--runner=FnApiRunner"])
    with caplog.at_level(logging.INFO, logger=spill_setup.__name__):
        with spill_setup.build_memory(None, True, local, str(tmp_path), [], 10 * GIB, "r2") as memory:
            assert memory.spill is None and memory.hold_file_bytes == spill_setup.HOLD_FILE_BYTES
            assert memory.in_process.run_id == "r2"  # every worker in this process: values pass by reference
        assert "r2" not in open_stores()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "(--no-spill)" in caplog.records[0].getMessage()
    assert list(tmp_path.iterdir()) == []


def sample_build(out: Path, *extra: str) -> dict:
    assert cli.main(["build", "--sample", "--output", str(out), "--format", "both", "--num-shards", "2", *extra]) == 0
    return json.loads((out / "c4forge-report.json").read_text())


def test_a_build_over_the_budget_spills_on_its_own_with_the_same_bytes(tmp_path, monkeypatch, caplog):
    in_memory = sample_build(tmp_path / "memory", "--no-spill")
    assert in_memory["config"]["spilled_to"] is None
    monkeypatch.setattr(spill_setup, "IN_MEMORY_PEAK_CAP", 0)  # the shipped sample counts as too big
    with caplog.at_level(logging.INFO, logger=spill_setup.__name__):
        spilled = sample_build(tmp_path / "auto")
    spill_folder = tmp_path / "auto" / ".c4forge-spill"
    assert spilled["config"]["spilled_to"].startswith(str(spill_folder) + "/c4forge-spill-")
    lines = [r for r in caplog.records if "go through files in" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and str(spill_folder) in lines[0].getMessage()
    assert not spill_folder.exists()  # the run's folder, and the one made for it, are removed
    assert file_digests(tmp_path / "auto") == file_digests(tmp_path / "memory")
    assert manifest_of_shards(tmp_path / "auto") == manifest_of_shards(tmp_path / "memory")
    assert any(name.endswith(".tfrecord-00001-of-00002") for name in file_digests(tmp_path / "auto"))


def test_an_in_memory_build_holds_a_wet_files_records_and_a_spilling_one_does_not(tmp_path, monkeypatch):
    """In memory, a file's records are kept after its UTF-8 check (read once); spilling keeps
    memory flat (read twice). The bytes are the same (the test above compares the two)."""
    from c4forge.pipeline import graph

    holds = []
    real = graph.read_wet_pages

    def recording(*args, hold_bytes=0, **kwargs):
        holds.append(hold_bytes)
        return real(*args, hold_bytes=hold_bytes, **kwargs)

    monkeypatch.setattr(graph, "read_wet_pages", recording)
    sample_build(tmp_path / "memory")
    sample_build(tmp_path / "spilled", "--spill-dir", str(tmp_path / "spill"))
    assert holds == [spill_setup.HOLD_FILE_BYTES, 0]


@pytest.mark.slow
def test_a_machine_short_of_memory_spills_with_a_warning_unless_told_otherwise(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(spill_setup, "available_memory_bytes", lambda: MB)
    with caplog.at_level(logging.WARNING, logger=spill_setup.__name__):
        assert sample_build(tmp_path / "auto")["config"]["spilled_to"] is not None
    assert any("go through files in" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=spill_setup.__name__):
        assert sample_build(tmp_path / "given", "--spill-dir", str(tmp_path / "spill"))["config"]["spilled_to"]
    assert not caplog.records and list((tmp_path / "spill").iterdir()) == []


def test_spill_dir_and_no_spill_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["build", "--sample", "--output", str(tmp_path), "--spill-dir", str(tmp_path), "--no-spill"])
    assert stopped.value.code == 2
    assert "not allowed with argument --spill-dir" in capsys.readouterr().err


def test_a_dead_runs_automatic_spill_folder_is_removed_by_the_next_run_even_in_memory(tmp_path, caplog):
    from c4forge.pipeline.output_lock import SPILL_DIR_PREFIX

    output = tmp_path / "out"
    dead = output / ".c4forge-spill" / f"{SPILL_DIR_PREFIX}dead-run"
    (dead / "shuffle").mkdir(parents=True)
    (dead / "shuffle" / "part-00000").write_bytes(b"x" * 100)
    (output / ".c4forge-spill" / f"{SPILL_DIR_PREFIX}dead-run.lock").write_text("")  # nobody holds it
    local = PipelineOptions(["--runner=FnApiRunner"])
    with caplog.at_level(logging.WARNING):
        with spill_setup.build_memory(None, False, local, str(output), [], 0, "r3") as memory:
            assert memory.spill is None  # no input: in memory
    assert not (output / ".c4forge-spill").exists()
    assert any("did not finish" in r.getMessage() for r in caplog.records)
