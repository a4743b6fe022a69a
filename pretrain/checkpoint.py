"""Checkpoints: HF ``save_pretrained`` output (+ tokenizer) plus what a resume needs, written so
that no kill, full disk or diverged run loses one or leaves a half-written one behind.

``<output>/checkpoint-NNNNNNN/`` and ``<output>/final/`` hold config.json, generation_config.json,
model.safetensors, the tokenizer files and spiece.model (loadable with
``T5ForConditionalGeneration.from_pretrained`` / ``AutoTokenizer.from_pretrained``),
``trainer_state.pt`` (optimizer state) and ``c4forge_state.json`` (step, settings, data identity,
metrics, and the size of every other file).

A save never deletes before it has written (``save_checkpoint``):

1. everything goes into ``.<name>.partial/``; ``c4forge_state.json`` is written last, once the
   other files are on disk, and marks the directory complete;
2. an existing ``<name>/`` is renamed to ``.<name>.previous/``, the new one renamed to ``<name>/``,
   and only then is the previous one deleted. Pruned checkpoints are renamed to
   ``.<name>.deleting/`` before they are deleted.

A kill at any moment leaves at most these dot-directories, and ``finish_interrupted_saves`` (run
before a resume) completes or undoes what it interrupted: a complete partial is renamed in, an
incomplete one deleted, a previous one put back if nothing replaced it. So a name without a dot
is always a complete checkpoint; one that is not (lost data, a hand-edited file) is refused with
one line, never skipped, since skipping it would silently redo or lose training.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pickle
import re
import shutil
import signal
from pathlib import Path
from typing import Optional

import torch

from .errors import PretrainError
from .vocab import Vocab

log = logging.getLogger("c4forge.pretrain")
STATE_FILE = "c4forge_state.json"
TRAINER_FILE = "trainer_state.pt"
FINAL = "final"
PARTIAL, PREVIOUS, DELETING = "partial", "previous", "deleting"  # .<name>.<suffix>/
# Test-only hook, see fault_point.
FAULT_ENV = "C4FORGE_PRETRAIN_FAULT"
_NAME = re.compile(r"^checkpoint-(\d+)$")
# Present in state_dict() as aliases of ``shared.weight``; save_pretrained stores them once.
TIED_ALIASES = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}


def checkpoint_dir(output: Path, step: int) -> Path:
    return Path(output) / f"checkpoint-{step:07d}"


def _is_checkpoint_name(name: str) -> bool:
    return name == FINAL or _NAME.match(name) is not None


def _sibling(directory: Path, suffix: str) -> Path:
    return directory.with_name(f".{directory.name}.{suffix}")


def read_state(directory: Path) -> dict:
    return json.loads((Path(directory) / STATE_FILE).read_text())


def step_of(directory: Path) -> int:
    return read_state(directory)["step"]


def problem(directory: Path) -> Optional[str]:
    """Why ``directory`` is not a complete checkpoint; None when it is."""
    directory = Path(directory)
    try:
        state = read_state(directory)
        int(state["step"])
    except FileNotFoundError:
        return f"no {STATE_FILE}"
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"{STATE_FILE} is unreadable ({error!r})"
    for name, size in state.get("files", {}).items():  # absent in checkpoints of older versions
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} were written"
    return None


def is_complete(directory: Path) -> bool:
    return problem(directory) is None


def visible_checkpoints(output: Path) -> list[Path]:
    """``checkpoint-N/`` and ``final/``, whatever their state."""
    return [path for path in Path(output).glob("*") if _is_checkpoint_name(path.name) and path.is_dir()]


def list_checkpoints(output: Path) -> list[Path]:
    """Complete periodic checkpoints (not ``final``), oldest first."""
    found = [path for path in visible_checkpoints(output) if path.name != FINAL and is_complete(path)]
    return sorted(found, key=lambda path: int(_NAME.match(path.name).group(1)))


def newest_complete(output: Path) -> Optional[Path]:
    """The complete checkpoint with the highest step, ``final`` included (a run extended with more
    --steps continues from where the last one ended)."""
    return max((path for path in visible_checkpoints(output) if is_complete(path)), key=step_of, default=None)


def latest_checkpoint(output: Path) -> Optional[Path]:
    """``newest_complete``, after refusing a damaged checkpoint in ``output``."""
    for path in visible_checkpoints(output):
        why = problem(path)
        if why is not None:
            raise PretrainError(f"{path} is not a complete checkpoint: {why}. Move it out of {output} "
                                "(or delete it) and rerun, or pass --resume with another checkpoint")
    return newest_complete(output)


# ---------------------------------------------------------------- writing


def save_model_dir(directory: Path, t5, vocab: Vocab) -> None:
    """What a user loads: the model and the tokenizer side by side."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Writing model shards" bar per checkpoint clutters the run's log
    t5.save_pretrained(str(directory))
    vocab.save_beside(directory)


