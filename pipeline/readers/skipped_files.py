"""Whole input files a reader skips, named in the counters so that the run's summary can list them.

Beam's counters carry numbers, not lists, so each skipped file also gets a counter of its own,
``skipped-files/<reason>:<path>`` (c4forge-only, beside the reader's ``skipped-file:<reason>``
total): the report and the printed summary read the names back from there.

A local path that is not a regular file (a FIFO, a socket, a device) is skipped without being
opened: opening a FIFO blocks until something writes to it, which would hang the build.
Remote objects (gs://, s3://) are always regular.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from typing import Iterator, Optional

from c4forge.cleaning_rules.page import Page

from ..records.record_loop import RecordLoop

SKIPPED_FILES = "skipped-files"
NOT_REGULAR_FILE = "not_regular_file"
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))


def not_regular_file(path: str) -> Optional[str]:
    """What a local ``path`` is when it is not a regular file ("a FIFO (named pipe)", ...); None
    for a regular file, a remote object, or a path that cannot be stat'ed (opening it says why)."""
    if "://" in path:
        return None
    try:
        mode = os.stat(path).st_mode  # follows links: a link to a FIFO is a FIFO
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((kind for is_kind, kind in _KINDS if is_kind(mode)), "a special file")


def count_skipped_file(counters: Counter, reason: str, path: str) -> None:
    """The per-file counter beside the reader's ``skipped-file:<reason>`` total."""
    counters[f"{SKIPPED_FILES}/{reason}:{path}"] += 1


def skipped_file_names(counters) -> list[tuple[str, str]]:
    """(reason, path) of every file a reader skipped whole, from the counters."""
    prefix = SKIPPED_FILES + "/"
    return sorted(tuple(name[len(prefix):].split(":", 1)) for name, value in counters.items()
                  if name.startswith(prefix) and value and ":" in name[len(prefix):])


def regular_files_only(loop: RecordLoop, pages: Iterator[Page]) -> Iterator[Page]:
    """``pages``, unless the loop's path is not a regular file: then nothing, counted and logged,
    and the file is never opened (``pages`` is a generator that has not started)."""
    kind = not_regular_file(loop.path)
    if kind is None:
        yield from pages
        return
    loop.count(f"skipped-file:{NOT_REGULAR_FILE}")
    count_skipped_file(loop.counters, NOT_REGULAR_FILE, loop.path)
    loop.log.error("%s: %s, not a regular file; skipped without opening it (a FIFO would block the build)",
                   loop.path, kind)
