"""``c4forge vocab``: a T5-style SentencePiece vocabulary trained on a built corpus."""

from __future__ import annotations

import argparse
import os
import sys

from c4forge.tokenizer_training.memory import parse_size
from c4forge.tokenizer_training.sampling import DEFAULT_MAX_SENTENCE_BYTES
from c4forge.tokenizer_training.trainer import DEFAULT_THREADS, NORMALIZATIONS, TrainerOptions
from c4forge.tokenizer_training.vocab import DEFAULT_SENTENCES, T5_SIZE_SENTENCES

EPILOG = """\
The sample is deterministic (hash of url, line and seed) and the model reproducible for the
same sample, options and sentencepiece version. With --sampler beam any other --option goes
to Beam (default --runner=FnApiRunner; e.g. --direct_running_mode=multi_processing
--direct_num_workers=8); without it unknown options are an error."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("vocab", help="train a T5-style SentencePiece vocabulary on a built corpus",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="a `c4forge build` output (TFDS dir, JSONL dir, or their root)")
    p.add_argument("--output", required=True, help="directory for spiece.model and the transformers tokenizer")
    p.add_argument("--vocab-size", type=int, default=32000, help="sentencepiece pieces, sentinels not counted "
                   "(default %(default)s)")
    p.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES, help="lines to sample from the train "
                   "split (default %(default)s: ~0.8 GB of C4, ~23 GB of RAM to train, fits a 32 GB machine; "
                   f"T5-size: {T5_SIZE_SENTENCES}, 50-60 GB)")
    p.add_argument("--seed", type=int, default=0, help="sample and trainer seed (default %(default)s)")
    p.add_argument("--character-coverage", type=float, default=0.9995, help="default %(default)s")
    p.add_argument("--byte-fallback", action="store_true", help="spell unknown characters as UTF-8 byte pieces "
                   "(not T5; 256 of the pieces become bytes)")
    p.add_argument("--split-digits", action="store_true", help="one digit per piece (not T5)")
    p.add_argument("--normalization", default="nmt_nfkc", choices=NORMALIZATIONS, help="default %(default)s (T5)")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="trainer threads; part of the model's "
                   "definition, keep it fixed to reproduce a model (default %(default)s)")
    p.add_argument("--max-sentence-bytes", type=int, default=DEFAULT_MAX_SENTENCE_BYTES,
                   help="longer lines are split into pieces under this (default %(default)s, sentencepiece's)")
    p.add_argument("--extra-ids", type=int, default=100, help="sentinels on top of the pieces (default %(default)s)")
    p.add_argument("--sampler", choices=["local", "beam"], default="local",
                   help="local: this process reads the corpus; beam: a Beam job (same sample)")
    p.add_argument("--sample-dir", help="keep the sample shards here (default: a temporary dir, deleted)")
    p.add_argument("--memory-limit", type=parse_size, help="memory training may use, e.g. 48G "
                   "(default: available memory)")
    p.add_argument("--eval-docs", type=int, default=1000, help="documents the report evaluates on "
                   "(default %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace a vocabulary already in --output")
    p.set_defaults(func=run)


def config_from_args(args):
    from c4forge.tokenizer_training.vocab import VocabConfig, VocabError

    if args.sentences < 1 or args.eval_docs < 0 or args.max_sentence_bytes < 4:
        raise VocabError("--sentences must be >= 1, --eval-docs >= 0 and --max-sentence-bytes >= 4")
    try:
        trainer = TrainerOptions(
            vocab_size=args.vocab_size, character_coverage=args.character_coverage, byte_fallback=args.byte_fallback,
            split_digits=args.split_digits, normalization=args.normalization, threads=args.threads, seed=args.seed,
            max_sentence_bytes=args.max_sentence_bytes, extra_ids=args.extra_ids,
        )
    except ValueError as e:
        raise VocabError(str(e)) from None
    return VocabConfig(
        corpus=args.corpus, output=args.output, sentences=args.sentences, trainer=trainer, sampler=args.sampler,
        sample_dir=args.sample_dir, memory_limit=args.memory_limit, eval_docs=args.eval_docs,
        overwrite=args.overwrite, verbose=getattr(args, "verbose", False),
    )


def run(args, extra_argv) -> int:
    from c4forge.tokenizer_training.vocab import VocabError, format_report, run_vocab

    if extra_argv and args.sampler != "beam":
        print(f"c4forge vocab: error: unrecognized arguments: {' '.join(extra_argv)} "
              "(Beam options need --sampler beam)", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    beam_sampler = None
    if args.sampler == "beam":  # imports Beam: only when asked for
        from c4forge.pipeline.vocab_sampling import sample_with_beam as beam_sampler
    try:
        report = run_vocab(config_from_args(args), extra_argv, beam_sampler)
    except VocabError as e:
        print(f"c4forge vocab: error: {e}", file=sys.stderr)
        return 2
    print(format_report(report, args.output))
    return 0
