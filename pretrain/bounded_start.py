"""Bounded start: which shards of a split a run reads, given how many tokens it consumes.

The split's shards join in a fixed hash order (``shard_order``: independent of the seed, so every
run on the corpus shares what was tokenized); a run reads the shortest prefix of that order whose
tokens cover its budget (``tokens_needed``), kept in corpus order. A pure function of the shards'
token counts and the budget: the same selection on every machine, rank and rerun.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .hashing import random_order, tag
from .span_corruption import random_spans_helper

if TYPE_CHECKING:
    from c4forge.corpus.reader import Corpus

    from .config import TrainConfig

BUDGET_MARGIN = 1.1  # rows lost to empty documents, chunked long ones and partly filled packed rows


def tokens_needed(rows: int, raw_length: int) -> int:
    """Tokens a run must have to draw ``rows`` rows of ``raw_length`` raw tokens in one epoch."""
    return math.ceil(rows * raw_length * BUDGET_MARGIN)


def shard_order(count: int) -> np.ndarray:
    """The fixed hash order in which shards join a bounded selection."""
    return random_order(tag("token-shards"), count)


def bounded_selection(shard_tokens: Sequence[int], budget: Optional[int]) -> list[int]:
    """Corpus indices of the shortest hash-order prefix with at least ``budget`` tokens (all
    shards when ``budget`` is None or more than the split has), in corpus order."""
    return selection_if_known([int(tokens) for tokens in shard_tokens], budget)


def selection_if_known(tokens: Sequence[Optional[int]], budget: Optional[int]) -> Optional[list[int]]:
    """The selection once the tokens of a long enough hash-order prefix are known, else None."""
    total, chosen = 0, []
    for index in shard_order(len(tokens)).tolist():
        if tokens[index] is None:
            return None
        chosen.append(index)
        total += tokens[index]
        if budget is not None and total >= budget:
            break
    return sorted(chosen)


def selection_label(budget: Optional[int]) -> str:
    return "all" if budget is None else f"tokens-{budget}"


def token_budgets(config: TrainConfig, corpus: Corpus, saved: Optional[dict]) -> tuple[int, int]:
    """Tokens of train and validation the run reads. A resumed run
    keeps its checkpoint's budget, so that more --steps run on over the same selection."""
    if saved and "train_token_budget" in saved:
        return saved["train_token_budget"], saved["validation_token_budget"]
    raw_length = random_spans_helper(config.inputs_length, config.noise_density, config.mean_noise_span_length)[0]
    train = tokens_needed(config.steps * config.batch_size, raw_length)
    validation = tokens_needed(config.eval_rows, raw_length)
    if not corpus.split_files("validation"):  # the held-out documents come out of train's selection
        train = math.ceil((train + validation) / (1 - config.holdout_fraction))
    return train, validation


def saved_data_identity(config: TrainConfig) -> Optional[dict]:
    """The data identity of the checkpoint this run will resume from, if any."""
    from . import checkpoint as ckpt  # torch: not for the tokenizing processes that import this module

    if config.resume == "never":
        return None
    path = ckpt.latest_checkpoint(config.output_dir) if config.resume == "auto" else Path(config.resume)
    if path is None or ckpt.problem(path) is not None:
        return None
    return ckpt.read_state(path).get("data_identity")
