"""Checkpoints: HF ``save_pretrained`` output (+ tokenizer) plus what a resume needs.

``<output>/checkpoint-NNNNNNN/`` holds config.json, generation_config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, spiece.model (loadable with
``T5ForConditionalGeneration.from_pretrained`` / ``AutoTokenizer.from_pretrained``), and
``trainer_state.pt`` (optimizer and schedule) + ``c4forge_state.json`` (step, data identity).
A checkpoint is written under a temporary name and renamed when complete, so a run killed
while saving resumes from the previous one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Optional

import torch

from .vocab import Vocab

STATE_FILE = "c4forge_state.json"
TRAINER_FILE = "trainer_state.pt"
FINAL = "final"
_NAME = re.compile(r"^checkpoint-(\d+)$")
# Present in state_dict() as aliases of ``shared.weight``; save_pretrained stores them once.
TIED_ALIASES = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"}


def checkpoint_dir(output: Path, step: int) -> Path:
    return Path(output) / f"checkpoint-{step:07d}"


def list_checkpoints(output: Path) -> list[Path]:
    """Complete periodic checkpoints (not ``final``), oldest first."""
    found = []
    for path in Path(output).glob("checkpoint-*"):
        match = _NAME.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(output: Path) -> Optional[Path]:
    """The checkpoint with the highest step, ``final`` included (a run extended with more
    --steps continues from where the last one ended)."""
    candidates = list_checkpoints(output)
    final = Path(output) / FINAL
    if (final / STATE_FILE).is_file():
        candidates.append(final)
    return max(candidates, key=lambda path: read_state(path)["step"], default=None)


def save_model_dir(directory: Path, t5, vocab: Vocab) -> None:
    """What a user loads: the model and the tokenizer side by side."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a "Writing model shards" bar per checkpoint clutters the run's log
    t5.save_pretrained(str(directory))
    vocab.save_beside(directory)


def save_checkpoint(directory: Path, t5, vocab: Vocab, optimizer, scheduler, state: dict) -> Path:
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model_dir(tmp, t5, vocab)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / TRAINER_FILE)
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True))
    if directory.exists():  # e.g. "final" from an earlier, shorter run
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return directory


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


def load_checkpoint(directory: Path, t5, optimizer, scheduler) -> dict:
    directory = Path(directory)
    load_model_weights(t5, directory)
    trainer = torch.load(directory / TRAINER_FILE, map_location="cpu", weights_only=False)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    return json.loads((directory / STATE_FILE).read_text())


def read_state(directory: Path) -> dict:
    return json.loads((Path(directory) / STATE_FILE).read_text())


def prune_checkpoints(output: Path, keep: int) -> None:
    if keep <= 0:
        return
    for path in list_checkpoints(output)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
