"""``c4forge tokenize``: a corpus's token shards, made by a Beam job and published next to it.

seqio's ``cache_tasks_main`` for c4forge. Each corpus shard of each split is one element: a
worker reads it (through Beam's filesystems: local, gs://, s3://), encodes its documents with
``corpus.tokens.ShardEncoder``, the code pretraining's in-process cache runs, and writes its
token shard under the job's staging folder with a small summary (documents, tokens, each file's
size and sha256). Everything is named after the corpus shard, never after arrival order, so
every runner writes the same bytes. The driver then publishes under the output's writer lock
(``output_lock.py``): each split's files moved into ``<output>/<split>-<key>/``, its manifest
written last from the summaries (nothing is read twice). A reader takes a folder only with its
manifest, so a killed job leaves the earlier state or a folder no reader uses; rerunning the
command redoes the job, and a split already published is not tokenized again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.corpus.manifest import CorpusError
from c4forge.corpus.reader import Corpus, find_corpus
from c4forge.corpus.tokens import (MANIFEST, ShardEncoder, corpus_identity, shard_name, tokens_dirname,
                                   tokens_manifest)

from .build import with_default_runner
from .beam_storage import worker_storage
from .errors import BuildError
from .files import atomic_create, is_local, move, write_file_atomically
from .output_lock import OutputLock
from .publish import files_under, new_run_id, remove_leftover_staging, remove_tree, staging_dir

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation")
TOKENS_DIR = "tokens"  # the default output, under the corpus's build root (pretrain looks there)
SPM_FILE = "spiece.model"
SUMMARY_SUFFIX = ".summary.json"


class TokenizeShard(beam.DoFn):
    """(split, folder name, shard index, corpus file) -> that shard's token files and summary."""

    def __init__(self, corpus: Corpus, encoder: ShardEncoder, staging: str):
        self.corpus, self.encoder, self.staging = corpus, encoder, staging

    def process(self, element):
        split, folder_name, index, source = element
        folder = FileSystems.join(self.staging, folder_name)
        name = shard_name(index)
        texts = (example["text"] for example in self.corpus.iter_examples(split, files=[source]))
        shard = self.encoder.encode(name, texts, lambda file_name: atomic_create(FileSystems.join(folder, file_name)))
        write_file_atomically(FileSystems.join(folder, name + SUMMARY_SUFFIX), json.dumps(shard.summary()).encode())
        yield split, shard.docs, shard.tokens


def read_vocab(vocab: str) -> bytes:
    path = FileSystems.join(vocab, SPM_FILE)
    if not FileSystems.exists(path):
        raise BuildError(f"--vocab {vocab}: no {SPM_FILE} (expected the output of `c4forge vocab`)")
    with FileSystems.open(path) as handle:
        return handle.read()


def open_corpus(path: str) -> Corpus:
    try:
        return find_corpus(path, storage=worker_storage(path))
    except CorpusError as error:
        raise BuildError(f"--corpus: {error}") from None


def _read_json(path: str) -> dict:
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def publish_split(corpus: Corpus, split: str, folder_name: str, staging: str, output: str, vocab_sha256: str,
                  pieces: int) -> dict:
    """Moves a split's staged token shards into ``<output>/<folder>``; its manifest goes last."""
    staged, final = FileSystems.join(staging, folder_name), FileSystems.join(output, folder_name)
    count = len(corpus.split_files(split))
    summaries = [_read_json(FileSystems.join(staged, shard_name(i) + SUMMARY_SUFFIX)) for i in range(count)]
    manifest = tokens_manifest(summaries, vocab_sha256, pieces, corpus_identity(corpus, split))
    for summary in summaries:
        for file_name in summary["files"]:
            move(FileSystems.join(staged, file_name), FileSystems.join(final, file_name))
    write_file_atomically(FileSystems.join(final, MANIFEST), manifest)
    return {"split": split, "folder": final, "shards": count, "docs": sum(s["docs"] for s in summaries),
            "tokens": sum(s["tokens"] for s in summaries)}


def tokenize(corpus_path: str, vocab: str, output: Optional[str] = None, beam_args: Sequence[str] = ()) -> dict:
    """Runs the job (default runner FnApiRunner; other Beam options pass through) and publishes
    what it wrote. Returns what is where."""
    args = with_default_runner(beam_args)
    FileSystems.set_options(PipelineOptions(args))  # s3 credentials and endpoints for the driver's reads
    corpus = open_corpus(corpus_path)
    model_proto = read_vocab(vocab)
    vocab_sha256 = hashlib.sha256(model_proto).hexdigest()
    encoder = ShardEncoder(model_proto)
    output = output or FileSystems.join(corpus.output_root, TOKENS_DIR)
    splits = [(split, tokens_dirname(corpus, split, vocab_sha256)) for split in SPLITS if corpus.split_files(split)]
    done = [(s, f) for s, f in splits if FileSystems.exists(FileSystems.join(output, f, MANIFEST))]
    report = {"output": output, "published": [], "already_there": [FileSystems.join(output, f) for _, f in done]}
    todo = [(s, f) for s, f in splits if (s, f) not in done]
    if not todo:
        return report
    if is_local(output):
        os.makedirs(output, exist_ok=True)
    run_id = new_run_id()
    with OutputLock(output, run_id):
        remove_leftover_staging(output, run_id)
        staging = staging_dir(output, run_id)
        elements = [(split, folder, index, source) for split, folder in todo
                    for index, source in enumerate(corpus.split_files(split))]
        pipeline = beam.Pipeline(options=PipelineOptions(args))
        (pipeline
         | "CorpusShards" >> beam.Create(elements)
         | "Spread" >> beam.Reshuffle()
         | "Tokenize" >> beam.ParDo(TokenizeShard(corpus, encoder, staging)))
        pipeline.run().wait_until_finish()
        for split, folder in todo:
            report["published"].append(publish_split(corpus, split, folder, staging, output, vocab_sha256,
                                                     encoder.pieces))
        remove_tree(staging, files_under(staging))
    logger.info("token shards published in %s", output)
    return report
