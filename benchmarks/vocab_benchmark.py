"""Vocabulary training time and peak memory against sample size.

    python benchmarks/vocab_benchmark.py [--corpus OUT] [--sizes-mb 5 10 20 40] [--vocab-size 32000]
        [--threads 16 2] [--feed iterator file] [--phases]

The sample is generated text, not the real corpus repeated: sentencepiece counts repeated
sentences once (with a weight), so repeating a small corpus would understate memory. A
word-bigram chain fitted on the corpus (by default the shared real-web build, made on the
fly) writes distinct, English-like lines with the corpus's line-length distribution. Each
size trains in a fresh child process (its own VmHWM is the peak RSS), with
the same options as ``c4forge vocab``. The last lines fit peak RSS = base + ratio x sample
bytes, the model behind the memory check in ``c4forge.tokenizer_training.memory``.

``--feed iterator file`` trains each sample both as ``c4forge vocab`` does (the shards streamed
through ``sentence_iterator``) and from the file itself (``input=``, sentencepiece's own
reader); each row shows the model's sha256, so that a way of feeding which changed the model
would show. ``--phases`` samples each child's RSS every 0.1 s and prints it at sentencepiece's
own log lines: where the memory goes.
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
import hashlib, io, json, sys
from pathlib import Path
from c4forge.tokenizer_training import trainer
args = json.loads(sys.argv[1])
shard = Path(args["shard"])
options = trainer.TrainerOptions(**args["options"])
if args["feed"] == "iterator":  # what c4forge vocab does
    model = trainer.train_from_shards(options, [shard], Path(args["out"]), shard.stat().st_size,
                                      args["verbose"]).read_bytes()
else:  # sentencepiece reads the file; its path is then dropped from the model's trainer_spec
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    spm.set_random_generator_seed(options.seed)
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(input=str(shard), model_writer=writer, minloglevel=0 if args["verbose"] else 2,
                                   **trainer.trainer_arguments(options, shard.stat().st_size))
    proto = sentencepiece_model_pb2.ModelProto.FromString(writer.getvalue())
    proto.trainer_spec.ClearField("input")
    model = trainer.quantize_scores(proto.SerializeToString())
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss": int(hwm.split()[1]) * 1024, "model_sha256": hashlib.sha256(model).hexdigest()}))
"""
# sentencepiece's log lines that open a phase of training, and what the phase holds
PHASES = (("Loaded all", "loaded"), ("Done! preprocessed", "normalized"), ("Making suffix array", "suffix array"),
          ("Initialized", "seed pieces"), ("EM sub_iter=0", "EM"))


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


def train_child(shard: Path, out: Path, options: dict, feed: str = "iterator",
                phases: bool = False) -> tuple[float, dict, dict]:
    """(wall seconds, the child's result: peak RSS bytes and model sha256, and with ``phases``
    the RSS in bytes at each of PHASES) of one training in a fresh process."""
    arg = json.dumps({"shard": str(shard), "out": str(out), "options": options, "feed": feed, "verbose": phases})
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, arg], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE if phases else None, text=True)
    rss_at = read_phases(child) if phases else {}
    stdout = child.stdout.read()
    if child.wait() != 0:
        raise SystemExit(f"training on {shard} failed")
    return time.perf_counter() - started, json.loads(stdout.strip().splitlines()[-1]), rss_at


def read_phases(child: subprocess.Popen) -> dict:
    """The child's RSS when each of PHASES began (its log on stderr), sampled every 0.1 s."""
    import threading

    import psutil

    process, rss = psutil.Process(child.pid), [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                rss[0] = process.memory_info().rss
            except psutil.Error:
                return
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rss_at = {}
    for line in child.stderr:
        for marker, name in PHASES:
            if marker in line and name not in rss_at:
                rss_at[name] = rss[0]
    done.set()
    return rss_at


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
    p.add_argument("--feed", nargs="+", choices=["iterator", "file"], default=["iterator"],
                   help="how the trainer reads the sample: streamed by c4forge (iterator, what c4forge vocab does) "
                        "or from the file by sentencepiece (file)")
    p.add_argument("--phases", action="store_true", help="RSS at each phase of training (sampled)")
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
        print(f"{'sample MB':>9} {'lines':>9} {'threads':>7} {'feed':>8} {'train s':>8} {'peak RSS MB':>11} "
              f"{'RSS/byte':>8} model sha256")
        for size_mb in args.sizes_mb:
            shard = workdir / f"sample-{size_mb}.txt"
            lines = text.write(shard, int(size_mb * 2**20))
            sample_bytes = shard.stat().st_size
            for threads in args.threads:
                for feed in args.feed:
                    options = {"vocab_size": args.vocab_size, "threads": threads}
                    wall, result, rss_at = train_child(shard, workdir / f"model-{size_mb}-{threads}-{feed}", options,
                                                       feed, args.phases)
                    rss = result["peak_rss"]
                    rows.append({"sample_bytes": sample_bytes, "lines": lines, "threads": threads, "feed": feed,
                                 "vocab_size": args.vocab_size, "train_seconds": round(wall, 1), "peak_rss": rss,
                                 "model_sha256": result["model_sha256"], "rss_at_phase": rss_at})
                    print(f"{sample_bytes / 2**20:9.1f} {lines:9,d} {threads:7d} {feed:>8} {wall:8.1f} "
                          f"{rss / 2**20:11,.0f} {rss / sample_bytes:8.1f} {result['model_sha256'][:16]}")
                    if rss_at:
                        print("          RSS MB when " + ", ".join(f"{name} {value / 2**20:,.0f}"
                                                               for name, value in rss_at.items()))
            shard.unlink()
        fitted = [r for r in rows if r["threads"] == args.threads[0] and r["feed"] == args.feed[0]]
        if len({r["sample_bytes"] for r in fitted}) > 1:
            base, ratio = fit_line([r["sample_bytes"] for r in fitted], [r["peak_rss"] for r in fitted])
            print(f"fit ({args.threads[0]} threads): peak RSS = {base / 2**20:,.0f} MB + {ratio:.1f} x sample bytes")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
