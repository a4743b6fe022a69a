"""From token cache to model-ready micro-batches, identical for any number of ranks and workers.

The training data is one infinite *row stream*: epoch 0's rows in its hashed order, then epoch
1's, and so on (each epoch re-draws chunks, masks, packing and order). Optimizer step ``s``
consumes stream positions ``[s*G, (s+1)*G)`` for the global batch G = micro_batch x
grad_accum x world; rank r's micro-batch m of that step is a fixed slice of it. A DataLoader
item is one whole micro-batch addressed by its index, so workers split the work by index and
nothing depends on worker count, prefetching or restarts: resuming at step s just starts the
index range at s x grad_accum. No position is skipped (no dropped last batch: the stream runs
on into the next epoch) and none is repeated within an epoch.

Rows carry seqio's packed-feature layout (span_corruption_reference.md §1.7): segment ids
(1, 2, ... per packed example, 0 = padding), positions within the segment, and decoder inputs
shifted right with BOS = 0 at every segment start.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from .layout import EpochLayout, LayoutParams, build_epoch_layout_from_blocks
from .span_corruption import EOS_ID, corrupt, corrupt_one
from .token_cache import TokenStore

log = logging.getLogger("c4forge.pretrain")
ROW_FIELDS = ("encoder_input_tokens", "encoder_segment_ids", "encoder_positions", "decoder_input_tokens",
              "decoder_target_tokens", "decoder_segment_ids", "decoder_positions", "decoder_loss_weights")


class Stream:
    """The row stream of one token store under one LayoutParams. Epoch layouts live under
    ``<store's work dir>/layouts/[<selection>/]<params key>/``: one process per node builds each
    (``builds``: local rank 0), the others wait for its files and memory-map them, so a node holds
    one build's memory and one copy of the arrays (in the page cache), not one per rank.
    ``epoch_sizes`` travels to DataLoader workers with the object; workers only map (train_loader
    lays out every epoch its steps need before they start)."""

    def __init__(self, store: TokenStore, params: LayoutParams, builds: bool = True, poll_seconds: float = 0.5):
        self.store = store
        self.params = params
        self.builds = builds
        self.poll_seconds = poll_seconds
        self.root = store.layouts_root / params.key()
        self.epoch_sizes: list[int] = []
        self._layouts: collections.OrderedDict[int, EpochLayout] = collections.OrderedDict()

    def __getstate__(self):  # workers re-map files rather than receive copies of arrays
        state = dict(self.__dict__)
        state["_layouts"] = collections.OrderedDict()
        return state

    def _epoch_dir(self, epoch: int) -> Path:
        return self.root / f"epoch-{epoch:05d}"

    def layout(self, epoch: int) -> EpochLayout:
        if epoch not in self._layouts:
            directory = self._epoch_dir(epoch)
            if not (directory / "meta.json").is_file():  # save() renames a complete directory into place
                if self.builds:
                    directory.parent.mkdir(parents=True, exist_ok=True)
                    build_epoch_layout_from_blocks(self.store.doc_blocks(), self.params, epoch).save(directory)
                else:
                    self._wait_for(directory)
            self._layouts[epoch] = EpochLayout.load(directory)
            while len(self._layouts) > 4:
                self._layouts.popitem(last=False)
        return self._layouts[epoch]

    def _wait_for(self, directory: Path) -> None:
        """File polling, not a collective: a full-C4 layout takes minutes to build, and the other
        ranks have nothing to do until it exists (the builder is in the same call sequence)."""
        waited, next_log = 0.0, 0.0
        while not (directory / "meta.json").is_file():
            if waited >= next_log:
                log.info("waiting for %s (built by local rank 0)", directory)
                next_log = waited + 300
            time.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def ensure_rows(self, count: int) -> None:
        """Lay out as many epochs as it takes for the stream to hold ``count`` rows."""
        while sum(self.epoch_sizes) < count:
            self.epoch_sizes.append(self.layout(len(self.epoch_sizes)).num_rows)

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(epoch, row id) of stream positions."""
        positions = np.asarray(positions, dtype=np.int64)
        self.ensure_rows(int(positions.max()) + 1)
        bounds = np.cumsum([0] + self.epoch_sizes)
        epochs = np.searchsorted(bounds, positions, side="right") - 1
        rows = np.empty_like(positions)
        for epoch in np.unique(epochs):
            where = epochs == epoch
            rows[where] = self.layout(int(epoch)).order[positions[where] - bounds[epoch]]
        return epochs, rows


