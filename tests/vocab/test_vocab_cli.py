"""``c4forge vocab`` end to end: the report's evaluation sources, user errors, and the
Beam sampler writing the same sample as the local one (shared real-web corpus)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from c4forge import cli
from c4forge.tokenizer_training import evaluation
from c4forge.corpus.reader import find_corpus
from helpers.corpora import write_jsonl_corpus as write_corpus
from c4forge.tokenizer_training.hf_export import load_hf_tokenizer
from c4forge.tokenizer_training.sampling import measure_sample, read_sample_info, write_sample


FAST = ["--threads", "2"]


def write_jsonl_corpus(root: Path, train_docs: int, validation_docs: int = 0) -> Path:
    """An allenai-layout corpus of pseudo-English (enough distinct pieces for a small vocab)."""
    rng = random.Random(7)
    words = ["".join(rng.choice("etaoinshrdlucmfwyp") for _ in range(rng.randrange(2, 9))) for _ in range(400)]

    def doc(i: int) -> dict:
        lines = [" ".join(rng.choice(words) for _ in range(rng.randrange(4, 30))).capitalize() + "."
                 for _ in range(rng.randrange(2, 8))]
        return {"url": f"http://site{i}.example/page", "text": "\n".join(lines), "timestamp": "2019-04-01T00:00:00Z"}

    shards = {"train": [[doc(i) for i in range(train_docs)]]}
    if validation_docs:
        shards["validation"] = [[doc(i) for i in range(train_docs, train_docs + validation_docs)]]
    return write_corpus(root, shards)


def vocab(corpus: Path, output: Path, *extra: str) -> int:
    return cli.main(["vocab", "--corpus", str(corpus), "--output", str(output), *extra])


def report_of(output: Path) -> dict:
    return json.loads((output / "vocab-report.json").read_text())


# --- small synthetic corpora (fast) --------------------------------------------------------------


def test_report_uses_the_validation_split_when_there_is_one(tmp_path, capsys):
    corpus = write_jsonl_corpus(tmp_path / "corpus", train_docs=150, validation_docs=20)
    assert vocab(corpus, tmp_path / "v", "--vocab-size", "300", "--character-coverage", "1.0", *FAST) == 0
    ev = report_of(tmp_path / "v")["evaluation"]
    assert ev["source"] == "validation" and ev["documents"] == 20
    assert 1.0 <= ev["tokens_per_word"] < 5 and ev["unk_rate"] == 0 and ev["character_coverage"] == 1.0
    assert ev["hf_parity"]["identical"] == ev["hf_parity"]["texts"] == 20  # whole documents
    fuzz = ev["hf_parity_fuzz"]["total"]
    assert fuzz["segmentation_differs"] == 0 and fuzz["identical"] + fuzz["normalizer_differs"] == fuzz["texts"]
    assert "first 20 validation documents" in capsys.readouterr().out
    assert len(load_hf_tokenizer(tmp_path / "v")) == 400


def test_report_falls_back_to_held_out_lines_or_says_there_are_none(tmp_path, capsys):
    corpus = write_jsonl_corpus(tmp_path / "corpus", train_docs=150)
    assert vocab(corpus, tmp_path / "all", "--vocab-size", "300", *FAST) == 0
    report = report_of(tmp_path / "all")
    assert report["sample"]["sentences"] == report["sample"]["units_total"]
    assert report["evaluation"]["source"] is None and "tokens_per_word" not in report["evaluation"]
    assert "every train line is in the sample: nothing held out" in capsys.readouterr().out

    assert vocab(corpus, tmp_path / "part", "--vocab-size", "300", "--sentences", "400", *FAST) == 0
    report = report_of(tmp_path / "part")
    ev = report["evaluation"]
    assert ev["source"] == "train-heldout"
    assert ev["texts"] == report["sample"]["units_total"] - 400
    assert "unsampled train lines" in capsys.readouterr().out


def test_report_contents(tmp_path):
    corpus = write_jsonl_corpus(tmp_path / "corpus", train_docs=150, validation_docs=5)
    assert vocab(corpus, tmp_path / "v", "--vocab-size", "300", "--sample-dir", str(tmp_path / "s"), *FAST) == 0
    report = report_of(tmp_path / "v")
    assert report["vocabulary"] == {"pieces": 300, "sentinels": 100, "ids": 400, "model_vocab_size": 512,
                                    "pad_id": 0, "eos_id": 1, "unk_id": 2, "bos_id": None, "first_sentinel_id": 399}
    assert set(report["seconds"]) == {"sample", "train", "export", "evaluate", "total"}
    assert report["memory"]["peak_rss_bytes"] > 0 and report["versions"]["sentencepiece"] == "0.2.2"
    assert read_sample_info(tmp_path / "s").sentences == report["sample"]["sentences"]  # kept on request
    assert not list((tmp_path / "v").glob(".sample-*"))
    again = ["--vocab-size", "300", "--sample-dir", str(tmp_path / "s"), *FAST]
    assert vocab(corpus, tmp_path / "v2", *again) == 2  # an old sample is not mixed with a new one
    assert vocab(corpus, tmp_path / "v2", *again, "--overwrite") == 0


@pytest.mark.parametrize("extra,message", [
    (["--memory-limit", "100M"], "needs about"),
    pytest.param(["--memory-limit", "100M", "--sampler", "beam"], "needs about",  # checked after the job
                 marks=pytest.mark.slow),
    (["--vocab-size", "5000"], "Vocabulary size too high"),
    (["--runner=FnApiRunner"], "need --sampler beam"),
    (["--sentences", "0"], "--sentences must be >= 1"),
])
def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys, extra, message):
    corpus = write_jsonl_corpus(tmp_path / "corpus", train_docs=40)
    assert vocab(corpus, tmp_path / "v", *FAST, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("c4forge vocab: error:")
    assert not (tmp_path / "v").exists()  # nothing left behind, temporary sample included


def test_missing_corpus_and_taken_output(tmp_path, capsys):
    assert vocab(tmp_path / "nothing", tmp_path / "v") == 2
    assert "no c4forge corpus" in capsys.readouterr().err
    corpus = write_jsonl_corpus(tmp_path / "corpus", train_docs=60)
    assert vocab(corpus, tmp_path / "v", "--vocab-size", "200", *FAST) == 0
    assert vocab(corpus, tmp_path / "v", "--vocab-size", "200", *FAST) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert vocab(corpus, tmp_path / "v", "--vocab-size", "200", "--overwrite", *FAST) == 0


def test_choose_eval_text_without_validation_or_heldout(tmp_path):
    corpus = find_corpus(write_jsonl_corpus(tmp_path / "c", train_docs=10))
    everything = measure_sample(corpus.iter_examples("train"), 0, 10**6, 4192)
    assert evaluation.choose_eval_text(corpus, everything, 100).source is None
    some = measure_sample(corpus.iter_examples("train"), 0, 5, 4192)
    chosen = evaluation.choose_eval_text(corpus, some, 3)
    assert chosen.source == "train-heldout" and chosen.documents == 3


# --- the real-web corpus, local and Beam samplers ------------------------------------------------


@pytest.fixture(scope="module")
def realweb(realweb_noblocklist_build) -> Path:
    return realweb_noblocklist_build


def shard_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.slow
def test_beam_sampler_gives_the_same_sample_and_model_as_the_local_one(realweb, tmp_path, capsys):
    common = ["--vocab-size", "2000", "--sentences", "4000", *FAST]
    assert vocab(realweb, tmp_path / "local", *common, "--sample-dir", str(tmp_path / "sl")) == 0
    # The JSONL copy of the same build, read by a Beam job: same sample, same model.
    assert vocab(realweb / "en.noblocklist", tmp_path / "beam", *common, "--sample-dir", str(tmp_path / "sb"),
                 "--sampler", "beam") == 0
    assert shard_bytes(tmp_path / "sb") == shard_bytes(tmp_path / "sl")
    for name in ("spiece.model", "spiece.vocab", "tokenizer.json"):
        assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    ev = report_of(tmp_path / "local")["evaluation"]
    assert ev["source"] == "train-heldout" and ev["hf_parity"]["identical"] == ev["hf_parity"]["texts"] > 2000
    assert 1.2 < ev["tokens_per_word"] < 3 and 0 < ev["unk_rate"] < 0.01
    assert "no validation split" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("sentences,shard_target,runner_args", [
    (10**7, 200_000, ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]),
    (3, 60, []),  # 3 lines over several key ranges: some shards are empty files
], ids=["many_shards_two_workers", "empty_shards"])
def test_beam_and_local_shards_are_byte_identical(realweb, tmp_path, sentences, shard_target, runner_args):
    from c4forge.pipeline.vocab_sampling import sample_with_beam

    corpus = find_corpus(realweb)
    local_info = measure_sample(corpus.iter_examples("train"), 5, sentences, 1000, shard_target)
    write_sample(corpus.iter_examples("train"), local_info, tmp_path / "local")
    beam_info = sample_with_beam(corpus, 5, sentences, 1000, str(tmp_path / "beam"), runner_args, shard_target)
    assert beam_info == local_info and local_info.shards > 1
    assert shard_bytes(tmp_path / "beam") == shard_bytes(tmp_path / "local")
    if sentences == 3:
        assert sum(not data for data in shard_bytes(tmp_path / "local").values()) >= 1


@pytest.mark.slow
def test_the_beam_sampler_reads_an_object_store_corpus_through_beams_filesystems(realweb, tmp_path, monkeypatch):
    """On Dataflow the workers have Beam's GCS/S3 filesystems, not gcsfs/s3fs: the job reads a URL
    corpus through Beam's, whatever storage found it (here one that cannot read the URL at all)."""
    import dataclasses
    import shutil

    from c4forge.corpus.storage import LocalStorage
    from c4forge.pipeline.beam_storage import BeamStorage
    from c4forge.pipeline.vocab_sampling import sample_with_beam
    from helpers.fake_object_store import FakeObjectStore

    monkeypatch.setattr(FakeObjectStore, "root", tmp_path / "store")
    shutil.copytree(realweb, tmp_path / "store" / "bucket" / "corpus")
    remote = find_corpus("fakeobj://bucket/corpus", storage=BeamStorage())
    local_info = measure_sample(find_corpus(realweb).iter_examples("train"), 5, 10**7, 1000, 200_000)
    write_sample(find_corpus(realweb).iter_examples("train"), local_info, tmp_path / "local")
    blind = dataclasses.replace(remote, storage=LocalStorage())
    assert sample_with_beam(blind, 5, 10**7, 1000, str(tmp_path / "beam"), [], 200_000) == local_info
    assert shard_bytes(tmp_path / "beam") == shard_bytes(tmp_path / "local")
