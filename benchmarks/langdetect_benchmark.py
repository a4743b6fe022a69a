"""langdetect 1.0.9 (seed 0) against c4forge.cleaning_rules.langdetect_exact, same run.

    python benchmarks/langdetect_benchmark.py [--wet PATH] [--limit N] [--repeat R] [--cpu K]

Pages: every page of the WET file (default: the shared real-web dev file) as read by the
pipeline ("raw"), and each page after C4's line cleaning ("cleaned": the text C4 passes to
langdetect). The process is pinned to one core (--cpu, default the first one allowed).
For each set it times, page by page:

* langdetect: ``langdetect.detect_langs`` with ``DetectorFactory.seed = 0`` (as TFDS);
* exact, cold: ``langdetect_exact.detect_langs`` with its per-word n-gram cache emptied
  first (the cost of a process's first pages);
* exact, warm: the same pages again (the cache then holds the set's words; a long run
  sits between the two, nearer warm as common words dominate).

Each is the best of --repeat passes, as CPU time (process_time) and wall time. The results
(full (lang, prob) lists, exceptions included) are compared page by page; the script exits
1 on any difference.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"


def load_texts(wet: Path, limit: int | None) -> dict[str, list[str]]:
    from c4forge.cleaning_rules import lines
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
    from c4forge.pipeline.sources import read_wet_pages

    pages = list(read_wet_pages(str(wet), C4_EN_3_1_0, collections.Counter()))[:limit]
    cleaned = []
    for page in pages:
        out = lines.clean_page(page, lines.CleaningRules(), collections.Counter())
        if out is not None:
            cleaned.append(out.text)
    return {"cleaned": cleaned, "raw": [p.text for p in pages]}


def reference_results(texts):
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    langdetect.DetectorFactory.seed = 0
    out = []
    for text in texts:
        try:
            out.append([(x.lang, x.prob) for x in langdetect.detect_langs(text)])
        except LangDetectException:
            out.append("LangDetectException")
    return out


def exact_results(texts):
    from langdetect.lang_detect_exception import LangDetectException

    from c4forge.cleaning_rules import langdetect_exact

    out = []
    for text in texts:
        try:
            out.append(langdetect_exact.detect_langs(text))
        except LangDetectException:
            out.append("LangDetectException")
    return out


def timed(fn, texts, repeat: int, before=None):
    best_cpu = best_wall = float("inf")
    result = None
    for _ in range(repeat):
        if before is not None:
            before()
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn(texts)
        c1, w1 = time.process_time(), time.perf_counter()
        best_cpu, best_wall = min(best_cpu, c1 - c0), min(best_wall, w1 - w0)
    n = max(len(texts), 1)
    return result, best_cpu / n * 1e3, best_wall / n * 1e3


def clear_cache():
    from c4forge.cleaning_rules import langdetect_exact

    langdetect_exact.clear_caches()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wet", type=Path, default=REALWEB_WET)
    ap.add_argument("--limit", type=int, default=None, help="first N pages only")
    ap.add_argument("--repeat", type=int, default=1, help="passes per measurement (best kept)")
    ap.add_argument("--cpu", type=int, default=None, help="core to pin to")
    args = ap.parse_args(argv)
    if not args.wet.is_file():
        sys.exit(f"{args.wet} is absent (pass --wet)")
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        print(f"pinned to cpu {cpu}")

    import langdetect

    from c4forge.cleaning_rules import langdetect_exact

    t0 = time.perf_counter()
    langdetect.DetectorFactory.seed = 0
    langdetect.detector_factory.init_factory()
    t1 = time.perf_counter()
    langdetect_exact.detect_top("warm up")
    t2 = time.perf_counter()
    print(f"profile load: langdetect {t1 - t0:.2f} s, exact {t2 - t1:.2f} s")
    print(f"python {sys.version.split()[0]}, exact backend: {langdetect_exact.backend()}")

    sets = load_texts(args.wet, args.limit)
    failed = False
    print(f"{'set':8} {'pages':>5} {'langdetect ms':>14} {'exact cold ms':>14} {'exact warm ms':>14}"
          f" {'x cold':>7} {'x warm':>7} {'agree':>9}   (ms/page, CPU time; wall in brackets)")
    for name, texts in sets.items():
        ref, ref_cpu, ref_wall = timed(reference_results, texts, args.repeat)
        cold, cold_cpu, cold_wall = timed(exact_results, texts, args.repeat, before=clear_cache)
        warm, warm_cpu, warm_wall = timed(exact_results, texts, args.repeat)
        agree = sum(a == b == c for a, b, c in zip(ref, cold, warm))
        failed |= agree != len(texts)
        print(f"{name:8} {len(texts):5d} {ref_cpu:8.3f} [{ref_wall:6.3f}] {cold_cpu:6.3f} [{cold_wall:6.3f}]"
              f" {warm_cpu:6.3f} [{warm_wall:6.3f}] {ref_cpu / cold_cpu:7.1f} {ref_cpu / warm_cpu:7.1f}"
              f" {agree:4d}/{len(texts):<4d}")
        verdicts = collections.Counter(
            "exception" if isinstance(r, str) else (r[0][0] if r else "none") for r in ref)
        print(f"         top languages: {dict(verdicts.most_common(8))}")
    if failed:
        print("DISAGREEMENT between langdetect and langdetect_exact")
        return 1
    print("100% agreement: identical (lang, prob) lists for every page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