def _empty_rows(count: int, inputs_length: int, targets_length: int) -> dict[str, np.ndarray]:
    rows = {}
    for name in ROW_FIELDS:
        length = inputs_length if name.startswith("encoder") else targets_length
        rows[name] = np.zeros((count, length), dtype=np.float32 if name.endswith("weights") else np.int64)
    return rows


def _shift_right(targets: np.ndarray) -> np.ndarray:
    shifted = np.zeros_like(targets)
    shifted[..., 1:] = targets[..., :-1]
    return shifted


def _place_full_rows(out: dict, where: np.ndarray, inputs: np.ndarray, targets: np.ndarray) -> None:
    out["encoder_input_tokens"][where] = inputs
    out["encoder_segment_ids"][where] = 1
    out["encoder_positions"][where] = np.arange(inputs.shape[1])
    out["decoder_target_tokens"][where] = targets
    out["decoder_input_tokens"][where] = _shift_right(targets)
    out["decoder_segment_ids"][where] = 1
    out["decoder_positions"][where] = np.arange(targets.shape[1])
    out["decoder_loss_weights"][where] = 1.0


def _place_packed_row(out: dict, row: int, pieces: list[tuple[np.ndarray, np.ndarray]]) -> None:
    at_in = at_tg = 0
    for segment, (inputs, targets) in enumerate(pieces, start=1):
        enc, dec = slice(at_in, at_in + len(inputs)), slice(at_tg, at_tg + len(targets))
        out["encoder_input_tokens"][row, enc] = inputs
        out["encoder_segment_ids"][row, enc] = segment
        out["encoder_positions"][row, enc] = np.arange(len(inputs))
        out["decoder_target_tokens"][row, dec] = targets
        out["decoder_input_tokens"][row, dec] = _shift_right(targets)
        out["decoder_segment_ids"][row, dec] = segment
        out["decoder_positions"][row, dec] = np.arange(len(targets))
        out["decoder_loss_weights"][row, dec] = 1.0
        at_in, at_tg = at_in + len(inputs), at_tg + len(targets)


def row_fingerprints(rows: dict[str, np.ndarray]) -> np.ndarray:
    """crc32 of each row's encoder inputs and decoder targets: lets logs prove two runs saw the
    same batches (summed over a batch, it does not depend on how the batch was split)."""
    enc = rows["encoder_input_tokens"].astype("<i4")
    dec = rows["decoder_target_tokens"].astype("<i4")
    return np.array([zlib.crc32(dec[i].tobytes(), zlib.crc32(enc[i].tobytes())) for i in range(len(enc))],
                    dtype=np.int64)


