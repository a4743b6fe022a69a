"""The typed options of a pretraining run: one field per ``c4forge pretrain`` flag."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional


@dataclasses.dataclass(frozen=True)
class ModelShape:
    d_model: int
    d_ff: int
    num_heads: int
    num_layers: int  # encoder and decoder each
    d_kv: int = 64


# T5 v1.1 (t5x t5_1_1/*.gin, HF google/t5-v1_1-*); "tiny" for tests and smoke runs.
# Kept here, not in modeling.py, so that the CLI parser imports no torch (`c4forge build` users).
MODEL_SHAPES = {
    "tiny": ModelShape(d_model=128, d_ff=256, num_heads=4, num_layers=2, d_kv=32),
    "t5-v1_1-small": ModelShape(d_model=512, d_ff=1024, num_heads=6, num_layers=8),
    "t5-v1_1-base": ModelShape(d_model=768, d_ff=2048, num_heads=12, num_layers=12),
    "t5-v1_1-large": ModelShape(d_model=1024, d_ff=2816, num_heads=16, num_layers=24),
    "t5-v1_1-xl": ModelShape(d_model=2048, d_ff=5120, num_heads=32, num_layers=24),
}
OPTIMIZERS = ("adafactor", "adamwscale", "adamw")
SCHEDULES = ("rsqrt", "rsqrt-linear-decay", "cosine", "constant")
# Per-optimizer defaults of the two reference recipes (span_corruption_reference.md §4).
DEFAULT_LR = {"adafactor": 0.01, "adamwscale": 0.02, "adamw": 1e-3}
DEFAULT_SCHEDULE = {"adafactor": "rsqrt", "adamwscale": "cosine", "adamw": "cosine"}
DEFAULT_GRAD_CLIP = {"adafactor": 0.0, "adamwscale": 1.0, "adamw": 1.0}  # Adafactor clips its updates itself
EVAL_SEED = 42  # validation masks never change with --seed (t5x evaluates with seed 42 too)


def default_token_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "c4forge", "tokens")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    corpus: str
    vocab: str
    output: str
    model: str = "t5-v1_1-small"
    steps: int = 65536
    batch_size: int = 128  # sequences per optimizer step, all ranks and accumulation together
    grad_accum: int = 1
    optimizer: str = "adafactor"
    lr: Optional[float] = None
    schedule: Optional[str] = None
    warmup_steps: int = 10000
    final_lr: float = 1e-5
    weight_decay: float = 0.0
    grad_clip: Optional[float] = None
    z_loss: float = 1e-4
    seed: int = 0
    precision: str = "auto"
    compile: bool = False
    device: str = "auto"
    attn_implementation: str = "sdpa"
    num_workers: int = 2
    cpu_threads: int = 0  # torch intra-op threads; 0 = torch's default
    inputs_length: int = 512
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    docs_per_group: int = 128
    max_chunk_tokens: int = 65536
    eval_every: int = 1000
    eval_rows: int = 2048
    holdout_fraction: float = 0.01
    save_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 10
    resume: str = "auto"
    token_cache: str = dataclasses.field(default_factory=default_token_cache)
    tokenize_workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    prepare_only: bool = False
    tensorboard: bool = True

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def lr_schedule(self) -> str:
        return self.schedule or DEFAULT_SCHEDULE[self.optimizer]

    @property
    def clip_norm(self) -> float:
        return self.grad_clip if self.grad_clip is not None else DEFAULT_GRAD_CLIP[self.optimizer]

    @property
    def output_dir(self) -> Path:
        return Path(self.output)

    def micro_batch(self, world: int) -> int:
        return self.batch_size // (world * self.grad_accum)

    def validate(self, world: int = 1) -> None:
        problems = []
        if self.model not in MODEL_SHAPES:
            problems.append(f"--model must be one of {', '.join(MODEL_SHAPES)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            problems.append(f"--schedule must be one of {', '.join(SCHEDULES)}")
        if self.precision == "fp16":
            problems.append("--precision fp16 is not supported: T5 overflows in fp16 (FFN outputs, residuals); use bf16")
        elif self.precision not in ("auto", "bf16", "fp32"):
            problems.append("--precision must be auto, bf16 or fp32")
        if self.steps < 1 or self.batch_size < 1 or self.grad_accum < 1:
            problems.append("--steps, --batch-size and --grad-accum must be positive")
        elif self.batch_size % (world * self.grad_accum):
            problems.append(f"--batch-size {self.batch_size} must be divisible by world size x --grad-accum "
                            f"= {world} x {self.grad_accum}")
        if not 0.0 < self.holdout_fraction < 1.0:
            problems.append("--holdout-fraction must be in (0, 1)")
        if not 0.0 < self.noise_density < 1.0:
            problems.append("--noise-density must be in (0, 1)")
        if problems:
            raise ValueError("; ".join(problems))

    def resume_identity(self) -> dict:
        """What a resume must keep (REFUSED_ON_RESUME)."""
        return {name: getattr(self, name) for name in REFUSED_ON_RESUME}

    def recipe(self) -> dict:
        """The optimization recipe a resume applies (APPLIED_ON_RESUME), defaults resolved."""
        resolved = {"lr": self.learning_rate, "schedule": self.lr_schedule, "grad_clip": self.clip_norm}
        return {name: resolved.get(name, getattr(self, name)) for name in APPLIED_ON_RESUME}


# What each option does on resume (`c4forge pretrain --help` says it too; tests check that every
# field is in exactly one list).
# Refused: they decide which rows step s sees, the model, or what the optimizer state means, so a
# resume with other values would silently be another run. The corpus and vocabulary are compared
# by content (token-cache key, spiece.model hash), not by path.
REFUSED_ON_RESUME = ("seed", "batch_size", "inputs_length", "noise_density", "mean_noise_span_length",
                     "docs_per_group", "max_chunk_tokens", "holdout_fraction", "model", "optimizer")
# Applied from the resume step on, and logged: the usual way out of a divergence is to resume the
# last good checkpoint with a lower --lr; --steps may grow (the schedule follows it).
APPLIED_ON_RESUME = ("steps", "lr", "schedule", "warmup_steps", "final_lr", "weight_decay", "grad_clip", "z_loss")
# How the run executes, is observed or stored: free to change, the rows and updates stay the same
# (up to float rounding for grad_accum, precision, compile, attn_implementation).
FREE_ON_RESUME = ("corpus", "vocab", "output", "grad_accum", "precision", "compile", "device", "attn_implementation",
                  "num_workers", "cpu_threads", "eval_every", "eval_rows", "save_every", "keep_checkpoints",
                  "log_every", "resume", "token_cache", "tokenize_workers", "prepare_only", "tensorboard")
