"""The tokenized corpus a run reads: found, fetched or made, then memory-mapped.

The files are token shards (``corpus/tokens.py``: one per corpus shard, a manifest written last)
under ``<split>-<key>/``. A run takes them from the first place that has a complete set:

1. its ``--token-cache`` (an earlier run's, or ``c4forge tokenize --output`` pointed there);
2. ``<corpus>/tokens/``, where ``c4forge tokenize`` writes by default: used in place on a local
   disk, copied into the cache from gs:// or s3://, and in both cases checked against the
   manifest (size and sha256 of every file the run reads);
3. otherwise it tokenizes into the cache itself, in parallel processes (no torch imported here,
   so spawned workers stay light), each shard written under a temporary name and renamed.

**Bounded start** (``bounded_start.py``): a run reads only the shards its token budget needs,
the shortest prefix of a fixed hash order of the shards; only those are tokenized, fetched or
verified, and the data order stays stateless over them (``layout.py``). The selection file
``selection-<label>.json``, written last by the process that prepared it, lets the other local
ranks map the same shards without redoing anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from c4forge.corpus.reader import Corpus
from c4forge.corpus.storage import is_url
from c4forge.corpus.tokens import (MANIFEST, ShardEncoder, TokensError, check_manifest, corpus_identity,
                                   offsets_file, shard_name, token_dtype, tokens_dirname, tokens_file, tokens_key,
                                   tokens_manifest)

from .bounded_start import bounded_selection, selection_if_known, selection_label, shard_order
from .layout import advise_random
from .vocab import Vocab

log = logging.getLogger("c4forge.pretrain")
PUBLISHED_DIR = "tokens"  # c4forge tokenize's default output, under the corpus's build root


def cache_key(corpus: Corpus, split: str, vocab: Vocab) -> str:
    return tokens_key(corpus, split, vocab.sha256)


def cache_dir(cache_root: Path, corpus: Corpus, split: str, vocab: Vocab) -> Path:
    return Path(cache_root) / tokens_dirname(corpus, split, vocab.sha256)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ShardWriter:
    """Appends documents to one shard's files; they appear under their final names only on
    ``close`` (offsets last: their presence marks the shard done). For tests and tools that
    write stores of given ids; corpora are encoded by ``ShardEncoder``."""

    def __init__(self, tokens_path: str, offsets_path: str, dtype: np.dtype):
        self.tokens_path, self.offsets_path, self.dtype = tokens_path, offsets_path, np.dtype(dtype)
        self._tmp = f"{tokens_path}.{os.getpid()}.tmp"
        self._handle = open(self._tmp, "wb")
        self.lengths: list[int] = []

    def add(self, ids) -> None:
        doc = np.asarray(ids, dtype=np.int64)
        doc = doc[doc != 0]  # reduce_concat_tokens deletes id 0 (padding)
        self.lengths.append(doc.size)
        doc.astype(self.dtype).tofile(self._handle)

    def close(self) -> np.ndarray:
        from c4forge.corpus.tokens import offsets_bytes

        self._handle.close()
        offsets, data = offsets_bytes(self.lengths)
        tmp_offsets = f"{self.offsets_path}.{os.getpid()}.tmp"
        Path(tmp_offsets).write_bytes(data)
        os.replace(self._tmp, self.tokens_path)
        os.replace(tmp_offsets, self.offsets_path)
        return offsets


def file_entry(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def shard_summary(directory: Path, name: str) -> dict:
    """A finished shard's manifest entry, from its files."""
    offsets = np.load(Path(directory) / offsets_file(name), mmap_mode="r")
    return {"name": name, "docs": len(offsets) - 1, "tokens": int(offsets[-1]),
            "files": {file: file_entry(Path(directory) / file) for file in (tokens_file(name), offsets_file(name))}}


