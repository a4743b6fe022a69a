"""What counts as "this file cannot be read further", and a file wrapper that makes every
read failure one of those errors."""

from __future__ import annotations

import gzip
import zlib
from typing import BinaryIO, Callable

from warcio.exceptions import ArchiveLoadFailed


class InputCutOff(OSError):
    """The file ends inside a gzip member or inside a record (a truncated download or copy)."""


# Errors that mean "this file cannot be read further". (Not EOFError inside warcio: it
# means "no more records" there, so a cut-off file raises InputCutOff.)
READ_ERRORS = (ArchiveLoadFailed, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError)


def describe_error(e: BaseException, limit: int = 160) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters, for log messages."""
    text = " ".join(str(e).split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class GuardedFile:
    """The opened file, with any read failure turned into OSError (a remote filesystem's
    client may raise its own exception types) so it is handled as a read error."""

    def __init__(self, f: BinaryIO):
        self._f = f

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except READ_ERRORS:
            raise
        except Exception as e:  # noqa: BLE001
            raise OSError(f"{type(e).__name__}: {e}") from e

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "GuardedFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def guarded_open(open_file: Callable[[str], BinaryIO], path: str) -> GuardedFile:
    """``open_file(path)`` as a GuardedFile; a failure to open is an OSError too."""
    try:
        return GuardedFile(open_file(path))
    except READ_ERRORS:
        raise
    except Exception as e:  # noqa: BLE001 - a filesystem client's own error type
        raise OSError(f"{type(e).__name__}: {e}") from e
