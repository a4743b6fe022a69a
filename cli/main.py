"""The ``c4forge`` command line: one parser, one subcommand module each (build, parity, run-all,
vocab, tokenize, pretrain), each registering its flags and a ``func(args, extra_argv) -> exit code``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from c4forge.cleaning_rules.badwords import BadwordsError
from c4forge.cleaning_rules.html_text import ExtractorUnavailable
from c4forge.cleaning_rules.language import LanguageIdUnavailable
from c4forge.pipeline.errors import BuildError

from . import build, parity, pretrain, run_all, tokenize, vocab
from .first_line import announce
from .unknown_options import refusal, takes_beam_options

DESCRIPTION = "Build an exact C4 corpus from Common Crawl, train its vocabulary, pretrain T5 on it."
SUBCOMMANDS = (build, parity, run_all, vocab, tokenize, pretrain)
# Shown as one line and exit code 2; anything else is a bug and keeps its traceback.
USER_ERRORS = (BuildError, BadwordsError, ValueError, ExtractorUnavailable, LanguageIdUnavailable)


def build_parser() -> argparse.ArgumentParser:
    return parser_and_commands()[0]


def parser_and_commands() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``c4forge`` parser, and each subcommand's own parser by name."""
    parser = argparse.ArgumentParser(prog="c4forge", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser, sub.choices


# Beam's notices that are not the user's concern, by the logger that logs them: that the GCP
# extras are missing (at import), and a local worker process relaying that it has no staged
# files (--direct_running_mode=multi_processing: it needs none).
NOISE = {"root": "apitools not found", "apache_beam.runners.portability.local_job_service":
         "No semi_persistent_directory found"}


def _is_noise(record: logging.LogRecord) -> bool:
    text = NOISE.get(record.name)
    return text is not None and text in record.getMessage()


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("c4forge").setLevel(logging.INFO)  # progress lines and the run summary
    if not verbose:
        for name in NOISE:  # a logger's filters see the records logged on it, not those of its children
            logging.getLogger(None if name == "root" else name).addFilter(lambda record: not _is_noise(record))
        # Beam logs a failing step's traceback before re-raising its error, which the CLI then
        # reports in one line (-v shows both)
        logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)


def _refused(args: argparse.Namespace, command: argparse.ArgumentParser, extra_argv: list[str]) -> bool:
    """Prints why, if an option in ``extra_argv`` is neither c4forge's nor (where it takes them) Beam's."""
    why = refusal(args, command, extra_argv)
    if why:
        print(f"{command.prog}: error: {why}", file=sys.stderr)
    return bool(why)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = parser_and_commands()
    args, extra_argv = parser.parse_known_args(argv)
    _setup_logging(args.verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing local path must not become a hub download
    if not takes_beam_options(args) and _refused(args, commands[args.command], extra_argv):
        return 2  # before anything is loaded
    announce(args)
    if takes_beam_options(args) and _refused(args, commands[args.command], extra_argv):
        return 2  # asking Beam which options it knows loads Beam
    try:
        return args.func(args, extra_argv)
    except USER_ERRORS as e:
        if args.verbose:
            raise
        print(f"c4forge: error: {e}", file=sys.stderr)
        return 2
    except Exception:
        # Not a mistake of the user's: say what it is, and keep the traceback (printed below).
        print(f"c4forge: internal error in `c4forge {args.command}`: this is a bug; please report it with the "
              f"traceback below", file=sys.stderr)
        raise
