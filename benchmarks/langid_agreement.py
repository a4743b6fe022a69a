"""How far `--langid cld3` moves C4's English filter: agreement with langdetect, and speed.

    python benchmarks/langid_agreement.py [--input WET ...] [--no-realweb]
        [--reference-pages 200] [--show 5]

Pages: those that reach the English filter of c4-en-3.1.0 (read, URL dedup, line cleaning,
line dedup: the graph's pure functions in its order), from the shared real-web WET file
and from each --input (e.g. a generated segment of benchmarks/make_segment.py). Per set:

* keep/drop agreement of ``language.detect_english_cld3`` (the --langid cld3 rule) with C4's
  langdetect rule, as a count and a percentage, and the confusion table (both keep, only
  langdetect keeps, only CLD3 keeps, both drop);
* the same agreement for other CLD3 thresholds (how CLD3_EN_MIN_PROBABILITY was chosen);
* agreement of the top language, on pages where both name one (CLD3 codes mapped to
  langdetect's: zh-cn/zh-tw → zh, he → iw, tl → fil);
* CPU seconds per 1,000 pages (process_time, models loaded first) of exact langdetect
  (``language.detect_english_batch``, batches of 512 as the graph, per-word caches empty at
  the start of each set), langdetect 1.0.9 itself on the first --reference-pages pages, and
  CLD3; as ratios to CLD3.

Runs gcld3 (the c4forge[mc4] extra); imports no TensorFlow (the two cannot share a process).
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
THRESHOLDS = (0.0, 0.7, 0.9, 0.95, 0.97, 0.99)  # 0.0: CLD3's own is_reliable only
BATCH_SIZE = 512  # DetectEnglish's
LANGDETECT_TO_CLD3 = {"zh-cn": "zh", "zh-tw": "zh", "he": "iw", "tl": "fil"}


def pages_reaching_english_filter(path: Path) -> list:
    """c4-en-3.1.0's rule chain up to the English filter, in memory."""
    from c4forge.cleaning_rules import chain
    from c4forge.cleaning_rules.profiles import C4_EN_3_1_0 as profile
    from c4forge.pipeline.readers import read_wet_pages

    counts = collections.Counter()
    pages = list(read_wet_pages(str(path), profile, counts))
    for stage in chain.rule_chain(profile, badwords=None).stages:
        if isinstance(stage, chain.DetectEnglish):
            break
        if isinstance(stage, chain.PageStage):
            stage.setup()
        pages = chain.run_stage_in_memory(stage, pages, counts)
    return sorted(pages, key=lambda p: p.url)


