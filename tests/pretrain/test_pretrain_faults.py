"""Faults in `c4forge pretrain`: kill -9 while saving, a diverging loss, a full disk, a damaged
checkpoint, changed settings on resume, missing inputs. What is left on disk and how it is reported.

The kills are deterministic: pretrain/checkpoint.py's test-only hook (``C4FORGE_PRETRAIN_FAULT=
kill:<point>:<checkpoint>``) makes the child SIGKILL itself at a named point of a save; the same
hook with ``enospc`` fails the write as a full disk does. The real-data runs reuse test_pretrain's
tiny setup (290 real-web documents, a 1,000-piece vocabulary, a tiny T5) and compare against one
uninterrupted run of the same flags, bit for bit.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from c4forge import cli
from c4forge.pretrain import checkpoint as ckpt
from c4forge.pretrain.config import APPLIED_ON_RESUME, FREE_ON_RESUME, REFUSED_ON_RESUME, TrainConfig
from c4forge.pretrain.errors import PretrainError
from c4forge.pretrain.metrics import read_jsonl
from c4forge.pretrain.optim import lr_multiplier

from helpers.pretraining import CHILD_ENV, pretrain, train_records

# 12 steps, a checkpoint every 4 (two kept), Adafactor at the T5 recipe's lr.
FLAGS = ["--steps", "12", "--batch-size", "4", "--optimizer", "adafactor", "--lr", "0.01", "--warmup-steps", "4",
         "--save-every", "4", "--log-every", "1", "--eval-every", "0", "--keep-checkpoints", "2"]
LONGER = ["--steps", "16", *FLAGS[2:]]  # the same run extended by 4 steps


def with_steps(steps: int) -> list[str]:
    return ["--steps", str(steps), *FLAGS[2:]]


def run_child(realweb, output: Path, *flags: str, fault: str = "") -> subprocess.CompletedProcess:
    env = CHILD_ENV | ({ckpt.FAULT_ENV: fault} if fault else {})
    return subprocess.run([sys.executable, "-m", "c4forge.cli", "pretrain", *realweb.args(output, *flags)], env=env,
                          capture_output=True, text=True, timeout=300)


def error_line(stderr: str) -> str:
    """The one error line of a failed command (no traceback)."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("c4forge: error:")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = weights(a), weights(b)
    assert left.keys() == right.keys()
    assert all(torch.equal(left[name], right[name]) for name in left)


def assert_same_run(output: Path, reference: Path, steps: int = 12) -> None:
    """Bit for bit the uninterrupted run: every step's batch and loss, and the final weights."""
    records, expected = train_records(output), train_records(reference)
    assert [r["step"] for r in records] == list(range(1, steps + 1))
    assert [r["batch_fingerprint"] for r in records] == [r["batch_fingerprint"] for r in expected]
    assert [r["loss"] for r in records] == [r["loss"] for r in expected]
    assert ckpt.step_of(output / "final") == steps
    assert_same_weights(output / "final", reference / "final")
    assert not list(output.glob(".*")), "a leftover of an interrupted save"


def resumes(output: Path) -> list[dict]:
    return [r for r in read_jsonl(output / "logs" / "train.jsonl") if "resumed_from" in r]


# ---------------------------------------------------------------- without real data


def test_every_option_has_one_resume_decision():
    fields = [field.name for field in dataclasses.fields(TrainConfig)]
    decided = [*REFUSED_ON_RESUME, *APPLIED_ON_RESUME, *FREE_ON_RESUME]
    assert sorted(decided) == sorted(fields), "a TrainConfig field without a resume decision (config.py)"


def test_disk_errors_are_recognized_through_the_libraries_wrappers():
    from safetensors import SafetensorError

    full = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert ckpt.filesystem_error(full).errno == errno.ENOSPC
    try:  # torch.save into a file on a full disk
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    except RuntimeError as wrapped:
        assert ckpt.filesystem_error(wrapped).errno == errno.ENOSPC
    assert ckpt.filesystem_error(RuntimeError("a bug")) is None


