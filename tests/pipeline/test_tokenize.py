"""`c4forge tokenize`: the Beam job's token shards are the bytes pretraining's in-process cache
writes, on every local runner and into an object store; pretraining reads them (in place, or
fetched from an object store) and gets the same batches; a bounded run reads only the shards of
its selection; altered shards and a second writer are refused in one line."""

from __future__ import annotations

import json
import random
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest

from c4forge import cli
from c4forge.corpus.reader import find_corpus
from c4forge.corpus.tokens import TokensError
from c4forge.pipeline.output_lock import OutputLock
from c4forge.pretrain import token_cache
from c4forge.pretrain.bounded_start import shard_order
from c4forge.pretrain.data import Sharding, Stream, TrainBatches
from c4forge.pretrain.layout import LayoutParams
from c4forge.pretrain.vocab import load_vocab
from helpers.corpora import write_jsonl_corpus
from helpers.fake_object_store import FakeObjectStore

WORDS = ("the of and to in is was for on that with as by at from his her an which are were be this had not but "
         "cat dog river market station window garden letter summer winter music paper engine harbor").split()
TRAIN_SHARDS = 5
PARAMS = LayoutParams(seed=3, inputs_length=64, docs_per_group=4, max_chunk_tokens=300)


def documents(shard: int, count: int) -> list[dict]:
    rng = random.Random(shard)
    docs = []
    for i in range(count):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25))).capitalize() + "."
                 for _ in range(rng.randint(0 if i % 9 == 0 else 1, 8))]
        docs.append({"text": "\n".join(lines), "timestamp": "2019-04-25T12:57:54Z", "url": f"https://e.example/{shard}/{i}"})
    return docs


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A JSONL corpus of five train shards and one validation shard, a 100-piece vocabulary."""
    import sentencepiece as spm

    root = tmp_path_factory.mktemp("tokenize")
    corpus = write_jsonl_corpus(root / "corpus", {"train": [documents(s, 30 + 7 * s) for s in range(TRAIN_SHARDS)],
                                                  "validation": [documents(99, 20)]})
    vocab = root / "vocab"
    vocab.mkdir()
    lines = [line for s in range(TRAIN_SHARDS) for d in documents(s, 30) for line in d["text"].split("\n") if line]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_prefix=str(vocab / "spiece"), vocab_size=100, hard_vocab_limit=False,
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram", num_threads=1,
                                   minloglevel=2)
    return root, corpus, vocab


def tokenize(corpus, vocab, *extra: str) -> int:
    return cli.main(["tokenize", "--corpus", str(corpus), "--vocab", str(vocab), *extra])


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".c4forge.lock"}


@pytest.fixture(scope="module")
def in_process_cache(setup) -> Path:
    """What pretraining's in-process cache writes for the corpus (no token shards published yet)."""
    root, corpus, vocab = setup
    cache = root / "cache"
    for split in ("train", "validation"):
        token_cache.build_token_store(find_corpus(corpus), split, load_vocab(vocab), cache, workers=2)
    return cache


@pytest.fixture(scope="module")
def published(setup, in_process_cache) -> Path:
    root, corpus, vocab = setup
    assert tokenize(corpus, vocab) == 0
    return corpus / "tokens"


def test_the_job_writes_the_in_process_caches_bytes(published, in_process_cache):
    ours = file_bytes(published)
    assert sorted({name.split("/")[0] for name in ours}) == sorted(p.name for p in in_process_cache.iterdir())
    cached = {name: data for name, data in file_bytes(in_process_cache).items() if "/selection-" not in name}
    assert ours == cached
    manifest = json.loads(next(published.glob("train-*/manifest.json")).read_text())
    assert [s["name"] for s in manifest["shards"]] == [f"shard-{i:05d}" for i in range(TRAIN_SHARDS)]
    assert not list(published.glob(".c4forge-staging-*"))


