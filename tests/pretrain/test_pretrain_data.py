"""The data path on synthetic token stores: chunking, grouping, splitting, packing, row order,
and sharding over ranks, accumulation and DataLoader workers (no gaps, no duplicates)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from c4forge.pretrain.data import Sharding, Stream, materialize_rows, train_loader, validation_batches
from c4forge.pretrain.layout import LayoutParams, build_epoch_layout
from helpers.span_corruption_inverse import uncorrupt
from c4forge.pretrain.token_cache import ShardWriter, TokenStore, token_dtype, write_manifest

VOCAB = 1100  # 1000 pieces + 100 sentinels


def make_store(directory: Path, shards: list[list[np.ndarray]]) -> TokenStore:
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for index, docs in enumerate(shards):
        name = f"shard-{index:05d}"
        writer = ShardWriter(str(directory / f"{name}.bin"), str(directory / f"{name}.offsets.npy"), token_dtype(VOCAB))
        for doc in docs:
            writer.add(doc)
        writer.close()
        names.append(name)
    write_manifest(directory, names, token_dtype(VOCAB), "synthetic", VOCAB, {"synthetic": True})
    return TokenStore(directory)


def synthetic_docs(count: int, seed: int, long_every: int = 0, long_length: int = 1000) -> list[np.ndarray]:
    """Docs of 0..150 tokens (some empty), every ``long_every``-th one ``long_length`` long."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(count):
        length = long_length if long_every and i % long_every == long_every - 1 else int(rng.integers(0, 150))
        docs.append(rng.integers(3, 1000, size=length))
    return docs


