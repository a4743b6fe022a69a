"""The inverse of span corruption, to check that corruption loses and invents no token."""

from __future__ import annotations

import numpy as np

from c4forge.pretrain.span_corruption import EOS_ID, NUM_SENTINELS


def uncorrupt(inputs: np.ndarray, targets: np.ndarray, vocab_size: int, eos_id: int = EOS_ID) -> np.ndarray:
    """The original tokens of one example from its inputs and targets:
    input sentinel k is replaced by what follows target sentinel k. Only the final EOS of each
    sequence was added by corruption; any other id 1 is data."""
    sentinel_0 = vocab_size - 1
    lowest = vocab_size - NUM_SENTINELS
    inputs, targets = list(np.asarray(inputs)[:-1]), list(np.asarray(targets)[:-1])
    spans: dict[int, list[int]] = {}
    current = None
    for token in targets:
        if lowest <= token <= sentinel_0:
            current = sentinel_0 - token
            spans[current] = []
        elif current is not None:
            spans[current].append(int(token))
    out: list[int] = []
    for token in inputs:
        if lowest <= token <= sentinel_0:
            out.extend(spans.get(sentinel_0 - token, []))
        else:
            out.append(int(token))
    return np.asarray(out, dtype=np.int64)
