"""Test-only views of the record layer: what the tests compare the fast paths against."""

from __future__ import annotations

from typing import BinaryIO, Callable, Iterator, Optional

from c4forge.pipeline.records.body_lines import iter_body_blocks
from c4forge.pipeline.records.utf8 import check_utf8


def first_invalid_utf8(open_file: Callable[[], BinaryIO]) -> Optional[int]:
    """Decompressed byte offset of the first invalid UTF-8 sequence, or None. Read errors
    (truncated gzip) end the check silently: the record reader reports them with their
    record.
    """
    return check_utf8(open_file).bad_at


def iter_body_lines(stream: BinaryIO, max_line_chars: int, errors: str = "strict") -> Iterator[str]:
    """A record body as text lines split at universal newlines, decoded incrementally:
    the lines of ``iter_body_blocks``, one by one.

    Same lines as ``split_universal_lines(whole_body)`` (a ``\\r\\n`` split across two
    reads is one line end), except for lines over ``2 * max_line_chars`` characters: they
    may come stripped, and one whose stripped length exceeds ``max_line_chars`` comes as a
    ``LineBuffer`` stand-in. Downstream strips every line, so only memory differs.
    """
    for block in iter_body_blocks(stream, max_line_chars, errors):
        yield from block.split("\n")
