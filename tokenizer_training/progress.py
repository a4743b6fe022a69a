"""What ``c4forge vocab`` is doing while it does it: a tqdm bar for each pass over the corpus on
a terminal (plain log lines every ``C4FORGE_PROGRESS_SECONDS`` otherwise), and a line as each
phase starts (sampling, training, export, evaluation), since sentencepiece's trainer and the
tokenizer export say nothing until they are done."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Iterable, Iterator, Optional, TypeVar

log = logging.getLogger("c4forge.vocab")
T = TypeVar("T")


def phase(text: str, *args) -> None:
    log.info(text, *args)


def _every_s() -> float:
    return float(os.environ.get("C4FORGE_PROGRESS_SECONDS", "10"))  # the build's setting too


def counted(items: Iterable[T], what: str, total: Optional[int], unit: str = "documents") -> Iterator[T]:
    """``items`` as they are, with their progress shown: ``what`` (e.g. "sampling: measuring")
    and how many of ``total`` (None: unknown) have gone by."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, desc=what, total=total, unit=f" {unit}", dynamic_ncols=True, file=sys.stderr)
        return
    every_s = _every_s()
    started = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            rate = done / (now - started)
            of = f" of {total:,}" if total else ""
            eta = f", ETA {max(total - done, 0) / rate:.0f} s" if total else ""
            log.info("%s: %s%s %s (%.0f/s%s)", what, f"{done:,}", of, unit, rate, eta)
    log.info("%s: %s %s in %.1f s", what, f"{done:,}", unit, time.monotonic() - started)
