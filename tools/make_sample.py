"""Cuts the real-web sample that ships in the package (pipeline/sample/) from ../shared.

    python tools/make_sample.py [--shared ../shared] [--output pipeline/sample]

Reads ``data/realweb/realweb-dev.warc.wet.gz`` (conversion records) and
``realweb-dev.warc.gz`` (the same pages' response records, in the same order) and writes
``realweb-sample.warc.wet.gz`` and ``realweb-sample.warc.gz``:

* the first member of each (its warcinfo record), then
* the first ``PAGES`` pages, in file order, whose response record is at most
  ``MAX_RESPONSE_GZIP_BYTES`` gzipped: the cap keeps the package a few MB (a page's HTML is
  ~20 KB gzipped at the median, its text ~4 KB); the file's order is already mixed, so
  the sample keeps its mix of sites, languages and URL-variant recaptures.

Records are copied as they are, byte for byte, one gzip member per record, as Common
Crawl writes them. Deterministic: the same shared files give the same bytes. Prints each
output's path, records, size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUTPUT = REPO / "pipeline" / "sample"
SOURCES = {"wet": "data/realweb/realweb-dev.warc.wet.gz", "warc": "data/realweb/realweb-dev.warc.gz"}
OUTPUT_NAMES = {"wet": "realweb-sample.warc.wet.gz", "warc": "realweb-sample.warc.gz"}
PAGES = 300
MAX_RESPONSE_GZIP_BYTES = 15_000


def gzip_members(data: bytes) -> list[bytes]:
    """The file's gzip members, each as its own bytes (Common Crawl: one record per member)."""
    members, start = [], 0
    while start < len(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(data[start:])
        if not inflater.eof:
            raise ValueError(f"truncated gzip member at byte {start}")
        end = len(data) - len(inflater.unused_data)
        members.append(data[start:end])
        start = end
    return members


def warc_headers(member: bytes) -> dict[str, str]:
    head = zlib.decompress(member, zlib.MAX_WBITS | 16).split(b"\r\n\r\n", 1)[0].decode("utf-8")
    lines = head.split("\r\n")
    if not lines[0].startswith("WARC/"):
        raise ValueError(f"not a WARC record: {lines[0][:40]!r}")
    return dict(line.split(": ", 1) for line in lines[1:] if ": " in line)


def check_pairs(wet: list[bytes], warc: list[bytes]) -> None:
    """The two files must hold the same pages in the same order: conversion i refers to response i."""
    for name, members, kind in (("WET", wet, "conversion"), ("WARC", warc, "response")):
        if warc_headers(members[0])["WARC-Type"] != "warcinfo":
            raise ValueError(f"the {name} file does not start with a warcinfo record")
        if any(warc_headers(m)["WARC-Type"] != kind for m in members[1:]):
            raise ValueError(f"the {name} file holds records other than {kind} records after its warcinfo")
    if len(wet) != len(warc):
        raise ValueError(f"{len(wet)} WET members but {len(warc)} WARC members")
    for conversion, response in zip(wet[1:], warc[1:]):
        if warc_headers(conversion)["WARC-Refers-To"] != warc_headers(response)["WARC-Record-ID"]:
            raise ValueError(f"WET and WARC records out of step at {warc_headers(conversion)['WARC-Target-URI']}")


def chosen_pages(warc: list[bytes], pages: int, max_bytes: int) -> list[int]:
    """Member numbers (warcinfo is 0) of the first ``pages`` responses of at most ``max_bytes``."""
    small = [i for i, member in enumerate(warc) if i > 0 and len(member) <= max_bytes]
    if len(small) < pages:
        raise ValueError(f"only {len(small)} pages are at most {max_bytes} bytes gzipped; {pages} wanted")
    return small[:pages]


def cut(shared: Path, output: Path, pages: int = PAGES, max_bytes: int = MAX_RESPONSE_GZIP_BYTES) -> dict[str, Path]:
    members = {kind: gzip_members((shared / source).read_bytes()) for kind, source in SOURCES.items()}
    check_pairs(members["wet"], members["warc"])
    keep = [0, *chosen_pages(members["warc"], pages, max_bytes)]
    output.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, name in OUTPUT_NAMES.items():
        written[kind] = output / name
        written[kind].write_bytes(b"".join(members[kind][i] for i in keep))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared folder (default %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default %(default)s)")
    args = parser.parse_args()
    for path in cut(args.shared, args.output).values():
        data = path.read_bytes()
        print(f"{path}: {len(gzip_members(data))} records, {len(data)} bytes, "
              f"sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
