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
import types
from pathlib import Path
from typing import Optional

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


class Progress:
    """A tqdm bar on an interactive main rank; otherwise plain log lines at each log step."""

    def __init__(self, enabled: bool, total: int, initial: int):
        self.bar = None
        if enabled and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
            except ImportError:
                pass
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
            log.info("%s step %d: %s", record["split"], record["step"], text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
