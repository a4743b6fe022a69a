"""The local cache of downloads: one lock per file, the partial file of a transfer, and what a
failure to write the cache means.

A file's bytes go to ``<dest>.part`` (with ``<dest>.part.json``: the server's validator and the
total length, for ``If-Range`` on resume) and get the name ``<dest>`` only once checked. A
``.part`` is kept after an interrupted transfer, for the next try or run to resume; it is
deleted when it can never be resumed: bytes that failed a check, a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from .errors import CacheNotWritable, short_error

CACHE_DIR_HINT = "pass --cache-dir (or set C4FORGE_CACHE_DIR) to a disk with room"
DISK_FULL = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded"}


def cache_write_message(e: OSError, cache_dir: Path, path: Path) -> str:
    """One line: what failed, where, and what to do."""
    full = DISK_FULL.get(e.errno)
    if full:
        return (f"cannot write the download cache {cache_dir}: {full} ({errno.errorcode[e.errno]}) while writing "
                f"{path}; free space there, or {CACHE_DIR_HINT} (nothing half-written is left)")
    return (f"cannot write the download cache {cache_dir} ({short_error(e)}, at {path}); "
            f"pass a --cache-dir you can write to")


@contextlib.contextmanager
def cache_writes(cache_dir: Path, path: Path, on_failure=None) -> Iterator[None]:
    """An OSError inside (writing ``path`` under ``cache_dir``) is a CacheNotWritable, after
    ``on_failure()``: not the network's fault, so never retried."""
    try:
        yield
    except OSError as e:
        if on_failure is not None:
            with contextlib.suppress(OSError):  # the one-line error says what failed first
                on_failure()
        raise CacheNotWritable(cache_write_message(e, cache_dir, path)) from None


@contextlib.contextmanager
def exclusive(path: Path, cache_dir: Path) -> Iterator[None]:
    """One process at a time per cached file (two builds sharing a cache would interleave
    writes to the same partial file)."""
    import fcntl

    lock = path.with_name(path.name + ".lock")
    with cache_writes(cache_dir, lock):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class PartialFile:
    """``<dest>.part`` plus ``<dest>.part.json``: what was received so far, and the server's
    validator (ETag or Last-Modified) and total length, for If-Range on resume."""

    def __init__(self, dest: Path, cache_dir: Path):
        self.path = dest.with_name(dest.name + ".part")
        self.cache_dir = cache_dir
        self._meta = dest.with_name(dest.name + ".part.json")

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def remembered(self) -> dict:
        try:
            return json.loads(self._meta.read_text())
        except (OSError, ValueError):
            return {}

    def remember(self, validator: Optional[str], total: Optional[int]) -> None:
        with self.writes():
            self._meta.write_text(json.dumps({"validator": validator, "total": total}))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self._meta.unlink(missing_ok=True)

    def writes(self):
        """Around any write to the part: a failure deletes it (a full disk would only fail again)
        and is a one-line CacheNotWritable."""
        return cache_writes(self.cache_dir, self.path, on_failure=self.discard)

    def open(self, append: bool) -> BinaryIO:
        return open(self.path, "ab" if append else "wb")

    def write(self, f: BinaryIO, chunk: bytes) -> None:
        """The one place received bytes reach the disk (tests inject a full disk here)."""
        f.write(chunk)

    def complete_as(self, dest: Path) -> None:
        with self.writes():
            os.replace(self.path, dest)  # atomic: a cached name always holds a checked file
        self._meta.unlink(missing_ok=True)
