"""Token shards: a corpus split encoded with sentencepiece, in the files pretraining reads.

One token shard per corpus shard, named after the corpus shard's index (``shard-NNNNN``):

* ``shard-NNNNN.bin``: the token ids of its documents, concatenated, raw little-endian uint16
  (uint32 if the vocabulary has more than 65,536 ids); no EOS per document and no id 0, as
  seqio's ``tokenize`` + ``reduce_concat_tokens`` produce;
* ``shard-NNNNN.offsets.npy``: int64 document boundaries in that file (documents + 1 entries);
* ``manifest.json``: written last, once every shard is there: per shard its documents, tokens,
  and each file's size and sha256 (readers check them).

The folder is ``<split>-<key>`` with key = hash of the corpus files' identity, the split and
spiece.model's sha256, so another corpus or vocabulary never reads stale tokens. Pretraining's
in-process cache (``pretrain/token_cache.py``) and the ``c4forge tokenize`` Beam job
(``pipeline/tokenize.py``) both encode with ``ShardEncoder`` and describe with
``tokens_manifest``: the same corpus gives the same bytes either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import os
import posixpath
from typing import BinaryIO, Callable, Iterable, Optional, Sequence

import numpy as np

from .reader import Corpus

TOKENS_FORMAT = 2  # 2: the manifest lists each file's size and sha256
MANIFEST = "manifest.json"
# Documents per sentencepiece call: enough to keep its threads busy, a few MB of text.
ENCODE_BATCH_DOCS = 1024


def token_dtype(ids: int) -> np.dtype:
    """The narrowest dtype for ids below ``ids``."""
    return np.dtype("<u2") if ids <= 1 << 16 else np.dtype("<u4")


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def tokens_file(name: str) -> str:
    return f"{name}.bin"


def offsets_file(name: str) -> str:
    return f"{name}.offsets.npy"


def corpus_identity(corpus: Corpus, split: str) -> dict:
    """What makes a split's text what it is, cheaply: the dataset_info.json bytes (shard lengths
    and sizes of a TFDS build) and each file's name and size. Contents are not hashed: a full C4
    split is hundreds of GB (the build's manifest guards them)."""
    storage = corpus.storage
    info = storage.join(corpus.root, "dataset_info.json")
    info_sha256 = None
    if storage.is_file(info):
        with storage.open(info) as handle:
            info_sha256 = hashlib.sha256(handle.read()).hexdigest()
    return {
        "kind": corpus.kind,
        "split": split,
        "dataset_info_sha256": info_sha256,
        "files": [[posixpath.basename(f.replace(os.sep, "/")), storage.size(f)] for f in corpus.split_files(split)],
    }


def tokens_key(corpus: Corpus, split: str, vocab_sha256: str) -> str:
    identity = {"format": TOKENS_FORMAT, "corpus": corpus_identity(corpus, split), "vocab_sha256": vocab_sha256}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def tokens_dirname(corpus: Corpus, split: str, vocab_sha256: str) -> str:
    return f"{split}-{tokens_key(corpus, split, vocab_sha256)}"


@dataclasses.dataclass(frozen=True)
class EncodedShard:
    """What one corpus shard became: its offsets and what ``tokens_manifest`` lists of it."""

    name: str
    offsets: np.ndarray
    zero_ids_dropped: int
    files: dict  # file name -> {"bytes", "sha256"}

    @property
    def docs(self) -> int:
        return len(self.offsets) - 1

    @property
    def tokens(self) -> int:
        return int(self.offsets[-1])

    def summary(self) -> dict:
        return {"name": self.name, "docs": self.docs, "tokens": self.tokens, "files": self.files}


class HashingWriter:
    """Writes through to a binary handle, counting bytes and hashing them."""

    def __init__(self, handle: BinaryIO):
        self.handle, self.sha256, self.bytes = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha256.update(data)
        self.bytes += len(data)

    def entry(self) -> dict:
        return {"bytes": self.bytes, "sha256": self.sha256.hexdigest()}


def offsets_bytes(lengths: Sequence[int] | np.ndarray) -> tuple[np.ndarray, bytes]:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    buffer = io.BytesIO()
    np.save(buffer, offsets)
    return offsets, buffer.getvalue()


def without_zero_ids(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """reduce_concat_tokens deletes id 0 (padding): the batch's ids and per-document lengths
    without it, and how many were dropped."""
    keep = ids != 0
    if keep.all():
        return ids, lengths, 0
    doc_of_id = np.repeat(np.arange(len(lengths)), lengths)
    zeros = np.bincount(doc_of_id[~keep], minlength=len(lengths))
    return ids[keep], lengths - zeros, int((~keep).sum())


class ShardEncoder:
    """sentencepiece over documents, a batch at a time on ``threads`` threads, ids straight
    into numpy (``return_type="numpy"``: no Python int per token). The token dtype follows the
    model's piece count: sentencepiece never emits a sentinel id."""

    def __init__(self, model_proto: bytes, threads: int = 1, batch_docs: int = ENCODE_BATCH_DOCS):
        self.model_proto, self.threads, self.batch_docs = model_proto, max(1, threads), batch_docs
        self._processor = None
        self.pieces = self.processor.get_piece_size()
        self.dtype = token_dtype(self.pieces)

    def __getstate__(self):
        return {**self.__dict__, "_processor": None}

    @property
    def processor(self):
        if self._processor is None:
            import sentencepiece as spm

            self._processor = spm.SentencePieceProcessor(model_proto=self.model_proto)
        return self._processor

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """(ids of the documents laid end to end, their lengths, zero ids dropped)."""
        docs = self.processor.encode(texts, return_type="numpy", num_threads=self.threads)
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        ids = np.concatenate(docs) if docs else np.zeros(0, np.int32)
        return without_zero_ids(ids, lengths)

    def encode(self, name: str, texts: Iterable[str], open_file: Callable[[str], BinaryIO]) -> EncodedShard:
        """Encodes ``texts`` into the shard ``name``: ``open_file(file name)`` gives a writable
        handle (closed here; the caller makes it appear atomically)."""
        texts = iter(texts)
        lengths: list[np.ndarray] = []
        dropped = 0
        with open_file(tokens_file(name)) as raw:
            tokens = HashingWriter(raw)
            while batch := list(itertools.islice(texts, self.batch_docs)):
                ids, doc_lengths, zeros = self.encode_batch(batch)
                tokens.write(ids.astype(self.dtype).tobytes())
                lengths.append(doc_lengths)
                dropped += zeros
        offsets, data = offsets_bytes(np.concatenate(lengths) if lengths else [])
        with open_file(offsets_file(name)) as raw:
            index = HashingWriter(raw)
            index.write(data)
        return EncodedShard(name, offsets, dropped, {tokens_file(name): tokens.entry(),
                                                     offsets_file(name): index.entry()})


def tokens_manifest(shards: Sequence[dict], vocab_sha256: str, pieces: int, corpus: dict) -> bytes:
    """The manifest's bytes: shards (``EncodedShard.summary()``) in corpus order; nothing in it
    depends on the machine, the time or the runner."""
    manifest = {"format": TOKENS_FORMAT, "dtype": token_dtype(pieces).str, "vocab_sha256": vocab_sha256,
                "pieces": pieces, "corpus": corpus, "shards": list(shards)}
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()


class TokensError(ValueError):
    """Token shards that must not be used: another format, vocabulary, or altered files."""


def check_manifest(manifest: dict, where: str, vocab_sha256: Optional[str] = None) -> None:
    if manifest.get("format") != TOKENS_FORMAT:
        raise TokensError(f"{where}: token shards of format {manifest.get('format')!r}, this c4forge reads "
                          f"{TOKENS_FORMAT}: rerun `c4forge tokenize`")
    if vocab_sha256 is not None and manifest.get("vocab_sha256") != vocab_sha256:
        raise TokensError(f"{where}: token shards of another vocabulary (spiece.model sha256 "
                          f"{manifest.get('vocab_sha256')}); rerun `c4forge tokenize` with this --vocab")
