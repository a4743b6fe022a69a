"""`c4forge tokenize` submitted to a Beam job service, run by SDK workers an EXTERNAL worker pool
starts (tests/helpers/portable_services.py), as Flink and Spark run it: the token shards must be
the in-process runner's, byte for byte."""

from __future__ import annotations

import pytest

from c4forge import cli
from helpers.portable_services import portable_services, run_c4forge  # noqa: F401 (a fixture)
from helpers.pretraining import train_vocabulary

pytestmark = pytest.mark.slow

TOKENIZE_SECONDS = 300  # about 20 s here


def file_bytes(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".c4forge.lock"}


def test_tokenize_through_job_service_writes_the_in_process_bytes(realweb_noblocklist_build, portable_services,
                                                                   tmp_path):
    vocab = tmp_path / "vocab"
    train_vocabulary(realweb_noblocklist_build, vocab)
    corpus = realweb_noblocklist_build / "en.noblocklist"  # the JSONL copy, as a cluster would read it
    assert cli.main(["tokenize", "--corpus", str(corpus), "--vocab", str(vocab), "--output",
                     str(tmp_path / "in-process")]) == 0
    run_c4forge(portable_services, ["tokenize", "--corpus", str(corpus), "--vocab", str(vocab), "--output",
                                    str(tmp_path / "job-service")], tmp_path / "c4forge.log", TOKENIZE_SECONDS)
    ours = file_bytes(tmp_path / "job-service")
    assert ours == file_bytes(tmp_path / "in-process")
    assert any(name.endswith("/manifest.json") for name in ours) and any(name.endswith(".bin") for name in ours)