def fake_checkpoint(directory: Path, step: int, complete: bool = True) -> None:
    """A checkpoint as the protocol sees one: files, then the state file that lists their sizes."""
    directory.mkdir(parents=True)
    (directory / "model.safetensors").write_bytes(b"w" * step)
    if complete:
        (directory / ckpt.STATE_FILE).write_text(json.dumps({"step": step, "files": {"model.safetensors": step}}))


# (name, step, complete) left by a kill -> {checkpoint: step} after finish_interrupted_saves
INTERRUPTED = {
    "mid-write": ([(".checkpoint-0000020.partial", 20, False)], {"checkpoint-0000010": 10}),
    "written, not swapped in": ([(".checkpoint-0000020.partial", 20, True)],
                                {"checkpoint-0000010": 10, "checkpoint-0000020": 20}),
    "final written over an older final": ([("final", 30, True), (".final.partial", 40, True)],
                                          {"checkpoint-0000010": 10, "final": 40}),
    "old final moved aside": ([(".final.previous", 30, True), (".final.partial", 40, True)],
                              {"checkpoint-0000010": 10, "final": 40}),
    "new final in, old not deleted": ([("final", 40, True), (".final.previous", 30, True)],
                                      {"checkpoint-0000010": 10, "final": 40}),
    "old final aside, new one lost": ([(".final.previous", 30, True)], {"checkpoint-0000010": 10, "final": 30}),
    "mid-prune": ([(".checkpoint-0000005.deleting", 5, False)], {"checkpoint-0000010": 10}),
}


@pytest.mark.parametrize("case", INTERRUPTED)
def test_interrupted_saves_are_finished_or_undone(tmp_path, case):
    leftovers, expected = INTERRUPTED[case]
    fake_checkpoint(tmp_path / "checkpoint-0000010", 10)
    for name, step, complete in leftovers:
        fake_checkpoint(tmp_path / name, step, complete)
    (tmp_path / ".notes").write_text("not ours")
    ckpt.finish_interrupted_saves(tmp_path)
    assert {p.name: ckpt.step_of(p) for p in ckpt.visible_checkpoints(tmp_path)} == expected
    assert [p.name for p in tmp_path.glob(".*")] == [".notes"]
    assert ckpt.latest_checkpoint(tmp_path).name == max(expected, key=expected.get)


def test_a_damaged_checkpoint_is_refused_not_skipped(tmp_path):
    fake_checkpoint(tmp_path / "checkpoint-0000010", 10)
    fake_checkpoint(tmp_path / "checkpoint-0000020", 20)
    (tmp_path / "checkpoint-0000020" / "model.safetensors").write_bytes(b"w" * 7)  # e.g. lost in a power cut
    with pytest.raises(PretrainError, match=r"checkpoint-0000020 is not a complete checkpoint: model.safetensors "
                                            r"has 7 bytes, 20 were written"):
        ckpt.latest_checkpoint(tmp_path)
    assert ckpt.newest_complete(tmp_path).name == "checkpoint-0000010"


def test_a_missing_or_empty_corpus_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for corpus, says in ((tmp_path / "nowhere", "no such directory"), (empty, "")):
        code = cli.main(["pretrain", "--corpus", str(corpus), "--vocab", str(tmp_path / "vocab"),
                         "--output", str(tmp_path / "run"), "--model", "tiny"])
        line = error_line(capsys.readouterr().err)
        assert code == 2 and "--corpus" in line and str(corpus) in line and says in line
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- real runs


