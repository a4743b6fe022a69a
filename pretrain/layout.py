"""Which tokens make up each training example in an epoch, and in which order rows are seen.

T5's ``span_corruption`` before the mask (span_corruption_reference.md §1.4), over the token
cache's documents in corpus order:

1. ``select_random_chunk``: drop empty documents; a document longer than 65,536 tokens keeps
   one of its ``ceil(n / 65536)`` aligned chunks, chosen by hash(seed, epoch, document).
2. ``reduce_concat_tokens``: 128 consecutive documents are concatenated, no separator.
3. ``split_tokens``: each group is cut into 568-token examples; the short last piece of a group
   (the "remainder") is kept.

The chosen chunks, laid end to end, form the epoch's *virtual stream*; example ``r < n_full``
is a full 568-token window of it, example ``n_full + j`` is the j-th remainder. Full examples
are one row each (512/114 exactly); remainders, whose corrupted lengths are known in advance,
are packed greedily (sequential first fit, seqio's rule) into shared rows in a hashed order.
Rows are then visited in a hashed permutation of the epoch. Everything is a pure function of
(document lengths, parameters, seed, epoch): any process recomputes or memory-maps the same
arrays, which are saved once per epoch next to the token cache.

Memory: the build streams over the documents in blocks (a token-cache shard at a time), keeping
only one entry per 128-document group and one per break in the stream, so its peak is the row
order's (a hash per row, then their argsort: about 20 bytes a row, ~6 GB for full C4) rather than
a dozen arrays over all documents (~35 GB). One process per node builds (data.Stream); the others
memory-map the saved arrays, and rows are read at random, so the maps are advised MADV_RANDOM.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from .hashing import derive_key, fold_keys, random_below, random_order, tag
from .span_corruption import (INPUTS_LENGTH, MEAN_NOISE_SPAN_LENGTH, NOISE_DENSITY, noise_counts,
                              random_spans_helper)

LAYOUT_FORMAT = 2  # 2: T5's float32 noise counts (remainder lengths such as 190 pack differently)
ARRAYS = ("pieces_virtual", "pieces_file", "group_bounds", "full_cum", "remainder_groups",
          "packed_offsets", "packed_members", "order")
BLOCK_DOCS = 1 << 22  # documents per step of the build when it is handed whole arrays


@dataclasses.dataclass(frozen=True)
class LayoutParams:
    """Everything an epoch's examples depend on besides the tokens and the epoch number."""

    seed: int
    inputs_length: int = INPUTS_LENGTH
    noise_density: float = NOISE_DENSITY
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH
    docs_per_group: int = 128
    max_chunk_tokens: int = 65536
    doc_range: Optional[tuple[int, int]] = None  # [first, last) documents of the store; None = all

    @property
    def raw_length(self) -> int:
        return random_spans_helper(self.inputs_length, self.noise_density, self.mean_noise_span_length)[0]

    @property
    def targets_length(self) -> int:
        return random_spans_helper(self.inputs_length, self.noise_density, self.mean_noise_span_length)[1]

    def key(self) -> str:
        fields = dataclasses.asdict(self) | {"format": LAYOUT_FORMAT}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def epoch_key(self, epoch: int, purpose: str) -> int:
        return derive_key(self.seed, epoch, tag(purpose))


