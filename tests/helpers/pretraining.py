"""The shared setup of the pretraining tests: the real-web corpus with a tiny vocabulary, and
`c4forge pretrain` runs on it with small, fast settings."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from c4forge import cli
from c4forge.corpus.reader import find_corpus
from c4forge.pretrain.metrics import read_jsonl

CHILD_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
             "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclasses.dataclass(frozen=True)
class Realweb:
    corpus: Path
    vocab: Path
    cache: Path
    root: Path

    def args(self, output: Path, *extra: str) -> list[str]:
        """Shared flags of the runs below (``extra`` wins over them)."""
        return ["--corpus", str(self.corpus), "--vocab", str(self.vocab), "--output", str(output),
                "--token-cache", str(self.cache), "--model", "tiny", "--inputs-length", "128",
                "--num-workers", "0", "--cpu-threads", "1", "--holdout-fraction", "0.1", "--eval-rows", "64",
                "--no-tensorboard", *extra]


def train_vocabulary(corpus: Path, directory: Path) -> None:
    """A tiny T5-layout vocabulary (pad 0, eos 1, unk 2, no bos) until `c4forge vocab` exists."""
    import sentencepiece as spm

    lines = [line for ex in find_corpus(corpus).iter_examples("train") for line in ex["text"].split("\n") if line.strip()]
    directory.mkdir(parents=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=str(directory / "spiece"),
                                   vocab_size=1000, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram",
                                   num_threads=2, minloglevel=2)


def pretrain(realweb: Realweb, output: Path, *extra: str) -> int:
    return cli.main(["pretrain", *realweb.args(output, *extra)])


def train_records(output: Path) -> list[dict]:
    return [r for r in read_jsonl(output / "logs" / "train.jsonl") if r["split"] == "train"]


def validation_records(output: Path) -> list[dict]:
    return [r for r in read_jsonl(output / "logs" / "train.jsonl") if r["split"] == "validation"]
