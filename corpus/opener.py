"""How readers open files: local paths by default; callers pass another opener (e.g. Beam's
``FileSystems.open``) for other filesystems."""

from __future__ import annotations

from typing import BinaryIO, Callable

Opener = Callable[[str], BinaryIO]


def open_local(path: str) -> BinaryIO:
    return open(path, "rb")