@pytest.fixture(scope="module")
def straight(realweb) -> Path:
    """The uninterrupted run every faulty one is compared with."""
    output = realweb.root / "faults-straight"
    assert pretrain(realweb, output, *FLAGS) == 0
    return output


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("point, checkpoint, resumes_at", [
    ("writing", "checkpoint-0000008", 4),  # half written: thrown away
    ("written", "checkpoint-0000008", 8),  # written, not yet renamed in: the rename is finished
    ("written", "final", 12),  # the same for final: nothing left to train
])
def test_a_kill_while_saving_resumes_from_the_newest_complete_checkpoint(realweb, straight, tmp_path, point,
                                                                         checkpoint, resumes_at):
    output = tmp_path / "run"
    child = run_child(realweb, output, *FLAGS, fault=f"kill:{point}:{checkpoint}")
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    partial = output / f".{checkpoint}.partial"
    assert partial.is_dir() and ckpt.is_complete(partial) == (point == "written")
    assert not (output / "final").exists()

    assert pretrain(realweb, output, *FLAGS) == 0  # the same command again
    if resumes_at < 12:
        resumed_from = [(r["step"], Path(r["resumed_from"]).name) for r in resumes(output)]
        assert resumed_from == [(resumes_at, f"checkpoint-{resumes_at:07d}")]
    assert_same_run(output, straight)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("point", ["swapping", "swapped"])
def test_a_kill_while_replacing_final_never_loses_it(realweb, straight, tmp_path, point):
    """Extending a finished run replaces final/: killed after the old one was moved aside, or after
    the new one was renamed in, the rerun ends with the new final/."""
    output = tmp_path / "run"
    shutil.copytree(straight, output)
    child = run_child(realweb, output, *LONGER, fault=f"kill:{point}:final")
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert ckpt.step_of(output / ".final.previous") == 12
    new = output / (".final.partial" if point == "swapping" else "final")
    assert (output / "final").exists() == (point == "swapped") and ckpt.step_of(new) == 16
    written = weights(new)

    assert pretrain(realweb, output, *LONGER) == 0  # finishes the swap; nothing left to train
    assert ckpt.step_of(output / "final") == 16
    assert all(torch.equal(tensor, weights(output / "final")[name]) for name, tensor in written.items())
    assert not list(output.glob(".*"))


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_diverging_run_stops_with_one_line_and_saves_nothing_non_finite(realweb, straight, tmp_path):
    output = tmp_path / "run"
    shutil.copytree(straight, output)
    # --lr applies on resume: the extension diverges; saves every 2 steps, logs only at the end
    child = run_child(realweb, output, *LONGER, "--lr", "1e30", "--save-every", "2", "--log-every", "100")
    assert child.returncode == 2, child.stderr[-3000:]
    line = error_line(child.stderr)
    assert child.stderr.rstrip().endswith(line)
    assert "training diverged" in line and int(re.search(r"not finite at step (\d+)", line).group(1)) > 12
    assert f"the last good checkpoint, {output / 'final'} (step 12), is intact" in line and "Lower --lr" in line
    for path in ckpt.visible_checkpoints(output):
        assert ckpt.step_of(path) <= 12 and all(torch.isfinite(t).all() for t in weights(path).values())
    assert_same_weights(output / "final", straight / "final")

    assert pretrain(realweb, output, *LONGER) == 0  # a sane --lr: resumes from final/ (step 12)
    assert ckpt.step_of(output / "final") == 16 and resumes(output)[-1]["step"] == 12


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_changed_lr_applies_from_the_resume_step_and_a_changed_optimizer_is_refused(realweb, straight, tmp_path,
                                                                                      capsys):
    output = tmp_path / "run"
    shutil.copytree(straight, output)
    assert pretrain(realweb, output, *LONGER, "--lr", "0.005") == 0
    records, multiplier = train_records(output), lr_multiplier("rsqrt", 4, 16)
    assert [r["lr"] for r in records[:12]] == [r["lr"] for r in train_records(straight)]
    assert [r["lr"] for r in records[12:]] == [0.005 * multiplier(step - 1) for step in range(13, 17)]
    assert resumes(output)[-1]["changed"] == {"steps": [12, 16], "lr": [0.01, 0.005]}
    assert json.loads((output / "run_config.json").read_text())["lr"] == 0.005

    for flag, value, change in (("--optimizer", "adamw", "optimizer: 'adafactor' -> 'adamw'"),
                                ("--batch-size", "8", "batch_size: 4 -> 8")):
        assert pretrain(realweb, output, *with_steps(20), flag, value) == 2
        line = error_line(capsys.readouterr().err)
        assert f"cannot resume from {output / 'final'}: {change}" in line
    assert ckpt.step_of(output / "final") == 16


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(realweb, straight, tmp_path, monkeypatch, capsys):
    output = tmp_path / "run"
    monkeypatch.setenv(ckpt.FAULT_ENV, "enospc:writing:checkpoint-0000008")
    assert pretrain(realweb, output, *FLAGS) == 2
    line = error_line(capsys.readouterr().err)
    assert f"cannot write checkpoint {output / 'checkpoint-0000008'}: No space left on device" in line
    assert f"the newest checkpoint is still {output / 'checkpoint-0000004'}" in line
    assert [p.name for p in ckpt.visible_checkpoints(output)] == ["checkpoint-0000004"]
    assert ckpt.is_complete(output / "checkpoint-0000004") and not list(output.glob(".*"))

    monkeypatch.delenv(ckpt.FAULT_ENV)
    assert pretrain(realweb, output, *FLAGS) == 0
    assert_same_run(output, straight)


