"""Progress of a build: files, bytes and pages read (with an ETA), pages kept so far.

Beam's metrics reach the driver only when a local run ends, so the DoFns report for themselves.
Where they run in the driver's own process (the default FnApiRunner in memory, a portable
LOOPBACK job), they feed the build's one ``LiveProgress``, which ``live_progress`` opens around
the run: tqdm bars on a terminal, a summary log line every ``C4FORGE_PROGRESS_SECONDS``
otherwise. In other processes or on other machines (multi_processing, Dataflow) there is none,
and each worker logs its own lines: per file read, and pages kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from typing import BinaryIO, Callable, Iterator, Optional, TextIO

logger = logging.getLogger("c4forge.progress")
EVERY_S_ENV = "C4FORGE_PROGRESS_SECONDS"
BAR_REFRESH_S = 0.25  # redraws of the terminal bars; log lines come every ``every_s``

_live: Optional["LiveProgress"] = None  # the build's, while ``live_progress`` is open in this process


def default_every_s() -> float:
    return float(os.environ.get(EVERY_S_ENV, "10"))


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


class LiveProgress:
    """The whole build's reading and keeping, from every DoFn in this process (thread-safe)."""

    def __init__(self, files: int, input_bytes: int, stream: Optional[TextIO] = None,
                 every_s: Optional[float] = None):
        """``stream``: a terminal for bars; None for log lines every ``every_s`` seconds."""
        self.files, self.input_bytes = files, max(input_bytes, 1)
        self.files_done = self.pages = self.kept = 0
        self.bytes_done = 0.0  # input bytes: each pass over a file counts its share
        self._stream = stream
        self._every_s = BAR_REFRESH_S if stream is not None else (
            default_every_s() if every_s is None else every_s)
        self._lock = threading.Lock()
        self._bars = None
        self.started = self._shown = time.monotonic()
        self._seen = False
        self._closed = threading.Event()
        if stream is not None:  # between events (a shuffle, a long stage) the clock still ticks
            threading.Thread(target=self._tick, name="c4forge-progress", daemon=True).start()

    # --- what the DoFns report ------------------------------------------------------------

    def add_bytes(self, n: float) -> None:
        with self._lock:
            self.bytes_done += n
            self._maybe_show()

    def add_page(self) -> None:
        with self._lock:
            self.pages += 1
            self._maybe_show()

    def file_done(self, unread_bytes: float) -> None:
        """A file is done; ``unread_bytes`` of it were never read (a file skipped whole)."""
        with self._lock:
            self.files_done += 1
            self.bytes_done += unread_bytes
            self._maybe_show(file_done=True)

    def add_kept(self) -> None:
        with self._lock:
            self.kept += 1
            self._maybe_show()

    # --- how it is shown ------------------------------------------------------------------

    def _maybe_show(self, file_done: bool = False) -> None:
        """Bars redraw at most every ``BAR_REFRESH_S`` and when a file is done; log lines come
        every ``every_s`` only, however many files are done in between."""
        self._seen = True
        now = time.monotonic()
        if now - self._shown < self._every_s and not (file_done and self._stream is not None):
            return
        self._shown = now
        if self._stream is not None:
            self._draw_bars()
        else:
            logger.info(self.line())

    def _tick(self) -> None:
        while not self._closed.wait(1.0):
            with self._lock:
                if self._bars is not None and not self._closed.is_set():
                    self._draw_bars()

    def eta_seconds(self) -> Optional[float]:
        fraction = min(self.bytes_done / self.input_bytes, 1.0)
        elapsed = time.monotonic() - self.started
        return elapsed * (1 - fraction) / fraction if fraction > 0 else None

    def pages_per_second(self) -> float:
        return self.pages / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        eta = self.eta_seconds()
        percent = 100 * min(self.bytes_done / self.input_bytes, 1.0)
        return (f"read {self.files_done}/{self.files} files, {_size(self.bytes_done)} of {_size(self.input_bytes)} "
                f"({percent:.0f}%), {self.pages:,} pages ({self.pages_per_second():,.0f} pages/s), "
                f"ETA {_duration(eta) if eta is not None else '?'}; kept {self.kept:,} pages so far")

    def _draw_bars(self) -> None:
        if self._bars is None:
            from tqdm import tqdm

            common = dict(file=self._stream, dynamic_ncols=True, mininterval=0, leave=True)
            self._bars = (
                tqdm(total=self.input_bytes, desc="read", unit="B", unit_scale=True, unit_divisor=1024,
                     position=0, **common),
                tqdm(total=None, desc="kept", unit=" pages", position=1, **common),
            )
        read, kept = self._bars
        read.set_postfix_str(f"files {self.files_done}/{self.files}, {self.pages:,} pages "
                             f"({self.pages_per_second():,.0f}/s)", refresh=False)
        read.update(self.bytes_done - read.n)  # through update(), so that tqdm's rate and ETA follow
        kept.update(self.kept - kept.n)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._bars is not None:
                self._draw_bars()
                for bar in self._bars:
                    bar.close()
            if self._seen:
                elapsed = time.monotonic() - self.started
                logger.info("read %d files (%s), %s pages in %s (%s pages/s); kept %s pages", self.files_done,
                            _size(self.bytes_done), f"{self.pages:,}", _duration(elapsed),
                            f"{self.pages_per_second():,.0f}", f"{self.kept:,}")


