"""T5's span corruption (``c4_v220_span_corruption``), vectorized and stateless.

Definitions follow T5/seqio (span_corruption_reference.md §1):

* ``random_spans_helper``: how many raw tokens fill ``inputs_length`` after corruption
  (512 -> 568 raw tokens -> 512 inputs / 114 targets, EOS included).
* noise mask of a length-L piece: ``round(L * 0.15)`` noise tokens (banker's rounding, clamped
  to [1, L-1]) in ``round(noise / 3)`` spans, both computed in float32 as TF does
  (``noise_counts``); noise and kept span lengths are independent uniform random compositions;
  spans interleave kept first, so a mask starts kept and ends noise.
* ``inputs``: each noise span collapses to one sentinel, k-th span -> ``vocab_size - 1 - k``
  (``<extra_id_k>``); ``targets``: the same on the inverted mask; then EOS on both.

Randomness: a composition of n into k parts = the k-1 cut points among 1..n-1 whose hash values
are smallest (uniform over subsets, like seqio's "shuffle a 0/1 vector"). The hashes of a row
come from the stream keyed by ``fold_keys(seed, example_id)``, so a row's mask depends only on
(seed, example id): not on the batch it sits in, the worker, or the process.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .hashing import fold_keys, hash_stream

NOISE_DENSITY = 0.15
MEAN_NOISE_SPAN_LENGTH = 3.0
INPUTS_LENGTH = 512
EOS_ID = 1
NUM_SENTINELS = 100


def random_spans_helper(inputs_length: int = INPUTS_LENGTH, noise_density: float = NOISE_DENSITY,
                        mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
                        extra_tokens_per_span_inputs: int = 1,
                        extra_tokens_per_span_targets: int = 1) -> tuple[int, int]:
    """(raw tokens per example, targets length) so that inputs fill ``inputs_length`` (T5's
    ``random_spans_helper``, EOS counted in both lengths)."""

    def lengths(tokens_length: int) -> tuple[int, int]:
        num_noise = int(round(tokens_length * noise_density))
        num_spans = int(round(num_noise / mean_noise_span_length))
        num_kept = tokens_length - num_noise
        return (num_kept + num_spans * extra_tokens_per_span_inputs + 1,
                num_noise + num_spans * extra_tokens_per_span_targets + 1)

    tokens_length = inputs_length - 1
    while lengths(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    inputs, targets = lengths(tokens_length)
    if noise_density == 0.5 and targets > inputs:  # the reference's "minor hack"
        tokens_length -= 1
        targets -= 1
    return tokens_length, targets


@dataclasses.dataclass(frozen=True)
class NoiseCounts:
    """How a piece of ``length`` raw tokens is cut: all deterministic functions of the length."""

    length: int
    padded_length: int  # the reference draws the mask for max(length, 2) tokens, then truncates
    num_noise: int
    num_spans: int

    @property
    def num_kept(self) -> int:
        return self.padded_length - self.num_noise

    @property
    def inputs_length(self) -> int:
        """Inputs with EOS: kept tokens + one sentinel per noise span + EOS."""
        if self.length < 2:  # the truncated mask is a single kept token: no sentinel
            return self.length + 1
        return self.num_kept + self.num_spans + 1

    @property
    def targets_length(self) -> int:
        """Targets with EOS: one sentinel per kept span + noise tokens + EOS."""
        if self.length < 2:  # one kept span -> one sentinel
            return 2
        return self.num_noise + self.num_spans + 1


@functools.lru_cache(maxsize=4096)
def noise_counts(length: int, noise_density: float = NOISE_DENSITY,
                 mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> NoiseCounts:
    """T5's ``random_spans_noise_mask`` counts, in its arithmetic: the length is cast to float32 and
    multiplied by the density (a Python float, so float32 too), ``tf.round`` rounds half to even
    in float32, and the span count divides in float32 as well. Float64 gives one noise token and
    one span fewer at some lengths (190, 350 and 390 at density 0.15), which would change the
    remainders' shapes. (``random_spans_helper`` is plain Python in T5, so it stays float64.)"""
    if length < 1:
        raise ValueError("span corruption needs at least one token")
    padded = max(length, 2)
    num_noise = int(np.round(np.float32(padded) * np.float32(noise_density)))
    num_noise = min(max(num_noise, 1), padded - 1)
    num_spans = max(int(np.round(np.float32(num_noise) / np.float32(mean_noise_span_length))), 1)
    return NoiseCounts(length, padded, num_noise, num_spans)


