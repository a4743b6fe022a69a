"""Layout memory per DDP rank on one node, for a corpus of full-C4 size (`c4forge pretrain`).

Every epoch's layout (pretrain/layout.py: chunk choice, 128-document groups, 568-token rows,
packing, row order) is built by local rank 0 and memory-mapped by the other ranks of the node
(pretrain/data.py ``Stream``). This script measures what that costs each rank: it writes a
synthetic token store that holds only document boundaries (C4 en's train split has 364,868,892
documents; lengths are drawn from a log-normal with a median of 300 and a mean of about 470
T5 tokens, at least 15: no text, no token files), then starts 1 and then 8 processes standing
for the local ranks of a node (rank 0 builds, as ``train.plan_data`` decides), which lay out
epoch 0 and look up their share of the first 2,000 steps' rows (batch 128), as training does.

Each rank reports the private (anonymous) memory the layout added at its peak and the mapped
file pages it read: the builder's memory is private and freed once the arrays are saved; the
other ranks' is the pages of the saved files they read, which are the page cache, one copy per
node however many ranks map them. A node therefore holds one rank's layout memory whatever the
rank count. Full size does not fit in a few minutes here, so the default measures 1/16 of C4's
documents and scales the builder's peak and the files linearly (each is proportional to the
documents or the rows; the output says so; a fixed ~50 MB of the build is scaled too, so small
scales overstate: 1/64 gives 9.5 GB for the 5.7 GB of 1/16). ``--scale 1`` measures full size
with about 7 GB free.

    python benchmarks/layout_memory.py [--scale 16] [--ranks 1 8] [--all-build]

``--all-build`` makes every rank build for itself, as before the per-node build: the 8-rank
total is then 8 builds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

C4_EN_TRAIN_DOCS = 364_868_892
C4_SHARDS = 1024
MEDIAN_TOKENS, SIGMA, MIN_TOKENS = 300, 0.95, 15


def synthetic_lengths(docs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lengths = np.empty(docs, dtype=np.int64)
    for first in range(0, docs, 1 << 24):  # in blocks: no float64 array of every document at once
        last = min(docs, first + (1 << 24))
        draw = rng.lognormal(np.log(MEDIAN_TOKENS), SIGMA, last - first)
        lengths[first:last] = np.maximum(MIN_TOKENS, draw.astype(np.int64))
    return lengths


def write_store(directory: Path, lengths: np.ndarray, shards: int) -> None:
    """A token store's manifest and offsets files (pretrain/token_cache.py), without token files."""
    directory.mkdir(parents=True)
    entries = []
    for index, part in enumerate(np.array_split(lengths, shards)):
        offsets = np.zeros(len(part) + 1, dtype=np.int64)
        np.cumsum(part, out=offsets[1:])
        name = f"shard-{index:05d}"
        np.save(directory / f"{name}.offsets.npy", offsets)
        (directory / f"{name}.bin").touch()
        entries.append({"name": name, "docs": len(part), "tokens": int(offsets[-1])})
    manifest = {"format": 1, "dtype": "<u2", "vocab_sha256": "synthetic", "vocab_size": 32100,
                "corpus": {"synthetic": True}, "shards": entries}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def memory_status() -> dict[str, int]:
    """This process's resident memory by kind, in bytes (Linux)."""
    fields = {}
    path = Path("/proc/self/smaps_rollup")
    if path.is_file():
        for line in path.read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) * 1024
    return fields


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rank_main(store_dir: str, local_rank: int, ranks: int, builds: bool, lookups: int, results) -> None:
    from c4forge.pretrain.data import Sharding, Stream
    from c4forge.pretrain.layout import LayoutParams
    from c4forge.pretrain.token_cache import TokenStore

    store = TokenStore(Path(store_dir))
    before = memory_status()
    peak_before = peak_rss()
    started = time.perf_counter()
    stream = Stream(store, LayoutParams(seed=0), builds=builds)
    layout = stream.layout(0)
    ready = time.perf_counter() - started
    stream.ensure_rows(layout.num_rows)
    sharding = Sharding(micro_batch=16, world=ranks, rank=local_rank)  # batch 128 on 8 ranks
    for index in range(lookups):  # this rank's micro-batches: locate the rows, then where their tokens are
        epochs, rows = stream.locate(sharding.stream_positions(index) % layout.num_rows)
        full = rows[rows < layout.num_full]
        virtual = layout.full_starts(full)[:, None] + np.arange(layout.raw_length)
        layout.to_store_positions(virtual)
        for packed in rows[rows >= layout.num_full].tolist():
            layout.remainder_spans(layout.packed_row_members(packed - layout.num_full))
    end = memory_status()
    files = sum(path.stat().st_size for path in (stream.root / "epoch-00000").iterdir())
    results.put({
        "local_rank": local_rank, "builds": builds, "seconds": round(ready, 1), "rows": layout.num_rows,
        "files": files,
        # the build's arrays are anonymous memory: the peak RSS above the start is theirs
        "peak_added": max(0, peak_rss() - peak_before) if builds else 0,
        "private_added": end.get("Anonymous", 0) - before.get("Anonymous", 0),
        "file_pages_added": end.get("Rss", 0) - end.get("Anonymous", 0) - (before.get("Rss", 0) - before.get("Anonymous", 0)),
    })


