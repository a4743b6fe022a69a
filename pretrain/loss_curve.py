"""``<output>/logs/loss.png``: the training and validation loss and the learning rate by step, drawn
from ``train.jsonl`` when a run ends (a resumed run's log reads as one run, so does its curve).

matplotlib is the optional ``report`` extra: without it the run says so in one line and the
JSONL and TensorBoard logs are all there is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

log = logging.getLogger("c4forge.pretrain")

CURVE_NAME = "loss.png"


def _series(records: Sequence[dict], split: str, field: str) -> tuple[list[int], list[float]]:
    rows = [(r["step"], r[field]) for r in records if r.get("split") == split and field in r]
    return [step for step, _ in rows], [value for _, value in rows]


def loss_figure(records: Sequence[dict]):
    """Loss (train line, validation points) above the learning rate, sharing the step axis."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    loss_ax, lr_ax = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    steps, losses = _series(records, "train", "loss")
    loss_ax.plot(steps, losses, color="#1565c0", linewidth=1.5, label="train")
    steps, losses = _series(records, "validation", "loss")
    loss_ax.plot(steps, losses, "o-", color="#c62828", markersize=5, label="validation")
    loss_ax.set_ylabel("loss (cross-entropy per target token)")
    loss_ax.set_title("Pretraining loss", loc="left", fontweight="bold")
    loss_ax.legend(frameon=False)
    loss_ax.grid(alpha=0.3)
    steps, rates = _series(records, "train", "lr")
    lr_ax.plot(steps, rates, color="#2e7d32", linewidth=1.5)
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("optimizer step")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    lr_ax.grid(alpha=0.3)
    for ax in (loss_ax, lr_ax):
        ax.spines[["top", "right"]].set_visible(False)
    return figure


def write_loss_curve(path: Path, records: Sequence[dict]) -> bool:
    """Draws ``records`` (train.jsonl's) into ``path``; False, with a log line, when matplotlib is
    missing or the file cannot be written."""
    try:
        figure = loss_figure(records)
    except ImportError:
        log.warning("matplotlib is not installed: no %s (pip install 'c4forge[report]')", path.name)
        return False
    try:
        figure.savefig(path, format="png", metadata={"Software": None})
    except OSError as error:  # the run is saved already: a picture it could not write does not undo it
        log.warning("could not write %s: %s", path, error.strerror or error)
        return False
    return True
