"""`c4forge vocab --sampler beam` submitted to a Beam job service, run by SDK workers an EXTERNAL
worker pool starts (tests/helpers/portable_services.py): the sample shards must be the local
sampler's, byte for byte."""

from __future__ import annotations

import pytest

from c4forge.corpus.reader import find_corpus
from c4forge.tokenizer_training.sampling import DEFAULT_MAX_SENTENCE_BYTES, measure_sample, write_sample

from helpers.portable_services import portable_services, run_c4forge  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

VOCAB_SECONDS = 300  # about 30 s here (three Beam jobs, then a 1,000-piece vocabulary)
SENTENCES = 4000


def shard_bytes(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_beam_sampler_through_job_service_writes_the_local_sample(realweb_noblocklist_build, portable_services,
                                                                   tmp_path):
    corpus_dir = realweb_noblocklist_build / "en.noblocklist"  # the JSONL copy, as a cluster would read it
    run_c4forge(portable_services, ["vocab", "--corpus", str(corpus_dir), "--output", str(tmp_path / "vocab"),
                                    "--sampler", "beam", "--sample-dir", str(tmp_path / "beam"), "--vocab-size",
                                    "1000", "--sentences", str(SENTENCES), "--threads", "2"],
                tmp_path / "c4forge.log", VOCAB_SECONDS)
    corpus = find_corpus(realweb_noblocklist_build)
    info = measure_sample(corpus.iter_examples("train"), 0, SENTENCES, DEFAULT_MAX_SENTENCE_BYTES)
    write_sample(corpus.iter_examples("train"), info, tmp_path / "local")
    assert shard_bytes(tmp_path / "beam") == shard_bytes(tmp_path / "local")
    assert (tmp_path / "vocab" / "spiece.model").is_file()