def materialize_rows(stream: Stream, epochs: np.ndarray, rows: np.ndarray, vocab_size: int) -> dict[str, np.ndarray]:
    """Model features of rows (epoch, row id): gather tokens, corrupt, pack."""
    params = stream.params
    out = _empty_rows(len(rows), params.inputs_length, params.targets_length)
    out["packed"] = np.zeros(len(rows), dtype=bool)
    for epoch in np.unique(epochs).tolist():
        layout = stream.layout(epoch)
        mask_key = params.epoch_key(epoch, "mask")
        in_epoch = np.flatnonzero(epochs == epoch)
        is_full = rows[in_epoch] < layout.num_full
        full_at, full_rows = in_epoch[is_full], rows[in_epoch][is_full]
        if len(full_rows):
            virtual = layout.full_starts(full_rows)[:, None] + np.arange(layout.raw_length)
            tokens = stream.store.gather(layout.to_store_positions(virtual))
            _place_full_rows(out, full_at, *corrupt(tokens, vocab_size, mask_key, full_rows, params.noise_density,
                                                    params.mean_noise_span_length, EOS_ID))
        for at, row in zip(in_epoch[~is_full].tolist(), rows[in_epoch][~is_full].tolist()):
            members = layout.packed_row_members(row - layout.num_full)
            starts, lengths = layout.remainder_spans(members)
            pieces = []
            for member, start, length in zip(members.tolist(), starts.tolist(), lengths.tolist()):
                tokens = stream.store.gather(layout.to_store_positions(np.arange(start, start + length)))
                pieces.append(corrupt_one(tokens, vocab_size, mask_key, layout.num_full + member,
                                          params.noise_density, params.mean_noise_span_length, EOS_ID))
            _place_packed_row(out, at, pieces)
            out["packed"][at] = True
    out["row_fingerprint"] = row_fingerprints(out)
    out["row_epoch"], out["row_id"] = np.array(epochs, np.int64), np.array(rows, np.int64)  # copies: writable
    return out


@dataclasses.dataclass(frozen=True)
class Sharding:
    """How one optimizer step's global batch is cut: world x grad_accum micro-batches."""

    micro_batch: int
    grad_accum: int = 1
    world: int = 1
    rank: int = 0

    @property
    def global_batch(self) -> int:
        return self.micro_batch * self.grad_accum * self.world

    def stream_positions(self, micro_index: int) -> np.ndarray:
        """Stream positions of this rank's ``micro_index``-th micro-batch (step-major)."""
        step, micro = divmod(micro_index, self.grad_accum)
        first = step * self.global_batch + (self.rank * self.grad_accum + micro) * self.micro_batch
        return np.arange(first, first + self.micro_batch, dtype=np.int64)


class TrainBatches(torch.utils.data.Dataset):
    """Item i = this rank's i-th micro-batch, as a dict of numpy arrays."""

    def __init__(self, stream: Stream, sharding: Sharding, vocab_size: int):
        self.stream, self.sharding, self.vocab_size = stream, sharding, vocab_size

    def __getitem__(self, micro_index: int) -> dict[str, np.ndarray]:
        epochs, rows = self.stream.locate(self.sharding.stream_positions(micro_index))
        return materialize_rows(self.stream, epochs, rows, self.vocab_size)


def train_loader(stream: Stream, sharding: Sharding, vocab_size: int, first_step: int, last_step: int,
                 num_workers: int, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """Micro-batches of steps [first_step, last_step) for this rank, in order."""
    stream.ensure_rows(last_step * sharding.global_batch)  # layouts exist before workers fork
    indices = range(first_step * sharding.grad_accum, last_step * sharding.grad_accum)
    return torch.utils.data.DataLoader(
        TrainBatches(stream, sharding, vocab_size), batch_size=None, sampler=indices, num_workers=num_workers,
        pin_memory=pin_memory, prefetch_factor=4 if num_workers else None, persistent_workers=False)


def validation_batches(stream: Stream, max_rows: int, micro_batch: int, vocab_size: int, world: int = 1,
                       rank: int = 0) -> list[dict[str, np.ndarray]]:
    """The fixed validation rows (epoch 0's first ``max_rows``), this rank's share, in batches.
    The stream's seed is fixed, so masks and rows are the same at every evaluation and run."""
    stream.ensure_rows(1)
    layout = stream.layout(0)
    rows = np.asarray(layout.order[: min(max_rows, layout.num_rows)], dtype=np.int64)
    batches = [rows[i: i + micro_batch] for i in range(0, len(rows), micro_batch)]
    return [materialize_rows(stream, np.zeros(len(b), np.int64), b, vocab_size) for b in batches[rank::world]]
