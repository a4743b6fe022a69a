"""Tokenization throughput: pretraining's token cache against sentencepiece's own batched encode,
in one run, on the same text and the same cores.

    python benchmarks/tokenize_benchmark.py [--corpus OUT] [--vocab DIR] [--copies 24] [--shards 8] [--threads N]

The text is a corpus's train documents (by default the shared real-web build, made on the fly,
with a vocabulary of --vocab-size pieces trained on it), written --copies times over --shards
JSONL shards: sentencepiece keeps no cache between documents, so repeats cost what new text
costs. In MB of UTF-8 text per second:

* reference: ``SentencePieceProcessor.encode(all documents, num_threads=N)``, the text already in
  memory, ids returned as Python lists: sentencepiece's raw batched encode;
* token cache: ``build_token_store`` with N workers, from the corpus on disk to finished token
  shards (read, gunzip, parse, encode, write, manifest), as ``c4forge pretrain`` runs it;
* per core, in CPU seconds of this process on one thread (steadier than wall time on a machine
  shared with other jobs): sentencepiece's list output, the cache's ``ShardEncoder`` (numpy ids,
  a batch at a time), and the per-document path the cache used before (one encode call per 256
  documents, each document's Python ids turned into its own array and written).

The last line is the cache's wall time over the reference's (the goal: at most 2).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"


def build_realweb(workdir: Path) -> Path:
    from c4forge import cli

    if not REALWEB_WET.is_file():
        sys.exit(f"no --corpus and {REALWEB_WET} is absent")
    out = workdir / "realweb"
    if cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out), "--badwords-dir",
                 str(SHARED / "assets" / "ldnoobw"), "--noblocklist", "--format", "tfrecord"]):
        sys.exit("building the real-web corpus failed")
    return out


def train_vocab(texts: list[str], directory: Path, pieces: int) -> Path:
    import sentencepiece as spm

    directory.mkdir(parents=True)
    lines = [line for text in texts for line in text.split("\n") if line.strip()]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=str(directory / "spiece"),
                                   vocab_size=pieces, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram",
                                   num_threads=os.cpu_count() or 1, minloglevel=2, hard_vocab_limit=False)
    return directory


def write_copies(examples: list[dict], root: Path, copies: int, shards: int) -> Path:
    """The documents ``copies`` times over ``shards`` JSONL shards, published with a manifest."""
    from c4forge.corpus.jsonl import jsonl_line
    from c4forge.corpus.manifest import MANIFEST_NAME, Dataset, FileEntry, Manifest

    docs = [example for _ in range(copies) for example in examples]
    (root / "en").mkdir(parents=True)
    files, names = {}, []
    for index, part in enumerate(np.array_split(np.arange(len(docs)), shards)):
        name = f"c4-train.{index:05d}-of-{shards:05d}.json.gz"
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=1) as out:
            for i in part.tolist():
                out.write(jsonl_line(docs[i]))
        (root / "en" / name).write_bytes(buffer.getvalue())
        files[f"en/{name}"] = FileEntry(len(buffer.getvalue()), hashlib.sha256(buffer.getvalue()).hexdigest())
        names.append(name)
    manifest = Manifest("benchmark", "-", "c4-en-3.1.0", (Dataset("jsonl", "en", {"train": (len(docs), tuple(names))}),),
                        files)
    (root / MANIFEST_NAME).write_bytes(manifest.to_json())
    return root


def per_document_path(processor, texts: list[str]) -> None:
    """The cache's encoding before: Python ids, one array and one write per document."""
    sink = io.BytesIO()
    for first in range(0, len(texts), 256):
        for ids in processor.encode(texts[first:first + 256], num_threads=1):
            doc = np.asarray(ids, dtype=np.int64)
            doc = doc[doc != 0] if doc.size and not doc.all() else doc
            sink.write(doc.astype("<u2").tobytes())


def per_core_rates(processor, model_proto: bytes, texts: list[str], megabytes: float) -> dict[str, float]:
    """MB of text per CPU second on one thread, each encoding once."""
    from c4forge.corpus.tokens import ShardEncoder

    encoder = ShardEncoder(model_proto, threads=1)
    runs = {"sentencepiece encode (lists)": lambda: processor.encode(texts, num_threads=1),
            "cache ShardEncoder (numpy)": lambda: encoder.encode("benchmark", texts, lambda name: io.BytesIO()),
            "per-document arrays": lambda: per_document_path(processor, texts)}
    rates = {}
    for name, run in runs.items():
        started = time.process_time()
        run()
        rates[name] = megabytes / (time.process_time() - started)
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", help="a c4forge build (default: build the shared real-web sample)")
    p.add_argument("--vocab", help="a vocabulary dir with spiece.model (default: train one on the corpus)")
    p.add_argument("--vocab-size", type=int, default=8000, help="pieces of the trained vocabulary (default %(default)s)")
    p.add_argument("--copies", type=int, default=24, help="times the documents are repeated (default %(default)s)")
    p.add_argument("--shards", type=int, default=8, help="corpus shards (default %(default)s)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads of the reference and workers of the cache (default: CPU count, %(default)s)")
    args = p.parse_args(argv)

    from c4forge.corpus.reader import find_corpus
    from c4forge.pretrain.token_cache import build_token_store
    from c4forge.pretrain.vocab import load_vocab

    with tempfile.TemporaryDirectory(prefix="tokenize-benchmark-") as tmp:
        workdir = Path(tmp)
        source = find_corpus(args.corpus or build_realweb(workdir))
        examples = [{k: ex[k] for k in ("text", "timestamp", "url")} for ex in source.iter_examples("train")]
        vocab = load_vocab(args.vocab or train_vocab([ex["text"] for ex in examples], workdir / "vocab",
                                                     args.vocab_size))
        corpus = find_corpus(write_copies(examples, workdir / "copies", args.copies, args.shards))
        texts = [ex["text"] for ex in corpus.iter_examples("train")]
        megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
        processor = vocab.sentencepiece()
        print(f"{len(texts):,} documents, {megabytes:.1f} MB of text in {args.shards} shards; "
              f"vocabulary of {processor.get_piece_size():,} pieces; {args.threads} threads/workers")

        started = time.perf_counter()
        reference = processor.encode(texts, num_threads=args.threads)
        reference_s = time.perf_counter() - started

        started = time.perf_counter()
        store = build_token_store(corpus, "train", vocab, workdir / "cache", workers=args.threads)
        cache_s = time.perf_counter() - started

        starts, lengths = store.doc_starts_and_lengths()
        sample = range(0, len(texts), max(1, len(texts) // 200))
        same = all(store.gather(np.arange(starts[i], starts[i] + lengths[i])).tolist() == reference[i] for i in sample)
        print(f"reference  sentencepiece encode(batch, num_threads={args.threads}): {megabytes / reference_s:6.2f} MB/s "
              f"({reference_s:.2f} s)")
        print(f"token cache  build_token_store(workers={args.threads}), disk to shards: {megabytes / cache_s:6.2f} MB/s "
              f"({cache_s:.2f} s); ids equal to the reference's: {'yes' if same else 'NO'}")
        rates = per_core_rates(processor, vocab.spm_path.read_bytes(), texts, megabytes)
        print("per core, CPU time, 1 thread: " + ", ".join(f"{name} {rate:.2f} MB/s" for name, rate in rates.items()))
        print(f"token cache time / reference time: {cache_s / reference_s:.2f}x")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