def _compositions(hashes: np.ndarray, total: int, parts: int) -> np.ndarray:
    """(rows, parts) uniform random compositions of ``total`` into positive parts: the cut points
    are the positions 1..total-1 carrying the ``parts - 1`` smallest hashes (``hashes`` is
    (rows, total - 1))."""
    rows = hashes.shape[0]
    if parts == 1:
        return np.full((rows, 1), total, dtype=np.int64)
    cuts = np.sort(np.argpartition(hashes, parts - 2, axis=1)[:, : parts - 1], axis=1) + 1
    edges = np.concatenate([np.zeros((rows, 1), np.int64), cuts, np.full((rows, 1), total, np.int64)], axis=1)
    return np.diff(edges, axis=1)


def span_lengths(keys: np.ndarray, counts: NoiseCounts) -> np.ndarray:
    """(rows, 2 * num_spans) span lengths, kept first, from each row's hash stream: elements
    [0, noise-1) cut the noise tokens, the next kept-1 elements cut the kept tokens."""
    n_noise, n_kept, n_spans = counts.num_noise, counts.num_kept, counts.num_spans
    stream = hash_stream(keys, (n_noise - 1) + (n_kept - 1))
    noise = _compositions(stream[:, : n_noise - 1], n_noise, n_spans)
    kept = _compositions(stream[:, n_noise - 1:], n_kept, n_spans)
    return np.stack([kept, noise], axis=2).reshape(len(keys), 2 * n_spans)


