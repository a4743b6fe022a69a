"""``c4forge tokenize``: a corpus's token shards as a Beam job, next to the corpus, for pretrain."""

from __future__ import annotations

import argparse
import json

DESCRIPTION = "tokenize a built corpus with its vocabulary as a Beam job (token shards for pretrain)"
EPILOG = """\
Writes <output>/<split>-<key>/ (shard-NNNNN.bin, shard-NNNNN.offsets.npy, manifest.json last), the
files `c4forge pretrain` reads: from --output's default, <corpus>/tokens/, or from its --token-cache
if --output points there. The same bytes on every runner. Any other --option goes to Beam (default
--runner=FnApiRunner; e.g. --direct_running_mode=multi_processing --direct_num_workers=8, or
--runner=DataflowRunner ...); an option neither c4forge nor Beam knows is an error."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("tokenize", help=DESCRIPTION, description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="a `c4forge build` output: local folder, gs:// or s3:// URL")
    p.add_argument("--vocab", required=True, help="a `c4forge vocab` output (its spiece.model is used)")
    p.add_argument("--output", help="where the token shards go (default: <corpus build root>/tokens)")
    p.set_defaults(func=run)


def run(args, extra_argv) -> int:
    from c4forge.pipeline.tokenize import tokenize

    report = tokenize(args.corpus, args.vocab, args.output, extra_argv)
    for split in report["published"]:
        print(f"{split['split']}: {split['shards']} shards, {split['docs']:,} documents, {split['tokens']:,} tokens "
              f"-> {split['folder']}")
    for folder in report["already_there"]:
        print(f"already tokenized: {folder}")
    print(json.dumps({"output": report["output"]}))
    return 0
