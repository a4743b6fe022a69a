"""`c4forge build` options from issue 7, end to end through the CLI on the shared real pages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from c4forge import cli

from conftest import BADWORDS_DIR, REALWEB_EXPECTED, REALWEB_WET, SHARED, require_shared

pytestmark = pytest.mark.slow
REALWEB_WARC = SHARED / "data" / "realweb" / "realweb-dev.warc.gz"


def build(out, *extra) -> dict:
    require_shared()
    assert cli.main(["build", "--output", str(out), "--badwords-dir", str(BADWORDS_DIR), *extra]) == 0
    return json.loads((out / "c4forge-report.json").read_text())


def test_warc_input_keeps_the_same_documents_as_the_wet_path(tmp_path):
    pytest.importorskip("resiliparse")
    report = build(tmp_path, "--input", str(REALWEB_WARC), "--input-format", "warc")
    expected = {json.loads(l)["url"] for l in REALWEB_EXPECTED.read_text().splitlines()}
    assert report["pages_kept"] == len(expected) == 252
    assert report["config"]["input_format"] == "warc"


def test_three_sentence_span_dedup_replaces_line_dedup(tmp_path):
    report = build(tmp_path, "--input", str(REALWEB_WET), "--dedup", "spans")
    counters = report["counters"]
    assert not any(k.startswith("dedupe-lines/") for k in counters)
    assert counters["dedupe-sentences/sentence-filtered:global_duplicate"] == 528
    # README's figure: span dedup removes 40,628 characters here (line dedup: 110,126, test_build.py)
    assert sum(v for k, v in counters.items() if k.startswith("chars/dedupe-sentences/")) == 40628
    assert report["pages_kept"] == 252
    assert report["config"]["profile_resolved"]["dedup"] == "spans"


def test_mc4_without_cld3_is_a_one_line_error(tmp_path, capsys, hide_module):
    require_shared()
    hide_module("gcld3")
    rc = cli.main(["build", "--input", str(REALWEB_WET), "--output", str(tmp_path),
                   "--badwords-dir", str(BADWORDS_DIR), "--profile", "mc4-3.1.0"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("c4forge: error:") and "gcld3" in err and "Traceback" not in err


def test_mc4_with_cld3_writes_per_language_tfds_splits(tmp_path):
    pytest.importorskip("gcld3", reason="gcld3 (the c4forge[mc4] extra, built from source) is not installed")
    require_shared()
    # In a fresh process: gcld3 and TensorFlow (imported by other tests) each carry a C++
    # protobuf runtime, and loading both in one process crashes.
    run = subprocess.run([sys.executable, "-m", "c4forge.cli", "build", "--input", str(REALWEB_WET),
                          "--output", str(tmp_path), "--badwords-dir", str(BADWORDS_DIR),
                          "--profile", "mc4-3.1.0"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((tmp_path / "c4forge-report.json").read_text())
    counters = report["counters"]
    assert counters["paragraph-filter/filtered"] > 0
    assert counters["language-filter/passed:de"] > counters["language-filter/passed:en"] > 100
    assert counters["badwords-filter/filtered"] > 0
    info = json.loads((tmp_path / "c4" / "multilingual" / "3.1.0" / "dataset_info.json").read_text())
    splits = {s["name"]: sum(int(n) for n in s["shardLengths"]) for s in info["splits"]}
    assert splits["de"] > splits["en"] > 100
    assert sum(splits.values()) == report["pages_kept"] == 701  # README's figure
    assert (counters["paragraph-filter/filtered"], counters["badwords-filter/filtered"]) == (139, 86)
