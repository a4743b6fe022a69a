"""Builds killed, crashed or out of disk at every moment that matters, and two builds at once.

Each case starts `c4forge build --overwrite` as its own process over an earlier build of other
pages (JSONL and TFRecords), stops it at a named moment (pipeline/faults.py) with kill -9 or
an injected "no space left on device", then checks what the folder holds: every dataset TFDS
can open is the old build's or the new build's, exactly, and c4forge's reader takes the old
build, the new build, or refuses. A rerun of the same command then publishes the new build
alone and removes what the dead run left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from c4forge.corpus.manifest import CorpusError
from c4forge.corpus.reader import find_corpus

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared

pytestmark = pytest.mark.slow

KILL_POINTS = ("shard-written", "pipeline-done", "staged", "publish-start", "publish-old-markers-removed",
               "publish-old-build-removed", "publish-moving-files", "publish-before-manifest")
CHILD_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
TFDS_DIR = Path("c4") / "en" / "3.1.0"


def split_wet(source: Path, out: Path, start: int, stop: int) -> Path:
    """Records start..stop-1 of a WET file (after its warcinfo record) as a file of their own."""
    with open(source, "rb") as f, open(out, "wb") as target:
        writer = WARCWriter(target, gzip=True)
        for index, record in enumerate(ArchiveIterator(f)):
            if index == 0 or start <= index < stop:
                writer.write_record(record)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    require_shared()
    root = tmp_path_factory.mktemp("faults-inputs")
    return split_wet(REALWEB_WET, root / "old.warc.wet.gz", 1, 400), split_wet(REALWEB_WET, root / "new.warc.wet.gz",
                                                                              400, 975)


def build_argv(wet: Path, output: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "c4forge.cli", "build", "--input", str(wet), "--output", str(output),
            "--badwords-dir", str(BADWORDS_DIR), *extra]


def run_build(wet: Path, output: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(build_argv(wet, output, *extra), capture_output=True, text=True, timeout=600,
                          env=env or CHILD_ENV)


def start_and_stop_at(point: str, wet: Path, output: Path, *extra: str) -> subprocess.Popen:
    """A build that has reached ``point`` and waits there (pipeline/faults.py)."""
    process = subprocess.Popen(build_argv(wet, output, *extra), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, env={**CHILD_ENV, "C4FORGE_FAULT_POINT": point})
    deadline = time.monotonic() + 300
    for line in process.stderr:
        if f"fault point {point} reached" in line:
            return process
        assert time.monotonic() < deadline, f"{point} not reached in time"
    raise AssertionError(f"the build ended (exit {process.wait()}) before {point}")


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stderr.close()


def urls_tfds_reads(output: Path):
    """The URLs of the c4/en dataset as TFDS reads it, or None if TFDS refuses it."""
    tfds = pytest.importorskip("tensorflow_datasets")
    pytest.importorskip("tensorflow")
    try:
        builder = tfds.builder_from_directory(str(output / TFDS_DIR))
        return sorted(ex["url"].numpy().decode() for ex in builder.as_dataset(split="train"))
    except Exception:  # noqa: BLE001 - any refusal: missing info, missing or extra shards
        return None


def urls_c4forge_reads(output: Path):
    """(format, URLs) of the corpus c4forge's reader takes, or None if it refuses."""
    try:
        corpus = find_corpus(output)
        return corpus.kind, sorted(ex["url"] for ex in corpus.iter_examples("train"))
    except CorpusError:
        return None


@pytest.fixture(scope="module")
def builds(inputs, tmp_path_factory):
    """The old build (both formats) and the new one (TFRecords only), each in its own folder,
    as references; and what each reader sees of them."""
    old_wet, new_wet = inputs
    root = tmp_path_factory.mktemp("faults-builds")
    assert run_build(old_wet, root / "old", "--format", "both").returncode == 0
    assert run_build(new_wet, root / "new").returncode == 0
    seen = {name: (urls_tfds_reads(root / name), urls_c4forge_reads(root / name)) for name in ("old", "new")}
    assert seen["old"][0] and seen["new"][0] and seen["old"][0] != seen["new"][0]
    assert seen["old"][1][0] == "tfrecord" and sorted(os.listdir(root / "old" / "en"))  # JSONL too
    return root, seen


def copy_tree(source: Path, target: Path) -> None:
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def assert_old_new_or_refused(output: Path, seen: dict) -> str:
    tfds_view, c4forge_view = urls_tfds_reads(output), urls_c4forge_reads(output)
    assert tfds_view in (seen["old"][0], seen["new"][0], None), "TFDS reads a mix of the two builds"
    assert c4forge_view in (seen["old"][1], seen["new"][1], None), "c4forge reads a mix of the two builds"
    if tfds_view is not None and c4forge_view is not None:
        assert (tfds_view == seen["old"][0]) == (c4forge_view == seen["old"][1]), "the readers disagree"
    return "old" if tfds_view == seen["old"][0] else "new" if tfds_view == seen["new"][0] else "refused"