def run_node(store: Path, ranks: int, all_build: bool, lookups: int) -> list[dict]:
    shutil.rmtree(store / "layouts", ignore_errors=True)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=rank_main, args=(str(store), r, ranks, all_build or r == 0, lookups, results))
                 for r in range(ranks)]
    for process in processes:
        process.start()
    found = [results.get() for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a rank failed (exit code {process.exitcode})")
    return sorted(found, key=lambda r: r["local_rank"])


def mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.0f} MB"


def gb(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.1f} GB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=16, help="measure 1/SCALE of C4's documents (default 16)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 8], help="ranks on the node (default 1 8)")
    parser.add_argument("--all-build", action="store_true", help="every rank builds (the behaviour before)")
    parser.add_argument("--lookups", type=int, default=2000, help="random micro-batches looked up per rank")
    parser.add_argument("--workdir", type=Path, help="where the synthetic store goes (default: a temporary dir)")
    args = parser.parse_args(argv)

    docs = C4_EN_TRAIN_DOCS // args.scale
    work = Path(tempfile.mkdtemp(prefix="layout-memory-", dir=args.workdir))
    try:
        lengths = synthetic_lengths(docs)
        tokens = int(lengths.sum())
        print(f"synthetic corpus: {docs:,} documents (1/{args.scale} of C4 en train's {C4_EN_TRAIN_DOCS:,}), "
              f"{tokens:,} tokens; lengths median {int(np.median(lengths))}, mean {lengths.mean():.0f}, "
              f"p99 {int(np.percentile(lengths, 99))}, max {int(lengths.max())}")
        write_store(work / "store", lengths, max(1, C4_SHARDS // args.scale))
        del lengths
        print("layout memory per rank (epoch 0, T5 settings), measured, then x"
              f"{args.scale} for full C4 (linear in documents and rows):")
        for ranks in args.ranks:
            found = run_node(work / "store", ranks, args.all_build, args.lookups)
            # Mapped file pages are the page cache: one copy per node, however many ranks map them.
            shared = max(r["file_pages_added"] for r in found)
            private = [max(r["peak_added"], r["private_added"], 0) for r in found]
            total = sum(private) + shared
            files = found[0]["files"]
            print(f"  {ranks} rank(s){' (every rank builds)' if args.all_build else ''}: {found[0]['rows']:,} rows, "
                  f"built in {found[0]['seconds']} s; layout files {mb(files)} (full C4: {gb(files * args.scale)})")
            for r, own in zip(found, private):
                role = "builds" if r["builds"] else "maps  "
                print(f"    local rank {r['local_rank']} {role} private +{mb(own)} at peak (full C4: "
                      f"{gb(own * args.scale)}); mapped file pages read +{mb(r['file_pages_added'])} (shared)")
            print(f"    node: {mb(total)} = private memory of all ranks + the file pages read once "
                  f"({total / max(private[0], 1):.2f}x the building rank alone); full C4: "
                  f"{gb(sum(private) * args.scale)} + at most the {gb(files * args.scale)} of layout files in the "
                  "page cache (clean pages the kernel can drop)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
