"""``c4forge build``, and the corpus arguments ``c4forge run-all`` shares with it."""

from __future__ import annotations

import argparse
from pathlib import Path

from c4forge.cleaning_rules import language
from c4forge.cleaning_rules.chain import check_langid
from c4forge.cleaning_rules.profiles import ALL_PROFILES, DEDUP_MODES, DEFAULT_PROFILE, get_profile
from c4forge.pipeline.errors import BuildError
from c4forge.pipeline.fetch import DEFAULT_BASE_URL, SOURCES, CrawlRequest, RetryPolicy, format_fetch_line

BEAM_EPILOG = ("Any other --option is passed to Beam (e.g. --runner=DataflowRunner --project=...). "
               "Default runner: FnApiRunner in-process; add --direct_running_mode=multi_processing "
               "--direct_num_workers=N for several processes.")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("build", help="build a C4 corpus from WET files (a Beam pipeline)", epilog=BEAM_EPILOG)
    add_corpus_build_arguments(p, output_help="output directory (local, gs://, s3://)")
    p.set_defaults(func=run)


def add_input_argument(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--input", action="append", required=required, metavar="PATH_DIR_OR_GLOB",
                   help="WET (or, with --input-format warc, WARC) input: local, gs://, s3://; repeatable. A file is "
                        "read whatever its name. A directory means the files under it, recursively, named "
                        "*.warc.wet.gz or *.warc.wet (WARC: *.warc.gz or *.warc); a glob keeps the files it "
                        "matches with those names and names the others in a warning. FIFOs, sockets and devices "
                        "are never opened: they are counted as skipped")


def add_profile_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(ALL_PROFILES),
                   help="which C4 to reproduce (default %(default)s; mc4-3.1.0 needs gcld3)")
    p.add_argument("--dedup", choices=DEDUP_MODES,
                   help="dedup across pages: lines (C4's code, the default), spans (three-sentence spans: the T5 "
                        "paper's wording, c4 1.0.0) or none")
    p.add_argument("--noclean", action="store_true", help="allenai en.noclean: no cleaning, dedup or bad-words filter")
    p.add_argument("--noblocklist", action="store_true", help="allenai en.noblocklist: no bad-words filter")
    p.add_argument("--wet-quirks", dest="wet_quirks", action="store_true", default=None,
                   help="TFDS's line-based WET parsing and strict per-file UTF-8 (the c4-en profiles' default)")
    p.add_argument("--no-wet-quirks", dest="wet_quirks", action="store_false",
                   help="one page per record, every body line kept, decode errors skip a record not a file")
    p.add_argument("--badwords-dir", help="another copy of the LDNOOBW lists, laid out as <commit>/<lang>, to use "
                   "instead of the pinned copy shipped with c4forge (default; also $C4FORGE_BADWORDS_DIR); either "
                   "is sha256-checked against the pins, nothing is downloaded")


def _add_input_format_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-format", choices=("wet", "warc"), default="wet",
                   help="wet: Common Crawl text records (*.warc.wet.gz); warc: HTML response records, text "
                        "extracted (*.warc.gz); uncompressed files too (*.warc.wet, *.warc)")
    p.add_argument("--html-extractor", choices=("resiliparse", "trafilatura"), default="resiliparse",
                   help="with --input-format warc: resiliparse (all visible text, like WET) or "
                        "trafilatura (main content; pip install 'c4forge[trafilatura]')")


def _add_langid_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--langid", choices=language.BACKENDS, default=language.LANGDETECT,
                   help="the English filter's language identifier: langdetect (default: C4's own, exact) or "
                        "cld3 (CLD3 via gcld3, the c4forge[mc4] extra; en, reliable, p >= "
                        f"{language.CLD3_EN_MIN_PROBABILITY}). cld3 CHANGES THE OUTPUT: it is no longer C4")


