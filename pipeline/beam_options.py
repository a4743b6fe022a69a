"""The command-line options Beam knows: every ``--option`` its registered ``PipelineOptions``
classes define (Dataflow's, the portable runners', the direct runner's, and any a plugin adds),
so that the CLI can pass those through and refuse the rest."""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions


def beam_argument_parser() -> argparse.ArgumentParser:
    """The parser Beam itself reads pipeline options with, every registered class's arguments on
    it, through ``get_all_options``'s public hook for runners to add their own."""
    parsers: list[argparse.ArgumentParser] = []
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    parser = parsers[0]
    parser.exit_on_error = False  # a bad value raises ArgumentError, not Beam's usage of ~180 options and exit
    return parser