# Small shapes so that every mechanism shows up: 70-token examples, 4 docs per group, 300-token chunks.
PARAMS = LayoutParams(seed=7, inputs_length=64, docs_per_group=4, max_chunk_tokens=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> TokenStore:
    docs = synthetic_docs(90, seed=1, long_every=15)
    return make_store(tmp_path_factory.mktemp("store"), [docs[:40], docs[40:41], docs[41:]])


def test_store_concatenates_shards_and_drops_id_zero(tmp_path):
    store = make_store(tmp_path, [[np.array([5, 0, 6]), np.array([], int)], [np.array([7, 8])]])
    starts, lengths = store.doc_starts_and_lengths()
    assert starts.tolist() == [0, 2, 2] and lengths.tolist() == [2, 0, 2]
    assert store.gather(np.array([[0, 1, 2, 3]])).tolist() == [[5, 6, 7, 8]]


def chosen_chunks(store: TokenStore, layout) -> np.ndarray:
    """The virtual stream read back through the layout's piece map."""
    return store.gather(layout.to_store_positions(np.arange(layout.virtual_length)))


def test_long_documents_contribute_one_aligned_chunk_chosen_per_epoch(store):
    starts, lengths = store.doc_starts_and_lengths()
    tokens = store.gather(np.arange(store.num_tokens))
    size = PARAMS.max_chunk_tokens
    picks_per_epoch = set()
    for epoch in range(6):
        stream = chosen_chunks(store, build_epoch_layout(starts, lengths, PARAMS, epoch)).tolist()
        at, picks = 0, []
        for start, length in zip(starts.tolist(), lengths.tolist()):
            doc = tokens[start:start + length].tolist()
            chunks = [doc[i:i + size] for i in range(0, length, size)] if length else []
            if len(chunks) > 1:
                picks.append(next(i for i, c in enumerate(chunks) if stream[at:at + len(c)] == c))
                doc = chunks[picks[-1]]
            assert stream[at:at + len(doc)] == doc
            at += len(doc)
        assert at == len(stream)
        picks_per_epoch.add(tuple(picks))
    assert len(picks_per_epoch) > 1  # chunks are re-drawn per epoch


def test_groups_hold_docs_per_group_nonempty_documents(store):
    starts, lengths = store.doc_starts_and_lengths()
    layout = build_epoch_layout(starts, lengths, PARAMS, 0)
    nonempty = int((lengths > 0).sum())
    assert len(layout.group_bounds) - 1 == -(-nonempty // PARAMS.docs_per_group)


def examples_by_start(store, layout, rows: dict) -> dict[int, np.ndarray]:
    """Original tokens of every example in a materialized epoch, keyed by virtual start."""
    found = {}
    for index, row in enumerate(rows["row_id"].tolist()):
        if row < layout.num_full:
            start = int(layout.full_starts(np.array([row]))[0])
            found[start] = uncorrupt(rows["encoder_input_tokens"][index], rows["decoder_target_tokens"][index], VOCAB)
            continue
        members = layout.packed_row_members(row - layout.num_full)
        for segment, start in enumerate(layout.remainder_spans(members)[0].tolist(), start=1):
            enc = rows["encoder_segment_ids"][index] == segment
            dec = rows["decoder_segment_ids"][index] == segment
            found[start] = uncorrupt(rows["encoder_input_tokens"][index][enc],
                                     rows["decoder_target_tokens"][index][dec], VOCAB)
    return found


def test_every_token_of_the_epoch_is_in_exactly_one_example(store):
    stream = Stream(store, PARAMS)
    for epoch in (0, 1):
        layout = stream.layout(epoch)
        rows = materialize_rows(stream, np.full(layout.num_rows, epoch), np.arange(layout.num_rows), VOCAB)
        found = examples_by_start(store, layout, rows)
        assert len(found) == layout.num_full + layout.num_remainders
        starts = sorted(found)
        assert all(a + len(found[a]) == b for a, b in zip(starts, starts[1:]))  # contiguous, no overlap
        assert np.concatenate([found[s] for s in starts]).tolist() == chosen_chunks(store, layout).tolist()


def test_remainders_are_packed_greedily_with_segment_features(store):
    stream = Stream(store, PARAMS)
    layout = stream.layout(0)
    packed = np.arange(layout.num_full, layout.num_rows)
    members = np.concatenate([layout.packed_row_members(r - layout.num_full) for r in packed])
    assert sorted(members.tolist()) == list(range(layout.num_remainders))
    assert any(len(layout.packed_row_members(r - layout.num_full)) > 1 for r in packed)
    rows = materialize_rows(stream, np.zeros(len(packed), int), packed, VOCAB)
    assert rows["packed"].all()
    for i in range(len(packed)):
        enc_seg, dec_seg = rows["encoder_segment_ids"][i], rows["decoder_segment_ids"][i]
        count = len(layout.packed_row_members(packed[i] - layout.num_full))
        for segments, positions in ((enc_seg, rows["encoder_positions"][i]), (dec_seg, rows["decoder_positions"][i])):
            used = segments[segments > 0]
            assert used.tolist() == sorted(used.tolist()) and set(used.tolist()) == set(range(1, count + 1))
            assert (segments[len(used):] == 0).all()  # padding only at the end
            for s in range(1, count + 1):
                assert positions[segments == s].tolist() == list(range(int((segments == s).sum())))
        starts = np.flatnonzero(np.diff(np.concatenate([[0], dec_seg])) != 0)
        assert (rows["decoder_input_tokens"][i][starts[dec_seg[starts] > 0]] == 0).all()  # BOS per segment
        assert (rows["decoder_loss_weights"][i] == (dec_seg > 0)).all()
    # sequential first fit: a row is closed only when its successor's first example did not fit
    inputs = (rows["encoder_segment_ids"] > 0).sum(axis=1)
    targets = (rows["decoder_segment_ids"] > 0).sum(axis=1)
    first_in = [(rows["encoder_segment_ids"][i] == 1).sum() for i in range(len(packed))]
    first_tg = [(rows["decoder_segment_ids"][i] == 1).sum() for i in range(len(packed))]
    for p in range(len(packed) - 1):
        assert inputs[p] + first_in[p + 1] > 64 or targets[p] + first_tg[p + 1] > PARAMS.targets_length


def test_row_order_is_a_permutation_redrawn_per_epoch_and_seed(store):
    layouts = [Stream(store, PARAMS).layout(e) for e in (0, 1)]
    again = Stream(store, PARAMS).layout(0)
    other_seed = build_epoch_layout(*store.doc_starts_and_lengths(), LayoutParams(**{**PARAMS.__dict__, "seed": 8}), 0)
    assert sorted(layouts[0].order.tolist()) == list(range(layouts[0].num_rows))
    assert layouts[0].order.tolist() == again.order.tolist()
    assert layouts[0].order.tolist() != layouts[1].order[: layouts[0].num_rows].tolist()
    assert layouts[0].order.tolist() != other_seed.order.tolist()


def expected_stream(stream: Stream, count: int) -> list[tuple[int, int]]:
    stream.ensure_rows(count)
    out = []
    for epoch, size in enumerate(stream.epoch_sizes):
        out.extend((epoch, int(r)) for r in stream.layout(epoch).order[:size])
    return out[:count]


def collect(loader, sharding: Sharding, steps: int) -> dict[int, tuple]:
    """Stream position -> (epoch, row, fingerprint) from one rank's loader."""
    seen = {}
    for index, batch in enumerate(loader):
        positions = sharding.stream_positions(index)
        for pos, epoch, row, fp in zip(positions.tolist(), batch["row_epoch"].tolist(), batch["row_id"].tolist(),
                                       batch["row_fingerprint"].tolist(), strict=True):
            assert pos not in seen
            seen[pos] = (epoch, row, fp)
    return seen


@pytest.mark.parametrize("world,accum,workers", [(1, 1, 0), (2, 1, 0), (3, 2, 0), (2, 2, 2)])
def test_ranks_and_workers_see_the_stream_once_in_order(store, world, accum, workers):
    stream = Stream(store, PARAMS)
    global_batch = 12
    micro = global_batch // (world * accum)
    steps = 2 * stream.layout(0).num_rows // global_batch + 2  # runs into the third epoch
    seen = {}
    for rank in range(world):
        sharding = Sharding(micro, accum, world, rank)
        loader = train_loader(stream, sharding, VOCAB, 0, steps, num_workers=workers)
        part = collect(loader, sharding, steps)
        assert not set(part) & set(seen)
        seen.update(part)
    assert sorted(seen) == list(range(steps * global_batch))  # no gaps, no duplicates
    assert [seen[p][:2] for p in range(len(seen))] == expected_stream(stream, len(seen))
    assert [seen[p][2] for p in range(len(seen))] == single_process_fingerprints(store, steps * global_batch)


@functools.lru_cache(maxsize=None)
def single_process_fingerprints(store: TokenStore, count: int) -> list[int]:
    """Row fingerprints of the stream read by one process, one row per micro-batch."""
    stream, sharding = Stream(store, PARAMS), Sharding(1)
    rows = collect(train_loader(stream, sharding, VOCAB, 0, count, num_workers=0), sharding, count)
    return [rows[p][2] for p in range(count)]


def test_resuming_at_a_step_gives_the_same_micro_batches(store):
    stream = Stream(store, PARAMS)
    sharding = Sharding(micro_batch=3, grad_accum=2)
    full = list(train_loader(stream, sharding, VOCAB, 0, 8, num_workers=0))
    resumed = list(train_loader(stream, sharding, VOCAB, 5, 8, num_workers=0))
    assert len(resumed) == 6
    for a, b in zip(full[10:], resumed, strict=True):
        assert all((a[k] == b[k]).all() for k in a)


def test_validation_rows_are_fixed_and_split_over_ranks(store):
    params = LayoutParams(**{**PARAMS.__dict__, "seed": 42})
    once = validation_batches(Stream(store, params), 40, 4, VOCAB)
    again = validation_batches(Stream(store, params), 40, 4, VOCAB)
    assert all((a[k] == b[k]).all() for a, b in zip(once, again, strict=True) for k in a)
    shares = [validation_batches(Stream(store, params), 40, 4, VOCAB, world=3, rank=r) for r in range(3)]
    rows = sorted(int(x) for share in shares for b in share for x in b["row_id"])
    assert rows == sorted(int(x) for b in once for x in b["row_id"]) and len(rows) == 40


def test_layouts_are_saved_once_and_memory_mapped(store):
    stream = Stream(store, PARAMS)
    layout = stream.layout(3)
    directory = stream.root / "epoch-00003"
    assert (directory / "meta.json").is_file()
    stamp = (directory / "order.npy").stat().st_mtime_ns
    reloaded = Stream(store, PARAMS).layout(3)
    assert (directory / "order.npy").stat().st_mtime_ns == stamp
    assert isinstance(reloaded.order, np.memmap) and reloaded.order.tolist() == layout.order.tolist()


def test_a_layout_built_block_by_block_equals_the_whole_array_build(store):
    """The build streams over documents (a token-cache shard at a time in training); any block size,
    with or without a document range, gives the same arrays."""
    from c4forge.pretrain.layout import ARRAYS, array_blocks, build_epoch_layout_from_blocks

    starts, lengths = store.doc_starts_and_lengths()
    for params in (PARAMS, LayoutParams(**{**PARAMS.__dict__, "doc_range": (13, 77)})):
        whole = build_epoch_layout(starts, lengths, params, 2)
        for blocks in (array_blocks(starts, lengths, 1), array_blocks(starts, lengths, 5), store.doc_blocks()):
            built = build_epoch_layout_from_blocks(blocks, params, 2)
            assert all(np.array_equal(getattr(built, name), getattr(whole, name)) for name in ARRAYS)
    assert store.num_docs == len(lengths) == 90


def test_ranks_that_do_not_build_wait_for_the_builders_files_and_map_them(store, tmp_path):
    """One layout build per node: local rank 0 builds, the others poll for its files."""
    import shutil
    import threading

    copy = TokenStore(shutil.copytree(store.directory, tmp_path / "store", ignore=shutil.ignore_patterns("layouts")))
    waiter = Stream(copy, PARAMS, builds=False, poll_seconds=0.01)
    got = {}
    thread = threading.Thread(target=lambda: got.setdefault("layout", waiter.layout(1)))
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and not waiter.root.exists()  # nothing built by the waiting rank
    built = Stream(copy, PARAMS).layout(1)
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(got["layout"].order, np.memmap)
    assert got["layout"].order.tolist() == built.order.tolist()


def vm_flags(path: Path) -> set[str]:
    """The kernel's VmFlags of this process's mapping of ``path`` ("rr": MADV_RANDOM)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.endswith(str(path)):
            flags = next(row for row in lines[index:] if row.startswith("VmFlags:"))
            return set(flags.split()[1:])
    raise AssertionError(f"{path} is not mapped")


@pytest.mark.skipif(not Path("/proc/self/smaps").is_file(), reason="needs Linux's /proc/self/smaps")
def test_memory_maps_are_advised_for_random_access(store):
    layout = Stream(store, PARAMS).layout(0)
    directory = Stream(store, PARAMS).root / "epoch-00000"
    assert "rr" in vm_flags(directory / "pieces_file.npy")
    assert "rr" not in vm_flags(directory / "order.npy")  # read front to back
    fresh = TokenStore(store.directory)
    fresh.gather(np.array([0, 5]))
    assert "rr" in vm_flags(fresh.directory / "shard-00000.bin")
    assert layout.num_rows > 0
