"""A build's progress: live bars on a terminal, the build's own log lines elsewhere in its process,
and per-worker log lines where the DoFns run in other processes (multi_processing, Dataflow)."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
import time

import pytest

from c4forge.pipeline import progress

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def read_file_through(tracker: progress.FileProgress, pages: int, chunks: int, chunk_bytes: int) -> None:
    for _ in range(chunks):
        tracker.add_bytes(chunk_bytes)
    for _ in range(pages):
        tracker.add_page()
    tracker.finish()


def test_on_a_terminal_the_bars_show_files_bytes_pages_and_kept():
    terminal = FakeTerminal()
    with progress.live_progress(files=2, input_bytes=2000, stream=terminal):
        read_file_through(progress.FileProgress("a.warc.wet.gz", 1000, passes=2), pages=30, chunks=4, chunk_bytes=500)
        read_file_through(progress.FileProgress("b.warc.wet.gz", 1000, passes=1), pages=12, chunks=1, chunk_bytes=400)
        kept = progress.KeptProgress()
        for _ in range(7):
            kept.add()
    screen = terminal.getvalue()
    assert "read: 100%" in screen and "files 2/2, 42 pages" in screen  # b's unread 600 bytes count once it is done
    assert "kept: 7 pages" in screen


def test_a_file_read_more_often_than_expected_counts_its_size_once():
    live = progress.LiveProgress(files=2, input_bytes=2000, stream=None, every_s=3600)
    with_live = progress.FileProgress("a.warc.wet.gz", 1000, passes=1)
    with_live.live = live
    read_file_through(with_live, pages=1, chunks=4, chunk_bytes=700)  # 2,800 bytes: read twice and more
    assert live.bytes_done == 1000 and live.files_done == 1
    assert "1000 B of 2.0 KiB (50%)" in live.line()


def test_elsewhere_the_build_logs_its_own_lines_not_one_per_file(caplog, monkeypatch):
    monkeypatch.setenv(progress.EVERY_S_ENV, "3600")
    caplog.set_level(logging.INFO, logger="c4forge.progress")
    with progress.live_progress(files=50, input_bytes=50 * 100, stream=io.StringIO()):
        for i in range(50):
            read_file_through(progress.FileProgress(f"f{i}.warc.wet.gz", 100, passes=1), pages=2, chunks=1,
                              chunk_bytes=100)
        progress.KeptProgress().add()
    assert [r.getMessage() for r in caplog.records] == [caplog.records[-1].getMessage()]
    assert caplog.records[-1].getMessage().startswith("read 50 files (4.9 KiB), 100 pages in 0:00:00 (")
    assert caplog.records[-1].getMessage().endswith("; kept 1 pages")


def test_a_log_line_says_files_bytes_pages_rate_eta_and_kept():
    live = progress.LiveProgress(files=4, input_bytes=4 * 2**20, stream=None, every_s=3600)
    live.add_bytes(2**20)
    live.file_done(0)
    live.add_page()
    live.add_kept()
    line = live.line()
    assert line.startswith("read 1/4 files, 1.0 MiB of 4.0 MiB (25%), 1 pages (")
    assert "pages/s), ETA 0:00:0" in line and line.endswith("; kept 1 pages so far")


def test_without_the_builds_progress_in_its_process_a_worker_logs_per_file(caplog):
    caplog.set_level(logging.INFO, logger="c4forge.progress")
    tracker = progress.FileProgress("/data/x.warc.wet.gz", 1000, passes=1, every_s=0)
    read_file_through(tracker, pages=3, chunks=2, chunk_bytes=500)
    kept = progress.KeptProgress(every_s=0)
    kept.add()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("reading /data/x.warc.wet.gz:  50%, 0 pages") and "ETA" in messages[0]
    assert messages[2].startswith("read /data/x.warc.wet.gz: 3 pages in ")
    assert messages[3] == "kept 1 pages so far (this worker)"


def run_in_a_terminal(argv: list[str], columns: int = 140, timeout: float = 300) -> str:
    """What a person would see: the command's stdout and stderr on a pseudo-terminal of that width."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")[-3000:]
    return output.decode(errors="replace")


@pytest.mark.slow
def test_a_local_build_in_a_terminal_shows_live_bars(tmp_path):
    require_shared()
    screen = run_in_a_terminal([sys.executable, "-m", "c4forge.cli", "build", "--input", str(REALWEB_WET),
                                "--output", str(tmp_path / "out"), "--badwords-dir", str(BADWORDS_DIR)])
    assert "read: 100%" in screen and "4.28M/4.28M" in screen and "files 1/1, 974 pages" in screen
    assert "kept: 252 pages" in screen
    assert f"read {REALWEB_WET}" not in screen  # no line per file
