"""Training logs: JSONL (always) and TensorBoard event files (when ``tensorboard`` is installed).

``<output>/logs/train.jsonl``: one object per log line, ``{"split": "train"|"validation",
"step": ..., "loss": ..., ...}``. On resume from step s, records after s (written by the run
that died) are dropped, so the file reads as one uninterrupted run; TensorBoard gets
``purge_step`` for the same reason.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import types
from pathlib import Path
from typing import Optional

from .loss_curve import CURVE_NAME, write_loss_curve

log = logging.getLogger("c4forge.pretrain")


def _summary_writer(directory: Path, purge_step: Optional[int]):
    """torch's SummaryWriter without TensorFlow: tensorboard imports TF whenever it is installed
    unless ``tensorboard.compat.notf`` exists (its documented switch to the bundled stub)."""
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed: logging to JSONL only (pip install 'c4forge[train]')")
        return None
    return SummaryWriter(log_dir=str(directory), purge_step=purge_step)


def read_jsonl(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


class MetricsLog:
    """Writes only on the main rank; other ranks get a no-op instance."""

    def __init__(self, output: Path, enabled: bool, resume_step: Optional[int], tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(output) / "logs" / "train.jsonl"
        self.writer = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_jsonl(self.path) if resume_step is not None and r["step"] <= resume_step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        if tensorboard:
            purge = resume_step + 1 if resume_step is not None else None
            self.writer = _summary_writer(self.path.parent / "tensorboard", purge)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for name, value in record.items():
                if name not in ("step", "split") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"{record['split']}/{name}", value, record["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.enabled:  # the whole run's curve, beside its logs
            write_loss_curve(self.path.parent / CURVE_NAME, read_jsonl(self.path))


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """A tqdm bar on an interactive main rank (step of total, ETA; loss, lr, tokens/s as they
    are logged); otherwise plain log lines at each log step, with the same numbers."""

    def __init__(self, enabled: bool, total: int, initial: int):
        self.total, self.initial = total, initial
        self.started = time.monotonic()
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc="pretrain", unit="step", dynamic_ncols=True)
        self.enabled = enabled

    def update(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def report(self, record: dict) -> None:
        if not self.enabled:
            return
        fields = {k: v for k, v in record.items() if k in ("loss", "lr", "tokens_per_second", "grad_norm")}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in fields.items()}, refresh=False)
            if record["split"] == "validation":
                self.bar.write(f"step {record['step']}: validation loss {record['loss']:.4f}")
        else:
            text = " ".join(f"{k} {v:.4g}" for k, v in fields.items())
            log.info("%s step %d/%d: %s%s", record["split"], record["step"], self.total, text, self._eta(record))

    def _eta(self, record: dict) -> str:
        """', ETA h:mm:ss' from the steps this run has made so far ('' for a validation)."""
        done = record["step"] - self.initial
        if record["split"] != "train" or done <= 0:
            return ""
        per_step = (time.monotonic() - self.started) / done
        return f", ETA {_duration(per_step * (self.total - record['step']))}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
