"""``c4forge run-all``: WET files → corpus → vocabulary → T5 checkpoint in one command.

Each stage runs through its own command's parser and run function (``c4forge vocab``,
``c4forge pretrain``), so run-all has the same defaults, checks and outputs as the three
commands typed one after the other:

    c4forge build    --input ... --output OUT/corpus
    c4forge vocab    --corpus OUT/corpus --output OUT/vocab
    c4forge pretrain --corpus OUT/corpus --vocab OUT/vocab --output OUT/model --token-cache OUT/token-cache

With ``--sample`` (the pages shipped with c4forge) it picks small settings the user did not set
(``SAMPLE_SETTINGS``): a tiny model in a couple of minutes on a CPU.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import time
from typing import Callable, Sequence

from c4forge.pipeline.fetch import format_fetch_line

from . import pretrain, vocab
from .build import add_corpus_build_arguments, build_corpus

logger = logging.getLogger(__name__)

# run-all flag → the stage flag it sets; unset flags are left to the stage's default.
VOCAB_FLAGS = {"vocab_size": "--vocab-size", "sentences": "--sentences"}
PRETRAIN_FLAGS = {"model": "--model", "steps": "--steps", "batch_size": "--batch-size", "device": "--device",
                  "cpu_threads": "--cpu-threads"}
# --sample: a first run in a couple of minutes on a laptop CPU (the sample keeps ~70 documents); one
# torch thread, as more only contend on a model this small. A setting applies only where the user set
# nothing; SAMPLE_PRETRAIN_ARGS go before the user's --pretrain-args, and the last of a repeated flag wins.
SAMPLE_SETTINGS = {"vocab_size": 1000, "model": "tiny", "steps": 50, "batch_size": 8, "cpu_threads": 1}
SAMPLE_PRETRAIN_ARGS = ("--inputs-length 128 --warmup-steps 10 --holdout-fraction 0.1 --eval-every 0 --eval-rows 16 "
                        "--save-every 0 --num-workers 0 --no-tensorboard")


def stage_dirs(output: str) -> dict[str, str]:
    return {name: os.path.join(output, name) for name in ("corpus", "vocab", "model", "token-cache")}


def _set_flags(args: argparse.Namespace, flags: dict[str, str]) -> list[str]:
    argv = []
    for attribute, flag in flags.items():
        value = getattr(args, attribute)
        if value is not None:
            argv += [flag, str(value)]
    return argv


def vocab_argv(args: argparse.Namespace, dirs: dict[str, str]) -> list[str]:
    argv = ["vocab", "--corpus", dirs["corpus"], "--output", dirs["vocab"], *_set_flags(args, VOCAB_FLAGS)]
    if args.overwrite:
        argv.append("--overwrite")
    return argv + shlex.split(args.vocab_args)


def pretrain_argv(args: argparse.Namespace, dirs: dict[str, str]) -> list[str]:
    # The token cache lives in the run directory, so one run is one folder to keep or delete.
    return ["pretrain", "--corpus", dirs["corpus"], "--vocab", dirs["vocab"], "--output", dirs["model"],
            "--token-cache", dirs["token-cache"], *_set_flags(args, PRETRAIN_FLAGS), *shlex.split(args.pretrain_args)]


def with_sample_settings(args: argparse.Namespace) -> tuple[argparse.Namespace, str]:
    """``args`` with SAMPLE_SETTINGS where unset and SAMPLE_PRETRAIN_ARGS before the user's, and a
    line saying what was chosen."""
    unset = {name: value for name, value in SAMPLE_SETTINGS.items() if getattr(args, name) is None}
    pretrain_args = f"{SAMPLE_PRETRAIN_ARGS} {args.pretrain_args}".strip()
    flags = {**VOCAB_FLAGS, **PRETRAIN_FLAGS}
    shown = [f"{flags[name]} {value}" for name, value in unset.items()] + [f"--pretrain-args '{SAMPLE_PRETRAIN_ARGS}'"]
    line = f"run-all --sample: small settings {' '.join(shown)} (a flag you pass wins)"
    return argparse.Namespace(**{**vars(args), **unset, "pretrain_args": pretrain_args}), line


def _run_stage(name: str, argv: list[str], parse_stage: Callable[[list[str]], argparse.Namespace]) -> int:
    logger.info("run-all: c4forge %s", shlex.join(argv))
    started = time.time()
    stage_args = parse_stage(argv)
    code = stage_args.func(stage_args, [])
    logger.info("run-all: %s finished in %.1f s (exit code %d)", name, time.time() - started, code)
    return code


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run-all", help="WET files to a trained checkpoint: build, vocab and pretrain in a row",
                              epilog="Writes OUTPUT/corpus, OUTPUT/vocab, OUTPUT/model (final/ = the checkpoint) and "
                                     "OUTPUT/token-cache. Other --options go to Beam, for the build.")
    add_corpus_build_arguments(p, output_help="run directory (local)")
    _add_run_all_arguments(p)
    p.set_defaults(func=run)


def _add_run_all_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("vocabulary and pretraining (unset: `c4forge vocab` / `c4forge pretrain` defaults)")
    g.add_argument("--vocab-size", type=int, help="sentencepiece pieces")
    g.add_argument("--sentences", type=int, help="lines sampled for the vocabulary")
    g.add_argument("--model", help="T5 shape, e.g. tiny or t5-v1_1-small")
    g.add_argument("--steps", type=int, help="optimizer steps")
    g.add_argument("--batch-size", type=int, help="sequences per optimizer step")
    g.add_argument("--device", choices=["auto", "cuda", "cpu"])
    g.add_argument("--cpu-threads", type=int, help="torch threads per process")
    g.add_argument("--vocab-args", default="", metavar="'ARGS'",
                   help="more `c4forge vocab` flags, as one quoted string, e.g. '--threads 4 --seed 1'")
    g.add_argument("--pretrain-args", default="", metavar="'ARGS'",
                   help="more `c4forge pretrain` flags, as one quoted string, e.g. '--optimizer adamwscale --lr 0.01'")


def run(args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    return run_all(args, beam_args, parse_stage=stage_parser().parse_args)


def stage_parser() -> argparse.ArgumentParser:
    """The vocab and pretrain subcommands as `c4forge` registers them."""
    parser = argparse.ArgumentParser(prog="c4forge")
    sub = parser.add_subparsers(dest="command", required=True)
    vocab.add_parser(sub)
    pretrain.add_parser(sub)
    return parser


def run_all(args: argparse.Namespace, beam_args: Sequence[str],
            parse_stage: Callable[[list[str]], argparse.Namespace]) -> int:
    """``parse_stage(argv)`` is the c4forge parser, whose vocab/pretrain subcommands set ``func``."""
    from c4forge.pipeline.report import format_table

    if args.sample:
        args, chosen = with_sample_settings(args)
        print(chosen)
    dirs = stage_dirs(args.output)
    # Parse both later stages first: a typo in --pretrain-args should not cost a build.
    for argv in (vocab_argv(args, dirs), pretrain_argv(args, dirs)):
        parse_stage(argv)
    started = time.time()
    report = build_corpus(args, beam_args, dirs["corpus"])
    if "dry_run" in report:
        print(f"{report['dry_run']}; run-all stops there: no corpus to train on")
        return 0
    print(format_table(report))
    if "fetch" in report:
        print(format_fetch_line(report["fetch"]))
    for name, argv in (("vocab", vocab_argv(args, dirs)), ("pretrain", pretrain_argv(args, dirs))):
        code = _run_stage(name, argv, parse_stage)
        if code != 0:
            return code
    print(f"run-all: corpus {dirs['corpus']}, vocabulary {dirs['vocab']}, checkpoint "
          f"{os.path.join(dirs['model'], 'final')} ({time.time() - started:.0f} s)")
    return 0
