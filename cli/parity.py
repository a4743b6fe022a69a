"""``c4forge parity``: the TFDS reference functions and c4forge on the same WET input, diffed."""

from __future__ import annotations

from .build import add_input_argument, add_profile_arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("parity", help="run the TFDS reference functions and c4forge on the same input and "
                                             "diff them")
    add_input_argument(p, required=True)
    add_profile_arguments(p)
    p.add_argument("--expected", help="optional JSONL of expected documents (url, text, timestamp, split) "
                   "to compare both against, e.g. realweb-dev.c4-tfds-3.1.0.jsonl")
    p.add_argument("--expected-counters", help="optional counters JSON to compare both against")
    p.add_argument("--examples", type=int, default=5, help="differences shown per kind")
    p.set_defaults(func=run)


def run(args, beam_args) -> int:
    from c4forge.pipeline.verify.parity import run_parity  # imports TFDS's c4 code: only for this command

    report = run_parity(args, beam_args)
    print(report.format_text(max_examples=args.examples))
    return 0 if report.identical else 1
