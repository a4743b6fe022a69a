"""Finding and reading a built corpus (for the vocabulary and pretraining).

A corpus is what ``c4forge build`` wrote: a TFDS dataset directory of TFRecord shards of
``tf.train.Example`` (``<out>/c4/<config>/<version>/``) and/or allenai-style JSONL.gz
(``<out>/<config>/c4-<split>.NNNNN-of-NNNNN.json.gz``). ``find_corpus`` accepts either
directory or the build's output root. Local paths only.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator, Optional

from .example import iter_tfrecord_examples
from .jsonl import iter_jsonl
from .tfds_metadata import tfds_split_files


@dataclasses.dataclass(frozen=True)
class Corpus:
    """One built corpus: its format and where its shards are."""

    root: Path
    kind: str  # "tfrecord" or "jsonl"

    def split_files(self, split: str) -> list[str]:
        if self.kind == "tfrecord":
            return tfds_split_files(str(self.root), split)
        return sorted(str(p) for p in self.root.glob(f"c4-{split}.*-of-*.json.gz"))

    def iter_examples(self, split: str, files: Optional[list[str]] = None) -> Iterator[dict]:
        """Examples of a split in file order (dicts with at least url/text/timestamp)."""
        for path in self.split_files(split) if files is None else files:
            yield from (iter_tfrecord_examples(path) if self.kind == "tfrecord" else iter_jsonl(path))

    def iter_texts(self, split: str) -> Iterator[str]:
        for example in self.iter_examples(split):
            yield example["text"]


class CorpusNotFound(FileNotFoundError):
    pass


def find_corpus(path: str | os.PathLike) -> Corpus:
    """The corpus at ``path``: a TFDS dataset dir, a JSONL dir, or a build output root
    (TFDS layout preferred when both are there)."""
    root = Path(path)
    if (root / "dataset_info.json").is_file():
        return Corpus(root, "tfrecord")
    if any(root.glob("c4-*.json.gz")):
        return Corpus(root, "jsonl")
    infos = sorted(root.glob("*/*/*/dataset_info.json"))
    if infos:
        if len(infos) > 1:
            raise CorpusNotFound(f"{root} holds several datasets ({', '.join(str(i.parent) for i in infos)}); pass one")
        return Corpus(infos[0].parent, "tfrecord")
    jsonl_dirs = sorted({p.parent for p in root.glob("*/c4-*.json.gz")})
    if len(jsonl_dirs) == 1:
        return Corpus(jsonl_dirs[0], "jsonl")
    raise CorpusNotFound(f"no c4forge corpus under {root} (expected c4/<config>/<version>/dataset_info.json "
                         "or <config>/c4-<split>.*.json.gz from `c4forge build`)")