@pytest.mark.slow
@pytest.mark.parametrize("runner_args", [
    ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
    ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"],
], ids=["multi_processing", "portable_loopback"])
def test_other_runners_write_the_same_bytes(setup, published, tmp_path, runner_args):
    _, corpus, vocab = setup
    assert tokenize(corpus, vocab, "--output", str(tmp_path / "tokens"), *runner_args) == 0
    assert file_bytes(tmp_path / "tokens") == file_bytes(published)


def test_a_second_run_publishes_nothing_and_a_held_lock_refuses(setup, published, tmp_path, capsys):
    _, corpus, vocab = setup
    before = {p: p.stat().st_mtime_ns for p in published.rglob("*") if p.is_file()}
    assert tokenize(corpus, vocab) == 0
    assert "already tokenized" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in published.rglob("*") if p.is_file()} == before
    other = tmp_path / "other"
    other.mkdir()
    with OutputLock(str(other), "r-held"):
        assert tokenize(corpus, vocab, "--output", str(other)) == 2
    err = capsys.readouterr().err
    assert "in use by another c4forge build (run r-held" in err and len(err.strip().splitlines()) == 1


def stream_rows(store, micro_batches: int = 6) -> list[dict]:
    stream = Stream(store, PARAMS)
    batches = TrainBatches(stream, Sharding(micro_batch=4), vocab_size=400)
    return [batches[i] for i in range(micro_batches)]


def assert_same_rows(a: list[dict], b: list[dict]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for name in x:
            np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def test_pretraining_reads_the_published_shards_in_place_with_the_caches_batches(setup, published, in_process_cache,
                                                                                   tmp_path):
    _, corpus, vocab = setup
    store = token_cache.build_token_store(find_corpus(corpus), "train", load_vocab(vocab), tmp_path / "fresh-cache")
    assert store.directory.parent == published  # read where the job wrote them: nothing tokenized here
    assert not list((tmp_path / "fresh-cache").rglob("*.bin"))
    cached = token_cache.build_token_store(find_corpus(corpus), "train", load_vocab(vocab), in_process_cache)
    assert cached.directory.parent == in_process_cache
    assert_same_rows(stream_rows(store), stream_rows(cached))


def test_an_altered_published_shard_is_refused(setup, published, tmp_path):
    _, corpus, vocab = setup
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    shard = next(copy.glob("tokens/train-*/shard-00002.bin"))
    data = bytearray(shard.read_bytes())
    data[10] ^= 1
    shard.write_bytes(bytes(data))  # same size: the sha256 tells
    with pytest.raises(TokensError, match="not what its manifest lists"):
        token_cache.build_token_store(find_corpus(copy), "train", load_vocab(vocab), tmp_path / "cache")
    data[10] ^= 1
    shard.write_bytes(bytes(data))
    assert token_cache.build_token_store(find_corpus(copy), "train", load_vocab(vocab), tmp_path / "cache")
    shard.write_bytes(bytes(data[:-2]))  # after the selection was made: its size is checked at each start
    with pytest.raises(TokensError, match="not what its manifest lists"):
        token_cache.build_token_store(find_corpus(copy), "train", load_vocab(vocab), tmp_path / "cache")


def memory_upload(local: Path, url: str) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    for path in sorted(p for p in local.rglob("*") if p.is_file() and p.name != ".c4forge.lock"):
        fs.pipe(f"{url}/{path.relative_to(local).as_posix()}", path.read_bytes())


def test_a_bounded_run_fetches_only_its_selection_from_an_object_store(setup, published, in_process_cache, tmp_path):
    pytest.importorskip("fsspec")
    _, corpus, vocab = setup
    url = f"memory://bucket-{uuid.uuid4().hex[:8]}/corpus"
    memory_upload(corpus, url)
    manifest = json.loads(next(published.glob("train-*/manifest.json")).read_text())
    tokens = [s["tokens"] for s in manifest["shards"]]
    order = shard_order(TRAIN_SHARDS).tolist()
    budget = tokens[order[0]] + 1  # the first shard in hash order is not enough; the first two are
    store = token_cache.build_token_store(find_corpus(url), "train", load_vocab(vocab), tmp_path / "cache",
                                          budget=budget)
    assert store.shard_names == sorted(f"shard-{i:05d}" for i in order[:2])
    fetched = sorted(p.name for p in store.directory.glob("shard-*"))
    assert fetched == sorted(f"{name}{suffix}" for name in store.shard_names for suffix in (".bin", ".offsets.npy"))
    assert store.label and store.layouts_root.parent == store.work_directory / "layouts"
    # the same selection made by tokenizing here (only the hash-order prefix is tokenized)
    unpublished = tmp_path / "corpus"
    shutil.copytree(corpus, unpublished, ignore=shutil.ignore_patterns("tokens"))
    local = token_cache.build_token_store(find_corpus(unpublished), "train", load_vocab(vocab), tmp_path / "local",
                                          budget=budget)
    assert local.directory.parent == tmp_path / "local"
    assert local.shard_names == store.shard_names
    assert_same_rows(stream_rows(store, 3), stream_rows(local, 3))
    again = token_cache.wait_for_token_store(find_corpus(url), "train", load_vocab(vocab), tmp_path / "cache",
                                             budget=budget)
    assert again.shard_names == store.shard_names and again.directory == store.directory


def test_the_in_process_cache_tokenizes_only_the_selection(setup, tmp_path):
    _, corpus, vocab = setup
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy, ignore=shutil.ignore_patterns("tokens"))  # nothing published
    store = token_cache.build_token_store(find_corpus(copy), "train", load_vocab(vocab), tmp_path / "cache",
                                          budget=1, workers=1)
    first = shard_order(TRAIN_SHARDS).tolist()[0]
    assert store.shard_names == [f"shard-{first:05d}"]
    assert sorted(p.name for p in store.directory.glob("*.bin")) == [f"shard-{first:05d}.bin"]
    assert not (store.directory / "manifest.json").exists()  # not every shard is there