def write_manifest(directory: Path, names: Sequence[str], dtype: np.dtype, vocab_sha256: str, pieces: int,
                   corpus: dict) -> None:
    if np.dtype(dtype) != token_dtype(pieces):
        raise ValueError(f"dtype {dtype} does not hold ids of a vocabulary of {pieces} pieces")
    shards = [shard_summary(directory, name) for name in names]
    _atomic_write_bytes(Path(directory) / MANIFEST, tokens_manifest(shards, vocab_sha256, pieces, corpus))


class TokenStore:
    """The tokenized documents of a split (or of a bounded selection of its shards): a single
    global token position space over the shard files (shard i's tokens follow shard i-1's), read
    through lazily opened memmaps. ``work_directory`` holds what runs derive (layouts); it is
    the shards' folder unless they are read in place from a published set."""

    def __init__(self, directory: Path, shards: Optional[Sequence[dict]] = None, dtype: Optional[str] = None,
                 work_directory: Optional[Path] = None, label: str = ""):
        self.directory = Path(directory)
        if shards is None:
            manifest = json.loads((self.directory / MANIFEST).read_text())
            shards, dtype = manifest["shards"], manifest["dtype"]
        self.shards = list(shards)
        self.dtype = np.dtype(dtype)
        self.work_directory = Path(work_directory or self.directory)
        self.label = label  # which selection of the split's shards: part of the layouts' path
        self.shard_names = [s["name"] for s in self.shards]
        shard_tokens = np.array([s["tokens"] for s in self.shards], dtype=np.int64)
        self.shard_bases = np.concatenate([[0], np.cumsum(shard_tokens)]).astype(np.int64)
        self._maps: Optional[list[np.ndarray]] = None

    def __getstate__(self):  # DataLoader workers re-open the memmaps; never pickle the data
        state = dict(self.__dict__)
        state["_maps"] = None
        return state

    @property
    def layouts_root(self) -> Path:
        return self.work_directory / "layouts" / self.label if self.label else self.work_directory / "layouts"

    @property
    def num_tokens(self) -> int:
        return int(self.shard_bases[-1])

    @property
    def num_docs(self) -> int:
        """Documents in the store (empty ones included), from the manifest: nothing is read."""
        return sum(int(shard["docs"]) for shard in self.shards)

    def doc_blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Global start position and token count of the documents, one shard at a time, in corpus
        order (what a layout build streams over)."""
        for name, base in zip(self.shard_names, self.shard_bases):
            offsets = np.load(self.directory / offsets_file(name))
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
                np.memmap(self.directory / tokens_file(name), dtype=self.dtype, mode="r")
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


# ---------------------------------------------------------------- tokenizing in this machine


@dataclasses.dataclass(frozen=True)
class ShardJob:
    corpus: Corpus
    split: str
    source: str
    encoder: ShardEncoder
    directory: str
    name: str


def _open_temporary(directory: str, created: list):
    def open_file(file_name: str):
        path = os.path.join(directory, f".{file_name}.{os.getpid()}.tmp")
        created.append((path, os.path.join(directory, file_name)))
        return open(path, "wb")
    return open_file


def tokenize_shard(job: ShardJob) -> dict:
    """One corpus shard -> its token shard's files (offsets renamed last: they mark it done)."""
    started = time.perf_counter()
    created: list[tuple[str, str]] = []
    texts = (example["text"] for example in job.corpus.iter_examples(job.split, files=[job.source]))
    shard = job.encoder.encode(job.name, texts, _open_temporary(job.directory, created))
    for temporary, final in created:
        os.replace(temporary, final)
    return {"source": os.path.basename(job.source), "docs": shard.docs, "tokens": shard.tokens,
            "zero_ids_dropped": shard.zero_ids_dropped, "seconds": round(time.perf_counter() - started, 3)}


def _run_jobs(jobs: Sequence[ShardJob], pool) -> None:
    started, done = time.perf_counter(), 0
    results = map(tokenize_shard, jobs) if pool is None else pool.imap_unordered(tokenize_shard, jobs)
    for result in results:
        done += 1
        elapsed = time.perf_counter() - started
        log.info("tokenized %s (%d/%d): %d docs, %d tokens; %.0f s elapsed, ETA %.0f s",
                 result["source"], done, len(jobs), result["docs"], result["tokens"], elapsed,
                 elapsed / done * (len(jobs) - done))


