"""Finding and reading a built corpus (for the vocabulary and pretraining), as its manifest lists it.

A corpus is what ``c4forge build`` wrote: a TFDS dataset directory of TFRecord shards of
``tf.train.Example`` (``<out>/c4/<config>/<version>/``) and/or allenai-style JSONL.gz
(``<out>/<config>/c4-<split>.NNNNN-of-NNNNN.json.gz``), with ``c4forge-manifest.json`` at
``<out>`` (``manifest.py``). ``find_corpus`` accepts either dataset directory or the output
root, finds the manifest, and checks that every shard it lists is there with its size; reading
a shard to its end checks its sha256. A folder without a manifest (a build that did not finish,
or is still running) or with a missing or altered shard is refused with ``CorpusError``.
Local paths, and URLs (``gs://``, ``s3://``) through a ``storage.py`` storage: fsspec's by
default, Beam's in Beam jobs.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Optional

from .example import iter_tfrecord_examples
from .jsonl import iter_jsonl
from .manifest import MANIFEST_NAME, CorpusError, Dataset, Manifest, VerifyingReader
from .storage import LocalStorage, Storage, StorageError, is_url, relative_path, storage_for

# How far above a dataset directory its build's output root can be (TFDS: <name>/<config>/<version>).
MAX_DATASET_DEPTH = 3


@dataclasses.dataclass(frozen=True)
class Corpus:
    """One dataset of a finished build: its format and where its (listed) shards are. Paths are
    strings: local paths or URLs, read through ``storage``."""

    root: str  # the dataset directory
    kind: str  # "tfrecord" or "jsonl"
    output_root: str  # the build's output folder, where its manifest is
    manifest: Manifest
    dataset: Dataset
    storage: Storage = dataclasses.field(default_factory=LocalStorage, compare=False)

    def split_files(self, split: str) -> list[str]:
        return [self.storage.join(self.output_root, relative) for relative in self.dataset.shard_paths(split)]

    def relative(self, path: str) -> str:
        """A file's path relative to the output root, as the manifest lists it."""
        return relative_path(self.storage, path, self.output_root)

    def iter_examples(self, split: str, files: Optional[list[str]] = None) -> Iterator[dict]:
        """Examples of a split in file order (dicts with at least url/text/timestamp)."""
        read = iter_tfrecord_examples if self.kind == "tfrecord" else iter_jsonl
        for path in self.split_files(split) if files is None else files:
            yield from read(path, opener=self.open_verified)

    def iter_texts(self, split: str) -> Iterator[str]:
        for example in self.iter_examples(split):
            yield example["text"]

    def open_verified(self, path: str) -> VerifyingReader:
        """A shard of the build, checked against the manifest's size and sha256 once read whole."""
        entry = self.manifest.files.get(self.relative(path))
        if entry is None:
            raise CorpusError(f"{path} is not a file of the build in {self.output_root}")
        return VerifyingReader(self.storage.open(path), entry, path)


class CorpusNotFound(CorpusError, FileNotFoundError):
    pass


def _output_root_of(storage: Storage, path: str) -> Optional[str]:
    """The folder holding the manifest of the build ``path`` is part of, if any."""
    candidate = storage.canonical(path)
    for _ in range(MAX_DATASET_DEPTH + 1):
        if storage.is_file(storage.join(candidate, MANIFEST_NAME)):
            return candidate
        above = storage.parent(candidate)
        if above == candidate:
            return None
        candidate = above
    return None


# Names a build's files have, at the depths they have below a dataset dir or an output root.
BUILD_TRACES = ("dataset_info.json", "*.tfrecord-*-of-*", "c4-*.json.gz", "c4forge-report.json", ".c4forge-staging-*",
                "*/c4-*.json.gz", "*/*/*/dataset_info.json", "*/*/*/*.tfrecord-*-of-*")


def _choose_dataset(manifest: Manifest, relative: str, where: str) -> Dataset:
    if relative != ".":
        dataset = manifest.dataset(relative)
        if dataset is None:
            raise CorpusNotFound(f"{where} is not a dataset of the build it is in (that build has "
                                 f"{', '.join(d.directory for d in manifest.datasets)})")
        return dataset
    by_format = {d.format: d for d in manifest.datasets}
    if len([d for d in manifest.datasets if d.format == "tfrecord"]) > 1:
        raise CorpusNotFound(f"{where} holds several datasets ({', '.join(d.directory for d in manifest.datasets)}); "
                             "pass one")
    dataset = by_format.get("tfrecord") or by_format.get("jsonl")  # the TFDS layout when both are there
    if dataset is None:
        raise CorpusNotFound(f"the build in {where} has no dataset")
    return dataset


def _check_files_present(storage: Storage, output_root: str, manifest: Manifest, dataset: Dataset) -> None:
    for split in dataset.splits:
        for relative in dataset.shard_paths(split):
            path = storage.join(output_root, relative)
            entry = manifest.files.get(relative)
            size = storage.size(path) if storage.is_file(path) else None
            if entry is None or size != entry.bytes:
                found = "missing" if size is None else f"{size:,} bytes, the manifest says {entry.bytes:,}" \
                    if entry else "not in the manifest's file list"
                raise CorpusError(f"{path}: {found}; the corpus is incomplete or was changed after the build: "
                                  f"rebuild it with `c4forge build --overwrite`")


def _no_corpus(storage: Storage, where: str) -> CorpusError:
    if storage.any_match(where, BUILD_TRACES):
        return CorpusError(f"{where}: no {MANIFEST_NAME}, so not a finished build (interrupted, still running, "
                           f"or from an older c4forge); finish or rerun `c4forge build --overwrite` into it")
    return CorpusNotFound(f"no c4forge corpus under {where} (expected the --output of `c4forge build`, with "
                          f"{MANIFEST_NAME})")


def find_corpus(path: str | os.PathLike, storage: Optional[Storage] = None) -> Corpus:
    """The corpus at ``path``: a TFDS dataset dir, a JSONL dir, or a build output root (the
    TFDS layout preferred when both are there); a local path or a URL. CorpusError when it is
    not a finished build."""
    where = str(path)
    storage = storage or storage_for(where)
    try:
        if not is_url(where) and not os.path.isdir(where):
            raise CorpusNotFound(f"no c4forge corpus at {where}: no such folder (expected the --output of "
                                 "`c4forge build`)")
        output_root = _output_root_of(storage, where)
        if output_root is None:
            raise _no_corpus(storage, where)
        manifest_path = storage.join(output_root, MANIFEST_NAME)
        with storage.open(manifest_path) as handle:
            manifest = Manifest.from_json(handle.read(), manifest_path)
        dataset = _choose_dataset(manifest, relative_path(storage, where, output_root), where)
        _check_files_present(storage, output_root, manifest, dataset)
    except StorageError as error:
        raise CorpusNotFound(f"--corpus {where}: {error}") from None
    return Corpus(root=storage.join(output_root, dataset.directory), kind=dataset.format, output_root=output_root,
                  manifest=manifest, dataset=dataset, storage=storage)