@dataclasses.dataclass
class EpochLayout:
    """Arrays of one epoch (int64). ``pieces_*``: virtual stream position -> token store position
    (a new piece starts wherever the chosen chunks stop being contiguous in the store)."""

    epoch: int
    raw_length: int
    pieces_virtual: np.ndarray
    pieces_file: np.ndarray
    group_bounds: np.ndarray  # virtual start of each 128-document group, plus the end
    full_cum: np.ndarray  # full examples before each group (n_groups + 1)
    remainder_groups: np.ndarray  # groups whose length is not a multiple of raw_length
    packed_offsets: np.ndarray  # packed row p holds remainders packed_members[off[p]:off[p+1]]
    packed_members: np.ndarray
    order: np.ndarray  # the epoch's row order (a permutation of range(num_rows))

    @property
    def num_full(self) -> int:
        return int(self.full_cum[-1])

    @property
    def num_remainders(self) -> int:
        return len(self.remainder_groups)

    @property
    def num_rows(self) -> int:
        return self.num_full + len(self.packed_offsets) - 1

    @property
    def virtual_length(self) -> int:
        return int(self.group_bounds[-1])

    def to_store_positions(self, virtual: np.ndarray) -> np.ndarray:
        piece = np.searchsorted(self.pieces_virtual, virtual, side="right") - 1
        return self.pieces_file[piece] + (virtual - self.pieces_virtual[piece])

    def full_starts(self, rows: np.ndarray) -> np.ndarray:
        """Virtual start of full examples ``rows`` (each < num_full)."""
        group = np.searchsorted(self.full_cum, rows, side="right") - 1
        return self.group_bounds[group] + self.raw_length * (rows - self.full_cum[group])

    def remainder_spans(self, remainders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(virtual start, length) of remainder examples (indices into remainder_groups)."""
        group = self.remainder_groups[remainders]
        full = self.full_cum[group + 1] - self.full_cum[group]
        start = self.group_bounds[group] + self.raw_length * full
        return start, self.group_bounds[group + 1] - start

    def packed_row_members(self, packed_row: int) -> np.ndarray:
        return self.packed_members[self.packed_offsets[packed_row]: self.packed_offsets[packed_row + 1]]

    def save(self, directory: Path) -> None:
        """Write to ``directory`` atomically (a temporary sibling renamed into place); if another
        process got there first, its identical copy is kept."""
        tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(self, name))
        (tmp / "meta.json").write_text(json.dumps({"epoch": self.epoch, "raw_length": self.raw_length}))
        try:
            os.rename(tmp, directory)
        except OSError:
            if not (directory / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> "EpochLayout":
        meta = json.loads((directory / "meta.json").read_text())
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        for name, array in arrays.items():
            if name != "order":  # read front to back, a micro-batch at a time: the default readahead helps
                advise_random(array)
        return cls(epoch=meta["epoch"], raw_length=meta["raw_length"], **arrays)


def advise_random(array: np.ndarray) -> None:
    """MADV_RANDOM on a memory-mapped array (no readahead around each random access: only the
    pages read become resident, in the page cache that all processes of the node share). A no-op
    where the platform has no madvise or the array is not a file map."""
    base = getattr(array, "base", None)
    if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_RANDOM"):
        base.madvise(mmap.MADV_RANDOM)


def corrupted_lengths_table(params: LayoutParams) -> tuple[np.ndarray, np.ndarray]:
    """Inputs/targets lengths (with EOS) after corrupting a piece of L raw tokens, L < raw_length."""
    counts = [noise_counts(n, params.noise_density, params.mean_noise_span_length) if n else None
              for n in range(params.raw_length)]
    inputs = np.array([c.inputs_length if c else 0 for c in counts], dtype=np.int64)
    targets = np.array([c.targets_length if c else 0 for c in counts], dtype=np.int64)
    return inputs, targets


def _choose_chunks(starts: np.ndarray, lengths: np.ndarray, doc_ids: np.ndarray, params: LayoutParams,
                   epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """select_random_chunk: (store start, length) of the chunk each document contributes."""
    size = params.max_chunk_tokens
    num_chunks = -(-lengths // size)
    choice = random_below(fold_keys(params.epoch_key(epoch, "chunk"), doc_ids), num_chunks)
    chosen_start = starts + choice * size
    return chosen_start, np.minimum(size, lengths - choice * size)


def _pack_greedily(order: np.ndarray, inputs: np.ndarray, targets: np.ndarray, params: LayoutParams
                   ) -> tuple[np.ndarray, np.ndarray]:
    """seqio's packing: append to the current row while both inputs and targets fit, else start
    a new row. Returns (offsets, members) in CSR form."""
    max_inputs, max_targets = params.inputs_length, params.targets_length
    offsets, members = [0], []
    used_inputs = used_targets = 0
    for member in order.tolist():
        a, b = int(inputs[member]), int(targets[member])
        if len(members) > offsets[-1] and (used_inputs + a > max_inputs or used_targets + b > max_targets):
            offsets.append(len(members))
            used_inputs = used_targets = 0
        members.append(member)
        used_inputs += a
        used_targets += b
    if len(members) > offsets[-1]:
        offsets.append(len(members))
    return np.asarray(offsets, dtype=np.int64), np.asarray(members, dtype=np.int64)


@dataclasses.dataclass
class _StreamState:
    """What the block-by-block build carries from one block of documents to the next."""

    nonempty: int = 0  # non-empty documents seen (the group of a document is its index // docs_per_group)
    virtual_end: int = 0  # length of the virtual stream so far
    chunk_end: int = -1  # store position right after the previous chunk (-1: none yet)
    pieces_virtual: list = dataclasses.field(default_factory=list)
    pieces_file: list = dataclasses.field(default_factory=list)
    group_starts: list = dataclasses.field(default_factory=list)

    def add_block(self, doc_ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, params: LayoutParams,
                  epoch: int) -> None:
        nonempty = lengths > 0
        doc_ids, starts, lengths = doc_ids[nonempty], starts[nonempty], lengths[nonempty]
        if not len(lengths):
            return
        chunk_start, chunk_length = _choose_chunks(starts, lengths, doc_ids, params, epoch)
        virtual_start = np.cumsum(chunk_length) - chunk_length + self.virtual_end
        previous_end = np.concatenate([[self.chunk_end], chunk_start[:-1] + chunk_length[:-1]])
        breaks = np.flatnonzero(chunk_start != previous_end)  # also the very first chunk (chunk_end -1)
        self.pieces_virtual.append(virtual_start[breaks])
        self.pieces_file.append(chunk_start[breaks])
        first = (-self.nonempty) % params.docs_per_group  # the first document here that opens a group
        self.group_starts.append(virtual_start[first::params.docs_per_group])
        self.nonempty += len(lengths)
        self.virtual_end = int(virtual_start[-1] + chunk_length[-1])
        self.chunk_end = int(chunk_start[-1] + chunk_length[-1])


def array_blocks(doc_starts: np.ndarray, doc_lengths: np.ndarray, block: int = BLOCK_DOCS
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for first in range(0, len(doc_lengths), block):
        yield doc_starts[first:first + block], doc_lengths[first:first + block]


def build_epoch_layout(doc_starts: np.ndarray, doc_lengths: np.ndarray, params: LayoutParams, epoch: int
                       ) -> EpochLayout:
    """The layout of one epoch from the store's per-document (start, length)."""
    return build_epoch_layout_from_blocks(array_blocks(np.asarray(doc_starts), np.asarray(doc_lengths)),
                                          params, epoch)


def build_epoch_layout_from_blocks(blocks: Iterable[tuple[np.ndarray, np.ndarray]], params: LayoutParams,
                                   epoch: int) -> EpochLayout:
    """The same from the documents' (start, length) in consecutive blocks, in corpus order (a
    token store's ``doc_blocks``), holding one block at a time."""
    state = _StreamState()
    first_doc, last_doc = params.doc_range or (0, None)
    block_first = 0
    for starts, lengths in blocks:
        block_last = block_first + len(lengths)
        low = max(first_doc, block_first)
        high = block_last if last_doc is None else min(last_doc, block_last)
        if low < high:
            take = slice(low - block_first, high - block_first)
            state.add_block(np.arange(low, high, dtype=np.int64), np.asarray(starts[take], np.int64),
                            np.asarray(lengths[take], np.int64), params, epoch)
        block_first = block_last
    if not state.nonempty:
        raise ValueError("no non-empty documents to build examples from")
    group_bounds = np.concatenate(state.group_starts + [[state.virtual_end]]).astype(np.int64)
    group_lengths = np.diff(group_bounds)
    raw = params.raw_length
    full_cum = np.concatenate([[0], np.cumsum(group_lengths // raw)]).astype(np.int64)
    remainder_groups = np.flatnonzero(group_lengths % raw)
    inputs_len, targets_len = corrupted_lengths_table(params)
    remainder_lengths = group_lengths[remainder_groups] % raw
    pack_order = random_order(params.epoch_key(epoch, "pack"), len(remainder_groups))
    packed_offsets, packed_members = _pack_greedily(
        pack_order, inputs_len[remainder_lengths], targets_len[remainder_lengths], params)
    num_rows = int(full_cum[-1]) + len(packed_offsets) - 1
    return EpochLayout(
        epoch=epoch, raw_length=raw,
        pieces_virtual=np.concatenate(state.pieces_virtual).astype(np.int64),
        pieces_file=np.concatenate(state.pieces_file).astype(np.int64),
        group_bounds=group_bounds, full_cum=full_cum, remainder_groups=remainder_groups,
        packed_offsets=packed_offsets, packed_members=packed_members,
        order=random_order(params.epoch_key(epoch, "order"), num_rows),
    )
