"""What a downloaded file must be before it gets its name in the cache, and what a cached file
must still be when it is used.

A WET file must gunzip completely (every member's deflate data, CRC-32 and length) and start with
a WARC ``warcinfo`` (or ``conversion``) record: a CDN or proxy that answers 200 with a gzipped
HTML error page passes the gzip check, and a build would then keep none of its pages. A cached
file is checked again by its first record only (cheap, unlike a full gunzip); one that fails is
evicted and fetched again.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from pathlib import Path
from typing import Callable

from .errors import short_error

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
WET_FIRST_RECORD_TYPES = ("warcinfo", "conversion")


class BadContent(Exception):
    """The file is not what was asked for (not gzip, cut, not WARC): never kept under its name."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """``downloaded``: the whole check, before a download gets its cached name; ``cached``:
    the cheap one, each time a cached file is used. Both raise BadContent."""

    downloaded: Callable[[Path], None]
    cached: Callable[[Path], None]


def check_gzip(path: Path) -> None:
    """A full gunzip pass: every member's deflate data, CRC32 and length."""
    with open(path, "rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            raise BadContent("gzip check failed (not a gzip file)")
    try:
        with gzip.open(path, "rb") as f:
            while f.read(CHUNK_BYTES):
                pass
    except (OSError, EOFError, zlib.error) as e:
        raise BadContent(f"gzip check failed ({short_error(e)})") from None


def _refuse_unparseable(kind: str, offset: int, detail: str) -> None:
    if kind == "unparseable":  # the strict iterator would skip ahead to a later record: not here
        raise BadContent(f"not a WARC file: data at offset {offset} is not a WARC record ({detail})")


def check_warc_start(path: Path) -> None:
    """The file starts with a WARC ``warcinfo`` or ``conversion`` record, as every WET file does."""
    from ..records.read_errors import READ_ERRORS  # warcio: not for `c4forge --help`, which imports fetch
    from ..records.strict_warcio import StrictArchiveIterator

    try:
        with open(path, "rb") as f:
            record = next(StrictArchiveIterator(f, _refuse_unparseable), None)
            record_type = record.rec_type if record is not None else None
    except READ_ERRORS as e:
        raise BadContent(f"not a WARC file ({short_error(e)})") from None
    if record_type is None:
        raise BadContent("not a WARC file (no record)")
    if record_type not in WET_FIRST_RECORD_TYPES:
        raise BadContent(f"not a WET file (its first WARC record is {record_type!r}, not warcinfo or conversion)")


def check_wet_download(path: Path) -> None:
    check_gzip(path)
    check_warc_start(path)


WET_FILE = FileCheck(downloaded=check_wet_download, cached=check_warc_start)
