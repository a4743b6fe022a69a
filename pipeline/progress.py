"""Progress of a run, as log lines: pages read per file with an ETA, pages kept so far.

Beam metrics are only visible after a local run ends, so the DoFns log for themselves,
at most every ``every_s`` seconds.
"""

from __future__ import annotations

import logging
import os
import time
from typing import BinaryIO, Callable

logger = logging.getLogger("c4forge.progress")
EVERY_S_ENV = "C4FORGE_PROGRESS_SECONDS"


def default_every_s() -> float:
    return float(os.environ.get(EVERY_S_ENV, "10"))


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class FileProgress:
    """Bytes read from one input file (all passes over it) and pages produced."""

    def __init__(self, path: str, total_bytes: int, passes: int, every_s: float | None = None):
        self.path = path
        self.total = max(total_bytes * passes, 1)
        self.done = 0
        self.pages = 0
        self.every_s = default_every_s() if every_s is None else every_s
        self.started = self._last = time.monotonic()

    def add_bytes(self, n: int) -> None:
        self.done += n
        self._maybe_log()

    def add_page(self) -> None:
        self.pages += 1

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        fraction = min(self.done / self.total, 1.0)
        elapsed = now - self.started
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        logger.info("reading %s: %3.0f%%, %d pages, %.0f pages/s, ETA %s", self.path, 100 * fraction,
                    self.pages, self.pages / max(elapsed, 1e-9), _duration(eta) if eta == eta else "?")

    def finish(self) -> None:
        elapsed = time.monotonic() - self.started
        logger.info("read %s: %d pages in %s (%.0f pages/s)", self.path, self.pages, _duration(elapsed),
                    self.pages / max(elapsed, 1e-9))


class CountingReader:
    """A file object that reports how many bytes were read through it."""

    def __init__(self, f: BinaryIO, on_read: Callable[[int], None]):
        self._f = f
        self._on_read = on_read

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._on_read(len(data))
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self._f.readline(limit)
        self._on_read(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


class KeptProgress:
    """Pages that reached the output, logged every ``every_s`` seconds per worker."""

    def __init__(self, every_s: float | None = None):
        self.kept = 0
        self.every_s = default_every_s() if every_s is None else every_s
        self._last = time.monotonic()

    def add(self) -> None:
        self.kept += 1
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            logger.info("kept %d pages so far (this worker)", self.kept)