def save_checkpoint(directory: Path, t5, vocab: Vocab, optimizer, state: dict) -> Path:
    """Writes, then swaps in (module docstring). A full disk (or another OS error) while writing
    leaves every existing checkpoint as it was and raises a PretrainError."""
    directory = Path(directory)
    partial = _sibling(directory, PARTIAL)
    try:
        _write(partial, directory.name, t5, vocab, optimizer, state)
    except Exception as error:
        shutil.rmtree(partial, ignore_errors=True)  # gives back the space the failed write took
        cause = filesystem_error(error)
        if cause is None:
            raise
        kept = newest_complete(directory.parent)
        raise PretrainError(f"cannot write checkpoint {directory}: {cause.strerror}. Nothing was replaced: "
                            f"the newest checkpoint is still {kept or 'none'}. Free space (or fix {directory.parent}) "
                            "and rerun the same command: it resumes from there") from error
    fault_point("written", directory.name)
    _swap_in(partial, directory)
    return directory


def _write(partial: Path, name: str, t5, vocab: Vocab, optimizer, state: dict) -> None:
    partial.mkdir(parents=True)  # none is left over: a failed save removes it, a rerun finishes a killed one
    save_model_dir(partial, t5, vocab)
    fault_point("writing", name)
    with open(partial / TRAINER_FILE, "wb") as handle:  # a Python file: a full disk surfaces as OSError
        torch.save({"optimizer": optimizer.state_dict()}, handle)
    files = {path.name: path.stat().st_size for path in sorted(partial.iterdir()) if path.is_file()}
    for file in files:
        _sync(partial / file)
    with open(partial / STATE_FILE, "w") as handle:
        handle.write(json.dumps(state | {"files": files}, indent=1, sort_keys=True))
    _sync(partial / STATE_FILE)
    _sync(partial)


def _swap_in(partial: Path, directory: Path) -> None:
    previous = _sibling(directory, PREVIOUS)
    if directory.exists():  # e.g. "final" of an earlier, shorter run
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(directory, previous)
        fault_point("swapping", directory.name)
    os.replace(partial, directory)
    _sync(directory.parent)
    fault_point("swapped", directory.name)
    shutil.rmtree(previous, ignore_errors=True)


