"""Shared fixtures: where ../shared is, and a realweb build reused by several tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # ../shared from the repository root
BENCHMARKS = REPO / "benchmarks"
REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
REALWEB_EXPECTED = SHARED / "data" / "realweb" / "realweb-dev.c4-tfds-3.1.0.jsonl"
REALWEB_COUNTERS = SHARED / "data" / "realweb" / "realweb-dev.c4-tfds-3.1.0.counters.json"
BADWORDS_DIR = SHARED / "assets" / "ldnoobw"


def require_shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent (a user's machine): the real-data tests need its WET file and word lists")
    return SHARED


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def realweb_wet_pages() -> list:
    """The 974 pages of the real-web WET file as the c4-en-3.1.0 reader gives them (read once)."""
    if not REALWEB_WET.is_file():
        pytest.skip(f"../shared is absent (a user's machine): no {REALWEB_WET}")
    from collections import Counter

    from c4forge.cleaning_rules import profiles
    from c4forge.pipeline.readers import read_wet_pages

    return list(read_wet_pages(str(REALWEB_WET), profiles.C4_EN_3_1_0, Counter()))


@pytest.fixture(scope="session")
def realweb_noblocklist_build(tmp_path_factory) -> Path:
    """`c4forge build --noblocklist --format both` of the real-web WET (290 documents, all in
    train), built once per test session for the vocabulary and pretraining tests. Read-only."""
    from c4forge import cli

    require_shared()
    out = tmp_path_factory.mktemp("realweb-noblocklist")
    assert cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out), "--badwords-dir",
                     str(BADWORDS_DIR), "--noblocklist", "--format", "both"]) == 0
    return out


@pytest.fixture
def hide_module(monkeypatch):
    """``hide_module("gcld3")``: importing that module raises ImportError, as on a machine
    without the package (sys.modules tricks confuse tfds; the import hook does not)."""
    import builtins

    real_import = builtins.__import__
    hidden: set[str] = set()

    def guarded_import(name, *args, **kwargs):
        if name.split(".")[0] in hidden:
            raise ImportError(f"No module named {name!r} (hidden by the test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded_import)
    return hidden.add


@pytest.fixture
def one_torch_thread():
    """Two intra-op threads on a two-core machine shared with other jobs run ~10x slower than one."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def realweb(tmp_path_factory, realweb_noblocklist_build):
    """For the pretraining tests: the real-web build with a tiny vocabulary and a token cache dir."""
    from helpers.pretraining import Realweb, train_vocabulary

    root = tmp_path_factory.mktemp("pretrain")
    train_vocabulary(realweb_noblocklist_build, root / "vocab")
    return Realweb(realweb_noblocklist_build, root / "vocab", root / "token-cache", root)
