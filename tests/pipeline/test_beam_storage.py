"""Which storage a Beam job's workers read a corpus with (``pipeline/beam_storage.py``): one rule,
the same in `c4forge tokenize` and the vocabulary's Beam sampler, for a local folder, a URL Beam
reads (``fakeobj://`` here, gs:// and s3:// on Dataflow) and one only fsspec reads (memory://)."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from pathlib import Path

import pytest

from c4forge.corpus.reader import find_corpus
from c4forge.corpus.storage import FsspecStorage, LocalStorage
from c4forge.pipeline import vocab_sampling
from c4forge.pipeline.beam_storage import BeamStorage, worker_storage
from c4forge.pipeline.tokenize import open_corpus
from helpers.corpora import write_jsonl_corpus
from helpers.fake_object_store import FakeObjectStore


class Planned(Exception):
    """Raised where the sampler builds its pipeline: what it would read with is then known."""


def sampler_storage(corpus, tmp_path: Path, monkeypatch):
    """The storage ``sample_with_beam`` hands its workers (the job is not run)."""
    def capture(pipeline, corpus, *rest):
        raise Planned(corpus.storage)

    monkeypatch.setattr(vocab_sampling, "build_sampling", capture)
    with pytest.raises(Planned) as planned:
        vocab_sampling.sample_with_beam(corpus, 5, 100, 1000, str(tmp_path / "sample"))
    return planned.value.args[0]


@pytest.fixture
def local_corpus(tmp_path) -> Path:
    docs = [{"text": f"Line {i} of a page.", "timestamp": "2019-04-25T12:57:54Z", "url": f"https://e.example/{i}"}
            for i in range(5)]
    return write_jsonl_corpus(tmp_path / "corpus", {"train": [docs]})


def fakeobj_corpus(local: Path, tmp_path: Path, monkeypatch) -> tuple[str, object]:
    monkeypatch.setattr(FakeObjectStore, "root", tmp_path / "store")
    shutil.copytree(local, tmp_path / "store" / "bucket" / "corpus")
    url = "fakeobj://bucket/corpus"
    found = find_corpus(url, storage=BeamStorage())
    return url, dataclasses.replace(found, storage=LocalStorage())  # handed on with one that cannot read it


def memory_corpus(local: Path, tmp_path: Path, monkeypatch) -> tuple[str, object]:
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://bucket-{uuid.uuid4().hex[:8]}/corpus"
    memory = fsspec.filesystem("memory")
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        memory.pipe(f"{url}/{path.relative_to(local).as_posix()}", path.read_bytes())
    return url, find_corpus(url)


def test_the_rule(tmp_path):
    assert isinstance(worker_storage(str(tmp_path)), LocalStorage)
    assert isinstance(worker_storage(tmp_path), LocalStorage)
    assert isinstance(worker_storage("fakeobj://bucket/corpus"), BeamStorage)
    memory = worker_storage("memory://bucket/corpus")
    assert isinstance(memory, FsspecStorage) and memory.protocol == "memory"


@pytest.mark.parametrize("where,expected", [("local", LocalStorage), ("fakeobj", BeamStorage),
                                            ("memory", FsspecStorage)])
def test_tokenize_and_the_vocab_sampler_read_a_corpus_the_same_way(local_corpus, tmp_path, monkeypatch,
                                                                    where, expected):
    if where == "local":
        path, corpus = str(local_corpus), find_corpus(local_corpus)
    elif where == "fakeobj":
        path, corpus = fakeobj_corpus(local_corpus, tmp_path, monkeypatch)
    else:
        path, corpus = memory_corpus(local_corpus, tmp_path, monkeypatch)
    tokenize_corpus = open_corpus(path)
    assert type(tokenize_corpus.storage) is expected
    assert type(sampler_storage(corpus, tmp_path, monkeypatch)) is expected
    assert [d["text"] for d in tokenize_corpus.iter_examples("train")] == [f"Line {i} of a page." for i in range(5)]
