"""Tokenize a corpus split once into memory-mapped token shards that every later run reuses.

Layout of ``<cache_root>/<split>-<key>/`` (key = hash of the corpus files' identity, the split
and spiece.model's sha256, so a new corpus or vocabulary never reads stale tokens):

* ``shard-NNNNN.bin``: the token ids of one corpus shard's documents, concatenated, raw
  little-endian uint16 (uint32 if the vocabulary has more than 65,536 ids); no EOS per
  document and no id 0, as seqio's ``tokenize`` + ``reduce_concat_tokens`` produce;
* ``shard-NNNNN.offsets.npy``: int64 document boundaries in that file (docs + 1 entries);
* ``manifest.json``: written last; its presence means the cache is complete.

Each shard is written under a temporary name and renamed, so an interrupted build resumes
where it stopped and concurrent builders (several nodes) cannot corrupt it. Shards are
tokenized in parallel processes; no torch is imported here (spawned workers stay light).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import posixpath
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from c4forge.corpus.reader import Corpus

from .layout import advise_random
from .vocab import Vocab

log = logging.getLogger("c4forge.pretrain")
CACHE_FORMAT = 1
ENCODE_BATCH_DOCS = 256


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def corpus_identity(corpus: Corpus, split: str) -> dict:
    """What makes a split's text what it is, cheaply: the dataset_info.json bytes (shard lengths
    and sizes of a TFDS build) and each file's name and size. Contents are not hashed: a full C4
    split is hundreds of GB."""
    files = corpus.split_files(split)
    info = corpus.storage.join(corpus.root, "dataset_info.json")
    info_sha256 = None
    if corpus.storage.is_file(info):
        with corpus.storage.open(info) as handle:
            info_sha256 = hashlib.sha256(handle.read()).hexdigest()
    return {
        "kind": corpus.kind,
        "split": split,
        "dataset_info_sha256": info_sha256,
        "files": [[posixpath.basename(f.replace(os.sep, "/")), corpus.storage.size(f)] for f in files],
    }


def cache_key(corpus: Corpus, split: str, vocab: Vocab) -> str:
    identity = {"format": CACHE_FORMAT, "corpus": corpus_identity(corpus, split), "vocab_sha256": vocab.sha256}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def cache_dir(cache_root: Path, corpus: Corpus, split: str, vocab: Vocab) -> Path:
    return Path(cache_root) / f"{split}-{cache_key(corpus, split, vocab)}"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclasses.dataclass(frozen=True)
class ShardJob:
    corpus: Corpus
    split: str
    source: str
    spm_path: str
    dtype: str
    tokens_path: str
    offsets_path: str


def _encode_batches(job: ShardJob):
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=job.spm_path)
    examples = job.corpus.iter_examples(job.split, files=[job.source])
    while True:
        texts = [ex["text"] for ex in itertools.islice(examples, ENCODE_BATCH_DOCS)]
        if not texts:
            return
        yield processor.encode(texts)


class ShardWriter:
    """Appends documents to one shard's files; they appear under their final names only on
    ``close`` (offsets last: their presence marks the shard done)."""

    def __init__(self, tokens_path: str, offsets_path: str, dtype: np.dtype):
        self.tokens_path, self.offsets_path, self.dtype = tokens_path, offsets_path, np.dtype(dtype)
        self._tmp = f"{tokens_path}.{os.getpid()}.tmp"
        self._handle = open(self._tmp, "wb")
        self.lengths: list[int] = []
        self.zeros_dropped = 0

    def add(self, ids) -> None:
        doc = np.asarray(ids, dtype=np.int64)
        if doc.size and not doc.all():  # reduce_concat_tokens deletes id 0 (padding)
            self.zeros_dropped += int((doc == 0).sum())
            doc = doc[doc != 0]
        self.lengths.append(doc.size)
        doc.astype(self.dtype).tofile(self._handle)

    def close(self) -> np.ndarray:
        self._handle.close()
        offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        tmp_offsets = f"{self.offsets_path}.{os.getpid()}.tmp.npy"
        np.save(tmp_offsets, offsets)
        os.replace(self._tmp, self.tokens_path)
        os.replace(tmp_offsets, self.offsets_path)
        return offsets


def tokenize_shard(job: ShardJob) -> dict:
    """One corpus shard -> (tokens .bin, offsets .npy); returns its counts."""
    started = time.perf_counter()
    writer = ShardWriter(job.tokens_path, job.offsets_path, np.dtype(job.dtype))
    for batch in _encode_batches(job):
        for ids in batch:
            writer.add(ids)
    offsets = writer.close()
    return {"source": os.path.basename(job.source), "docs": len(offsets) - 1, "tokens": int(offsets[-1]),
            "zero_ids_dropped": writer.zeros_dropped, "seconds": round(time.perf_counter() - started, 3)}


def write_manifest(directory: Path, names: Sequence[str], dtype: np.dtype, vocab_sha256: str, vocab_size: int,
                   corpus: dict) -> None:
    shards = []
    for name in names:
        offsets = np.load(Path(directory) / f"{name}.offsets.npy", mmap_mode="r")
        shards.append({"name": name, "docs": len(offsets) - 1, "tokens": int(offsets[-1])})
    manifest = {"format": CACHE_FORMAT, "dtype": np.dtype(dtype).str, "vocab_sha256": vocab_sha256,
                "vocab_size": vocab_size, "corpus": corpus, "shards": shards}
    _atomic_write_bytes(Path(directory) / "manifest.json", json.dumps(manifest, indent=1).encode())


class TokenStore:
    """The tokenized documents of one split: a single global token position space over the
    shard files (shard i's tokens follow shard i-1's), read through lazily opened memmaps."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        manifest = json.loads((self.directory / "manifest.json").read_text())
        self.manifest = manifest
        self.dtype = np.dtype(manifest["dtype"])
        self.shard_names = [s["name"] for s in manifest["shards"]]
        shard_tokens = np.array([s["tokens"] for s in manifest["shards"]], dtype=np.int64)
        self.shard_bases = np.concatenate([[0], np.cumsum(shard_tokens)]).astype(np.int64)
        self._maps: Optional[list[np.ndarray]] = None

    def __getstate__(self):  # DataLoader workers re-open the memmaps; never pickle the data
        state = dict(self.__dict__)
        state["_maps"] = None
        return state

    @property
    def num_tokens(self) -> int:
        return int(self.shard_bases[-1])

    @property
    def num_docs(self) -> int:
        """Documents in the split (empty ones included), from the manifest: nothing is read."""
        return sum(int(shard["docs"]) for shard in self.manifest["shards"])

    def doc_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Global start position and token count of the documents, one shard at a time, in corpus
        order (what a layout build streams over)."""
        for name, base in zip(self.shard_names, self.shard_bases):
            offsets = np.load(self.directory / f"{name}.offsets.npy")
            yield offsets[:-1] + base, np.diff(offsets)

    def doc_starts_and_lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Global start position and token count of every document, in corpus order."""
        blocks = list(self.doc_blocks())
        if not blocks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])

    def _memmaps(self) -> list[np.ndarray]:
        if self._maps is None:
            self._maps = [
                np.memmap(self.directory / f"{name}.bin", dtype=self.dtype, mode="r")
                if size else np.zeros(0, self.dtype)
                for name, size in zip(self.shard_names, np.diff(self.shard_bases))
            ]
            for tokens in self._maps:  # rows are gathered in a random order
                advise_random(tokens)
        return self._maps

    def gather(self, positions: np.ndarray) -> np.ndarray:
        """Tokens at global positions (any shape), as int64."""
        positions = np.asarray(positions, dtype=np.int64)
        flat = positions.reshape(-1)
        out = np.empty(flat.shape, dtype=np.int64)
        shard = np.searchsorted(self.shard_bases, flat, side="right") - 1
        maps = self._memmaps()
        for index in np.unique(shard):
            where = shard == index
            out[where] = maps[index][flat[where] - self.shard_bases[index]]
        return out.reshape(positions.shape)


