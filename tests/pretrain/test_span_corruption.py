"""Span corruption against the reference definitions (span_corruption_reference.md §1.3-1.6, §1.9)."""

from __future__ import annotations

import statistics
import sys
import time
from math import comb

import numpy as np
import pytest

from c4forge.pretrain.hashing import derive_key, fold_keys, random_order
from c4forge.pretrain.span_corruption import (apply_noise_mask, corrupt, corrupt_one, noise_counts, noise_masks,
                                              random_spans_helper)
from helpers.span_corruption_inverse import uncorrupt

from conftest import BENCHMARKS

VOCAB = 32100  # T5: 32,000 pieces + 100 sentinels; <extra_id_0> = 32099
SENTINEL_0 = VOCAB - 1


def random_rows(rows: int, length: int = 568, seed: int = 0) -> np.ndarray:
    """Ordinary token ids: never a sentinel, pad or EOS."""
    return np.random.default_rng(seed).integers(3, VOCAB - 100, size=(rows, length))


def span_starts(mask: np.ndarray) -> np.ndarray:
    previous = np.concatenate([np.zeros((mask.shape[0], 1), bool), mask[:, :-1]], axis=1)
    return mask & ~previous


# The table of §1.3: (inputs_length, density, mean span) -> (raw tokens, targets length).
HELPER_TABLE = [
    (128, 0.15, 3, 141, 29), (256, 0.15, 3, 284, 58), (512, 0.15, 3, 568, 114), (568, 0.15, 3, 630, 126),
    (1024, 0.15, 3, 1137, 229), (2048, 0.15, 3, 2274, 456), (512, 0.15, 8, 588, 100), (512, 0.25, 3, 614, 206),
    (512, 0.5, 3, 766, 512),
]


@pytest.mark.parametrize("inputs_length,density,mean,raw,targets", HELPER_TABLE)
def test_random_spans_helper_reproduces_the_reference_table(inputs_length, density, mean, raw, targets):
    assert random_spans_helper(inputs_length, density, mean) == (raw, targets)


def test_568_tokens_make_85_noise_tokens_in_28_spans_and_512_by_114():
    counts = noise_counts(568)
    assert (counts.num_noise, counts.num_spans, counts.num_kept) == (85, 28, 483)
    assert (counts.inputs_length, counts.targets_length) == (512, 114)


def t5_noise_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """T5's ``random_spans_noise_mask`` arithmetic, written the way TF evaluates it:
    ``to_int(tf.round(to_float(length) * noise_density))`` with to_float = float32 (the Python
    density becomes a float32 constant), clamped to [1, length - 1], then
    ``to_int(tf.round(to_float(num_noise_tokens) / mean_noise_span_length))``, at least 1;
    ``tf.round`` rounds half to even."""
    length = max(length, 2)
    noise = int(np.round(np.float32(length) * np.float32(noise_density)))
    noise = min(max(noise, 1), length - 1)
    spans = max(int(np.round(np.float32(noise) / np.float32(mean_noise_span_length))), 1)
    return noise, spans


@pytest.mark.parametrize("noise_density,mean", [(0.15, 3.0), (0.25, 3.0), (0.5, 3.0), (0.15, 8.0), (0.3, 2.5)])
def test_noise_counts_are_t5s_float32_ones_for_every_length_up_to_568(noise_density, mean):
    for length in range(2, 569):
        counts = noise_counts(length, noise_density, mean)
        assert (counts.num_noise, counts.num_spans) == t5_noise_counts(length, noise_density, mean), length


def test_float32_decides_lengths_where_float64_rounds_the_other_way():
    """190 x 0.15 is 28.4999... in float64 but 28.500002 in float32: T5 masks 29 tokens in 10 spans."""
    assert [(noise_counts(n).num_noise, noise_counts(n).num_spans) for n in (190, 350, 390)] == [
        (29, 10), (53, 18), (59, 20)]
    assert int(round(190 * 0.15)) == 28  # what plain Python float64 would have said


def test_masks_start_kept_end_noise_with_exact_counts():
    masks = noise_masks(fold_keys(derive_key(3), np.arange(2000)), 568)
    assert not masks[:, 0].any() and masks[:, -1].all()
    assert (masks.sum(axis=1) == 85).all()
    assert (span_starts(masks).sum(axis=1) == 28).all()  # noise spans
    assert (span_starts(~masks).sum(axis=1) == 28).all()  # kept spans


def composition_part_probability(total: int, parts: int, size: int) -> float:
    """P(a given part of a uniform random composition of total into parts has this size)."""
    return comb(total - size - 1, parts - 2) / comb(total - 1, parts - 1)


def span_lengths_of(masks: np.ndarray) -> list[int]:
    lengths = []
    for row in masks:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        lengths.extend((edges[1::2] - edges[::2]).tolist())
    return lengths


def test_span_lengths_are_uniform_compositions():
    """85 noise tokens in 28 spans: P(1) = 27/84 = 0.321, P(2) = 0.222, ... (§1.5), mean 85/28."""
    masks = noise_masks(fold_keys(derive_key(4), np.arange(2000)), 568)
    noise = np.array(span_lengths_of(masks))
    kept = np.array(span_lengths_of(~masks))
    for size in range(1, 6):
        assert abs((noise == size).mean() - composition_part_probability(85, 28, size)) < 0.01
        assert abs((kept == size).mean() - composition_part_probability(483, 28, size)) < 0.01
    assert noise.mean() == pytest.approx(85 / 28) and kept.mean() == pytest.approx(483 / 28)


