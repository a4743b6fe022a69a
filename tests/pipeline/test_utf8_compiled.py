"""The compiled UTF-8 check (pipeline/records/utf8_compiled.c) against Python's strict decoder:
the same verdict and the same offset of the first invalid sequence, whatever the pieces."""

from __future__ import annotations

import random

import pytest

from c4forge.pipeline.records import utf8

pytestmark = pytest.mark.skipif(utf8.utf8_compiled is None,
                                reason="the compiled UTF-8 check is not built in this install (no C compiler at pip install)")


def first_invalid(pieces, validator) -> object:
    pos = 0
    for piece in pieces:
        bad_at = validator.feed(piece, pos)
        if bad_at is not None:
            return bad_at
        pos += len(piece)
    return validator.end()


def both(data: bytes, cuts=()):
    bounds = [0, *sorted(set(cuts)), len(data)]
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    return first_invalid(pieces, utf8._CompiledUtf8()), first_invalid(pieces, utf8._DecoderUtf8())


def test_every_sequence_of_up_to_two_bytes_and_every_lead_of_longer_ones():
    tails = [b"", b"a", b"\x80", b"\xbf", b"\x80\x80", b"\x8f\x80", b"\x90\x80", b"\x9f\xbf", b"\xa0\x80", b"\xc0"]
    for first in range(256):
        for second in range(256):
            for tail in (tails if first >= 0xE0 else [b""]):
                data = bytes([first, second]) + tail
                for cut in range(len(data)):
                    compiled, decoder = both(b"ok" + data + b"z", [cut + 2])
                    assert compiled == decoder, (data, cut)


def test_random_bytes_in_random_pieces():
    rng = random.Random(0)
    valid = [c.encode() for c in "a\u00e9\u20ac\U00010348\u07ff\ud7ff\ue000\uffff\U0010ffff\U00010000"]
    for _ in range(30000):
        data = b"".join(rng.choice(valid) if rng.random() < 0.6 else bytes([rng.randrange(256)])
                        for _ in range(rng.randint(0, 12))) + b"abcdefghij" * rng.randint(0, 2)
        cuts = rng.sample(range(1, len(data)), min(max(len(data) - 1, 0), rng.randint(0, 4)))
        compiled, decoder = both(data, cuts)
        assert compiled == decoder, (data, cuts)


def test_long_ascii_runs_around_invalid_bytes():
    for at in range(0, 40):
        data = b"x" * at + b"\xff" + b"y" * 20
        assert both(data) == (at, at)
        assert both(data, [at // 2 + 1]) == (at, at)
    assert both("caf\u00e9".encode() * 100) == (None, None)
    assert both("caf\u00e9".encode()[:-1]) == (3, 3)  # cut by the end of the stream


def test_check_utf8_gives_the_same_check_either_way(tmp_path, monkeypatch):
    import gzip

    for name, text in [("valid", "caf\u00e9 \U0001f600 " * 50000), ("invalid", None)]:
        data = text.encode() if text else b"WARC/1.0\r\n" + b"ok " * 400000 + b"\xed\xa0\x80 bad"
        path = tmp_path / f"{name}.gz"
        path.write_bytes(gzip.compress(data, mtime=0))
        compiled = utf8.check_utf8(lambda: open(path, "rb"))
        monkeypatch.setattr(utf8, "utf8_compiled", None)
        assert utf8.check_utf8(lambda: open(path, "rb")) == compiled
        monkeypatch.undo()
        assert (compiled.bad_at is None) is (text is not None)
