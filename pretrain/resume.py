"""Resuming a run: which checkpoint, whether the settings allow it, and which changed settings
apply from the resume step on (config.py's REFUSED_, APPLIED_ and FREE_ON_RESUME say which is which)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import torch.distributed as dist

from . import checkpoint as ckpt
from .config import TrainConfig
from .errors import PretrainError
from .optim import run_scheduler

log = logging.getLogger("c4forge.pretrain")


@dataclasses.dataclass(frozen=True)
class Resumed:
    step: int  # the step to start from (0: a new run)
    checkpoint: Optional[Path]
    changes: dict  # APPLIED_ON_RESUME settings that differ from the checkpoint's: {name: [saved, now]}


def resume_point(config: TrainConfig) -> Optional[Path]:
    output = config.output_dir
    if config.resume == "never":
        if ckpt.visible_checkpoints(output):
            raise PretrainError(f"{output} already holds checkpoints; use --resume auto or another --output")
        return None
    if config.resume == "auto":
        return ckpt.latest_checkpoint(output)
    path = Path(config.resume)
    why = ckpt.problem(path)
    if why is not None:
        raise PretrainError(f"--resume {path}: not a complete c4forge checkpoint ({why})")
    return path


def check_resumable(state: dict, identity: dict, path: Path) -> None:
    """Refuses a resume whose REFUSED_ON_RESUME settings, corpus or vocabulary differ from the
    checkpoint's."""
    saved = state.get("config", {}) | state.get("data_identity", {})  # older ones: "optimizer" in "config" only
    changed = {name: (saved.get(name), value) for name, value in identity.items() if saved.get(name) != value}
    if changed:
        details = ", ".join(f"{name}: {a!r} -> {b!r}" for name, (a, b) in changed.items())
        raise PretrainError(f"cannot resume from {path}: {details}. These decide a run's data, model or optimizer "
                            "state, so a resume keeps them: rerun with the saved values, or give another --output "
                            "to start a new run")


def recipe_changes(state: dict, config: TrainConfig) -> dict:
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    saved = dataclasses.replace(config, **{k: v for k, v in state.get("config", {}).items() if k in names})
    before, now = saved.recipe(), config.recipe()
    return {name: [before[name], now[name]] for name in now if before[name] != now[name]}


def restore(trainer, identity: dict) -> Resumed:
    """Puts the output in order, then restores model and optimizer state from the checkpoint to
    resume from, if any; the schedule and the optimizer's hyper-parameters are this run's."""
    config, runtime = trainer.config, trainer.runtime
    if runtime.is_main:
        ckpt.finish_interrupted_saves(config.output_dir)
    if runtime.distributed:
        dist.barrier()  # the other ranks read what rank 0 just put in order
    resume_from = resume_point(config)
    if resume_from is None:
        return Resumed(0, None, {})
    state = ckpt.read_state(resume_from)
    check_resumable(state, identity, resume_from)
    current = [{k: v for k, v in group.items() if k != "params"} for group in trainer.optimizer.param_groups]
    ckpt.load_checkpoint(resume_from, trainer.t5, trainer.optimizer)
    for group, settings in zip(trainer.optimizer.param_groups, current, strict=True):
        group.update(settings)  # load_state_dict brought back the saved lr, weight decay, ...
    trainer.scheduler = run_scheduler(trainer.optimizer, config, start_step=state["step"])
    changes = recipe_changes(state, config)
    log.info("resuming from %s at step %d", resume_from, state["step"])
    if changes:
        log.info("applied from step %d on: %s", state["step"],
                 ", ".join(f"{name} {a} -> {b}" for name, (a, b) in changes.items()))
    return Resumed(state["step"], resume_from, changes)


def divergence_message(config: TrainConfig, bad_step: int) -> str:
    """What a diverged run says: where it stands, and that a lower --lr resumes it (APPLIED_ON_RESUME)."""
    good = ckpt.newest_complete(config.output_dir)
    kept = (f"the last good checkpoint, {good} (step {ckpt.step_of(good)}), is intact" if good
            else "no checkpoint was saved before it")
    rerun = "it resumes from there with the new --lr" if good else "it starts again from step 0"
    return (f"training diverged: the loss or gradients are not finite at step {bad_step} (peak lr "
            f"{config.learning_rate}); nothing non-finite was saved and {kept}. Lower --lr and rerun the same "
            f"command: {rerun}")
