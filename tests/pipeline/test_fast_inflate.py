"""ISA-L's inflate for the UTF-8 check (pipeline/records/gzip_members.py, utf8.py): the same
pieces as zlib on valid files, and on every broken file the verdict zlib gives (ISA-L is
trusted only with a clean pass; anything else is decided again with zlib)."""

from __future__ import annotations

import gzip
import struct
import zlib

import pytest

from c4forge.pipeline.records import gzip_members, utf8
from conftest import REALWEB_WET, SHARED

pytestmark = pytest.mark.skipif(gzip_members.FAST_INFLATE is None,
                                reason="isal is not installed (pip install isal): zlib inflates alone")

RECORD = (b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://a.example/\r\n"
          b"WARC-Date: 2019-04-18T10:00:00Z\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n")


def record(text: bytes) -> bytes:
    return gzip.compress(RECORD % (len(text), text), mtime=0)


def pieces(data: bytes, inflate) -> list:
    """Per gzip member: (its compressed offset, its decompressed offset, its data). How the
    data is cut into pieces differs between the two; each piece is at most CHUNK_BYTES."""
    import io

    members: dict = {}
    for member_at, member_out, piece in gzip_members.gunzip_chunks(io.BytesIO(data), inflate=inflate):
        assert 0 < len(piece) <= gzip_members.CHUNK_BYTES
        members.setdefault((member_at, member_out), []).append(piece)
    return [(*at, b"".join(parts)) for at, parts in members.items()]


def with_reserved_flag(member: bytes) -> bytes:
    return member[:3] + bytes([member[3] | 0x20]) + member[4:]


def with_bad_crc(member: bytes) -> bytes:
    return member[:-8] + struct.pack("<I", zlib.crc32(b"other") & 0xFFFFFFFF) + member[-4:]


def with_bad_deflate(member: bytes) -> bytes:
    return member[:12] + bytes([member[12] ^ 0xFF]) + member[13:]


GOOD = b"".join(record(f"line {i} caf\u00e9 of page {i}\n".encode() * 50) for i in range(40))
BROKEN = {
    "reserved header flag": record(b"one") + with_reserved_flag(record(b"two")) + record(b"three"),
    "data checksum": record(b"one") + with_bad_crc(record(b"two")) + record(b"three"),
    "deflate data": record(b"one") + with_bad_deflate(record(b"two " * 400)) + record(b"three"),
    "cut off": GOOD[:-5],
    "invalid UTF-8": record(b"one") + record(b"t\xffwo") + record(b"three"),
    "UTF-8 cut by a member end": record(b"one\xc3") + record(b"\xa9two"),
    "garbage after a member": record(b"one") + b"garbage",
}


def test_isal_gives_zlibs_members_and_offsets_on_valid_files():
    assert pieces(GOOD, gzip_members.FAST_INFLATE) == pieces(GOOD, zlib)
    if REALWEB_WET.is_file():
        real = REALWEB_WET.read_bytes()
        assert pieces(real, gzip_members.FAST_INFLATE) == pieces(real, zlib)


def test_isal_is_refused_a_header_zlib_refuses():
    broken = BROKEN["reserved header flag"]
    with pytest.raises(zlib.error):
        pieces(broken, zlib)
    with pytest.raises(gzip_members.FastInflateRefused):
        pieces(broken, gzip_members.FAST_INFLATE)


def check(path, monkeypatch, fast: bool):
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(utf8, "FAST_INFLATE", None)
        found = utf8.check_utf8(lambda: open(path, "rb"), find_plain=True, hold_bytes=1 << 30)
    held = None if found.held is None else (list(found.held.records), found.held.resume_at)
    error = None if found.read_error is None else (type(found.read_error), str(found.read_error))
    return found.bad_at, found.record_at, found.record_file_offset, error, found.plain, held


def spy_on_inflates(monkeypatch) -> list:
    used = []
    scan = utf8._scan

    def spying_scan(*args, **kwargs):
        used.append(kwargs.get("inflate", zlib))
        return scan(*args, **kwargs)

    monkeypatch.setattr(utf8, "_scan", spying_scan)
    return used


def test_a_valid_file_is_checked_once_with_isal(tmp_path, monkeypatch):
    path = tmp_path / "good.warc.wet.gz"
    path.write_bytes(GOOD)
    expected = check(path, monkeypatch, fast=False)
    used = spy_on_inflates(monkeypatch)
    assert check(path, monkeypatch, fast=True) == expected
    assert used == [gzip_members.FAST_INFLATE] and expected[4]  # plain, read once


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_gets_zlibs_verdict(tmp_path, monkeypatch, name):
    path = tmp_path / "broken.warc.wet.gz"
    path.write_bytes(BROKEN[name])
    expected = check(path, monkeypatch, fast=False)
    assert expected[0] is not None or expected[3] is not None  # broken indeed
    used = spy_on_inflates(monkeypatch)
    assert check(path, monkeypatch, fast=True) == expected
    assert used[0] is gzip_members.FAST_INFLATE and zlib in used  # decided again with zlib


def test_every_sample_file_gets_the_same_verdict(monkeypatch):
    samples = SHARED / "data" / "warc-samples"
    if not samples.is_dir():
        pytest.skip(f"../shared is absent (a user's machine): no {samples}")
    for path in sorted(samples.iterdir()):
        assert check(path, monkeypatch, fast=True) == check(path, monkeypatch, fast=False), path.name


class Trickle:
    """A file whose reads return a few bytes at a time: member headers cut between reads."""

    def __init__(self, data: bytes, step: int):
        self._data, self._at, self._step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        out = self._data[self._at:self._at + min(size, self._step)]
        self._at += len(out)
        return out


@pytest.mark.parametrize("step", [1, 2, 3, 5])
def test_a_header_cut_between_reads_is_still_checked(step):
    def members(data, inflate):
        found: dict = {}
        for at, out_at, piece in gzip_members.gunzip_chunks(Trickle(data, step), inflate=inflate):
            found[(at, out_at)] = found.get((at, out_at), b"") + piece
        return found

    assert members(GOOD, gzip_members.FAST_INFLATE) == members(GOOD, zlib)
    with pytest.raises(gzip_members.FastInflateRefused):
        members(BROKEN["reserved header flag"], gzip_members.FAST_INFLATE)
    with pytest.raises(gzip_members.FastInflateRefused):  # a file cut inside a member's header
        members(GOOD + GOOD[:3], gzip_members.FAST_INFLATE)


def test_randomly_corrupted_files_get_zlibs_verdict(tmp_path, monkeypatch):
    """Bit flips anywhere in a file of real-looking records (headers, deflate data, trailers)
    and cuts at random places: the check with ISA-L gives what the check with zlib gives."""
    import random

    rng = random.Random(0)
    path = tmp_path / "corrupted.warc.wet.gz"
    differing_from_good = 0
    for _ in range(400):
        data = bytearray(GOOD[:rng.randrange(len(GOOD) // 4, len(GOOD) + 1)])
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        expected = check(path, monkeypatch, fast=False)
        assert check(path, monkeypatch, fast=True) == expected, bytes(data)
        differing_from_good += expected[0] is not None or expected[3] is not None
    assert differing_from_good > 200  # most of them broken indeed
