"""A record body as text lines, decoded a read at a time, in bounded memory.

Bodies are read in ``CHUNK_BYTES`` pieces, and an over-long line is replaced by a
stand-in (``LineBuffer``), so memory does not grow with record size. The lines are handed
on in blocks (``iter_body_blocks``), not one by one: per-line Python work was most of the
cost of reading a WET file.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, Iterator, Optional

from c4forge.cleaning_rules.wet import universal_newlines_to_lf

CHUNK_BYTES = 1 << 20


class LineBuffer:
    """One unterminated line, held in bounded memory.

    Downstream only the stripped line matters, and a stripped line longer than
    ``max_chars`` makes its page too long (dropped). So a line is held whole only while it
    could still be shorter than that; otherwise it becomes a stand-in with the same start
    (prefix rules still see it) and a stripped length of ``max_chars + 1``.
    """

    def __init__(self, max_chars: int):
        self._max = max_chars
        self._reset()

    def _reset(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._after_long_gap = False  # a whitespace run > max_chars follows the content
        self._stand_in: Optional[str] = None

    def add(self, piece: str) -> None:
        if self._stand_in is not None or not piece:
            return
        if self._after_long_gap:
            if piece.strip():  # content after the gap: longer than any page may be
                self._stand_in = self._make_stand_in("".join(self._parts))
            return
        self._parts.append(piece)
        self._size += len(piece)
        if self._size > 2 * self._max + 2:
            self._compact()

    def _compact(self) -> None:
        line = "".join(self._parts).lstrip()
        core = line.rstrip()
        if len(core) > self._max:
            self._stand_in = self._make_stand_in(core)
        elif len(line) - len(core) > self._max:
            self._parts, self._size, self._after_long_gap = [core], len(core), True
        else:
            self._parts, self._size = [line], len(line)

    def _make_stand_in(self, content: str) -> str:
        return (content + " " * self._max)[: self._max] + "\x00"  # NUL is not whitespace

    @property
    def holds_text(self) -> bool:
        return bool(self._parts) or self._stand_in is not None

    def take(self) -> str:
        line = self._stand_in if self._stand_in is not None else "".join(self._parts)
        self._reset()
        return line


def iter_body_blocks(stream: BinaryIO, max_line_chars: int, errors: str = "strict") -> Iterator[str]:
    """A record body as text lines split at universal newlines, decoded incrementally, in
    blocks: each block is consecutive lines joined with ``\\n``.

    The lines are those of ``split_universal_lines(whole_body)`` (a ``\\r\\n`` split across
    two reads is one line end), except for lines over ``2 * max_line_chars`` characters:
    they may come stripped, and one whose stripped length exceeds ``max_line_chars`` comes
    as a ``LineBuffer`` stand-in. Downstream strips every line, so only memory differs.

    A block holds the lines each read of ``CHUNK_BYTES`` completes, the last line joining
    the last block (a body of ordinary size is one block). Lines are not split apart here:
    the assembler takes a block as one text, and most blocks never need splitting.

    The block of a short read is handed on once the next read has succeeded (the last
    line may join it); when that read fails, it is handed on first, so an error comes
    after the same lines as when they are handed on one by one."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    buffer = LineBuffer(max_line_chars)
    long_line = 2 * max_line_chars + 2  # a longer line must go through the buffer (see there)
    carried_cr = False
    ready: Optional[str] = None  # complete lines of a short read, not handed on yet
    while True:
        try:
            chunk = stream.read(CHUNK_BYTES)
            text = decoder.decode(chunk, final=not chunk)
        except Exception:
            if ready is not None:
                yield ready
            raise
        if carried_cr:
            text, carried_cr = "\r" + text, False
        if chunk and text.endswith("\r"):  # may be the first half of "\r\n"
            text, carried_cr = text[:-1], True
        text = universal_newlines_to_lf(text)
        end = text.rfind("\n")
        if end >= 0:
            unfinished = text[end + 1:]
            if buffer.holds_text:  # the line an earlier read left unfinished ends here
                first_end = text.find("\n")
                buffer.add(text[:first_end])
                block = buffer.take() + text[first_end:end]
            else:
                block = text[:end]
            if len(block) > long_line and _may_hold_line_of(block, long_line + 1):
                lines = block.split("\n")
                for i, line in enumerate(lines):
                    if len(line) > long_line:
                        buffer.add(line)
                        lines[i] = buffer.take()
                block = "\n".join(lines)
            if ready is not None:
                yield ready
                ready = None
            if len(chunk) < CHUNK_BYTES:
                ready = block
            else:  # more is likely to follow: no use holding it (bounded memory)
                yield block
        else:
            unfinished = text
        buffer.add(unfinished)
        if not chunk:
            last = buffer.take()
            yield last if ready is None else ready + "\n" + last
            return


def whole_body_blocks(body: bytes, max_line_chars: int) -> Iterator[str]:
    """``iter_body_blocks`` of a body held whole in memory (a plain record's): a body that
    one read takes, valid UTF-8 and with no line long enough for the stand-in, is one block,
    decoded in one call; any other goes through ``iter_body_blocks``. (One ending in ``\\r``
    too: the reader holds that ``\\r`` back for a ``\\n`` and hands it on as a block of its own.)"""
    if len(body) < CHUNK_BYTES and not body.endswith(b"\r"):
        try:
            text = universal_newlines_to_lf(body.decode("utf-8"))
        except UnicodeDecodeError:
            text = None  # iter_body_blocks hands on the lines before the error, then raises
        long_line = 2 * max_line_chars + 2
        if text is not None and (len(text) <= long_line or not _may_hold_line_of(text, long_line + 1)):
            yield text
            return
    yield from iter_body_blocks(io.BytesIO(body), max_line_chars)


def _may_hold_line_of(text: str, length: int) -> bool:
    """False when ``text`` surely has no line of ``length`` characters or more: every
    stretch of ``(length + 1) // 2`` characters starting at a multiple of it has a newline
    (a line that long holds one such stretch whole)."""
    run = (length + 1) // 2
    return any(text.find("\n", i, i + run) < 0 for i in range(0, len(text) - run + 1, run))
