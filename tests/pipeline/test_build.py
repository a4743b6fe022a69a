"""End to end: `c4forge build` on the shared real-web WET file, through every local runner."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from c4forge import cli
from c4forge.corpus.example import iter_tfrecord_examples

from conftest import BADWORDS_DIR, REALWEB_COUNTERS, REALWEB_EXPECTED, REALWEB_WET, require_shared
from helpers.builds import file_digests, manifest_of_shards

pytestmark = pytest.mark.slow


def build(out: Path, *extra: str) -> int:
    require_shared()
    return cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out),
                     "--badwords-dir", str(BADWORDS_DIR), *extra])


def expected_documents() -> dict[str, dict]:
    return {d["url"]: d for d in map(json.loads, REALWEB_EXPECTED.read_text().splitlines())}


@pytest.fixture(scope="module")
def in_process_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build-inprocess")
    assert build(out, "--format", "both") == 0
    return out


def test_tfrecord_output_is_the_reference_c4(in_process_build):
    shards = sorted((in_process_build / "c4" / "en" / "3.1.0").glob("c4-*.tfrecord-*"))
    docs = {}
    for shard in shards:
        split = shard.name.split("-")[1].split(".")[0]
        for ex in iter_tfrecord_examples(str(shard)):
            docs[ex["url"]] = {"url": ex["url"], "text": ex["text"], "timestamp": ex["timestamp"], "split": split}
            assert ex["content-type"] == "text/plain" and ex["content-length"].isdigit()
    assert docs == expected_documents()
    assert len(docs) == 252


def test_jsonl_output_is_the_reference_c4_in_allenai_layout(in_process_build):
    files = sorted((in_process_build / "en").glob("*.json.gz"))
    assert [f.name for f in files] == ["c4-train.00000-of-00001.json.gz"]
    rows = [json.loads(l) for f in files for l in gzip.open(f, "rt", encoding="utf-8")]
    assert all(list(r) == ["text", "timestamp", "url"] for r in rows)
    expected = expected_documents()
    assert {r["url"]: r["text"] for r in rows} == {u: d["text"] for u, d in expected.items()}


def test_report_counters_equal_tfds_counters(in_process_build):
    report = json.loads((in_process_build / "c4forge-report.json").read_text())
    tfds_counters = json.loads(REALWEB_COUNTERS.read_text())
    ours = report["counters"]
    differing = {k: (v, ours.get(k)) for k, v in tfds_counters.items() if ours.get(k) != v}
    # TFDS's select_newest_page counts inside a CombineFn that Beam calls on partial
    # results, so its "filtered" count is not the number of duplicates (see README).
    assert differing == {"duplicate-url-filter/filtered": (0, 47)}
    assert report["pages_read"] == 974 and report["pages_kept"] == 252
    rules = {(r["stage"], r["rule"]): r for r in report["removed"]}
    assert rules[("clean-page", "line-filtered:no_endmark")]["removed"] == 144694
    assert rules[("badwords-filter", "filtered")]["chars"] > 0
    # README's figure for line dedup, compared with three-sentence spans (test_build_options.py)
    assert sum(v for k, v in ours.items() if k.startswith("chars/dedupe-lines/")) == 110126


@pytest.mark.parametrize("runner_args", [
    ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
], ids=["multi_processing", "portable_loopback"])
def test_other_runners_write_byte_identical_shards(in_process_build, tmp_path, runner_args):
    out = tmp_path / "build"
    assert build(out, "--format", "both", *runner_args) == 0
    assert file_digests(out) == file_digests(in_process_build)
    assert manifest_of_shards(out) == manifest_of_shards(in_process_build)


def test_shard_count_does_not_change_documents(in_process_build, tmp_path):
    out = tmp_path / "build"
    assert build(out, "--format", "jsonl", "--num-shards", "3") == 0
    files = sorted((out / "en").glob("*.json.gz"))
    assert [f.name for f in files] == [f"c4-train.0000{i}-of-00003.json.gz" for i in range(3)]
    urls = [json.loads(l)["url"] for f in files for l in gzip.open(f, "rt", encoding="utf-8")]
    assert sorted(urls) == sorted(expected_documents())


def test_existing_output_is_refused_without_overwrite(in_process_build, capsys):
    assert build(in_process_build) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_tfds_reads_the_output_with_tensorflow(in_process_build):
    tf = pytest.importorskip("tensorflow")
    import tensorflow_datasets as tfds

    by_dir = tfds.builder_from_directory(str(in_process_build / "c4" / "en" / "3.1.0")).as_dataset(split="train")
    by_name = tfds.load("c4/en:3.1.0", data_dir=str(in_process_build), download=False, split="train")
    urls_dir = sorted(ex["url"].numpy().decode() for ex in by_dir)
    urls_name = sorted(ex["url"].numpy().decode() for ex in by_name)
    assert urls_dir == urls_name == sorted(expected_documents())
    assert tf.is_tensor(next(iter(by_dir))["text"])


def test_noblocklist_keeps_the_pages_the_badwords_filter_removes(tmp_path):
    out = tmp_path / "build"
    assert build(out, "--noblocklist", "--format", "jsonl") == 0
    rows = [json.loads(l) for f in (out / "en.noblocklist").glob("*.json.gz") for l in gzip.open(f, "rt")]
    assert len(rows) == 290  # TFDS english-filter/passed: everything before the bad-words filter
    assert set(expected_documents()) < {r["url"] for r in rows}


def test_noclean_runs_langdetect_on_raw_text(tmp_path):
    out = tmp_path / "build"
    assert build(out, "--noclean") == 0
    report = json.loads((out / "c4forge-report.json").read_text())
    counters = report["counters"]
    assert not any(k.startswith(("clean-page/", "dedupe-lines/", "badwords-filter")) for k in counters)
    assert counters["english-filter/passed"] == report["pages_kept"] > 252
    assert (out / "c4" / "en.noclean" / "3.1.0" / "dataset_info.json").is_file()


def test_t5_profile_2_2_0_checks_bad_words_per_line(tmp_path):
    out = tmp_path / "build"
    assert build(out, "--profile", "c4-en-2.2.0") == 0
    report = json.loads((out / "c4forge-report.json").read_text())
    counters = report["counters"]
    assert counters.get("clean-page/filtered:badword", 0) > 0
    assert "badwords-filter/filtered" not in counters
    assert "dedupe-lines/line-filtered:local_duplicate" not in counters
    assert (out / "c4" / "en" / "2.2.0" / "dataset_info.json").is_file()


def test_progress_is_logged_with_files_pages_and_eta(tmp_path, monkeypatch, caplog):
    """In-process (FnApiRunner), not on a terminal: the build's own lines, not one per file."""
    monkeypatch.setenv("C4FORGE_PROGRESS_SECONDS", "0")
    caplog.set_level("INFO", logger="c4forge.progress")
    assert build(tmp_path / "build") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "c4forge.progress"]
    reading = [m for m in lines if m.startswith("read 0/1 files, ")]
    assert reading and all("pages/s" in m and "ETA" in m and "MiB" in m for m in reading)
    assert any(m.startswith("read 1/1 files, 4.3 MiB of 4.3 MiB (100%), 974 pages") and "kept 252 pages so far" in m
               for m in lines)
    assert lines[-1].startswith("read 1 files (4.3 MiB), 974 pages in ") and lines[-1].endswith("; kept 252 pages")
    assert not any(m.startswith(f"read {REALWEB_WET}") for m in lines)


def test_a_build_runs_with_fewer_garbage_collections_and_restores_them():
    import gc

    from c4forge.pipeline import build

    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with build.fewer_garbage_collections():
        assert gc.get_threshold() == (build.BUILD_GC_GEN0_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what was alive at the start is out of the passes
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), build.fewer_garbage_collections():
        raise RuntimeError("a failed run restores them too")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_the_run_and_its_report_are_drawn_with_fewer_garbage_collections(tmp_path, monkeypatch):
    """Not only the pipeline: after it, a full pass with the default thresholds would walk
    everything the run froze."""
    import gc

    from c4forge.pipeline import build as build_lib

    seen = {}
    write_report_files = build_lib._write_report_files

    def recording(*args, **kwargs):
        seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()
        return write_report_files(*args, **kwargs)

    monkeypatch.setattr(build_lib, "_write_report_files", recording)
    before = gc.get_threshold()
    assert build(tmp_path / "build", "--format", "jsonl") == 0
    assert seen["threshold"][0] == build_lib.BUILD_GC_GEN0_THRESHOLD and seen["frozen"] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_objects_someone_else_froze_stay_frozen():
    import gc

    from c4forge.pipeline import build

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with build.fewer_garbage_collections():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