def assert_rerun_publishes_the_new_build_alone(inputs, output: Path, seen: dict) -> None:
    rerun = run_build(inputs[1], output, "--overwrite")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert urls_tfds_reads(output) == seen["new"][0] and urls_c4forge_reads(output) == seen["new"][1]
    assert not (output / "en").exists() or not os.listdir(output / "en")  # the old build's JSONL is gone
    assert not list(output.glob(".c4forge-staging-*"))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_during_overwrite_leaves_old_new_or_nothing_readable(point, inputs, builds, tmp_path):
    root, seen = builds
    output = tmp_path / "out"
    copy_tree(root / "old", output)
    kill(start_and_stop_at(point, inputs[1], output, "--overwrite"))
    state = assert_old_new_or_refused(output, seen)
    if point in ("shard-written", "pipeline-done", "staged", "publish-start"):
        assert state == "old"  # nothing of the old build is touched before publishing starts
    if point == "publish-moving-files":
        assert state == "refused"
        vocab = subprocess.run([sys.executable, "-m", "c4forge.cli", "vocab", "--corpus", str(output), "--output",
                                str(tmp_path / "vocab")], capture_output=True, text=True, timeout=300, env=CHILD_ENV)
        assert vocab.returncode == 2 and "--overwrite" in vocab.stderr and "Traceback" not in vocab.stderr
    assert_rerun_publishes_the_new_build_alone(inputs, output, seen)


@pytest.mark.parametrize("point", ["shard-written", "pipeline-done", "publish-old-build-removed"])
def test_a_full_disk_is_one_line_and_leaves_the_old_build_or_nothing_readable(point, inputs, builds, tmp_path):
    root, seen = builds
    output = tmp_path / "out"
    copy_tree(root / "old", output)
    failed = run_build(inputs[1], output, "--overwrite", env={**CHILD_ENV, "C4FORGE_FAULT_POINT": f"enospc:{point}"})
    errors = [line for line in failed.stderr.splitlines() if line.startswith("c4forge: error:")]
    assert failed.returncode == 2 and len(errors) == 1 and "no space left" in errors[0], failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr
    state = assert_old_new_or_refused(output, seen)
    assert state == ("refused" if point.startswith("publish") else "old")
    if state == "old":
        assert not list(output.glob(".c4forge-staging-*"))  # a failed run removes its own staging files
    assert_rerun_publishes_the_new_build_alone(inputs, output, seen)


def test_a_second_build_into_an_output_in_use_is_refused_naming_the_first(inputs, tmp_path):
    output = tmp_path / "out"
    first = start_and_stop_at("staged", inputs[0], output)
    second = run_build(inputs[1], output, "--overwrite")
    assert second.returncode == 2
    (line,) = [line for line in second.stderr.splitlines() if line.startswith("c4forge: error:")]
    assert "in use by another c4forge build" in line and f"pid {first.pid}" in line and "host" in line
    kill(first)
    # the dead run's lock is free; its staging files are removed, with a log line
    third = run_build(inputs[1], output)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "removing" in third.stderr and "did not finish" in third.stderr
    assert not list(output.glob(".c4forge-staging-*"))


def test_any_earlier_build_is_refused_without_overwrite_and_replaced_whole_with_it(inputs, builds, tmp_path):
    root, seen = builds
    output = tmp_path / "out"
    copy_tree(root / "old", output)
    refused = run_build(inputs[1], output, "--format", "jsonl")  # another format than the new build's
    assert refused.returncode == 2 and "already holds a build" in refused.stderr
    assert urls_tfds_reads(output) == seen["old"][0]
    assert_rerun_publishes_the_new_build_alone(inputs, output, seen)


def test_output_that_is_a_file_and_a_changed_shard_are_one_line_errors(inputs, builds, tmp_path):
    root, _ = builds
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    failed = run_build(inputs[1], not_a_folder)
    assert failed.returncode == 2 and "is a file" in failed.stderr and "Traceback" not in failed.stderr
    output = tmp_path / "out"
    copy_tree(root / "new", output)
    shard = next((output / TFDS_DIR).glob("c4-train.tfrecord-*"))
    data = bytearray(shard.read_bytes())
    data[-5] ^= 1  # same size, other bytes: TFRecord's own checksum or the manifest's sha256 tells
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="crc mismatch|not what the build's manifest lists"):
        urls_c4forge_reads_strict(output)
    shard.write_bytes(bytes(data[:-100]))
    with pytest.raises(CorpusError, match="manifest says"):
        find_corpus(output)


def urls_c4forge_reads_strict(output: Path) -> list:
    return [ex["url"] for ex in find_corpus(output).iter_examples("train")]
