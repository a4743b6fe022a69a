"""Vocabulary training time and peak memory against sample size.

    python benchmarks/vocab_benchmark.py [--corpus OUT] [--sizes-mb 5 10 20 40] [--vocab-size 32000]

The sample is generated text, not the real corpus repeated: sentencepiece counts repeated
sentences once (with a weight), so repeating a small corpus would understate memory. A
word-bigram chain fitted on the corpus (by default the shared real-web build, made on the
fly) writes distinct, English-like lines with the corpus's line-length distribution. Each
size trains in a fresh child process (its own VmHWM is the peak RSS), with
the same options as ``c4forge vocab``. The last lines fit peak RSS = base + ratio x sample
bytes, the model behind the memory check in ``c4forge.tokenizer_training.memory``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"

# VmHWM, not the parent's rusage: Linux carries a process's RSS high-water mark across
# fork and exec into ru_maxrss, so a child of a big parent would report the parent's size.
CHILD = """
import json, sys
from pathlib import Path
from c4forge.tokenizer_training.trainer import TrainerOptions, train_from_shards
args = json.loads(sys.argv[1])
shard = Path(args["shard"])
train_from_shards(TrainerOptions(**args["options"]), [shard], Path(args["out"]), shard.stat().st_size)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss": int(hwm.split()[1]) * 1024}))
"""


def corpus_lines(corpus: str) -> list[str]:
    from c4forge.corpus.reader import find_corpus

    texts = find_corpus(corpus).iter_texts("train")
    return [line for text in texts for line in text.split("\n") if line.strip()]


def sampler_throughput(corpus: str, workdir: Path) -> str:
    """The local sampler's two passes over the whole train split."""
    from c4forge.corpus.reader import find_corpus
    from c4forge.tokenizer_training.sampling import measure_sample, write_sample

    examples = find_corpus(corpus)
    started = time.perf_counter()
    info = measure_sample(examples.iter_examples("train"), 0, 10**7, 4192)
    write_sample(examples.iter_examples("train"), info, workdir / "sampler-check")
    seconds = time.perf_counter() - started
    return (f"local sampler: {info.units_total:,} lines, {info.sample_bytes / 2**20:.1f} MB in {seconds:.2f} s "
            f"({info.units_total / seconds:,.0f} lines/s, {info.sample_bytes / 2**20 / seconds:.1f} MB/s, both passes)")


def build_realweb(workdir: Path) -> Path:
    from c4forge import cli

    if not REALWEB_WET.is_file():
        sys.exit(f"no --corpus and {REALWEB_WET} is absent")
    out = workdir / "realweb"
    code = cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out), "--badwords-dir",
                     str(SHARED / "assets" / "ldnoobw"), "--noblocklist", "--format", "tfrecord"])
    if code:
        sys.exit("building the real-web corpus failed")
    return out


class BigramText:
    """Lines from a word-bigram chain; line lengths drawn from the source lines."""

    def __init__(self, lines: list[str], seed: int = 0):
        self.random = random.Random(seed)
        self.lengths = [len(line.split()) for line in lines]
        self.starts = [line.split()[0] for line in lines]
        self.following: dict[str, list[str]] = defaultdict(list)
        for line in lines:
            words = line.split()
            for a, b in zip(words, words[1:]):
                self.following[a].append(b)

    def line(self) -> str:
        words = [self.random.choice(self.starts)]
        for _ in range(self.random.choice(self.lengths) - 1):
            nxt = self.following.get(words[-1])
            words.append(self.random.choice(nxt) if nxt else self.random.choice(self.starts))
        return " ".join(words)

    def write(self, path: Path, size_bytes: int) -> int:
        lines = 0
        with open(path, "wb") as out:
            while out.tell() < size_bytes:
                out.write(self.line().encode("utf-8") + b"\n")
                lines += 1
        return lines


def train_child(shard: Path, out: Path, options: dict) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one training in a fresh process."""
    arg = json.dumps({"shard": str(shard), "out": str(out), "options": options})
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", CHILD, arg], stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"training on {shard} failed")
    return wall, json.loads(child.stdout.strip().splitlines()[-1])["peak_rss"]


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares y = a + b x."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", help="a c4forge build (default: build the shared real-web sample)")
    p.add_argument("--sizes-mb", type=float, nargs="+", default=[5, 10, 20, 40])
    p.add_argument("--vocab-size", type=int, default=16000,
                   help="generated text from a small corpus has too few distinct pieces for 32000")
    p.add_argument("--threads", type=int, nargs="+", default=[16],
                   help="trainer threads to compare (16 = the c4forge default)")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)

    import sentencepiece

    with tempfile.TemporaryDirectory(prefix="vocab-bench-") as tmp:
        workdir = Path(tmp)
        corpus = args.corpus or str(build_realweb(workdir))
        text = BigramText(corpus_lines(corpus))
        rows = []
        print(sampler_throughput(corpus, workdir))
        print(f"sentencepiece {sentencepiece.__version__}, {os.cpu_count()} cores, vocab {args.vocab_size}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'sample MB':>9} {'lines':>9} {'threads':>7} {'train s':>8} {'peak RSS MB':>11} {'RSS/byte':>8}")
        for size_mb in args.sizes_mb:
            shard = workdir / f"sample-{size_mb}.txt"
            lines = text.write(shard, int(size_mb * 2**20))
            sample_bytes = shard.stat().st_size
            for threads in args.threads:
                options = {"vocab_size": args.vocab_size, "threads": threads}
                wall, rss = train_child(shard, workdir / f"model-{size_mb}-{threads}", options)
                rows.append({"sample_bytes": sample_bytes, "lines": lines, "threads": threads,
                             "vocab_size": args.vocab_size, "train_seconds": round(wall, 1), "peak_rss": rss})
                print(f"{sample_bytes / 2**20:9.1f} {lines:9,d} {threads:7d} {wall:8.1f} "
                      f"{rss / 2**20:11,.0f} {rss / sample_bytes:8.1f}")
            shard.unlink()
        fitted = [r for r in rows if r["threads"] == args.threads[0]]
        if len({r["sample_bytes"] for r in fitted}) > 1:
            base, ratio = fit_line([r["sample_bytes"] for r in fitted], [r["peak_rss"] for r in fitted])
            print(f"fit ({args.threads[0]} threads): peak RSS = {base / 2**20:,.0f} MB + {ratio:.1f} x sample bytes")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
