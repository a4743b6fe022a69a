"""The ``c4forge`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from c4forge.cleaning_rules.profiles import DEFAULT_PROFILE, PROFILES


def _add_build_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", action="append", required=True, metavar="PATH_OR_GLOB",
                   help="WET file(s): local, gs://, s3://; globs allowed; repeatable")
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES),
                   help="which C4 to reproduce (default %(default)s)")
    p.add_argument("--noclean", action="store_true", help="allenai en.noclean: no cleaning, dedup or bad-words filter")
    p.add_argument("--noblocklist", action="store_true", help="allenai en.noblocklist: no bad-words filter")
    p.add_argument("--wet-quirks", dest="wet_quirks", action="store_true", default=None,
                   help="TFDS's line-based WET parsing and strict per-file UTF-8 (the c4-en profiles' default)")
    p.add_argument("--no-wet-quirks", dest="wet_quirks", action="store_false",
                   help="one page per record, every body line kept, decode errors skip a record not a file")
    p.add_argument("--badwords-dir", help="offline copy of the LDNOOBW lists laid out as <commit>/<lang> "
                   "(default: download the pinned file, sha256-checked, cached)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c4forge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build a C4 corpus from WET files (a Beam pipeline)",
                       epilog="Any other --option is passed to Beam (e.g. --runner=DataflowRunner --project=...). "
                              "Default runner: FnApiRunner in-process; add --direct_running_mode=multi_processing "
                              "--direct_num_workers=N for several processes.")
    _add_build_arguments(b)
    b.add_argument("--output", required=True, help="output directory (local, gs://, s3://)")
    b.add_argument("--format", default="tfrecord", choices=["tfrecord", "jsonl", "both"],
                   help="tfrecord: TFDS layout <output>/c4/<config>/<version>; jsonl: allenai layout "
                        "<output>/<config>/c4-<split>.NNNNN-of-NNNNN.json.gz")
    b.add_argument("--num-shards", type=int, help="shards per split (default: TFDS's rule from the data size)")
    b.add_argument("--overwrite", action="store_true", help="replace a build already in --output")

    pa = sub.add_parser("parity", help="run the TFDS reference functions and c4forge on the same input and diff them")
    _add_build_arguments(pa)
    pa.add_argument("--expected", help="optional JSONL of expected documents (url, text, timestamp, split) "
                    "to compare both against, e.g. realweb-dev.c4-tfds-3.1.0.jsonl")
    pa.add_argument("--expected-counters", help="optional counters JSON to compare both against")
    pa.add_argument("--examples", type=int, default=5, help="differences shown per kind")

    # Later stages register their own subcommands; each sets ``func(args, extra_argv) -> int``.
    from c4forge.pretrain.cli import add_pretrain_parser
    from c4forge.tokenizer_training.cli import add_vocab_parser

    add_vocab_parser(sub)
    add_pretrain_parser(sub)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("c4forge").setLevel(logging.INFO)  # progress lines and the run summary


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    _setup_logging(args.verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        if args.command == "build":
            return _build(args, beam_args)
        if args.command == "parity":
            return _parity(args, beam_args)
        if hasattr(args, "func"):
            return args.func(args, beam_args)
    except Exception as e:  # noqa: BLE001
        from .build import BuildError
        from c4forge.cleaning_rules.badwords import BadwordsError

        if isinstance(e, (BuildError, BadwordsError, ValueError)) and not args.verbose:
            print(f"c4forge: error: {e}", file=sys.stderr)
            return 2
        raise
    parser.error(f"unknown command {args.command}")
    return 2


def _build(args, beam_args) -> int:
    from .build import BuildConfig, run_build
    from .report import format_table

    formats = ("tfrecord", "jsonl") if args.format == "both" else (args.format,)
    config = BuildConfig(
        inputs=tuple(args.input), output=args.output, profile=args.profile, noclean=args.noclean,
        noblocklist=args.noblocklist, wet_quirks=args.wet_quirks, badwords_dir=args.badwords_dir,
        formats=formats, num_shards=args.num_shards, overwrite=args.overwrite,
    )
    report = run_build(config, beam_args)
    print(format_table(report))
    print(f"report: {args.output.rstrip('/')}/c4forge-report.json")
    return 0


def _parity(args, beam_args) -> int:
    from .parity_run import run_parity

    report = run_parity(args, beam_args)
    print(report.format_text(max_examples=args.examples) if hasattr(report, "format_text") else report)
    return 0 if report.identical else 1


if __name__ == "__main__":
    sys.exit(main())
