"""Span corruption throughput: c4forge's vectorized ``corrupt`` vs the per-example NumPy collator
of HF's run_t5_mlm_flax.py / nanoT5 (``DataCollatorForT5MLM``), measured in the same run.

The reference collator is restated below from its description (span_corruption_reference.md
§1.8, §1.5): a Python loop draws one mask per row with ``np.random.shuffle`` on the global RNG,
then sentinel ids are built with roll/cumsum and collapsed positions filtered with ``>= 0``.

    python benchmarks/span_corruption_benchmark.py [--rows 128] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from c4forge.pretrain.span_corruption import corrupt, noise_counts, random_spans_helper


class ReferenceT5MLMCollator:
    """HF/nanoT5 ``DataCollatorForT5MLM`` logic on fixed-length rows (no tokenizer object: the
    sentinel base ``len(tokenizer)`` and EOS id are passed in)."""

    def __init__(self, vocab_size: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0,
                 eos_id: int = 1, pad_id: int = 0, decoder_start_id: int = 0):
        self.vocab_size, self.noise_density, self.mean = vocab_size, noise_density, mean_noise_span_length
        self.eos_id, self.pad_id, self.decoder_start_id = eos_id, pad_id, decoder_start_id

    def random_spans_noise_mask(self, length: int) -> np.ndarray:
        num_noise = int(np.round(length * self.noise_density))
        num_nonnoise = length - num_noise
        num_noise = min(max(num_noise, 1), length - 1)
        num_spans = max(int(np.round(min(num_noise, num_nonnoise) / self.mean)), 1)

        def random_segmentation(num_items: int, num_segments: int) -> np.ndarray:
            mask_indices = np.arange(num_items - 1) < (num_segments - 1)
            np.random.shuffle(mask_indices)
            first_in_segment = np.pad(mask_indices, [[1, 0]])
            segment_id = np.cumsum(first_in_segment)
            _, segment_length = np.unique(segment_id, return_counts=True)
            return segment_length

        noise_lengths = random_segmentation(num_noise, num_spans)
        nonnoise_lengths = random_segmentation(num_nonnoise, num_spans)
        interleaved = np.reshape(np.stack([nonnoise_lengths, noise_lengths], axis=1), [num_spans * 2])
        span_starts = np.cumsum(interleaved)[:-1]
        span_start_indicator = np.zeros((length,), dtype=np.int8)
        span_start_indicator[span_starts] = True
        span_num = np.cumsum(span_start_indicator)
        return np.equal(span_num % 2, 1)[:length]

    def create_sentinel_ids(self, mask_indices: np.ndarray) -> np.ndarray:
        start_indices = mask_indices - np.roll(mask_indices, 1, axis=-1) * mask_indices
        start_indices[:, 0] = mask_indices[:, 0]
        sentinel_ids = np.where(start_indices != 0, np.cumsum(start_indices, axis=-1), start_indices)
        sentinel_ids = np.where(sentinel_ids != 0, (self.vocab_size - sentinel_ids), 0)
        sentinel_ids -= mask_indices - start_indices
        return sentinel_ids

    def filter_input_ids(self, input_ids: np.ndarray, sentinel_ids: np.ndarray) -> np.ndarray:
        batch_size = input_ids.shape[0]
        full = np.where(sentinel_ids != 0, sentinel_ids, input_ids)
        kept = full[full >= 0].reshape((batch_size, -1))
        return np.concatenate([kept, np.full((batch_size, 1), self.eos_id, dtype=np.int32)], axis=-1)

    def __call__(self, input_ids: np.ndarray) -> dict[str, np.ndarray]:
        batch_size, length = input_ids.shape
        mask_indices = np.asarray([self.random_spans_noise_mask(length) for _ in range(batch_size)])
        labels_mask = ~mask_indices
        input_sentinels = self.create_sentinel_ids(mask_indices.astype(np.int8))
        label_sentinels = self.create_sentinel_ids(labels_mask.astype(np.int8))
        inputs = self.filter_input_ids(input_ids, input_sentinels)
        labels = self.filter_input_ids(input_ids, label_sentinels)
        decoder_inputs = np.zeros_like(labels)
        decoder_inputs[:, 1:] = labels[:, :-1]
        decoder_inputs[:, 0] = self.decoder_start_id
        return {"input_ids": inputs, "labels": labels, "decoder_input_ids": decoder_inputs}


def c4forge_batch(tokens: np.ndarray, vocab_size: int, seed: int, first_id: int) -> dict[str, np.ndarray]:
    """The same work as the collator: corrupt + decoder inputs."""
    inputs, targets = corrupt(tokens, vocab_size, seed, np.arange(first_id, first_id + len(tokens)))
    decoder_inputs = np.zeros_like(targets)
    decoder_inputs[:, 1:] = targets[:, :-1]
    return {"input_ids": inputs, "labels": targets, "decoder_input_ids": decoder_inputs}


def time_calls(function, repeats: int) -> list[float]:
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        function(index)
        times.append(time.perf_counter() - started)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=128, help="rows per batch (default %(default)s)")
    parser.add_argument("--inputs-length", type=int, default=512)
    parser.add_argument("--vocab-size", type=int, default=32100)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    raw_length, targets_length = random_spans_helper(args.inputs_length)
    tokens = np.random.default_rng(0).integers(3, args.vocab_size - 100, size=(args.rows, raw_length), dtype=np.int64)
    reference = ReferenceT5MLMCollator(args.vocab_size)
    np.random.seed(0)
    ref_out, ours_out = reference(tokens), c4forge_batch(tokens, args.vocab_size, 1, 0)
    for name in ("input_ids", "labels"):
        assert ref_out[name].shape == ours_out[name].shape, (name, ref_out[name].shape, ours_out[name].shape)
    counts = noise_counts(raw_length)
    print(f"rows {args.rows} x {raw_length} raw tokens -> inputs {ours_out['input_ids'].shape[1]}, "
          f"targets {ours_out['labels'].shape[1]} ({counts.num_noise} noise tokens in {counts.num_spans} spans)")
    ref_times = time_calls(lambda i: reference(tokens), args.repeats)
    ours_times = time_calls(lambda i: c4forge_batch(tokens, args.vocab_size, 1, i * args.rows), args.repeats)
    ref_ms, ours_ms = statistics.median(ref_times) * 1e3, statistics.median(ours_times) * 1e3
    print(f"HF/nanoT5 per-example collator: {ref_ms:8.2f} ms/batch  {args.rows / ref_ms * 1e3:10.0f} rows/s")
    print(f"c4forge corrupt (vectorized):   {ours_ms:8.2f} ms/batch  {args.rows / ours_ms * 1e3:10.0f} rows/s")
    print(f"speed-up: {ref_ms / ours_ms:.1f}x (median of {args.repeats} batches each, one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
