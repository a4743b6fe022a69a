"""Pretraining as a person follows it: log lines with step of total, loss, tokens/s and an ETA where
stderr is no terminal, and logs/loss.png (loss and learning rate by step) when the run ends."""

from __future__ import annotations

import json
import logging
import math

from c4forge.pretrain import metrics
from c4forge.pretrain.loss_curve import CURVE_NAME, write_loss_curve


def train_records(steps: int) -> list[dict]:
    records = [{"split": "info", "step": 0, "parameters": 1000}]
    for step in range(10, steps + 1, 10):
        lr = 0.01 * min(step / 50, 1.0) * (0.5 + 0.5 * math.cos(math.pi * step / steps))
        records.append({"split": "train", "step": step, "loss": 10 / math.sqrt(step), "lr": lr,
                        "tokens_per_second": 5000.0, "grad_norm": 1.0})
        if step % 100 == 0:
            records.append({"split": "validation", "step": step, "loss": 11 / math.sqrt(step), "target_tokens": 99})
    return records


def test_log_lines_have_step_of_total_and_an_eta(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="c4forge.pretrain")
    clock = iter([100.0, 130.0])  # started, then 30 s for the 10 steps after the resume step
    monkeypatch.setattr(metrics.time, "monotonic", lambda: next(clock))
    progress = metrics.Progress(enabled=True, total=110, initial=10)
    progress.report({"split": "train", "step": 20, "loss": 3.21, "lr": 0.001, "tokens_per_second": 1234.5})
    progress.report({"split": "validation", "step": 20, "loss": 3.5, "target_tokens": 10})
    assert caplog.messages == ["train step 20/110: loss 3.21 lr 0.001 tokens_per_second 1234, ETA 0:04:30",
                               "validation step 20/110: loss 3.5"]


def test_the_run_ends_with_a_loss_and_learning_rate_curve(tmp_path):
    log = metrics.MetricsLog(tmp_path, enabled=True, resume_step=None, tensorboard=False)
    for record in train_records(500):
        log.write(record)
    log.close()
    curve = tmp_path / "logs" / CURVE_NAME
    assert curve.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and curve.stat().st_size > 20_000
    assert [json.loads(line)["split"] for line in (tmp_path / "logs" / "train.jsonl").read_text().splitlines()][0] == "info"


def test_without_matplotlib_the_run_says_so_in_one_line(tmp_path, hide_module, caplog):
    hide_module("matplotlib")
    caplog.set_level(logging.INFO, logger="c4forge.pretrain")
    assert not write_loss_curve(tmp_path / CURVE_NAME, train_records(100))
    assert caplog.messages == ["matplotlib is not installed: no loss.png (pip install 'c4forge[report]')"]
    assert not (tmp_path / CURVE_NAME).exists()