def _add_crawl_arguments(p: argparse.ArgumentParser) -> None:
    policy = RetryPolicy()
    g = p.add_argument_group("Common Crawl input (instead of --input)")
    g.add_argument("--crawl", metavar="CC-MAIN-YYYY-WW", help="read the crawl's wet.paths.gz, e.g. CC-MAIN-2019-18 "
                   "(the crawl of c4/en)")
    g.add_argument("--wet-paths", metavar="FILE", help="a copy of the crawl's wet.paths(.gz) to use instead of "
                   "fetching it (local, gs://, s3://)")
    g.add_argument("--segments", metavar="A:B", help="which lines of wet.paths (one WET file each, counted from 0): "
                   "A:B is lines A..B-1, N is line N alone, A: and : run to the end. Not Common Crawl's "
                   "segment directories")
    g.add_argument("--source", choices=SOURCES, default="https", help="https: download into --cache-dir, then "
                   "build; s3: Beam reads s3://commoncrawl directly (needs c4forge[aws] and AWS credentials) "
                   "(default %(default)s)")
    g.add_argument("--cc-base-url", default=DEFAULT_BASE_URL, help="HTTPS root of the crawl data (default %(default)s)")
    g.add_argument("--cache-dir", type=Path, help="where downloaded WET files are kept, in the bucket's layout, "
                   "once checked (gzip, and a first WARC warcinfo record; a cached file failing it is fetched again) "
                   "(default: $C4FORGE_CACHE_DIR/commoncrawl or ~/.cache/c4forge/commoncrawl)")
    g.add_argument("--fetch-attempts", type=int, default=policy.attempts,
                   help="tries per file before giving up (default %(default)s)")
    g.add_argument("--fetch-backoff", type=float, default=policy.backoff_s, metavar="SECONDS",
                   help="first retry delay, doubled per failure up to 60 s; a Retry-After header wins "
                        "(default %(default)s)")
    g.add_argument("--fetch-timeout", type=float, default=policy.timeout_s, metavar="SECONDS",
                   help="socket timeout for connecting and for each read (default %(default)s)")
    g.add_argument("--fetch-deadline", type=float, default=policy.deadline_s, metavar="SECONDS",
                   help="most time for one file, all tries and waits included, so that a server trickling bytes "
                        "cannot hold the build; bytes received are kept and resumed by the next run "
                        "(default %(default)s: one hour)")


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="tfrecord", choices=["tfrecord", "jsonl", "both"],
                   help="tfrecord: TFDS layout <output>/c4/<config>/<version>; jsonl: allenai layout "
                        "<output>/<config>/c4-<split>.NNNNN-of-NNNNN.json.gz")
    p.add_argument("--num-shards", type=int, help="shards per split (default: TFDS's rule from the data size)")
    p.add_argument("--overwrite", action="store_true", help="replace a build already in --output")


def _add_sample_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", action="store_true",
                   help="read the 300 real web pages shipped with c4forge (WET; WARC with --input-format warc) "
                        "instead of --input or --crawl: a first try with no download")


def add_corpus_build_arguments(p: argparse.ArgumentParser, output_help: str) -> None:
    """What `build` and `run-all` share: inputs, profile, output, formats, crawl."""
    add_input_argument(p, required=False)
    _add_sample_argument(p)
    add_profile_arguments(p)
    p.add_argument("--output", required=True, help=output_help)
    _add_output_arguments(p)
    _add_input_format_arguments(p)
    _add_langid_argument(p)
    _add_crawl_arguments(p)
    spill = p.add_mutually_exclusive_group()
    spill.add_argument("--spill-dir", metavar="DIR",
                       help="local runner only: shuffles (URL and line dedup, shard writing) go through files in DIR "
                            "instead of memory, so peak memory stays flat as the input grows; costs CPU and disk "
                            "(about the input's size, compressed). Without it a local build does so on its own when "
                            "its estimated in-memory peak (on the default runner about 2.5x the gzipped input, "
                            "13.5x with multi_processing workers) passes half the available memory or 4 GiB "
                            "(about seven WET files; one and a half with multi_processing), into "
                            "OUTPUT/.c4forge-spill or the temporary folder, and says so")
    spill.add_argument("--no-spill", action="store_true",
                       help="local runner: keep the shuffles in memory, however large the input (fastest when the "
                            "memory is there)")