@pytest.fixture
def small_disk(tmp_path, straight):
    """A tmpfs room for one checkpoint and a half (root only: elsewhere the injected test above stands in)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    one = sum(p.stat().st_size for p in (straight / "checkpoint-0000004").iterdir())
    size = int(one * 1.5) + (256 << 10)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_a_really_full_disk_while_saving_keeps_the_previous_checkpoint(realweb, small_disk, capsys):
    """No injection: safetensors' own error on a full tmpfs is recognized as a full disk."""
    output = small_disk / "run"
    assert pretrain(realweb, output, *FLAGS) == 2
    line = error_line(capsys.readouterr().err)
    assert "No space left on device" in line and f"still {output / 'checkpoint-0000004'}" in line
    assert [p.name for p in ckpt.visible_checkpoints(output)] == ["checkpoint-0000004"]
    assert ckpt.is_complete(output / "checkpoint-0000004") and not list(output.glob(".*"))


def damage(final: Path, how: str) -> None:
    from safetensors.torch import save_file

    if how == "truncated weights":
        with open(final / "model.safetensors", "r+b") as handle:
            handle.truncate(1000)
    elif how == "scrambled optimizer state":
        size = (final / ckpt.TRAINER_FILE).stat().st_size
        (final / ckpt.TRAINER_FILE).write_bytes(b"\x00" * size)
    else:  # NaN weights, as an older version could save after a divergence
        tensors = weights(final)
        tensors["shared.weight"][0, 0] = float("nan")
        save_file(tensors, str(final / "model.safetensors"), metadata={"format": "pt"})
        state = ckpt.read_state(final)
        state["files"]["model.safetensors"] = (final / "model.safetensors").stat().st_size
        (final / ckpt.STATE_FILE).write_text(json.dumps(state))


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("how, says", [
    ("truncated weights", "is not a complete checkpoint: model.safetensors has 1000 bytes"),
    ("scrambled optimizer state", "cannot resume from {final}: it is unreadable"),
    ("nan weights", "cannot resume from {final}: its weights are not finite"),
])
def test_a_damaged_checkpoint_is_refused_with_one_line(realweb, straight, tmp_path, capsys, how, says):
    output = tmp_path / "run"
    shutil.copytree(straight, output)
    damage(output / "final", how)
    assert pretrain(realweb, output, *LONGER) == 2
    line = error_line(capsys.readouterr().err)
    assert says.format(final=output / "final") in line and str(output / "final") in line
    assert ckpt.step_of(output / "final") == 12  # left for the user to look at


@pytest.mark.slow
def test_a_missing_vocabulary_is_one_line(realweb, tmp_path, capsys):
    assert pretrain(realweb, tmp_path / "run", *FLAGS, "--vocab", str(tmp_path / "no-vocab")) == 2
    line = error_line(capsys.readouterr().err)
    assert f"{tmp_path / 'no-vocab'}: no spiece.model" in line and "c4forge vocab" in line
