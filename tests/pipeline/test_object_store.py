"""A build into an object store (no folders, rename = copy + delete), on a fake one kept in a
local folder (tests/helpers/fake_object_store.py): the same publish order, the lock as an object,
the old build replaced whole."""

from __future__ import annotations

import json

import pytest

from c4forge import cli
from c4forge.corpus.reader import find_corpus
from helpers.fake_object_store import FakeObjectStore

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared

pytestmark = pytest.mark.slow


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    monkeypatch.setattr(FakeObjectStore, "root", tmp_path / "store")
    (tmp_path / "store" / "bucket").mkdir(parents=True)
    return tmp_path / "store" / "bucket"


def build(output: str, *extra: str) -> int:
    require_shared()
    return cli.main(["build", "--input", str(REALWEB_WET), "--output", output, "--badwords-dir", str(BADWORDS_DIR),
                     *extra])


def test_a_build_is_published_into_an_object_store_and_replaced_whole(bucket, capsys):
    assert build("fakeobj://bucket/out", "--format", "both") == 0
    out = bucket / "out"
    corpus = find_corpus(out)
    assert corpus.kind == "tfrecord" and sum(1 for _ in corpus.iter_examples("train")) == 252
    assert (out / "en").is_dir() and not list(out.glob(".c4forge-staging-*"))
    assert not (out / ".c4forge.lock").exists()  # an object-store lock is deleted at the end

    capsys.readouterr()
    assert build("fakeobj://bucket/out", "--format", "jsonl") == 2  # no --overwrite
    assert "already holds a build" in capsys.readouterr().err
    assert build("fakeobj://bucket/out", "--format", "jsonl", "--overwrite", "--noblocklist") == 0
    manifest = json.loads((out / "c4forge-manifest.json").read_text())
    assert [d["directory"] for d in manifest["datasets"]] == ["en.noblocklist"]
    assert not (out / "c4").exists() and not (out / "en").exists()  # every format of the old build is gone
    corpus = find_corpus(out)
    assert corpus.kind == "jsonl" and sum(1 for _ in corpus.iter_examples("train")) == 290


def test_a_lock_object_names_the_build_holding_it_and_how_to_clear_it(bucket, capsys):
    (bucket / "out").mkdir()
    (bucket / "out" / ".c4forge.lock").write_text(json.dumps(
        {"host": "worker-7", "pid": 4242, "started": "2026-12-01 10:00:00 UTC", "run_id": "r1"}))
    assert build("fakeobj://bucket/out") == 2
    (line,) = [l for l in capsys.readouterr().err.splitlines() if l.startswith("c4forge: error:")]
    assert "worker-7" in line and "pid 4242" in line and "delete fakeobj://bucket/out/.c4forge.lock" in line
