"""HTML extraction throughput per core for ``--input-format warc``.

    python benchmarks/warc_extraction_benchmark.py [--warc ../shared/data/realweb/realweb-dev.warc.gz]
        [--extractors resiliparse trafilatura] [--repeat 3]

One process, one thread (pin it with ``taskset -c 0`` for a clean per-core number). Three
timings per extractor:

- ``extract``: charset decoding + text extraction on payloads already in memory;
- ``reader``: the whole reader (``readers.read_warc_pages``: gunzip, WARC and HTTP
  parsing, decoding, extraction, page building) on the file;
- the WET reader on the matching ``.warc.wet.gz`` (when present) for comparison.
"""

from __future__ import annotations

import argparse
import io
import time
from collections import Counter
from pathlib import Path

from c4forge.cleaning_rules import html_text
from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
from c4forge.pipeline import readers
from c4forge.pipeline.readers import warc as warc_reader

DEFAULT_WARC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "realweb" / "realweb-dev.warc.gz"


def load_payloads(path: Path) -> list[tuple[bytes, str]]:
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(path, "rb") as f:
        for r in ArchiveIterator(f, no_record_parse=True):
            if r.rec_type != "response":
                continue
            block = io.BytesIO(r.content_stream().read())
            http = warc_reader.HTTP_PARSER.parse(block)
            out.append((block.read(), http.get_header("Content-Type") or ""))
    return out


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warc", type=Path, default=DEFAULT_WARC)
    ap.add_argument("--extractors", nargs="+", default=list(html_text.EXTRACTORS))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    payloads = load_payloads(args.warc)
    html_mb = sum(len(b) for b, _ in payloads) / 1e6
    file_mb = args.warc.stat().st_size / 1e6
    print(f"{args.warc.name}: {len(payloads)} HTML responses, {html_mb:.1f} MB of HTML, {file_mb:.1f} MB gzipped")
    print(f"{'extractor':<12} {'stage':<8} {'seconds':>8} {'docs/s':>8} {'HTML MB/s':>10}")
    for name in args.extractors:
        try:
            html_text.check_extractor(name)
        except (html_text.ExtractorUnavailable, ValueError) as e:
            print(f"{name:<12} skipped: {e}")
            continue

        def extract():
            for body, ctype in payloads:
                html_text.extract_text(html_text.decode_html(body, ctype)[0], name)

        def reader():
            for _ in readers.read_warc_pages(str(args.warc), C4_EN_3_1_0, Counter(), name):
                pass

        for stage, fn in (("extract", extract), ("reader", reader)):
            s = best_of(args.repeat, fn)
            print(f"{name:<12} {stage:<8} {s:>8.2f} {len(payloads) / s:>8.0f} {html_mb / s:>10.1f}")

    wet = args.warc.with_name(args.warc.name.replace(".warc.gz", ".warc.wet.gz"))
    if wet.exists():
        def wet_reader():
            for _ in readers.read_wet_pages(str(wet), C4_EN_3_1_0, Counter()):
                pass

        s = best_of(args.repeat, wet_reader)
        print(f"{'(WET file)':<12} {'reader':<8} {s:>8.2f} {len(payloads) / s:>8.0f} {'':>10}")


if __name__ == "__main__":
    main()
