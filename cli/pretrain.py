"""``c4forge pretrain`` (and ``python -m c4forge.cli pretrain``, torchrun's entry point).

Every flag is one field of ``TrainConfig``; defaults shown by ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import logging
import os
import sys
import textwrap

from c4forge.pretrain.config import (APPLIED_ON_RESUME, DEFAULT_GRAD_CLIP, DEFAULT_LR, DEFAULT_SCHEDULE, MODEL_SHAPES,
                                     OPTIMIZERS, REFUSED_ON_RESUME, SCHEDULES, TrainConfig, default_token_cache)
from c4forge.pretrain.errors import PretrainError

DESCRIPTION = "T5 span-corruption pretraining (c4_v220_span_corruption) on a built corpus"


def _flags(names) -> str:
    return ", ".join("--" + name.replace("_", "-") for name in names)


EPILOG = textwrap.fill(
    "Several GPUs: torchrun --nproc_per_node N -m c4forge.cli pretrain <same flags>. "
    "Re-running the same command resumes from the newest complete checkpoint in --output. "
    f"On resume, a changed {_flags(REFUSED_ON_RESUME)}, corpus or vocabulary is refused; "
    f"{_flags(APPLIED_ON_RESUME)} apply from the resume step on (a lower --lr after a divergence, more "
    "--steps to extend a run); the other flags may change freely. Failures (no corpus, no vocabulary, a "
    "damaged checkpoint, a full disk, a diverged loss) are one line and exit code 2.",
    width=100, break_on_hyphens=False)  # pre-wrapped (RawDescriptionHelpFormatter): flags are not split at "-"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig(corpus="", vocab="", output="")
    io = p.add_argument_group("data and output")
    io.add_argument("--corpus", required=True, help="output of `c4forge build` (root, TFDS dataset dir or JSONL dir)")
    io.add_argument("--vocab", required=True, help="vocabulary dir with spiece.model (+ HF tokenizer files)")
    io.add_argument("--output", required=True, help="run directory: checkpoint-N/, final/, logs/")
    io.add_argument("--token-cache", default=default_token_cache(),
                    help="where tokenized corpora are kept, keyed by corpus + vocab hash (default %(default)s)")
    io.add_argument("--tokenize-workers", type=int, default=d.tokenize_workers,
                    help="processes tokenizing corpus shards (default: CPU count, %(default)s)")
    io.add_argument("--prepare-only", action="store_true", help="tokenize and lay out the data, then exit")
    io.add_argument("--holdout-fraction", type=float, default=d.holdout_fraction,
                    help="without a validation split: share of train documents held out (default %(default)s)")

    m = p.add_argument_group("model and objective")
    m.add_argument("--model", default=d.model, choices=sorted(MODEL_SHAPES), help="default %(default)s")
    m.add_argument("--attn-implementation", default=d.attn_implementation, choices=["sdpa", "eager"])
    m.add_argument("--inputs-length", type=int, default=d.inputs_length,
                   help="encoder length; raw tokens per example follow T5's random_spans_helper (default %(default)s)")
    m.add_argument("--noise-density", type=float, default=d.noise_density)
    m.add_argument("--mean-noise-span-length", type=float, default=d.mean_noise_span_length)
    m.add_argument("--docs-per-group", type=int, default=d.docs_per_group, help="reduce_concat_tokens batch")
    m.add_argument("--max-chunk-tokens", type=int, default=d.max_chunk_tokens, help="select_random_chunk max_length")
    m.add_argument("--z-loss", type=float, default=d.z_loss, help="t5x z-loss weight (default %(default)s)")

    o = p.add_argument_group("optimization")
    o.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (default %(default)s)")
    o.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="sequences per optimizer step over all GPUs and accumulation (default %(default)s)")
    o.add_argument("--grad-accum", type=int, default=d.grad_accum, help="micro-batches per step and GPU")
    o.add_argument("--optimizer", default=d.optimizer, choices=OPTIMIZERS, help="default %(default)s")
    o.add_argument("--lr", type=float, help=f"peak learning rate (default {DEFAULT_LR})")
    o.add_argument("--schedule", choices=SCHEDULES, help=f"default {DEFAULT_SCHEDULE}")
    o.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="default %(default)s")
    o.add_argument("--final-lr", type=float, default=d.final_lr, help="end of the cosine schedule")
    o.add_argument("--weight-decay", type=float, default=d.weight_decay)
    o.add_argument("--grad-clip", type=float, help=f"global norm clip, 0 = off (default {DEFAULT_GRAD_CLIP})")
    o.add_argument("--seed", type=int, default=d.seed, help="model init, data order and masks (default %(default)s)")

    r = p.add_argument_group("runtime")
    r.add_argument("--device", default=d.device, choices=["auto", "cuda", "cpu"])
    r.add_argument("--precision", default=d.precision, choices=["auto", "bf16", "fp32", "fp16"],
                   help="auto = bf16 autocast on GPU, fp32 on CPU; fp16 is refused (T5 overflows)")
    r.add_argument("--compile", action="store_true", help="torch.compile the model")
    r.add_argument("--num-workers", type=int, default=d.num_workers, help="DataLoader workers per process")
    r.add_argument("--cpu-threads", type=int, default=d.cpu_threads,
                   help="torch threads per process (0 = torch's default); 1 avoids oversubscription on busy CPUs")
    r.add_argument("--log-every", type=int, default=d.log_every)
    r.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between validations (0 = end only)")
    r.add_argument("--eval-rows", type=int, default=d.eval_rows, help="validation rows, fixed masks")
    r.add_argument("--save-every", type=int, default=d.save_every, help="steps between checkpoints (0 = final only)")
    r.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    r.add_argument("--resume", default=d.resume,
                   help="auto (newest checkpoint in --output, if any), never, or a checkpoint dir")
    r.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=d.tensorboard,
                   help="TensorBoard event files beside the JSONL log (needs the tensorboard package)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help=DESCRIPTION, description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_pretrain_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, extra_argv) -> int:
    if extra_argv:
        print(f"c4forge pretrain: error: unrecognized arguments: {' '.join(extra_argv)}", file=sys.stderr)
        return 2
    logging.getLogger("c4forge").setLevel(logging.INFO)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from c4forge.pretrain.train import train

    config = config_from_args(args)
    try:
        summary = train(config)
    except OSError as error:  # a full disk outside a checkpoint save (token cache, logs) is no bug either
        if error.errno not in DISK_FULL:
            raise
        raise PretrainError(f"{error.filename or config.output}: {error.strerror}. Free space and rerun the same "
                            "command: it resumes from the newest checkpoint") from error
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(summary, indent=1, default=str))
    return 0

