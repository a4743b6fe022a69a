"""Where a corpus and its token shards are read from: a local folder or an object-store URL.

Readers need a handful of operations: open a file, tell whether it is there and its size, join
and climb paths. ``LocalStorage`` does them with ``os`` (paths resolved, as they always were);
``FsspecStorage`` with fsspec, for ``gs://`` (with gcsfs installed), ``s3://`` (with s3fs) or
any other fsspec protocol (``memory://`` in tests). fsspec is imported only when
a URL is read, so local use needs none of it. The Beam jobs pass their own storage over Beam's
``FileSystems`` (``pipeline/beam_storage.py``), which reads what the job's workers can read.

Storages are small picklable values (Beam ships them to workers inside a ``Corpus``).
"""

from __future__ import annotations

import glob
import os
import posixpath
from pathlib import Path
from typing import BinaryIO, Iterable, Protocol

# What to install for a URL scheme whose fsspec implementation is missing.
IMPLEMENTATIONS = {"gs": "gcsfs", "gcs": "gcsfs", "s3": "s3fs", "s3a": "s3fs"}


class StorageError(OSError):
    """A URL this machine cannot read (no fsspec implementation for its scheme)."""


class Storage(Protocol):
    def open(self, path: str) -> BinaryIO: ...

    def is_file(self, path: str) -> bool: ...

    def size(self, path: str) -> int: ...

    def join(self, base: str, *parts: str) -> str: ...

    def parent(self, path: str) -> str: ...

    def canonical(self, path: str) -> str: ...

    def any_match(self, base: str, patterns: Iterable[str]) -> bool: ...


def is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def split_url(url: str) -> tuple[str, str]:
    """("gs", "bucket/key") of "gs://bucket/key"."""
    scheme, _, rest = str(url).partition("://")
    return scheme, rest


class LocalStorage:
    def open(self, path: str) -> BinaryIO:
        return open(path, "rb")

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def size(self, path: str) -> int:
        return os.path.getsize(path)

    def join(self, base: str, *parts: str) -> str:
        return str(Path(base, *parts))

    def parent(self, path: str) -> str:
        return str(Path(path).parent)

    def canonical(self, path: str) -> str:
        return str(Path(path).resolve())

    def any_match(self, base: str, patterns: Iterable[str]) -> bool:
        return any(glob.glob(os.path.join(glob.escape(base), pattern)) for pattern in patterns)


class FsspecStorage:
    """Object stores through fsspec. Paths stay full URLs (``gs://bucket/key``); there are no
    folders, so a folder "is" there when a key starts with it."""

    def __init__(self, protocol: str):
        self.protocol = protocol
        self._fs = None

    def __getstate__(self):
        return {"protocol": self.protocol, "_fs": None}

    @property
    def fs(self):
        if self._fs is None:
            self._fs = filesystem(self.protocol)
        return self._fs

    def open(self, path: str) -> BinaryIO:
        return self.fs.open(path, "rb")

    def is_file(self, path: str) -> bool:
        return bool(self.fs.isfile(path))

    def is_dir(self, path: str) -> bool:
        return bool(self.fs.isdir(path))

    def size(self, path: str) -> int:
        return int(self.fs.size(path))

    def join(self, base: str, *parts: str) -> str:
        return "/".join([base.rstrip("/"), *(part.strip("/") for part in parts)])

    def parent(self, path: str) -> str:
        scheme, rest = split_url(path)
        head = posixpath.dirname(rest.rstrip("/"))
        return f"{scheme}://{head}" if head else f"{scheme}://{rest.rstrip('/')}"

    def canonical(self, path: str) -> str:
        scheme, rest = split_url(path)
        return f"{scheme}://{posixpath.normpath(rest).lstrip('/')}"

    def any_match(self, base: str, patterns: Iterable[str]) -> bool:
        return any(self.fs.glob(self.join(base, pattern)) for pattern in patterns)


def filesystem(protocol: str):
    """fsspec's filesystem for ``protocol``; StorageError naming the package to install."""
    try:
        import fsspec

        return fsspec.filesystem(protocol)
    except ImportError as error:
        package = IMPLEMENTATIONS.get(protocol)
        hint = f"pip install {package}" if package else "install fsspec's implementation of that scheme"
        raise StorageError(f"cannot read {protocol}:// URLs here ({str(error).splitlines()[0]}); {hint}") from None
    except ValueError as error:  # fsspec: "Protocol not known"
        raise StorageError(f"cannot read {protocol}:// URLs: {error}") from None


def storage_for(path: str | os.PathLike) -> LocalStorage | FsspecStorage:
    return FsspecStorage(split_url(str(path))[0]) if is_url(path) else LocalStorage()


def relative_path(storage: Storage, path: str, root: str) -> str:
    """``path`` below ``root`` as a '/'-separated relative path ("." for root itself); ValueError
    when it is not below it."""
    path, root = storage.canonical(path), storage.canonical(root)
    if path == root:
        return "."
    prefix = root.rstrip("/\\") + ("/" if is_url(root) else os.sep)
    if not path.startswith(prefix):
        raise ValueError(f"{path} is not below {root}")
    return path[len(prefix):].replace(os.sep, "/")
