"""Small corpora written the way `c4forge build` publishes them: JSONL shards in the allenai
layout under <root>/en/, and the manifest at <root> that readers require."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from c4forge.corpus.jsonl import jsonl_line
from c4forge.corpus.manifest import MANIFEST_NAME, Dataset, FileEntry, Manifest


def write_jsonl_corpus(root: Path, shards: Mapping[str, Sequence[Iterable[dict]]], config: str = "en") -> Path:
    """``shards``: {split: [documents of shard 0, of shard 1, ...]}, each document a dict with
    text, timestamp and url. Returns ``root`` (what `c4forge vocab/pretrain --corpus` take)."""
    directory = root / config
    directory.mkdir(parents=True)
    files, splits = {}, {}
    for split, parts in shards.items():
        names, examples = [], 0
        for index, documents in enumerate(parts):
            name = f"c4-{split}.{index:05d}-of-{len(parts):05d}.json.gz"
            with gzip.GzipFile(directory / name, "wb", mtime=0) as out:
                for document in documents:
                    out.write(jsonl_line(document))
                    examples += 1
            data = (directory / name).read_bytes()
            files[f"{config}/{name}"] = FileEntry(len(data), hashlib.sha256(data).hexdigest())
            names.append(name)
        splits[split] = (examples, tuple(names))
    manifest = Manifest(run_id="test", finished_at="2019-04-01 00:00 UTC", profile="c4-en-3.1.0",
                        datasets=(Dataset("jsonl", config, splits),), files=files)
    (root / MANIFEST_NAME).write_bytes(manifest.to_json())
    return root
