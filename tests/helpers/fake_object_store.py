"""``fakeobj://bucket/key``: a Beam filesystem that behaves like an object store (gs://, s3://),
kept in a local folder, for testing what a build does where there are no folders and no rename.

Objects only: ``exists`` is true for objects, not for "folders"; listing is by key prefix; a
rename is a copy, then a delete (as Beam's GCS and S3 filesystems do it). Defining the class
registers it with Beam (Beam finds filesystems among FileSystem's subclasses); the objects live
under ``FakeObjectStore.root``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

SCHEME = "fakeobj"
PREFIX = SCHEME + "://"


class FakeObjectStore(LocalFileSystem):
    root: Path = Path("/nonexistent")

    @classmethod
    def scheme(cls):
        return SCHEME

    @classmethod
    def local(cls, url: str) -> str:
        return str(cls.root / url[len(PREFIX):])

    @classmethod
    def url(cls, local: str) -> str:
        return PREFIX + os.path.relpath(local, cls.root).replace(os.sep, "/")

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path):
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def has_dirs(self):
        return False

    def mkdirs(self, path):
        pass  # no folders in an object store

    def _list(self, prefix):
        base = self.local(prefix)
        start = base if os.path.isdir(base) else os.path.dirname(base)
        for directory, _, names in os.walk(start):
            for name in names:
                local = os.path.join(directory, name)
                if local.startswith(base):
                    yield FileMetadata(self.url(local), os.path.getsize(local), os.path.getmtime(local))

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return super().create(self.local(path), mime_type, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return super().open(self.local(path), mime_type, compression_type)

    def copy(self, source_file_names, destination_file_names):
        for source, destination in zip(source_file_names, destination_file_names):
            os.makedirs(os.path.dirname(self.local(destination)), exist_ok=True)
            shutil.copyfile(self.local(source), self.local(destination))

    def rename(self, source_file_names, destination_file_names):
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def exists(self, path):
        return os.path.isfile(self.local(path))

    def size(self, path):
        return os.path.getsize(self.local(path))

    def last_updated(self, path):
        return os.path.getmtime(self.local(path))

    def checksum(self, path):
        return str(self.size(path))

    def metadata(self, path):
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths):
        for path in paths:
            local = self.local(path)
            if os.path.isdir(local):  # a "folder" is every object under the prefix
                shutil.rmtree(local)
            else:
                os.unlink(local)
            self._remove_empty_parents(os.path.dirname(local))

    def _remove_empty_parents(self, directory: str) -> None:
        """Object stores have no folders: none is left once its last object is gone."""
        while directory.startswith(str(self.root)) and directory != str(self.root) and not os.listdir(directory):
            os.rmdir(directory)
            directory = os.path.dirname(directory)
