"""Opening an input file through Beam's filesystems (local, gs://, s3://, ...)."""

from __future__ import annotations

from typing import BinaryIO


def open_input(path: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    # Gzip members are decompressed by warcio (record offsets stay file offsets).
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
