"""Pages/s of `c4forge build` with 1, 2, ... local worker processes on one machine.

    python benchmarks/worker_scaling.py [--workers 1,2] [--files 4] [--records 1000]
        [--repeats 1] [--cache-dir DIR] [--workdir DIR] [--json results.json]

Input: ``--files`` synthetic segments of ``--records`` records each (``make_segment.py``, seeds
0, 1, ...; cached), in one folder. Several files, because a WET file is read whole by one worker:
with one file the reading stage could not spread.

Each run is ``c4_benchmark.run_child``: ``c4forge build --format tfrecord`` in a fresh process,
with ``--runner=FnApiRunner --direct_running_mode=multi_processing --direct_num_workers=N``.
pages/s is pages read over the pipeline's wall seconds (the child's ``cli.main``: Beam's import
and interpreter start-up excluded); speedup is over the first worker count's pages/s. CPU s is
the whole process tree's. Every run must keep the same counters (same input, same job).
Prints a Markdown table with the machine's cores and load averages: on a shared machine the
load says how much of it the runs had.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import c4_benchmark  # noqa: E402
import make_segment  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def input_folder(files: int, records: int, cache_dir: Path | None, workdir: Path) -> Path:
    """``files`` cached segments, linked into one folder that `--input` reads whole."""
    folder = workdir / "input"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(files):
        segment = make_segment.make_segment(records, cache_dir, seed, log=log)
        link = folder / segment.name
        if not link.exists():
            link.symlink_to(segment)
    return folder


def runner_args(workers: int) -> str:
    return f"--runner=FnApiRunner --direct_running_mode=multi_processing --direct_num_workers={workers}"


def measure(workers: int, folder: Path, workdir: Path) -> dict:
    log(f"[{workers} worker(s)] load average before: {os.getloadavg()[0]:.2f}")
    started_load = os.getloadavg()[0]
    run = c4_benchmark.run_child("c4forge", folder, workdir / f"w{workers}", runner_args(workers), docs=False)
    return {
        "workers": workers,
        "pages": run["pages_read"],
        "run_wall_s": run["run_wall_s"],
        "pages_per_s": run["pages_read"] / run["run_wall_s"],
        "cpu_s": run["cpu_s"],
        "tree_peak_rss_mb": run["tree_peak_rss_mb"],
        "load_before": started_load,
        "load_after": os.getloadavg()[0],
        "counters": run["counters"],
    }


def best_of(runs: list[dict]) -> dict:
    """The fastest repeat: on a shared machine the slower ones measured the neighbours too."""
    return max(runs, key=lambda r: r["pages_per_s"])


def table(results: list[dict]) -> str:
    base = results[0]["pages_per_s"]
    rows = ["| workers | pages | pipeline wall s | pages/s | speedup | CPU s (tree) | peak RSS MB (tree) "
            "| load before/after |", "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        rows.append(f"| {r['workers']} | {r['pages']:,} | {r['run_wall_s']:.1f} | {r['pages_per_s']:.0f} | "
                    f"{r['pages_per_s'] / base:.2f}x | {r['cpu_s']:.1f} | {r['tree_peak_rss_mb']:.0f} | "
                    f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    return "\n".join(rows)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default %(default)s)")
    p.add_argument("--files", type=int, default=4, help="input WET files (default %(default)s)")
    p.add_argument("--records", type=int, default=1000, help="records per file (default %(default)s)")
    p.add_argument("--repeats", type=int, default=1, help="runs per worker count; the fastest is kept")
    p.add_argument("--cache-dir", type=Path, help="where generated segments are cached")
    p.add_argument("--workdir", type=Path, help="outputs of the runs (default: a temporary directory)")
    p.add_argument("--json", type=Path, help="write the measurements here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not make_segment.REALWEB_WET.is_file():
        log(f"no input: the segments are made from {make_segment.REALWEB_WET} (../shared), which is absent")
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="c4-worker-scaling-"))
    folder = input_folder(args.files, args.records, args.cache_dir, workdir)
    started = time.time()
    results = [best_of([measure(int(n), folder, workdir) for _ in range(args.repeats)])
               for n in args.workers.split(",")]
    if any(r["counters"] != results[0]["counters"] for r in results):
        log("the runs kept different counters: not the same job")
        return 1
    print(f"# c4forge build, local workers: {args.files} files x {args.records:,} records; "
          f"{os.cpu_count()} CPUs; {time.time() - started:.0f} s in all\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count(),
                                         "results": [{k: v for k, v in r.items() if k != "counters"}
                                                     for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
