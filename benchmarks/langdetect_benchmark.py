"""langdetect 1.0.9 (seed 0) against c4forge.cleaning_rules.language.langdetect_exact, same run.

    python benchmarks/langdetect_benchmark.py [--wet PATH | --texts PICKLE] [--limit N]
        [--repeat R] [--cpu K] [--batch-sizes 64,256,512,1024] [--reference N]

Pages: every page of the WET file (default: the shared real-web dev file) as read by the
pipeline ("raw"), and each page after C4's line cleaning ("cleaned": the text C4 passes to
langdetect); or, with --texts, a pickled list of str ("texts"). The process is pinned to
one core (--cpu, default the first one allowed). For each set it times, page by page:

* langdetect: ``langdetect.detect_langs`` with ``DetectorFactory.seed = 0`` (as TFDS), on
  the first --reference pages (default: all);
* exact, cold: ``langdetect_exact.detect_langs`` with its per-word n-gram caches emptied
  first (the cost of a process's first pages);
* exact, warm: the same pages again (the cache then holds the set's words; a long run
  sits between the two, nearer warm as common words dominate);
* batch B, cold / warm: ``langdetect_exact.detect_top_many(texts, batch_size=B)``, the
  same way, for each B of --batch-sizes: on the compiled detector (langdetect_compiled.c, where
  c4forge was built with it) and on the numpy batch path.

Each is the best of --repeat passes, as CPU time (process_time) and wall time. The
results are compared page by page: exact's full (lang, prob) lists (exceptions included)
with langdetect's, and every batch result with the per-text ``detect_top`` and with
langdetect's top; the script exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
EXC = "LangDetectException"


def load_texts(wet: Path, limit: int | None) -> dict[str, list[str]]:
    from c4forge.cleaning_rules import lines
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
    from c4forge.pipeline.readers import read_wet_pages

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
            out.append(EXC)
    return out


def exact_results(texts):
    from langdetect.lang_detect_exception import LangDetectException

    from c4forge.cleaning_rules.language import langdetect_exact

    out = []
    for text in texts:
        try:
            out.append(langdetect_exact.detect_langs(text))
        except LangDetectException:
            out.append(EXC)
    return out


def top_of(result):
    """detect_top's tuple from a detect_langs result (list or EXC)."""
    if result == EXC:
        return None, 0.0, "filtered:langdetect_exception"
    if not result:
        return None, 0.0, "filtered:no_predictions"
    return result[0][0], result[0][1], "ok"


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
    from c4forge.cleaning_rules.language import langdetect_exact

    langdetect_exact.clear_caches()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wet", type=Path, default=REALWEB_WET)
    ap.add_argument("--texts", type=Path, default=None, help="a pickled list of str instead of --wet")
    ap.add_argument("--limit", type=int, default=None, help="first N pages only")
    ap.add_argument("--repeat", type=int, default=1, help="passes per measurement (best kept)")
    ap.add_argument("--cpu", type=int, default=None, help="core to pin to")
    ap.add_argument("--batch-sizes", default="64,256,512,1024", help="detect_top_many batch sizes")
    ap.add_argument("--reference", type=int, default=None, help="pages per set run by langdetect (default all)")
    args = ap.parse_args(argv)
    if args.texts is None and not args.wet.is_file():
        sys.exit(f"{args.wet} is absent (pass --wet or --texts)")
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        print(f"pinned to cpu {cpu}")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]

    import langdetect

    from c4forge.cleaning_rules.language import langdetect_exact

    t0 = time.perf_counter()
    langdetect.DetectorFactory.seed = 0
    langdetect.detector_factory.init_factory()
    t1 = time.perf_counter()
    langdetect_exact.detect_top("warm up")
    langdetect_exact.detect_top_many(["warm up", "the batch path"])
    t2 = time.perf_counter()
    print(f"profile load: langdetect {t1 - t0:.2f} s, exact {t2 - t1:.2f} s")
    print(f"python {sys.version.split()[0]}, exact backend: {langdetect_exact.backend()}, "
          f"batch path: {langdetect_exact.batch_path_problem() or 'on'}, "
          f"compiled detector: {langdetect_exact.compiled_problem() or 'on'}")
    batch_paths = (["compiled"] if langdetect_exact._compiled_on else []) + ["numpy"]

    if args.texts is not None:
        with open(args.texts, "rb") as f:
            sets = {"texts": list(pickle.load(f))[: args.limit]}
    else:
        sets = load_texts(args.wet, args.limit)
    failed = False
    print("ms/page, CPU time [wall]; x = langdetect's CPU time / this one's")
    for name, texts in sets.items():
        checked = texts[: args.reference]
        ref, ref_cpu, ref_wall = timed(reference_results, checked, args.repeat)
        cold, cold_cpu, cold_wall = timed(exact_results, texts, args.repeat, before=clear_cache)
        warm, warm_cpu, warm_wall = timed(exact_results, texts, args.repeat)
        agree = sum(a == b == c for a, b, c in zip(ref, cold, warm))
        failed |= agree != len(checked) or cold != warm
        per_text_tops = [top_of(r) for r in warm]
        print(f"{name}: {len(texts)} pages, {len(checked)} run by langdetect")
        print(f"  {'langdetect':22} {ref_cpu:8.3f} [{ref_wall:7.3f}]")
        for label, cpu, wall in (("exact per-text, cold", cold_cpu, cold_wall),
                                 ("exact per-text, warm", warm_cpu, warm_wall)):
            print(f"  {label:22} {cpu:8.3f} [{wall:7.3f}] x{ref_cpu / cpu:5.1f}")
        print(f"  agreement with langdetect: {agree}/{len(checked)} full (lang, prob) lists")
        for size, path in ((size, path) for size in batch_sizes for path in batch_paths):
            def batch(texts, size=size, compiled=path == "compiled"):
                langdetect_exact._compiled_on = compiled
                return langdetect_exact.detect_top_many(texts, batch_size=size)

            b_cold, b_cold_cpu, b_cold_wall = timed(batch, texts, args.repeat, before=clear_cache)
            b_warm, b_warm_cpu, b_warm_wall = timed(batch, texts, args.repeat)
            same = sum(a == b == c for a, b, c in zip(b_cold, b_warm, per_text_tops))
            same_ref = sum(a == top_of(r) for a, r in zip(b_warm, ref))
            failed |= same != len(texts) or same_ref != len(checked)
            print(f"  batch {size:<5d} {path:8} cold {b_cold_cpu:8.3f} [{b_cold_wall:7.3f}] x{ref_cpu / b_cold_cpu:5.1f}"
                  f"   warm {b_warm_cpu:8.3f} [{b_warm_wall:7.3f}] x{ref_cpu / b_warm_cpu:5.1f}"
                  f"   = per-text {same}/{len(texts)}, = langdetect {same_ref}/{len(checked)}")
        verdicts = collections.Counter(
            "exception" if isinstance(r, str) else (r[0][0] if r else "none") for r in ref)
        print(f"  top languages: {dict(verdicts.most_common(8))}")
    if failed:
        print("DISAGREEMENT between langdetect and langdetect_exact")
        return 1
    print("100% agreement: identical results for every page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
