"""The ``c4forge`` command line: one parser, one subcommand module each (build, parity, run-all,
vocab, pretrain), each registering its flags and a ``func(args, extra_argv) -> exit code``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from c4forge.cleaning_rules.badwords import BadwordsError
from c4forge.cleaning_rules.html_text import ExtractorUnavailable
from c4forge.cleaning_rules.language import LanguageIdUnavailable
from c4forge.pipeline.errors import BuildError

from . import build, parity, pretrain, run_all, vocab

DESCRIPTION = "Build an exact C4 corpus from Common Crawl, train its vocabulary, pretrain T5 on it."
SUBCOMMANDS = (build, parity, run_all, vocab, pretrain)
# Shown as one line and exit code 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (BuildError, BadwordsError, ValueError, ExtractorUnavailable, LanguageIdUnavailable)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c4forge", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser


def _is_noise(record: logging.LogRecord) -> bool:
    """Beam's import-time notice that the GCP extras are missing: not the user's concern."""
    return record.name == "root" and str(record.msg).startswith("apitools not found")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("c4forge").setLevel(logging.INFO)  # progress lines and the run summary
    if not verbose:
        logging.getLogger().addFilter(lambda record: not _is_noise(record))
        # Beam logs a failing step's traceback before re-raising its error, which the CLI then
        # reports in one line (-v shows both)
        logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra_argv = build_parser().parse_known_args(argv)
    _setup_logging(args.verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing local path must not become a hub download
    try:
        return args.func(args, extra_argv)
    except USER_ERRORS as e:
        if args.verbose:
            raise
        print(f"c4forge: error: {e}", file=sys.stderr)
        return 2
