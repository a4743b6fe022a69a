"""Each command's first line, logged before its heavy imports (Beam, TFDS, torch, transformers take
seconds to tens of seconds to load), so that a person sees at once what it is doing."""

from __future__ import annotations

import argparse
import logging
import os

logger = logging.getLogger("c4forge.cli")


def _inputs(args: argparse.Namespace) -> str:
    if getattr(args, "sample", False):
        return "the packaged sample"
    if getattr(args, "input", None):
        return f"{len(args.input)} input(s)"
    crawl = getattr(args, "crawl", None) or getattr(args, "wet_paths", None)
    return f"{crawl} entries {args.segments}" if crawl else "no input"


def first_line(args: argparse.Namespace) -> str:
    command = args.command
    if command == "build":
        return f"build: {_inputs(args)} -> {args.output} (loading Apache Beam)"
    if command == "run-all":
        return f"run-all: {_inputs(args)} -> corpus, vocabulary and model in {args.output} (loading Apache Beam)"
    if command == "parity":
        return (f"parity: TFDS's reference graph and c4forge on {_inputs(args)}, then a diff "
                "(loading Apache Beam and TFDS's c4 code)")
    if command == "vocab":
        return (f"vocab: {args.vocab_size:,} pieces from up to {args.sentences:,} lines of {args.corpus} "
                f"({args.sampler} sampler)")
    if command == "tokenize":
        return (f"tokenize: {args.corpus} with {args.vocab} -> {args.output or 'tokens/ beside the corpus'} "
                "(loading Apache Beam)")
    if command == "pretrain":
        return f"pretrain: {args.model} for {args.steps:,} steps on {args.corpus} -> {args.output} (loading torch)"
    return f"{command}: starting"


def announce(args: argparse.Namespace) -> None:
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: one line, not one per process
        logger.info(first_line(args))