@pytest.mark.slow
def test_the_job_reads_and_writes_an_object_store(setup, published, tmp_path, monkeypatch):
    _, corpus, vocab = setup
    monkeypatch.setattr(FakeObjectStore, "root", tmp_path / "store")
    shutil.copytree(corpus, tmp_path / "store" / "bucket" / "corpus", ignore=shutil.ignore_patterns("tokens"))
    assert tokenize("fakeobj://bucket/corpus", vocab) == 0
    assert file_bytes(tmp_path / "store" / "bucket" / "corpus" / "tokens") == file_bytes(published)


def test_a_missing_vocabulary_or_corpus_is_one_line(setup, tmp_path, capsys):
    _, corpus, vocab = setup
    assert tokenize(corpus, tmp_path) == 2
    assert "no spiece.model" in capsys.readouterr().err
    assert tokenize(tmp_path / "nothing", vocab) == 2
    err = capsys.readouterr().err
    assert "no c4forge corpus" in err and len(err.strip().splitlines()) == 1


def test_pretrain_prepares_from_the_published_shards_reading_only_its_selection(setup, published, tmp_path, capsys):
    _, corpus, vocab = setup
    cache = tmp_path / "cache"
    assert cli.main(["pretrain", "--corpus", str(corpus), "--vocab", str(vocab), "--output", str(tmp_path / "run"),
                     "--token-cache", str(cache), "--prepare-only", "--model", "tiny", "--inputs-length", "64",
                     "--steps", "2", "--batch-size", "2", "--eval-rows", "4", "--no-tensorboard"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["prepared"]).parent == published  # in place: nothing tokenized or copied
    assert not list(cache.rglob("*.bin"))
    (selection_file,) = cache.glob("train-*/selection-tokens-*.json")
    selection = json.loads(selection_file.read_text())
    assert [s["name"] for s in selection["shards"]] == [f"shard-{shard_order(TRAIN_SHARDS)[0]:05d}"]
    assert list(selection_file.parent.glob(f"layouts/{selection['label']}/*/epoch-00000/order.npy"))
