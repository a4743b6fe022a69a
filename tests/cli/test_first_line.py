"""Every command says what it is doing before its heavy imports (Beam, TFDS, torch): its first line
reaches stderr within seconds of the start, in a real process. The bound is generous (a busy
machine); the measured times are printed (``pytest -s``)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared

FIRST_LINE_WITHIN_S = 5.0
CHILD_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def first_line(argv: list[str]) -> tuple[float, str]:
    """(seconds from the start to the first line on stderr, that line); the process is then stopped."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "c4forge.cli", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=CHILD_ENV)
    try:
        ready, _, _ = select.select([process.stderr], [], [], 60)
        assert ready, "no line within 60 s"
        line = process.stderr.readline().decode()
        return time.monotonic() - started, line.strip()
    finally:
        process.kill()
        process.wait(timeout=60)
        process.stderr.close()


def commands(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """command → (argv, what its first line says)."""
    corpus, wet = str(tmp / "corpus"), str(REALWEB_WET)
    return {
        "build": (["build", "--input", wet, "--output", str(tmp / "b"), "--badwords-dir", str(BADWORDS_DIR)],
                  "build: 1 input(s) -> "),
        "parity": (["parity", "--input", wet, "--badwords-dir", str(BADWORDS_DIR)], "parity: TFDS's reference graph"),
        "run-all": (["run-all", "--input", wet, "--output", str(tmp / "r")], "run-all: 1 input(s) -> corpus"),
        "vocab": (["vocab", "--corpus", corpus, "--output", str(tmp / "v")], "vocab: 32,000 pieces from up to"),
        "tokenize": (["tokenize", "--corpus", corpus, "--vocab", str(tmp / "v")],
                     f"tokenize: {corpus} with {tmp / 'v'} -> tokens/ beside the corpus"),
        "pretrain": (["pretrain", "--corpus", corpus, "--vocab", str(tmp / "v"), "--output", str(tmp / "m")],
                     "pretrain: "),
    }


@pytest.mark.parametrize("command", ["build", "parity", "run-all", "vocab", "tokenize", "pretrain"])
def test_the_first_line_comes_within_seconds(tmp_path, command):
    require_shared()
    argv, says = commands(tmp_path)[command]
    seconds, line = first_line(argv)
    print(f"\n{command}: first line after {seconds:.2f} s: {line}")
    assert f"INFO c4forge.cli: {says}" in line
    assert seconds < FIRST_LINE_WITHIN_S


def test_a_sample_build_names_the_sample_as_its_input():
    from argparse import Namespace

    from c4forge.cli.first_line import first_line as line_of

    args = Namespace(command="build", sample=True, input=None, crawl=None, segments=None, output="out/")
    assert line_of(args) == "build: the packaged sample -> out/ (loading Apache Beam)"