def _sync(path: Path) -> None:
    """fsync, so a power cut cannot leave a renamed checkpoint with empty files."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno != errno.EINVAL:  # some file systems cannot sync a directory
            raise
    finally:
        os.close(descriptor)


def filesystem_error(error: BaseException) -> Optional[OSError]:
    """The OS error behind a failed write, if any: torch.save reports a full disk as a RuntimeError
    whose context is the OSError, safetensors as a SafetensorError ending "(os error 28)"."""
    while error is not None:
        if isinstance(error, OSError):
            return error
        code = re.search(r"\(os error (\d+)\)", str(error))
        if code:
            return OSError(int(code.group(1)), os.strerror(int(code.group(1))))
        error = error.__cause__ or error.__context__
    return None


def fault_point(point: str, name: str) -> None:
    """Test-only hook (tests/pretrain/test_pretrain_faults.py): with
    ``C4FORGE_PRETRAIN_FAULT=<kill|enospc>:<point>:<checkpoint name>`` the save of that checkpoint
    dies by SIGKILL, or fails as on a full disk, at ``point`` (writing, written, swapping, swapped).
    Unset in real runs: one getenv per save."""
    spec = os.environ.get(FAULT_ENV)
    if not spec or spec.split(":")[1:] != [point, name]:
        return
    if spec.startswith("kill:"):
        os.kill(os.getpid(), signal.SIGKILL)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)


def prune_checkpoints(output: Path, keep: int) -> None:
    if keep <= 0:
        return
    for path in list_checkpoints(output)[:-keep]:
        doomed = _sibling(path, DELETING)  # renamed first: a kill mid-delete leaves no half checkpoint
        shutil.rmtree(doomed, ignore_errors=True)
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def finish_interrupted_saves(output: Path) -> None:
    """Completes or undoes the saves a kill interrupted (module docstring); main rank only, before
    any checkpoint is read."""
    for leftover in sorted(Path(output).glob(".*")):
        name, dot, suffix = leftover.name[1:].rpartition(".")
        if not (dot and _is_checkpoint_name(name) and leftover.is_dir()):
            continue
        target = leftover.with_name(name)
        if suffix == PARTIAL and is_complete(leftover):
            log.info("finishing the interrupted save of %s", target)
            _swap_in(leftover, target)
        elif suffix == PREVIOUS and not target.exists() and is_complete(leftover):
            log.info("putting back %s: the save that was replacing it did not finish", target)
            os.replace(leftover, target)
        elif suffix in (PARTIAL, PREVIOUS, DELETING):
            shutil.rmtree(leftover, ignore_errors=True)


# ---------------------------------------------------------------- reading


def load_model_weights(t5, directory: Path) -> None:
    """Exact weights into an already built (untied) model; every file of a sharded save."""
    from safetensors.torch import load_file

    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{directory}: no .safetensors weights")
    state = {}
    for path in files:
        state.update(load_file(str(path)))
    missing, unexpected = t5.load_state_dict(state, strict=False)
    if set(missing) - TIED_ALIASES or unexpected:
        raise ValueError(f"{directory}: weights do not match the model (missing {missing}, unexpected {unexpected})")


def load_t5(directory: Path):
    """``T5ForConditionalGeneration`` from a checkpoint directory, in eval mode: untied head kept,
    ``config.tie_word_embeddings`` False (so ``resize_token_embeddings`` keeps the head too), and
    without the message transformers 5 logs when ``from_pretrained`` meets an untied T5 head
    (modeling.py). ``from_pretrained`` gives the same weights and losses."""
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    from .modeling import untie_lm_head

    directory = Path(directory)
    t5 = T5ForConditionalGeneration(T5Config.from_pretrained(str(directory)))
    untie_lm_head(t5)
    load_model_weights(t5, directory)
    if (directory / "generation_config.json").is_file():
        t5.generation_config = GenerationConfig.from_pretrained(str(directory))
    return t5.eval()


def load_checkpoint(directory: Path, t5, optimizer) -> dict:
    """Weights and optimizer state into the built model; returns the saved state. A checkpoint
    that cannot be read, or whose weights are not finite, is refused with a PretrainError."""
    from safetensors import SafetensorError

    directory = Path(directory)
    try:
        load_model_weights(t5, directory)
        with open(directory / TRAINER_FILE, "rb") as handle:
            optimizer.load_state_dict(torch.load(handle, map_location="cpu", weights_only=False)["optimizer"])
        state = read_state(directory)
    except (OSError, ValueError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError, SafetensorError) as error:
        raise PretrainError(f"cannot resume from {directory}: it is unreadable ({error}). Move it out of the "
                            "output (or delete it) to resume from the one before, or pass --resume") from error
    if not weights_finite(t5):
        raise PretrainError(f"cannot resume from {directory}: its weights are not finite (NaN or inf, saved by a "
                            "run that diverged). Delete it to resume from the one before, or pass --resume with "
                            "an earlier checkpoint, and lower --lr")
    return state


def weights_finite(module: torch.nn.Module) -> bool:
    """One host sync for all parameters."""
    return bool(torch.stack([torch.isfinite(p).all() for p in module.parameters()]).all())