def _pending_jobs(corpus: Corpus, split: str, vocab: Vocab, directory: Path) -> tuple[list[ShardJob], list[str]]:
    dtype = token_dtype(vocab.size).str
    jobs, names = [], []
    for index, source in enumerate(corpus.split_files(split)):
        name = f"shard-{index:05d}"
        names.append(name)
        job = ShardJob(corpus, split, source, str(vocab.spm_path), dtype,
                       str(directory / f"{name}.bin"), str(directory / f"{name}.offsets.npy"))
        if not os.path.exists(job.offsets_path):
            jobs.append(job)
    return jobs, names


def _run_jobs(jobs: Sequence[ShardJob], workers: int) -> None:
    started, done = time.perf_counter(), 0
    if workers <= 1 or len(jobs) <= 1:
        results = map(tokenize_shard, jobs)
        pool = None
    else:
        # spawn, not fork: the parent may hold torch/OpenMP threads that a fork would deadlock on
        pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)))
        results = pool.imap_unordered(tokenize_shard, jobs)
    try:
        for result in results:
            done += 1
            elapsed = time.perf_counter() - started
            log.info("tokenized %s (%d/%d): %d docs, %d tokens; %.0f s elapsed, ETA %.0f s",
                     result["source"], done, len(jobs), result["docs"], result["tokens"], elapsed,
                     elapsed / done * (len(jobs) - done))
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def build_token_store(corpus: Corpus, split: str, vocab: Vocab, cache_root: Path, workers: int = 1) -> Optional[TokenStore]:
    """The split's TokenStore, tokenizing whatever is missing; None if the split has no files."""
    if not corpus.split_files(split):
        return None
    directory = cache_dir(cache_root, corpus, split, vocab)
    if (directory / "manifest.json").is_file():
        return TokenStore(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jobs, names = _pending_jobs(corpus, split, vocab, directory)
    log.info("token cache %s: %d of %d %s shards to tokenize", directory, len(jobs), len(names), split)
    _run_jobs(jobs, workers)
    write_manifest(directory, names, token_dtype(vocab.size), vocab.sha256, vocab.size, corpus_identity(corpus, split))
    return TokenStore(directory)


def wait_for_token_store(corpus: Corpus, split: str, vocab: Vocab, cache_root: Path,
                         poll_seconds: float = 5.0) -> Optional[TokenStore]:
    """For processes that let another one (local rank 0) build the cache: wait for its manifest.
    File polling, not a collective: tokenizing C4 takes longer than any NCCL timeout."""
    if not corpus.split_files(split):
        return None
    manifest = cache_dir(cache_root, corpus, split, vocab) / "manifest.json"
    waited = 0.0
    while not manifest.is_file():
        if waited % 300 < poll_seconds:
            log.info("waiting for the token cache %s (built by local rank 0)", manifest.parent)
        time.sleep(poll_seconds)
        waited += poll_seconds
    return TokenStore(manifest.parent)