def test_toy_example_of_the_reference():
    """a b [c d] e f g h i [j] -> a b <X0> e f g h i <X1> </s> / <X0> c d <X1> j </s>."""
    tokens = np.arange(100, 110)
    mask = np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    inputs, targets = apply_noise_mask(tokens, mask, VOCAB)
    assert inputs.tolist() == [100, 101, SENTINEL_0, 104, 105, 106, 107, 108, SENTINEL_0 - 1, 1]
    assert targets.tolist() == [SENTINEL_0, 102, 103, SENTINEL_0 - 1, 109, 1]


def test_vectorized_corrupt_equals_the_per_example_reference_definition():
    tokens = random_rows(64)
    ids = np.arange(500, 564)
    inputs, targets = corrupt(tokens, VOCAB, 77, ids)
    masks = noise_masks(fold_keys(77, ids), 568)
    for row in range(64):
        ref_inputs, ref_targets = apply_noise_mask(tokens[row], masks[row], VOCAB)
        assert inputs[row].tolist() == ref_inputs.tolist() and targets[row].tolist() == ref_targets.tolist()


def test_outputs_are_512_by_114_with_ordered_sentinels_and_eos():
    inputs, targets = corrupt(random_rows(200), VOCAB, 5)
    assert inputs.shape == (200, 512) and targets.shape == (200, 114)
    assert (inputs[:, -1] == 1).all() and (targets[:, -1] == 1).all()
    assert (inputs[:, -2] == SENTINEL_0 - 27).all()  # the mask ends with noise: <sentinel>, EOS
    assert (targets[:, 0] == SENTINEL_0).all()  # and starts kept: targets open with <extra_id_0>
    expected = list(range(SENTINEL_0, SENTINEL_0 - 28, -1))
    for row_in, row_tg in zip(inputs, targets):
        assert row_in[row_in >= VOCAB - 100].tolist() == expected
        assert row_tg[row_tg >= VOCAB - 100].tolist() == expected


def test_inputs_and_targets_reconstruct_the_original_tokens():
    tokens = random_rows(100, seed=9)
    inputs, targets = corrupt(tokens, VOCAB, 11)
    for row in range(100):
        assert uncorrupt(inputs[row], targets[row], VOCAB).tolist() == tokens[row].tolist()


@pytest.mark.parametrize("length", [1, 2, 3, 4, 7, 10, 33, 141, 300, 567])
def test_short_remainders_follow_the_same_definitions(length):
    tokens = np.arange(3, 3 + length)
    counts = noise_counts(length)
    for example_id in range(20):
        inputs, targets = corrupt_one(tokens, VOCAB, 1, example_id)
        assert (len(inputs), len(targets)) == (counts.inputs_length, counts.targets_length)
        assert uncorrupt(inputs, targets, VOCAB).tolist() == tokens.tolist()
        assert targets[0] == SENTINEL_0  # the first token is always kept
        if length >= 2:
            assert inputs[-2] == SENTINEL_0 - (counts.num_spans - 1)  # ... and the last always noise


def test_a_rows_mask_depends_only_on_seed_and_example_id():
    tokens = random_rows(32, seed=2)
    ids = np.arange(1000, 1032)
    whole_inputs, whole_targets = corrupt(tokens, VOCAB, 123, ids)
    order = random_order(9, 32)  # other batch composition and order
    for part in np.array_split(order, 5):
        inputs, targets = corrupt(tokens[part], VOCAB, 123, ids[part])
        assert (inputs == whole_inputs[part]).all() and (targets == whole_targets[part]).all()
    other_seed, _ = corrupt(tokens, VOCAB, 124, ids)
    other_ids, _ = corrupt(tokens, VOCAB, 123, ids + 1)
    assert (other_seed != whole_inputs).any(axis=1).all() and (other_ids != whole_inputs).any(axis=1).all()


def test_corrupt_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="rows, length"):
        corrupt(np.arange(568), VOCAB, 0)
    with pytest.raises(ValueError, match="sentinels"):
        corrupt(random_rows(1, length=3000), VOCAB, 0)  # 150 spans > 100 sentinels
    with pytest.raises(ValueError, match="example_ids"):
        corrupt(random_rows(4), VOCAB, 0, np.arange(3))


def test_vectorized_corrupt_is_several_times_faster_than_the_per_example_collator():
    sys.path.insert(0, str(BENCHMARKS))
    from span_corruption_benchmark import ReferenceT5MLMCollator, c4forge_batch

    tokens = random_rows(128)
    collator = ReferenceT5MLMCollator(VOCAB)
    reference = collator(tokens)
    ours = c4forge_batch(tokens, VOCAB, 1, 0)
    assert all(reference[k].shape == ours[k].shape for k in ("input_ids", "labels", "decoder_input_ids"))

    def median_seconds(function) -> float:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    ratio = median_seconds(lambda: collator(tokens)) / median_seconds(lambda: c4forge_batch(tokens, VOCAB, 1, 0))
    assert ratio > 3, f"only {ratio:.1f}x faster"
