"""A strict command line: an option that neither c4forge nor Beam knows is refused, with the
closest known option as a suggestion, instead of reaching Beam, which only warns about it
("Unparseable argument") and runs without it (a ``--formt both`` build wrote no JSONL)."""

from __future__ import annotations

import argparse
import difflib
from typing import Optional, Sequence

# `vocab` takes Beam options only for its Beam sampler; `pretrain` takes none.
BEAM_COMMANDS = ("build", "parity", "run-all", "tokenize")


def takes_beam_options(args: argparse.Namespace) -> bool:
    return args.command in BEAM_COMMANDS or (args.command == "vocab" and args.sampler == "beam")


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every ``--option`` of a parser. argparse lists them nowhere public: its actions are read."""
    return sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")})


def did_you_mean(unknown: Sequence[str], known: Sequence[str]) -> str:
    """' (did you mean --format?)' for the unknown options that are close to a known one."""
    guesses = []
    for token in unknown:
        name = token.split("=", 1)[0]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) if name.startswith("-") else []
        if close:
            guesses.append((name, close[0]))
    if not guesses:
        return ""
    if len(guesses) == 1:
        return f" (did you mean {guesses[0][1]}?)"
    return " (did you mean " + ", ".join(f"{guess} for {name}" for name, guess in guesses) + "?)"


def refusal(args: argparse.Namespace, parser: argparse.ArgumentParser, extra_argv: Sequence[str]) -> Optional[str]:
    """Why ``extra_argv`` (what the command's own ``parser`` left) is refused, or None when the
    command passes Beam options on and Beam takes all of it. Imports Beam only then."""
    if not extra_argv:
        return None
    known = option_strings(parser)
    unknown = list(extra_argv)
    beam = takes_beam_options(args)
    if beam:
        from c4forge.pipeline.beam_options import beam_argument_parser

        beam_parser = beam_argument_parser()
        try:
            _, unknown = beam_parser.parse_known_args(list(extra_argv))
        except argparse.ArgumentError as error:  # a Beam option with a value Beam refuses
            return str(error)
        known += option_strings(beam_parser)
    if not unknown:
        return None
    hint = " (Beam options need --sampler beam)" if args.command == "vocab" and not beam else ""
    return f"unrecognized arguments: {' '.join(unknown)}{did_you_mean(unknown, known)}{hint}"