def _is_done(directory: Path, name: str) -> bool:
    return (directory / offsets_file(name)).is_file()


def _tokenize_here(corpus: Corpus, split: str, vocab: Vocab, directory: Path, budget: Optional[int],
                   workers: int) -> list[int]:
    """Tokenizes shards in the hash order, a wave of ``workers`` at a time, until the selection
    for ``budget`` is known; returns it. The manifest is written once every shard is there."""
    sources = corpus.split_files(split)
    names = [shard_name(i) for i in range(len(sources))]
    processes = max(1, min(workers, len(sources)))
    encoder = ShardEncoder(vocab.spm_path.read_bytes(), threads=max(1, (os.cpu_count() or 1) // processes))
    pending = [i for i in shard_order(len(sources)).tolist() if not _is_done(directory, names[i])]
    log.info("token cache %s: %d of %d %s shards to tokenize at most", directory, len(pending), len(names), split)

    def known_tokens() -> list[Optional[int]]:
        return [int(np.load(directory / offsets_file(n), mmap_mode="r")[-1]) if _is_done(directory, n) else None
                for n in names]

    # spawn, not fork: the parent may hold torch/OpenMP threads that a fork would deadlock on. One
    # pool for every wave: starting processes costs seconds.
    pool = multiprocessing.get_context("spawn").Pool(processes) if processes > 1 and len(pending) > 1 else None
    try:
        while True:
            tokens = known_tokens()
            selection = selection_if_known(tokens, budget)
            if selection is not None:
                break
            # without a budget every shard is needed: one wave; with one, a wave per pool's width
            wave_size = len(pending) if budget is None else processes
            wave, pending = pending[:wave_size], pending[wave_size:]
            _run_jobs([ShardJob(corpus, split, sources[i], encoder, str(directory), names[i]) for i in wave], pool)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if all(t is not None for t in tokens) and not (directory / MANIFEST).is_file():
        write_manifest(directory, names, encoder.dtype, vocab.sha256, encoder.pieces, corpus_identity(corpus, split))
    return selection


# ---------------------------------------------------------------- published token shards


def _read_manifest(storage, path: str) -> dict:
    with storage.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def published_tokens(corpus: Corpus, split: str, vocab: Vocab) -> Optional[str]:
    """The folder of ``c4forge tokenize``'s complete shards for this split and vocabulary next to
    the corpus, if there is one."""
    folder = corpus.storage.join(corpus.output_root, PUBLISHED_DIR, tokens_dirname(corpus, split, vocab.sha256))
    return folder if corpus.storage.is_file(corpus.storage.join(folder, MANIFEST)) else None


def _verify_local(directory: Path, shards: Sequence[dict]) -> None:
    for shard in shards:
        for file, entry in shard["files"].items():
            path = directory / file
            if not path.is_file() or path.stat().st_size != entry["bytes"] or file_entry(path) != entry:
                raise TokensError(f"{path}: missing, or not what its manifest lists (size or sha256): the token "
                                  "shards were changed after `c4forge tokenize`; rerun it")


def _fetch(storage, folder: str, directory: Path, shards: Sequence[dict]) -> None:
    """Copies the shards' files from an object store into ``directory``, checking each."""
    for shard in shards:
        for file, entry in shard["files"].items():
            path = directory / file
            if path.is_file() and path.stat().st_size == entry["bytes"]:
                continue  # fetched by an earlier run (renamed into place only once checked)
            temporary = directory / f".{file}.{os.getpid()}.tmp"
            digest, size = hashlib.sha256(), 0
            with storage.open(storage.join(folder, file)) as source, open(temporary, "wb") as target:
                while chunk := source.read(1 << 22):
                    digest.update(chunk)
                    size += len(chunk)
                    target.write(chunk)
            if size != entry["bytes"] or digest.hexdigest() != entry["sha256"]:
                temporary.unlink()
                raise TokensError(f"{storage.join(folder, file)}: not what its manifest lists (size or sha256); "
                                  "rerun `c4forge tokenize`")
            os.replace(temporary, path)


# ---------------------------------------------------------------- what a run reads


def _selection_path(work: Path, budget: Optional[int]) -> Path:
    return work / f"selection-{selection_label(budget)}.json"


def _store_from_selection(path: Path) -> TokenStore:
    selection = json.loads(path.read_text())
    return TokenStore(Path(selection["directory"]), selection["shards"], selection["dtype"], path.parent,
                      selection["label"])


def _sizes_match(store: TokenStore) -> bool:
    """Every file of a prepared selection still there with its size (checked at each start; the
    sha256 when the selection was made)."""
    return all((store.directory / file).is_file() and (store.directory / file).stat().st_size == entry["bytes"]
               for shard in store.shards for file, entry in shard["files"].items())


def build_token_store(corpus: Corpus, split: str, vocab: Vocab, cache_root: Path, workers: int = 1,
                      budget: Optional[int] = None) -> Optional[TokenStore]:
    """The split's TokenStore (its bounded selection for a ``budget`` of tokens), from the cache,
    the corpus's published token shards, or tokenized here; None if the split has no files."""
    if not corpus.split_files(split):
        return None
    work = cache_dir(cache_root, corpus, split, vocab)
    selection_path = _selection_path(work, budget)
    if selection_path.is_file():
        store = _store_from_selection(selection_path)
        if _sizes_match(store):
            return store
        log.warning("%s: its shards changed or moved since it was made; making it again", selection_path)
        selection_path.unlink()
    work.mkdir(parents=True, exist_ok=True)
    directory, published = work, None
    if not (work / MANIFEST).is_file():
        published = published_tokens(corpus, split, vocab)
    if (work / MANIFEST).is_file() or published is not None:
        source = str(work / MANIFEST) if published is None else corpus.storage.join(published, MANIFEST)
        storage = corpus.storage if published is not None else None
        manifest = json.loads((work / MANIFEST).read_text()) if storage is None else _read_manifest(storage, source)
        check_manifest(manifest, source, vocab.sha256)
        chosen = bounded_selection([s["tokens"] for s in manifest["shards"]], budget)
        shards = [manifest["shards"][i] for i in chosen]
        if published is not None and is_url(published):
            log.info("fetching %d of %d token shards from %s", len(shards), len(manifest["shards"]), published)
            _fetch(storage, published, work, shards)
        elif published is not None:
            directory = Path(published)
            log.info("reading %d of %d token shards in place from %s", len(shards), len(manifest["shards"]), published)
        _verify_local(directory, shards)
        dtype = manifest["dtype"]
    else:
        chosen = _tokenize_here(corpus, split, vocab, work, budget, workers)
        shards = [shard_summary(work, shard_name(i)) for i in chosen]
        dtype = token_dtype(vocab.sentencepiece().get_piece_size()).str
    label = selection_label(budget) if len(chosen) < len(corpus.split_files(split)) else ""
    selection = {"directory": str(directory), "dtype": dtype, "label": label, "shards": shards}
    _atomic_write_bytes(selection_path, json.dumps(selection, indent=1).encode())
    return TokenStore(directory, shards, dtype, work, label)


def wait_for_token_store(corpus: Corpus, split: str, vocab: Vocab, cache_root: Path, budget: Optional[int] = None,
                         poll_seconds: float = 5.0) -> Optional[TokenStore]:
    """For processes that let another one (local rank 0) prepare the store: wait for its
    selection file. File polling, not a collective: tokenizing C4 takes longer than any NCCL
    timeout."""
    if not corpus.split_files(split):
        return None
    path = _selection_path(cache_dir(cache_root, corpus, split, vocab), budget)
    waited = 0.0
    while not path.is_file():
        if waited % 300 < poll_seconds:
            log.info("waiting for the token store %s (prepared by local rank 0)", path)
        time.sleep(poll_seconds)
        waited += poll_seconds
    return _store_from_selection(path)
