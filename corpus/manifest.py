"""The build's manifest: the last file a build publishes, and what every c4forge reader trusts.

``c4forge-manifest.json`` at the output root lists each dataset the build wrote (format,
directory, splits with their shard files and example counts) and every file of the build with
its size and sha256. It appears only once all of them are in place (``pipeline/publish.py``), so
a folder without it holds no finished build: an interrupted or running build, or files of
another tool. Readers check a file's size before they use it and its sha256 when they have read
it whole, so a partial, mixed or altered corpus is refused instead of read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from typing import BinaryIO, Mapping, Optional

MANIFEST_NAME = "c4forge-manifest.json"
FORMAT_VERSION = 1


class CorpusError(ValueError):
    """A corpus that must not be read: no manifest, a missing, resized or altered file."""


@dataclasses.dataclass(frozen=True)
class FileEntry:
    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One dataset of a build: ``directory`` relative to the output root; ``splits`` maps a
    split to (examples, shard file names in order)."""

    format: str  # "tfrecord" or "jsonl"
    directory: str
    splits: Mapping[str, tuple[int, tuple[str, ...]]]

    def shard_paths(self, split: str) -> list[str]:
        """Shard paths relative to the output root, in order ([] for a split without data)."""
        _, shards = self.splits.get(split, (0, ()))
        return [posixpath.join(self.directory, name) for name in shards]


@dataclasses.dataclass(frozen=True)
class Manifest:
    run_id: str
    finished_at: str
    profile: str
    datasets: tuple[Dataset, ...]
    files: Mapping[str, FileEntry]  # every file of the build, relative to the output root

    def to_json(self) -> bytes:
        return (json.dumps({
            "c4forge_manifest": FORMAT_VERSION,
            "run_id": self.run_id,
            "finished_at": self.finished_at,
            "profile": self.profile,
            "datasets": [{"format": d.format, "directory": d.directory,
                          "splits": {split: {"examples": n, "shards": list(shards)}
                                     for split, (n, shards) in sorted(d.splits.items())}}
                         for d in self.datasets],
            "files": {path: {"bytes": f.bytes, "sha256": f.sha256} for path, f in sorted(self.files.items())},
        }, indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, source: str) -> "Manifest":
        try:
            raw = json.loads(data.decode("utf-8"))
            if raw.get("c4forge_manifest") != FORMAT_VERSION:
                raise CorpusError(f"{source}: manifest version {raw.get('c4forge_manifest')!r}; this c4forge reads "
                                  f"version {FORMAT_VERSION}: rebuild the corpus with this version")
            datasets = tuple(
                Dataset(d["format"], d["directory"],
                        {split: (int(s["examples"]), tuple(s["shards"])) for split, s in d["splits"].items()})
                for d in raw["datasets"])
            files = {path: FileEntry(int(f["bytes"]), str(f["sha256"])) for path, f in raw["files"].items()}
            return cls(raw["run_id"], raw["finished_at"], raw["profile"], datasets, files)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            if isinstance(e, CorpusError):
                raise
            raise CorpusError(f"{source}: not a readable c4forge manifest ({type(e).__name__}: {e})") from None

    def dataset(self, directory: str) -> Optional[Dataset]:
        return next((d for d in self.datasets if d.directory == directory), None)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class VerifyingReader:
    """A binary file opened for reading whole: at its end, its size and sha256 must be the
    manifest's (CorpusError otherwise). Readers that stop early check nothing."""

    def __init__(self, raw: BinaryIO, entry: FileEntry, path: str):
        self._raw = raw
        self._entry = entry
        self._path = path
        self._hash = hashlib.sha256()
        self._size = 0
        self._checked = False

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        self._size += len(data)
        if not data or (size is not None and size < 0):
            self._check()
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._size != self._entry.bytes or self._hash.hexdigest() != self._entry.sha256:
            raise CorpusError(f"{self._path}: its content is not what the build's manifest lists ({self._size:,} "
                              f"bytes read, {self._entry.bytes:,} listed, or another sha256): the corpus was changed "
                              f"after the build; rebuild it with `c4forge build --overwrite`")

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> "VerifyingReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
