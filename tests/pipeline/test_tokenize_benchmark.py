"""Smoke test of benchmarks/tokenize_benchmark.py on the real-web build, once over two shards:
it runs, prints both rates and their ratio, and the cache's ids are sentencepiece's."""

from __future__ import annotations

import re
import sys

import pytest

from conftest import BENCHMARKS
from helpers.pretraining import train_vocabulary

pytestmark = pytest.mark.slow


def test_the_benchmark_prints_both_rates_and_their_ratio(realweb_noblocklist_build, tmp_path, capsys):
    train_vocabulary(realweb_noblocklist_build, tmp_path / "vocab")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import tokenize_benchmark
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert tokenize_benchmark.main(["--corpus", str(realweb_noblocklist_build), "--vocab", str(tmp_path / "vocab"),
                                    "--copies", "1", "--shards", "2", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"reference .* [\d.]+ MB/s", out) and "ids equal to the reference's: yes" in out
    assert re.search(r"token cache time / reference time: [\d.]+x", out)