def cpu_seconds(fn):
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def measure(name: str, pages: list, reference_pages: int, show: int) -> None:
    from langdetect_benchmark import reference_results  # a sibling script: langdetect 1.0.9 itself

    from c4forge.cleaning_rules import language
    from c4forge.cleaning_rules.language import langdetect_exact

    texts = [p.text for p in pages]
    identify = language.cld3_identifier()
    language.detect_english_batch(pages[:5], collections.Counter())  # load the models
    identify(texts[0])
    reference_results(texts[:1])
    # Exact langdetect caches per-word n-grams; start each set cold (a worker's first pages:
    # exact's least favourable case), so one set's words do not speed up the next.
    langdetect_exact.clear_caches()

    def exact_english_filter():
        return [e for i in range(0, len(pages), BATCH_SIZE)
                for e in language.detect_english_batch(pages[i:i + BATCH_SIZE], collections.Counter())]

    exact_s, exact_kept = cpu_seconds(exact_english_filter)
    sample = texts[:reference_pages]
    reference_s, _ = cpu_seconds(lambda: reference_results(sample))
    cld3_s, cld3_results = cpu_seconds(lambda: [identify(t) for t in texts])

    langdetect_tops = langdetect_exact.detect_top_many(texts)
    ld_keep = [e is not None for e in exact_kept]

    print(f"\n== {name}: {len(pages):,} pages reach the English filter; langdetect keeps {sum(ld_keep):,}")
    print("keep/drop agreement with langdetect, by CLD3 rule (en, reliable, p >= threshold):")
    for threshold in THRESHOLDS:
        keep = [language.detect_english_cld3(p, lambda _t, r=r: r, collections.Counter(), threshold) is not None
                for p, r in zip(pages, cld3_results)]
        same = sum(a == b for a, b in zip(ld_keep, keep))
        marker = "  <- --langid cld3" if threshold == language.CLD3_EN_MIN_PROBABILITY else ""
        print(f"  p >= {threshold:<5} cld3 keeps {sum(keep):>6,}  agree {same:>6,}/{len(pages):,} "
              f"({100 * same / len(pages):.2f}%){marker}")

    counters = collections.Counter()
    cld3_keep = [language.detect_english_cld3(p, lambda _t, r=r: r, counters) is not None
                 for p, r in zip(pages, cld3_results)]
    table = collections.Counter(zip(ld_keep, cld3_keep))
    same = table[True, True] + table[False, False]
    print(f"--langid cld3 (p >= {language.CLD3_EN_MIN_PROBABILITY}): agreement {same:,}/{len(pages):,} "
          f"({100 * same / len(pages):.2f}%)")
    print(f"  both keep {table[True, True]:,}   only langdetect keeps {table[True, False]:,}   "
          f"only cld3 keeps {table[False, True]:,}   both drop {table[False, False]:,}")
    print("  cld3 counters: " + ", ".join(f"{k.split('/', 1)[1]} {v:,}" for k, v in sorted(counters.items())
                                          if not k.startswith("chars/") and "ignored_language-" not in k))

    named = [(LANGDETECT_TO_CLD3.get(lang, lang), r.language) for (lang, _, verdict), r
             in zip(langdetect_tops, cld3_results) if verdict == "ok" and r.language != "und"]
    same_top = sum(a == b for a, b in named)
    print(f"top language agreement: {same_top:,}/{len(named):,} ({100 * same_top / max(len(named), 1):.2f}%) "
          f"of pages both name a language; most common disagreements (langdetect->cld3): "
          + ", ".join(f"{a}->{b} {n}" for (a, b), n in collections.Counter(x for x in named if x[0] != x[1])
                      .most_common(5)))

    def per_1k(seconds, n):
        return 1000 * seconds / max(n, 1)

    cld3_1k = per_1k(cld3_s, len(texts))
    print("CPU seconds per 1,000 pages (ratio to cld3):")
    for label, seconds, n in (("langdetect exact (detect_english_batch)", exact_s, len(texts)),
                              (f"langdetect 1.0.9 (first {len(sample)} pages)", reference_s, len(sample)),
                              ("cld3 (gcld3)", cld3_s, len(texts))):
        print(f"  {label:<42} {per_1k(seconds, n):8.2f}  x{per_1k(seconds, n) / cld3_1k:.2f}")

    disagreements = [(p, ld, r) for p, ld, c, r in zip(pages, ld_keep, cld3_keep, cld3_results) if ld != c]
    for p, ld, r in disagreements[:show]:
        lang, prob, _ = language.langdetect_top(p.text)
        print(f"  {'langdetect' if ld else 'cld3'} keeps {p.url}: langdetect {lang} {prob:.3f}, "
              f"cld3 {r.language} {r.probability:.3f}{'' if r.is_reliable else ' (unreliable)'}: "
              f"{p.text[:90]!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", default=[], type=Path, help="more WET files, one set each")
    parser.add_argument("--no-realweb", action="store_true", help="skip the shared real-web file")
    parser.add_argument("--reference-pages", type=int, default=200,
                        help="pages timed with langdetect 1.0.9 itself (slow) (default %(default)s)")
    parser.add_argument("--show", type=int, default=5, help="disagreements printed per set")
    args = parser.parse_args(argv)
    inputs = ([] if args.no_realweb else [REALWEB_WET]) + args.input
    for path in inputs:
        measure(path.name, pages_reaching_english_filter(path), args.reference_pages, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