@contextlib.contextmanager
def live_progress(files: int, input_bytes: int, stream: Optional[TextIO] = None) -> Iterator[LiveProgress]:
    """The build's progress for the DoFns that run in this process: bars when ``stream`` (default:
    stderr) is a terminal, log lines otherwise. Shows nothing if no DoFn runs here."""
    global _live
    stream = sys.stderr if stream is None else stream
    terminal = stream.isatty()
    live = LiveProgress(files, input_bytes, stream if terminal else None)
    _live = live
    try:
        with _log_lines_above_the_bars(terminal):
            yield live
    finally:
        _live = None
        live.close()


def _log_lines_above_the_bars(terminal: bool):
    """A log line written across the bars would break them: tqdm writes it above."""
    if not terminal:
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm(loggers=[logging.getLogger()])


class FileProgress:
    """Bytes read from one input file (all passes over it) and pages produced: into the build's
    ``LiveProgress`` in its process, or else as this worker's log lines."""

    def __init__(self, path: str, total_bytes: int, passes: int, every_s: Optional[float] = None):
        self.path = path
        self.size, self.passes = total_bytes, max(passes, 1)
        self.total = max(total_bytes * passes, 1)
        self.done = 0
        self.pages = 0
        self.live = _live  # one file is read within one run
        self.every_s = default_every_s() if every_s is None else every_s
        self.started = self._last = time.monotonic()

    def add_bytes(self, n: int) -> None:
        before = self._credited()
        self.done += n
        if self.live is not None:
            self.live.add_bytes(self._credited() - before)
        else:
            self._maybe_log()

    def _credited(self) -> float:
        """The file's share of the build's bytes read so far: never more than its size, even
        when it takes more passes than expected (a file larger than the reader's hold)."""
        return min(self.done / self.passes, self.size)

    def add_page(self) -> None:
        self.pages += 1
        if self.live is not None:
            self.live.add_page()

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
        if self.live is not None:  # one line per file would bury the build's own
            self.live.file_done(self.size - self._credited())
            return
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
    """Pages that reached the output: into the build's ``LiveProgress`` in its process, or else
    logged every ``every_s`` seconds per worker."""

    def __init__(self, every_s: Optional[float] = None):
        self.kept = 0
        self.every_s = default_every_s() if every_s is None else every_s
        self._last = time.monotonic()

    def add(self) -> None:
        self.kept += 1
        live = _live  # looked up per page: a DoFn set up in one run may be reused in the next
        if live is not None:
            live.add_kept()
            return
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            logger.info("kept %d pages so far (this worker)", self.kept)
