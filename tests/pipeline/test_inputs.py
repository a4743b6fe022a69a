"""`--input`: directories, globs, files that are not inputs, and files that must never be opened.

A FIFO in the input would block the build forever at its first read, and a directory read as a
WET file used to build an empty dataset with exit code 0. Expansion (``pipeline/inputs.py``)
names what it found and what it left out; the readers skip FIFOs, sockets and devices unopened,
counted; and the printed summary shows every input that was not read.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from c4forge import cli
from c4forge.cleaning_rules.profiles import C4_EN_3_1_0
from c4forge.pipeline.errors import BuildError
from c4forge.pipeline.inputs import expand_inputs
from c4forge.pipeline.readers import read_warc_pages, read_wet_pages

from helpers import badinputs as bad
from conftest import BADWORDS_DIR, REALWEB_WET, REPO, require_shared


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("c4forge: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# --- expansion ---------------------------------------------------------------------------------

def test_a_directory_means_its_input_files_recursively(tmp_path, caplog):
    a = touch(tmp_path / "in" / "a.warc.wet.gz")
    b = touch(tmp_path / "in" / "deep" / "er" / "b.warc.wet")
    warc = touch(tmp_path / "in" / "deep" / "c.warc.gz")
    touch(tmp_path / "in" / "notes.txt")
    with caplog.at_level(logging.INFO, logger="c4forge"):
        assert expand_inputs([str(tmp_path / "in")]) == [str(a), str(b)]
    assert f"--input {tmp_path / 'in'}: 2 WET file(s) under it, recursively" in caplog.text
    assert expand_inputs([str(tmp_path / "in") + "/"], "warc") == [str(warc)]


def test_a_directory_without_input_files_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["build", "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out")]) == 2
    assert f"--input {tmp_path / 'empty'}: no WET files (*.warc.wet.gz, *.warc.wet) under this directory" in \
        one_error_line(capsys)
    assert not (tmp_path / "out" / "c4forge-report.json").exists()


def test_a_directory_of_warc_files_read_as_wet_says_which_flag(tmp_path):
    touch(tmp_path / "in" / "x.warc.gz")
    with pytest.raises(BuildError, match=r"only 1 other file\(s\): x.warc.gz; for WARC files pass --input-format warc"):
        expand_inputs([str(tmp_path / "in")])


def test_a_glob_names_and_counts_the_files_that_are_not_wet(tmp_path, caplog):
    wet = touch(tmp_path / "a.warc.wet.gz")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "index.html")
    assert expand_inputs([str(tmp_path / "*")]) == [str(wet)]
    warnings = [r.getMessage() for r in caplog.records if r.name == "c4forge.pipeline.inputs"]
    assert warnings == [f"--input {str(tmp_path / '*')!r}: 2 matched file(s) are not WET files (*.warc.wet.gz, "
                        f"*.warc.wet) and are not read: index.html, notes.txt"]


def test_a_glob_of_no_input_file_is_an_error_naming_them(tmp_path, capsys):
    touch(tmp_path / "notes.txt")
    assert cli.main(["build", "--input", str(tmp_path / "*.txt"), "--output", str(tmp_path / "out")]) == 2
    assert "matches 1 file(s), none named like WET files (*.warc.wet.gz, *.warc.wet): notes.txt" in \
        one_error_line(capsys)


def test_a_file_named_on_its_own_is_read_whatever_its_name(tmp_path):
    odd = touch(tmp_path / "segment-00001.gz")
    assert expand_inputs([str(odd)]) == [str(odd)]


def test_a_missing_path_is_one_line(tmp_path, capsys):
    assert cli.main(["build", "--input", str(tmp_path / "nothing"), "--output", str(tmp_path / "out")]) == 2
    assert "nothing': no such file or directory" in one_error_line(capsys)


def test_inputs_that_are_all_fifos_are_an_error(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.warc.wet.gz")
    assert cli.main(["build", "--input", str(tmp_path / "*.warc.wet.gz"), "--output", str(tmp_path / "out")]) == 2
    assert "pipe.warc.wet.gz is a FIFO (named pipe)" in one_error_line(capsys)


# --- the readers never open what is not a regular file -------------------------------------------

@pytest.fixture
def unix_socket():
    folder = Path(tempfile.mkdtemp(prefix="c4f-"))  # short: a socket's path has at most 107 bytes
    path = folder / "listening.warc.wet.gz"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        yield path
    shutil.rmtree(folder)


@pytest.mark.timeout(60)  # opening a FIFO blocks until a writer comes: this test would hang
@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
@pytest.mark.parametrize("reader", [read_wet_pages, read_warc_pages], ids=["wet", "warc"])
def test_a_file_that_is_not_regular_is_skipped_unopened(tmp_path, request, caplog, kind, reader):
    if kind == "fifo":
        path = tmp_path / "pipe.warc.gz"
        os.mkfifo(path)
    else:
        path = request.getfixturevalue("unix_socket") if kind == "socket" else Path("/dev/null")
    opened = []
    counters = Counter()
    pages = list(reader(str(path), C4_EN_3_1_0, counters, open_file=opened.append))
    namespace = "split-wet-file" if reader is read_wet_pages else "split-warc-file"
    assert pages == [] and opened == []
    assert counters == Counter({f"{namespace}/skipped-file:not_regular_file": 1,
                                f"skipped-files/not_regular_file:{path}": 1})
    assert "not a regular file; skipped without opening it" in caplog.text


# --- a build with all of it: it ends, and its summary says what was lost --------------------------

@pytest.mark.slow
def test_a_build_over_a_glob_with_a_fifo_and_bad_files_ends_and_says_what_was_lost(tmp_path):
    require_shared()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "realweb-dev.warc.wet.gz").symlink_to(REALWEB_WET)
    os.mkfifo(inputs / "stuck.warc.wet.gz")  # nobody ever writes to it
    bad_utf8 = bad.invalid_utf8_body(inputs)  # skipped whole with the c4-en quirks
    not_warc = bad.write_plain(inputs / "error-page.warc.wet.gz", b"<html><body>503</body></html>\n" * 20)
    (inputs / "notes.txt").write_text("not a WET file\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "c4forge.cli", "build", "--input", str(inputs / "*"), "--output",
                           str(out), "--badwords-dir", str(BADWORDS_DIR)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 matched file(s) are not WET files (*.warc.wet.gz, *.warc.wet) and are not read: notes.txt" in done.stderr
    report = json.loads((out / "c4forge-report.json").read_text())
    assert report["pages_kept"] == 252  # the real pages, as from the file alone
    counters = report["counters"]
    assert counters["split-wet-file/skipped-file:not_regular_file"] == 1
    assert counters["split-wet-file/skipped-file:invalid_utf8"] == 1
    assert counters["split-wet-file/unparseable-data"] == 1
    assert {(s["reason"], Path(s["path"]).name) for s in report["skipped_files"]} == {
        ("invalid_utf8", bad_utf8.name), ("not_regular_file", "stuck.warc.wet.gz")}
    summary = done.stdout
    for shown in ("skipped-file:not_regular_file", "skipped-file:invalid_utf8", "unparseable-data",
                  str(inputs / "stuck.warc.wet.gz"), str(bad_utf8), "--no-wet-quirks", "files skipped whole (2):",
                  "WARNING: not all input was read: split-wet-file/skipped-file:invalid_utf8 1"):
        assert shown in summary, shown
    assert not_warc.name in done.stderr  # the log names the file and offset of the unparseable data
