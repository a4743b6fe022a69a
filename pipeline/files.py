"""Atomic file writes, listing and deletion through Beam's ``FileSystems`` (local, gs://, s3://).

Every file is written under a temporary name, ``<final name>.incomplete-<random>``, and
renamed when complete, so a failed or retried writer never leaves a partial file under the
final name; whoever owns the directory deletes the leftovers (see ``INCOMPLETE_MARK``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from typing import BinaryIO, Iterator, Sequence

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

logger = logging.getLogger(__name__)

INCOMPLETE_MARK = ".incomplete-"


def delete_quietly(paths: Sequence[str]) -> None:
    try:
        FileSystems.delete(list(paths))
    except Exception as err:  # noqa: BLE001 - cleanup must not hide the original error
        logger.warning("could not delete %s: %s", paths, err)


@contextlib.contextmanager
def atomic_create(path: str) -> Iterator[BinaryIO]:
    """A file handle that becomes ``path`` only when the block completes: a failed or
    retried writer never leaves a partial file under the final name."""
    tmp_path = f"{path}{INCOMPLETE_MARK}{uuid.uuid4().hex}"
    try:
        with FileSystems.create(tmp_path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            yield handle
    except BaseException:
        delete_quietly([tmp_path])
        raise
    if FileSystems.exists(path):  # a retry after an earlier attempt finished
        FileSystems.delete([path])
    FileSystems.rename([tmp_path], [path])


def write_file_atomically(path: str, content: bytes) -> None:
    with atomic_create(path) as handle:
        handle.write(content)


def list_files(directory: str, name_prefix: str) -> list[str]:
    pattern = FileSystems.join(directory, name_prefix + "*")
    try:
        (match,) = FileSystems.match([pattern])
    except Exception:  # noqa: BLE001 - a missing directory has nothing to list
        return []
    return [m.path for m in match.metadata_list]


def base_name(path: str) -> str:
    return path.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


def is_local(path: str) -> bool:
    return "://" not in path


def move(source: str, destination: str) -> None:
    """``source`` becomes ``destination``: an atomic rename on a local disk (parent folders
    made), Beam's rename (a copy, then a delete) on object stores."""
    if is_local(source) and is_local(destination):
        os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
        os.replace(source, destination)
    else:
        FileSystems.rename([source], [destination])
