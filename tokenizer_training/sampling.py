"""Which corpus lines the vocabulary is trained on: a deterministic, order-free sample.

A document's text is split into *units*: its lines (on ``\\n`` only, as sentencepiece reads
lines), and lines longer than the trainer's ``max_sentence_length`` (bytes) split further
at sentence ends or spaces, so nothing is silently skipped by the trainer. Every unit gets a
64-bit key, a keyed BLAKE2b of (url, line index, piece index, text) with the seed as key.
The sample is every unit whose key is at most the *threshold*, the k-th smallest key of
the whole split (k = the requested number of sentences, or all units if there are fewer).
That rule depends on nothing but the corpus and the seed: not on file order, machine or
number of workers, so the local sampler here and the Beam job in
``c4forge.pipeline.vocab_sampling`` write byte-identical shards.

Shards: ``sample-NNNNN-of-NNNNN.txt``, one unit per line, the units of key range i (the
range ``[0, threshold]`` cut into equal parts) sorted by (key, text). Key order is a
pseudo-random shuffle, so the trainer needs no shuffling of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Optional

import numpy as np

DEFAULT_MAX_SENTENCE_BYTES = 4192  # sentencepiece's max_sentence_length default
SHARD_TARGET_BYTES = 64 * 2**20  # one shard is sorted in memory (here and in a Beam worker)
KEY_BITS = 64
HISTOGRAM_BITS = 16  # the Beam job finds the threshold in a histogram of key prefixes
SAMPLE_INFO_NAME = "sample-info.json"

# The last sentence end (punctuation, optional closing quotes/brackets, then space) wins.
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+")
_SPACE = re.compile(r"\s+")


# --- units -------------------------------------------------------------------------------


def utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that is at most ``max_bytes`` in UTF-8."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _over(text: str, max_bytes: int) -> bool:
    """len(text.encode()) > max_bytes, looking at no more than max_bytes + 1 characters."""
    return len(text[: max_bytes + 1].encode("utf-8")) > max_bytes


def _cut_after_sentence_end(window: str) -> Optional[int]:
    ends = [match.end() for match in _SENTENCE_END.finditer(window)]
    return ends[-1] if ends else None


def _cut_at_space(window: str) -> Optional[int]:
    starts = [match.start() for match in _SPACE.finditer(window) if match.start() > 0]
    return starts[-1] if starts else None


def split_long_line(line: str, max_bytes: int) -> list[str]:
    """``line`` cut into pieces of at most ``max_bytes`` UTF-8 bytes: after the last sentence
    end that fits, else at the last space, else between characters. Whitespace at a cut is
    dropped (nmt_nfkc would collapse it anyway); no other text is lost."""
    if max_bytes < 4:
        raise ValueError("max_bytes must allow one UTF-8 character (>= 4)")
    pieces = []
    rest = line
    while _over(rest, max_bytes):
        window = utf8_prefix(rest[:max_bytes], max_bytes)
        cut = _cut_after_sentence_end(window) or _cut_at_space(window) or len(window)
        piece = window[:cut].rstrip()
        if piece:  # empty when the window was all whitespace
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return pieces


def unit_key(seed: int, url: str, line_index: int, piece_index: int, text: str) -> int:
    """The sampling key of one unit: 64 bits of keyed BLAKE2b, the same everywhere."""
    digest = hashlib.blake2b(
        f"{url}\n{line_index}\n{piece_index}\n{text}".encode("utf-8"),
        digest_size=KEY_BITS // 8, key=seed.to_bytes(8, "big", signed=True),
    ).digest()
    return int.from_bytes(digest, "big")


def document_units(example: dict, seed: int, max_bytes: int) -> Iterator[tuple[int, str]]:
    """(key, text) of every non-blank unit of one corpus example."""
    url = example.get("url", "")
    for line_index, line in enumerate(example["text"].split("\n")):
        if not line.strip():
            continue
        for piece_index, piece in enumerate(split_long_line(line, max_bytes)):
            yield unit_key(seed, url, line_index, piece_index, piece), piece


def unit_bytes(text: str) -> int:
    """Bytes the unit takes in a shard file (its line end included)."""
    return len(text.encode("utf-8")) + 1


# --- the sample's definition ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SampleInfo:
    """What a sample is; written as sample-info.json next to the shards."""

    seed: int
    sentences_requested: int
    max_sentence_bytes: int
    units_total: int  # units in the train split
    threshold: int  # largest selected key
    sentences: int  # units selected
    sample_bytes: int  # bytes of all shard files
    shard_target_bytes: int
    shards: int

    @property
    def shard_names(self) -> list[str]:
        return [shard_name(i, self.shards) for i in range(self.shards)]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "SampleInfo":
        return cls(**json.loads(text))


def shard_count(sample_bytes: int, target_bytes: int = SHARD_TARGET_BYTES) -> int:
    return max(1, math.ceil(sample_bytes / target_bytes))


def shard_of(key: int, threshold: int, shards: int) -> int:
    """Selected keys are uniform on [0, threshold]; equal slices of it balance the shards."""
    return key * shards // (threshold + 1)


def shard_name(index: int, shards: int) -> str:
    return f"sample-{index:05d}-of-{shards:05d}.txt"


def make_info(seed: int, sentences_requested: int, max_bytes: int, units_total: int, threshold: int,
              sentences: int, sample_bytes: int, shard_target_bytes: int = SHARD_TARGET_BYTES) -> SampleInfo:
    return SampleInfo(seed=seed, sentences_requested=sentences_requested, max_sentence_bytes=max_bytes,
                      units_total=units_total, threshold=threshold, sentences=sentences, sample_bytes=sample_bytes,
                      shard_target_bytes=shard_target_bytes, shards=shard_count(sample_bytes, shard_target_bytes))


def sorted_shard_text(units: Iterable[tuple[int, str]]) -> bytes:
    """The bytes of one shard file."""
    return b"".join(text.encode("utf-8") + b"\n" for _, text in sorted(units))


def histogram_bucket(key: int) -> int:
    return key >> (KEY_BITS - HISTOGRAM_BITS)


# --- the local sampler -----------------------------------------------------------------------


class SmallestKeys:
    """The k smallest keys seen (ties at the k-th kept too), with each unit's bytes.

    Keys wait in a fixed numpy buffer that is cut back to the k smallest with a partition
    when full: 16 bytes per unit kept or buffered, not a Python object per corpus line."""

    def __init__(self, k: int, buffer_size: Optional[int] = None):
        if k < 1:
            raise ValueError("the sample needs at least one sentence")
        self.k = k
        self.units_total = 0
        size = buffer_size or max(1 << 20, k // 4)  # amortizes each O(k) cut over k/4 adds
        self._buf_keys = np.empty(size, dtype=np.uint64)
        self._buf_bytes = np.empty(size, dtype=np.int64)
        self._filled = 0
        self._kept_keys = np.empty(0, dtype=np.uint64)
        self._kept_bytes = np.empty(0, dtype=np.int64)

    def add(self, key: int, nbytes: int) -> None:
        self.units_total += 1
        self._buf_keys[self._filled] = key
        self._buf_bytes[self._filled] = nbytes
        self._filled += 1
        if self._filled == len(self._buf_keys):
            self._reduce()

    def _reduce(self) -> None:
        keys = np.concatenate([self._kept_keys, self._buf_keys[: self._filled]])
        nbytes = np.concatenate([self._kept_bytes, self._buf_bytes[: self._filled]])
        self._filled = 0
        if len(keys) > self.k:
            kth = np.partition(keys, self.k - 1)[self.k - 1]
            keep = keys <= kth
            keys, nbytes = keys[keep], nbytes[keep]
        self._kept_keys, self._kept_bytes = keys, nbytes

    def result(self) -> tuple[int, int, int]:
        """(threshold, units selected, their bytes); threshold -1 if nothing was seen."""
        self._reduce()
        if not len(self._kept_keys):
            return -1, 0, 0
        return int(self._kept_keys.max()), len(self._kept_keys), int(self._kept_bytes.sum())


def iter_corpus_units(examples: Iterable[dict], seed: int, max_bytes: int) -> Iterator[tuple[int, str]]:
    for example in examples:
        yield from document_units(example, seed, max_bytes)


def measure_sample(examples: Iterable[dict], seed: int, sentences: int, max_bytes: int,
                   shard_target_bytes: int = SHARD_TARGET_BYTES) -> SampleInfo:
    """Pass 1: the threshold and the sample's exact size, holding only keys in memory (so a
    sample too big to train is refused before anything is written)."""
    smallest = SmallestKeys(sentences)
    for key, text in iter_corpus_units(examples, seed, max_bytes):
        smallest.add(key, unit_bytes(text))
    threshold, selected, sample_bytes = smallest.result()
    return make_info(seed, sentences, max_bytes, smallest.units_total, threshold, selected, sample_bytes,
                     shard_target_bytes)


_SPILL_HEADER = struct.Struct(">QI")  # key, text length


def _write_spill(handle: BinaryIO, key: int, text: str) -> None:
    data = text.encode("utf-8")
    handle.write(_SPILL_HEADER.pack(key, len(data)))
    handle.write(data)


def _read_spill(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as handle:
        while header := handle.read(_SPILL_HEADER.size):
            key, length = _SPILL_HEADER.unpack(header)
            yield key, handle.read(length).decode("utf-8")


def write_sample(examples: Iterable[dict], info: SampleInfo, out_dir: Path) -> list[Path]:
    """Pass 2: the selected units into shard files. Units go to per-shard spill files first,
    then each shard is sorted in memory alone (an external bucket sort)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spills = [out_dir / f".spill-{i:05d}" for i in range(info.shards)]
    handles = [open(p, "wb") for p in spills]
    try:
        for key, text in iter_corpus_units(examples, info.seed, info.max_sentence_bytes):
            if key <= info.threshold:
                _write_spill(handles[shard_of(key, info.threshold, info.shards)], key, text)
    finally:
        for handle in handles:
            handle.close()
    paths = []
    for index, spill in enumerate(spills):
        path = out_dir / shard_name(index, info.shards)
        path.write_bytes(sorted_shard_text(_read_spill(spill)))
        spill.unlink()
        paths.append(path)
    (out_dir / SAMPLE_INFO_NAME).write_text(info.to_json())
    return paths


def read_sample_info(sample_dir: Path) -> SampleInfo:
    return SampleInfo.from_json((sample_dir / SAMPLE_INFO_NAME).read_text())


def iter_sample_lines(paths: Iterable[Path]) -> Iterator[str]:
    """The sample's sentences, streamed (this is what the trainer reads)."""
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                yield line[:-1].decode("utf-8")