def _span_ids(lengths: np.ndarray, padded_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per token: which span (0, 1, 2, ... kept/noise alternating) and whether it starts one."""
    rows = lengths.shape[0]
    starts = np.cumsum(lengths, axis=1)[:, :-1]
    is_start = np.zeros((rows, padded_length), dtype=bool)
    is_start[np.arange(rows)[:, None], starts] = True
    span_id = np.cumsum(is_start, axis=1, dtype=np.int32)
    is_start[:, 0] = True
    return span_id, is_start


def noise_masks(keys: np.ndarray, length: int, noise_density: float = NOISE_DENSITY,
                mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH) -> np.ndarray:
    """(rows, length) bool noise masks, one per row key (T5's ``random_spans_noise_mask``)."""
    counts = noise_counts(length, noise_density, mean_noise_span_length)
    span_id, _ = _span_ids(span_lengths(np.asarray(keys, np.uint64), counts), counts.padded_length)
    return (span_id[:, :length] & 1).astype(bool)


def _collapse(tokens: np.ndarray, span_id: np.ndarray, is_start: np.ndarray, collapse_noise: bool,
              sentinel_0: int, out_length: int) -> np.ndarray:
    """Replace each span of one kind by its sentinel (span pair k -> sentinel_0 - k) and drop the
    rest of that span; the other kind's tokens stay. Every row keeps exactly ``out_length``."""
    is_noise = (span_id & 1).astype(bool)
    collapsed = is_noise if collapse_noise else ~is_noise
    values = np.where(collapsed, sentinel_0 - (span_id >> 1), tokens)
    keep = ~collapsed | is_start
    return values[keep].reshape(tokens.shape[0], out_length)


def _with_eos(rows: np.ndarray, eos_id: int) -> np.ndarray:
    return np.concatenate([rows, np.full((rows.shape[0], 1), eos_id, dtype=rows.dtype)], axis=1)


def row_keys(seed: int, example_ids: np.ndarray | None, rows: int) -> np.ndarray:
    ids = np.arange(rows) if example_ids is None else np.asarray(example_ids)
    if ids.shape != (rows,):
        raise ValueError(f"example_ids must have shape ({rows},), got {ids.shape}")
    return fold_keys(seed, ids)


def corrupt(tokens: np.ndarray, vocab_size: int, seed: int, example_ids: np.ndarray | None = None,
            noise_density: float = NOISE_DENSITY, mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
            eos_id: int = EOS_ID) -> tuple[np.ndarray, np.ndarray]:
    """Span-corrupt equal-length rows at once.

    ``tokens``: (rows, L) integer array (L = 568 for T5's 512/114). ``vocab_size``: ids including
    the 100 sentinels (``len(tokenizer)``, 32100 for T5), so ``<extra_id_0>`` = vocab_size - 1.
    ``seed``: a 64-bit key; row r's mask depends only on (seed, example_ids[r]) (default r).
    Returns (inputs, targets), each ending in EOS: (rows, 512) and (rows, 114) for L = 568.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be (rows, length), got shape {tokens.shape}")
    rows, length = tokens.shape
    counts = noise_counts(length, noise_density, mean_noise_span_length)
    if counts.num_spans > NUM_SENTINELS:
        raise ValueError(f"{counts.num_spans} noise spans need more than {NUM_SENTINELS} sentinels")
    dtype = np.result_type(tokens.dtype, np.int32) if vocab_size < 2**31 else np.int64
    tokens = tokens.astype(dtype, copy=False)
    keys = row_keys(seed, example_ids, rows)
    span_id, is_start = _span_ids(span_lengths(keys, counts), counts.padded_length)
    span_id, is_start = span_id[:, :length], is_start[:, :length]
    sentinel_0 = vocab_size - 1
    inputs = _collapse(tokens, span_id, is_start, True, sentinel_0, counts.inputs_length - 1)
    targets = _collapse(tokens, span_id, is_start, False, sentinel_0, counts.targets_length - 1)
    return _with_eos(inputs, eos_id), _with_eos(targets, eos_id)


def corrupt_one(tokens: np.ndarray, vocab_size: int, seed: int, example_id: int,
                noise_density: float = NOISE_DENSITY, mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
                eos_id: int = EOS_ID) -> tuple[np.ndarray, np.ndarray]:
    """One piece of any length >= 1 (the short remainders); same draws as ``corrupt``."""
    inputs, targets = corrupt(np.asarray(tokens).reshape(1, -1), vocab_size, seed, np.array([example_id]),
                              noise_density, mean_noise_span_length, eos_id)
    return inputs[0], targets[0]


def _to_unique_sentinels(tokens: np.ndarray, mask: np.ndarray, vocab_size: int) -> np.ndarray:
    """seqio's ``noise_span_to_unique_sentinel`` for one example: the k-th masked span becomes
    ``vocab_size - 1 - k``, its other tokens are dropped."""
    previous = np.concatenate([[False], mask[:-1]])
    first = mask & ~previous
    sentinels = vocab_size - np.cumsum(first)
    return np.where(first, sentinels, tokens)[~(mask & previous)]


def apply_noise_mask(tokens: np.ndarray, noise_mask: np.ndarray, vocab_size: int,
                     eos_id: int = EOS_ID) -> tuple[np.ndarray, np.ndarray]:
    """The reference ``denoise`` step for one example and any mask: inputs =
    noise_span_to_unique_sentinel, targets = nonnoise_span_to_unique_sentinel, then EOS.
    ``corrupt`` is the vectorized equivalent for the masks ``noise_masks`` draws."""
    tokens, noise_mask = np.asarray(tokens), np.asarray(noise_mask, dtype=bool)
    inputs = _to_unique_sentinels(tokens, noise_mask, vocab_size)
    targets = _to_unique_sentinels(tokens, ~noise_mask, vocab_size)
    return np.append(inputs, eos_id), np.append(targets, eos_id)
