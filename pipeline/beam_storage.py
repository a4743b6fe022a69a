"""A corpus ``Storage`` over Beam's ``FileSystems``, for Beam jobs: the workers read the corpus
with the filesystems the job has (Beam's own GCS and S3 ones on Dataflow, where fsspec's
gcsfs/s3fs may not be installed), and tests read a Beam-only fake object store."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import BinaryIO, Iterable

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from c4forge.corpus.storage import Storage, is_url, split_url, storage_for


def beam_reads(path: str) -> bool:
    """Whether Beam has a filesystem for ``path``'s scheme (gs://, s3:// with their extras)."""
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        return False
    return True


def worker_storage(path: str | os.PathLike) -> Storage:
    """The storage a Beam job's workers read the corpus at ``path`` with, the same in every
    job (``tokenize.py``, ``vocab_sampling.py``): Beam's filesystems for a URL Beam reads (on
    Dataflow the workers have Beam's GCS and S3 ones, not gcsfs/s3fs); otherwise what c4forge
    reads it with anywhere (``storage_for``: local files, or fsspec for a URL Beam has no
    filesystem for, such as memory://)."""
    if is_url(path) and beam_reads(path):
        return BeamStorage()
    return storage_for(path)


class BeamStorage:
    def open(self, path: str) -> BinaryIO:
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)

    def is_file(self, path: str) -> bool:
        if not is_url(path):
            return os.path.isfile(path)
        return bool(self._metadata(path))

    def size(self, path: str) -> int:
        found = self._metadata(path)
        if not found:
            raise FileNotFoundError(path)
        return found[0].size_in_bytes

    def _metadata(self, path: str) -> list:
        try:
            (result,) = FileSystems.match([path])
        except Exception:  # noqa: BLE001 - Beam raises BeamIOError for nothing matched
            return []
        return [m for m in result.metadata_list if m.path == path]

    def join(self, base: str, *parts: str) -> str:
        return FileSystems.join(base, *parts) if parts else base

    def parent(self, path: str) -> str:
        if not is_url(path):
            return str(Path(path).parent)
        scheme, rest = split_url(path)
        head = posixpath.dirname(rest.rstrip("/"))
        return f"{scheme}://{head}" if head else f"{scheme}://{rest.rstrip('/')}"

    def canonical(self, path: str) -> str:
        if not is_url(path):
            return str(Path(path).resolve())
        scheme, rest = split_url(path)
        return f"{scheme}://{posixpath.normpath(rest).lstrip('/')}"

    def any_match(self, base: str, patterns: Iterable[str]) -> bool:
        for pattern in patterns:
            try:
                (result,) = FileSystems.match([self.join(base, pattern)])
            except Exception:  # noqa: BLE001 - nothing matched
                continue
            if result.metadata_list:
                return True
        return False