def _crawl_request(args):
    if args.fetch_attempts < 1 or args.fetch_backoff < 0 or args.fetch_timeout <= 0 or args.fetch_deadline <= 0:
        raise BuildError("--fetch-attempts must be >= 1, --fetch-backoff >= 0, --fetch-timeout > 0 and "
                         "--fetch-deadline > 0")
    policy = RetryPolicy(attempts=args.fetch_attempts, backoff_s=args.fetch_backoff, timeout_s=args.fetch_timeout,
                         deadline_s=args.fetch_deadline)
    return CrawlRequest(segments=args.segments, crawl=args.crawl, wet_paths=args.wet_paths, source=args.source,
                        base_url=args.cc_base_url, cache_dir=args.cache_dir, policy=policy)


def _sample_inputs(args):
    if args.input or args.crawl or args.wet_paths or args.segments is not None:
        raise BuildError("--sample reads the pages shipped with c4forge: pass it without --input, --crawl, "
                         "--wet-paths or --segments")
    from c4forge.pipeline.inputs import sample_file

    path = sample_file(args.input_format)
    return (path,), [path], None


def _wet_inputs(args, beam_args):
    """(inputs for the report, exact WET files or None to match --input, fetch report or None)."""
    if args.sample:
        return _sample_inputs(args)
    crawl_wanted = bool(args.crawl or args.wet_paths)
    if args.input and crawl_wanted:
        raise BuildError("--input reads WET files you have; --crawl/--wet-paths fetch Common Crawl's: "
                         "pass one or the other")
    if args.input:
        if args.segments is not None:
            raise BuildError("--segments selects lines of a crawl's wet.paths: it needs --crawl or --wet-paths")
        return tuple(args.input), None, None
    if not crawl_wanted:
        raise BuildError("no input: pass WET files with --input, a crawl with --crawl CC-MAIN-YYYY-WW "
                         "--segments A:B, or --sample for the pages shipped with c4forge")
    if args.segments is None:
        raise BuildError("--crawl/--wet-paths need --segments: A:B takes lines A..B-1 of wet.paths.gz (one WET file "
                         "each), e.g. 0:1 for the first; ':' takes all of them")
    from c4forge.pipeline.build import resolve_crawl  # imports Beam: not for `c4forge --help`

    crawl_inputs = resolve_crawl(_crawl_request(args), beam_args)
    return tuple(crawl_inputs.files), crawl_inputs.files, crawl_inputs.report


def build_corpus(args, beam_args, output: str) -> dict:
    from c4forge.pipeline.build import BuildConfig, run_build

    check_langid(args.langid, get_profile(args.profile))  # a missing gcld3 stops us before any download
    inputs, wet_files, fetch_report = _wet_inputs(args, beam_args)
    formats = ("tfrecord", "jsonl") if args.format == "both" else (args.format,)
    config = BuildConfig(
        inputs=inputs, output=output, profile=args.profile, noclean=args.noclean,
        noblocklist=args.noblocklist, wet_quirks=args.wet_quirks, badwords_dir=args.badwords_dir,
        formats=formats, num_shards=args.num_shards, overwrite=args.overwrite, dedup=args.dedup,
        input_format=args.input_format, html_extractor=args.html_extractor, langid=args.langid,
        spill_dir=args.spill_dir, no_spill=args.no_spill,
    )
    return run_build(config, beam_args, wet_files=wet_files, fetch_report=fetch_report)


def run(args, beam_args) -> int:
    from c4forge.pipeline.report import format_table

    report = build_corpus(args, beam_args, args.output)
    if "dry_run" in report:
        print(report["dry_run"])
        return 0
    print(format_table(report))
    if "fetch" in report:
        print(format_fetch_line(report["fetch"]))
    print(f"report: {args.output.rstrip('/')}/c4forge-report.json")
    return 0
