"""One writer per output: a build holds ``<output>/.c4forge.lock`` from start to publish.

On a local filesystem the lock is an ``flock`` on that file: the kernel drops it when the
process dies, however it dies, so a lock left by a dead run is never mistaken for a live one.
The file also says who holds it (host, pid, start time, run id), for the one-line refusal a
second build gets. Object stores (gs://, s3://) have no locks: there the lock is an object
written with the same content, checked before and read back after writing (two builds starting
in the same second could both pass), and deleted at the end; one left by a dead run is named in
the refusal, to be deleted by hand.

``--spill-dir`` directories of dead runs are found the same way: each run holds a lock beside
its spill directory, and a directory whose lock nobody holds is removed by the next run.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import json
import logging
import os
import shutil
import socket
import time
from typing import Optional

from apache_beam.io.filesystems import FileSystems

from .errors import BuildError
from .files import is_local

logger = logging.getLogger(__name__)

LOCK_NAME = ".c4forge.lock"
SPILL_DIR_PREFIX = "c4forge-spill-"


@dataclasses.dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: str
    run_id: str

    @classmethod
    def this_process(cls, run_id: str) -> "Holder":
        return cls(socket.gethostname(), os.getpid(), time.strftime("%Y-%m-%d %H:%M:%S %Z"), run_id)

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Optional["Holder"]:
        try:
            return cls(**json.loads(data.decode("utf-8")))
        except (ValueError, TypeError):
            return None

    def describe(self) -> str:
        return f"run {self.run_id} on host {self.host}, pid {self.pid}, started {self.started}"


class LocalLock:
    """An exclusive, non-blocking ``flock`` on ``path``, held until ``release``."""

    def __init__(self, path: str):
        self.path = path
        self._fd: Optional[int] = None

    def try_acquire(self) -> bool:
        import fcntl  # POSIX only; imported here so that the module loads elsewhere

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._fd = fd
        return True

    def write(self, content: bytes) -> None:
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, content, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # the file stays: unlinking it would let a waiter lock a dead inode
            os.close(self._fd)
            self._fd = None


def _read_holder(path: str) -> Optional[Holder]:
    try:
        with FileSystems.open(path) as f:
            return Holder.from_json(f.read())
    except (OSError, ValueError):
        return None


class OutputLock:
    """``with OutputLock(output, run_id):`` holds the output for one build."""

    def __init__(self, output: str, run_id: str):
        self.output = output
        self.path = FileSystems.join(output, LOCK_NAME)
        self.holder = Holder.this_process(run_id)
        self._local: Optional[LocalLock] = None

    def __enter__(self) -> "OutputLock":
        if is_local(self.output):
            self._acquire_local()
        else:
            self._acquire_remote()
        return self

    def __exit__(self, *exc) -> None:
        if self._local is not None:
            self._local.release()
        elif _read_holder(self.path) == self.holder:
            FileSystems.delete([self.path])

    def _refusal(self, holder: Optional[Holder], extra: str = "") -> BuildError:
        who = holder.describe() if holder else "a run that left no details"
        return BuildError(f"--output {self.output} is in use by another c4forge build ({who}); wait for it to "
                          f"finish, or choose another --output{extra}")

    def _acquire_local(self) -> None:
        lock = LocalLock(self.path)
        if not lock.try_acquire():
            raise self._refusal(_read_holder(self.path))
        lock.write(self.holder.to_json())
        self._local = lock

    def _acquire_remote(self) -> None:
        hint = f" (if no build is running there, delete {self.path})"
        if FileSystems.exists(self.path):
            raise self._refusal(_read_holder(self.path), hint)
        with FileSystems.create(self.path) as f:
            f.write(self.holder.to_json())
        now = _read_holder(self.path)
        if now != self.holder:
            raise self._refusal(now, hint)


def remove_dead_spill_dirs(spill_dir: str) -> None:
    """Spill directories of runs that are gone (their lock is free), with a log line each."""
    for lock_path in sorted(glob.glob(os.path.join(glob.escape(spill_dir), SPILL_DIR_PREFIX + "*.lock"))):
        lock = LocalLock(lock_path)
        if not lock.try_acquire():
            continue  # a live run's
        directory = lock_path[:-len(".lock")]
        size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(directory) for name in names)
        logger.warning("removing %s: the spill files of a build that did not finish (%.1f MB)", directory, size / 1e6)
        shutil.rmtree(directory, ignore_errors=True)
        os.unlink(lock_path)
        lock.release()


def lock_spill_dir(directory: str) -> LocalLock:
    """The lock a run holds while ``directory`` (its spill files) is in use."""
    lock = LocalLock(directory + ".lock")
    if not lock.try_acquire():
        raise BuildError(f"{directory}: another build is using this spill directory")
    return lock
