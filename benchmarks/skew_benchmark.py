"""Crawl-scale skew on one machine: hot keys must not make the dedup shuffles' groups grow.

    python benchmarks/skew_benchmark.py [--records 2000] [--hot-shares 0.1,0.4]
                                        [--captures 1000,10000] [--long-page-lines 100000]
                                        [--skip-reference] [--json results.json]

A segment of ``benchmarks/make_segment.py`` is made skewed the way a crawl is:

* a boilerplate line ("Skip to main content ...") on a share of the pages (``--hot-shares``);
* one URL captured many times, at other dates (``--captures``);
* one page of ``--long-page-lines`` lines (dropped by the length cap, but read whole).

For each (hot share, captures) pair, c4forge builds the skewed file in a fresh process; the
script prints the dedup shuffles' groups from the run report (``shuffle``: the largest line
group in bytes, the largest URL group in pages; ``pipeline/dedup.py`` pre-reduces each bundle,
so neither should grow with the hot line's count or the captures) and the build's peak RSS.
For the first pair, the TFDS reference graph runs on the same file and the documents are
compared (the script exits 1 if they differ).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import c4_benchmark  # noqa: E402
import make_segment  # noqa: E402

HOT_LINE = "Skip to main content and accept our cookie notice to keep reading here."


def skewed_segment(source: Path, out: Path, hot_share: float, captures: int, long_page_lines: int) -> Path:
    """``source`` (a make_segment file) with the hot line, the recaptured URL and the long page."""
    records = list(make_segment.iter_wet_records(source))
    every = max(1, round(1 / hot_share)) if hot_share else 0
    with open(out, "wb") as f:
        for index, (headers, body) in enumerate(records):
            if headers.get("WARC-Type") == "conversion" and every and index % every == 0:
                body = body + b"\n" + HOT_LINE.encode()
            f.write(make_segment.gzip_member(make_segment.warc_record(_headers_of(headers, body), body)))
        first = next((h, b) for h, b in records if h.get("WARC-Type") == "conversion")
        for i in range(captures):
            headers = dict(first[0], **{"WARC-Date": f"2019-04-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:"
                                                     f"{i // 60 % 60:02d}:{i % 60:02d}Z",
                                        "WARC-Record-ID": f"<urn:uuid:{make_segment.record_id('capture', i)}>"})
            f.write(make_segment.gzip_member(make_segment.warc_record(_headers_of(headers, first[1]), first[1])))
        body = "\n".join(f"Line {i}." for i in range(long_page_lines)).encode()
        headers = dict(first[0], **{"WARC-Target-URI": "https://long.example/page",
                                    "WARC-Record-ID": f"<urn:uuid:{make_segment.record_id('long', 0)}>"})
        f.write(make_segment.gzip_member(make_segment.warc_record(_headers_of(headers, body), body)))
    return out


def _headers_of(headers: dict, body: bytes) -> list[tuple[str, str]]:
    """The record's headers for ``body`` (Content-Length is written by warc_record)."""
    fresh = dict(headers)
    fresh.pop("Content-Length", None)
    if "WARC-Block-Digest" in fresh:
        fresh["WARC-Block-Digest"] = make_segment.block_digest(body)
    return list(fresh.items())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--hot-shares", default="0.1,0.4")
    p.add_argument("--captures", default="1000,10000")
    p.add_argument("--long-page-lines", type=int, default=100_000)
    p.add_argument("--skip-reference", action="store_true")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    shares = [float(x) for x in a.hot_shares.split(",")]
    captures = [int(x) for x in a.captures.split(",")]
    base = make_segment.make_segment(a.records, log=c4_benchmark.log)
    rows, identical = [], True
    with tempfile.TemporaryDirectory(prefix="c4forge-skew-") as tmp:
        work = Path(tmp)
        for index, (share, count) in enumerate(zip(shares, captures)):
            wet = skewed_segment(base, work / f"skewed-{index}.warc.wet.gz", share, count, a.long_page_lines)
            ours = c4_benchmark.run_child("c4forge", wet, work / f"run-{index}", "")
            shuffle = ours.get("shuffle") or {}
            rows.append({"hot_share": share, "hot_pages": round(a.records * share), "captures": count,
                         "largest_line_group_bytes": shuffle.get("line-group-bytes", {}).get("largest"),
                         "largest_url_group_pages": shuffle.get("url-group-pages", {}).get("largest"),
                         "peak_rss_mb": round(ours["maxrss_mb"]), "documents": ours["documents"]})
            if index == 0 and not a.skip_reference:
                ref = c4_benchmark.run_child("reference", wet, work / "reference", "")
                report = c4_benchmark.compare_outputs(ref, ours)
                identical = report.identical
                c4_benchmark.log(f"[skew] TFDS reference vs c4forge: {'IDENTICAL' if identical else 'DIFFERENT'} "
                                 f"({ref['documents']} vs {ours['documents']} documents)")
    header = ["hot share", "hot pages", "captures", "largest line group (bytes)", "largest URL group (pages)",
              "peak RSS MB", "documents"]
    print(c4_benchmark.md_table(header, [[r["hot_share"], r["hot_pages"], r["captures"], r["largest_line_group_bytes"],
                                          r["largest_url_group_pages"], r["peak_rss_mb"], r["documents"]]
                                         for r in rows]))
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "identical": identical}, indent=1) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
