"""Optimizers and learning-rate schedules of T5/t5x and nanoT5 (span_corruption_reference.md §4).

* ``adafactor`` (T5/t5x): factored second moments, decay exponent 0.8, no momentum, update
  clipping 1.0, eps (1e-30, 1e-3), step scaled by the parameter's RMS; with the ``rsqrt``
  schedule at lr 0.01 and 10,000 warm-up steps this is t5x's ``1/sqrt(max(step, 10000))``.
* ``adamwscale`` (nanoT5): AdamW (0.9, 0.999, eps 1e-6, bias correction) whose step is
  multiplied by max(1e-3, RMS(param)) like Adafactor's relative step; nanoT5's finding is that
  plain AdamW diverges on T5 without it. Recipe: lr 2e-2, cosine, 10k warm-up, clip 1.0.
* ``adamw``: torch's AdamW, for comparison.

Schedules give a multiplier of ``--lr`` as a function of the optimizer step (0-based, the
step about to be taken), so resuming at step s continues the curve exactly.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .config import OPTIMIZERS, SCHEDULES


class AdamWScale(torch.optim.Optimizer):
    """nanoT5's AdamW with Adafactor-style RMS scaling of the step."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @staticmethod
    def _rms(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.norm(2) / (tensor.numel() ** 0.5)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"] * math.sqrt(1.0 - beta2 ** state["step"]) / (1.0 - beta1 ** state["step"])
                # max(1e-3, RMS) stays a device tensor: no host sync per parameter
                scale = self._rms(p).clamp(min=1e-3) * step_size
                p.sub_(exp_avg / denom * scale)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss


def build_optimizer(name: str, params, lr: float, weight_decay: float = 0.0, fused: bool = False) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=lr, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta1=None,
                         weight_decay=weight_decay, scale_parameter=True, relative_step=False, warmup_init=False)
    if name == "adamwscale":
        return AdamWScale(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay,
                                 fused=fused or None)
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def lr_multiplier(schedule: str, warmup_steps: int, total_steps: int, final_fraction: float = 0.0,
                  decay_fraction: float = 0.1) -> Callable[[int], float]:
    """step -> multiplier of the peak lr.

    rsqrt: constant for warm-up, then sqrt(warmup / step) (t5x ``rsqrt_decay``, no ramp);
    rsqrt-linear-decay: rsqrt, and linearly to 0 over the last ``decay_fraction`` of steps
    (nanoT5's ``legacy``; T5 paper's fine print); cosine: nanoT5's warm-up from half the lr to
    the lr, then cosine to ``final_fraction`` of it; constant: 1."""
    warmup = max(warmup_steps, 1)

    def rsqrt(step: int) -> float:
        return math.sqrt(warmup / max(step, warmup))

    def rsqrt_linear_decay(step: int) -> float:
        decay_start = int(total_steps * (1.0 - decay_fraction))
        if step < decay_start:
            return rsqrt(step)
        return rsqrt(decay_start) * max(0.0, (total_steps - step) / max(total_steps - decay_start, 1))

    def cosine(step: int) -> float:
        if step < warmup_steps:
            return 0.5 + 0.5 * step / warmup
        progress = min(1.0, (step - warmup_steps) / max(total_steps - warmup_steps, 1))
        return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))

    table = {"rsqrt": rsqrt, "rsqrt-linear-decay": rsqrt_linear_decay, "cosine": cosine, "constant": lambda step: 1.0}
    if schedule not in table:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    return table[schedule]


def build_scheduler(optimizer, schedule: str, warmup_steps: int, total_steps: int, final_fraction: float = 0.0,
                    start_step: int = 0):
    """``start_step`` > 0: the schedule of a run resumed there; the optimizer's groups must hold
    ``initial_lr`` (the peak lr), which a scheduler built at step 0 sets."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_multiplier(schedule, warmup_steps, total_steps, final_fraction),
                                             last_epoch=start_step - 1)


def run_scheduler(optimizer, config, start_step: int = 0):
    """The schedule of a TrainConfig, from ``start_step`` on."""
    return build_scheduler(optimizer, config.lr_schedule, config.warmup_steps, config.steps,
                           config.final_lr / config.learning_rate, start_step)
