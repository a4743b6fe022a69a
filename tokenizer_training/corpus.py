"""Reading a c4forge corpus without TensorFlow or Beam (for the vocabulary and pretraining).

A corpus is what ``c4forge build`` wrote: a TFDS dataset directory of TFRecord shards of
``tf.train.Example`` (``<out>/c4/<config>/<version>/``) and/or allenai-style JSONL.gz
(``<out>/<config>/c4-<split>.NNNNN-of-NNNNN.json.gz``). ``find_corpus`` accepts either
directory or the build's output root. Local paths by default; pass ``opener`` for others.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import struct
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional

Opener = Callable[[str], BinaryIO]
TFDS_FILENAME_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"


def _open_local(path: str) -> BinaryIO:
    return open(path, "rb")


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: crc32c rotated right by 15 bits plus a constant."""
    import google_crc32c

    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _read_exactly(handle: BinaryIO, size: int, path: str, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise ValueError(f"{path}: truncated TFRecord ({what}: wanted {size} bytes, got {len(data)})")
    return data


def iter_tfrecords(path: str, verify_crc: bool = True, opener: Opener = _open_local) -> Iterator[bytes]:
    """The records of a TFRecord file (uncompressed), checking both CRCs."""
    with opener(path) as handle:
        while True:
            header = handle.read(12)
            if not header:
                return
            if len(header) != 12:
                raise ValueError(f"{path}: truncated TFRecord header")
            length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
            if verify_crc and masked_crc32c(length_bytes) != length_crc:
                raise ValueError(f"{path}: corrupt TFRecord length (crc mismatch)")
            (length,) = struct.unpack("<Q", length_bytes)
            data = _read_exactly(handle, length, path, "data")
            (data_crc,) = struct.unpack("<I", _read_exactly(handle, 4, path, "data crc"))
            if verify_crc and masked_crc32c(data) != data_crc:
                raise ValueError(f"{path}: corrupt TFRecord data (crc mismatch)")
            yield data


def _feature_value(feature):
    kind = feature.WhichOneof("kind")
    if kind == "bytes_list":
        values = [v.decode("utf-8") for v in feature.bytes_list.value]
    elif kind == "int64_list":
        values = list(feature.int64_list.value)
    elif kind == "float_list":
        values = list(feature.float_list.value)
    else:
        values = []
    return values[0] if len(values) == 1 else values


def parse_example(data: bytes) -> dict:
    """A serialized tf.train.Example as {feature: value}: one-value lists unwrapped, bytes
    decoded as UTF-8 (so a c4 example gives five strings)."""
    from tensorflow_datasets.proto import tf_example_pb2  # the proto class only; no TensorFlow

    example = tf_example_pb2.Example.FromString(data)
    return {name: _feature_value(feature) for name, feature in sorted(example.features.feature.items())}


def iter_tfrecord_examples(path: str, opener: Opener = _open_local) -> Iterator[dict]:
    """The examples of one TFRecord shard, as dicts of str."""
    for record in iter_tfrecords(path, opener=opener):
        yield parse_example(record)


def iter_jsonl(path: str, opener: Opener = _open_local) -> Iterator[dict]:
    """The objects of a JSON-lines file, gunzipped when the name ends in .gz."""
    with opener(path) as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if path.endswith(".gz") else raw
        for line in io.TextIOWrapper(stream, encoding="utf-8", newline="\n"):
            if line.strip():
                yield json.loads(line)


def tfds_split_files(dataset_dir: str, split: str, opener: Opener = _open_local,
                     join: Callable[..., str] = os.path.join) -> list[str]:
    """The shard paths of a split, in order, from dataset_info.json ([] if the split has no
    data and so is not listed)."""
    with opener(join(dataset_dir, "dataset_info.json")) as handle:
        info = json.loads(handle.read().decode("utf-8"))
    file_format = info.get("fileFormat", "tfrecord")
    for split_info in info.get("splits", []):
        if split_info["name"] == split:
            template = split_info.get("filepathTemplate", TFDS_FILENAME_TEMPLATE)
            if template != TFDS_FILENAME_TEMPLATE:
                raise NotImplementedError(f"{dataset_dir}: unsupported filepathTemplate {template!r}")
            count = len(split_info.get("shardLengths", []))
            return [
                join(dataset_dir, f"{info['name']}-{split}.{file_format}-{i:05d}-of-{count:05d}")
                for i in range(count)
            ]
    return []


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
