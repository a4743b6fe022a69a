"""`c4forge vocab` says what it is doing: each pass over the corpus counted (a bar on a terminal,
log lines with a rate and an ETA elsewhere), each phase announced."""

from __future__ import annotations

import logging

from c4forge.tokenizer_training import progress


def test_a_pass_over_the_corpus_is_counted_in_log_lines(caplog, monkeypatch):
    monkeypatch.setenv("C4FORGE_PROGRESS_SECONDS", "0")
    caplog.set_level(logging.INFO, logger="c4forge.vocab")
    assert list(progress.counted(iter(range(3)), "sampling: measuring", total=3)) == [0, 1, 2]
    lines = caplog.messages
    assert lines[0].startswith("sampling: measuring: 1 of 3 documents (") and ", ETA " in lines[0]
    assert lines[-1].startswith("sampling: measuring: 3 documents in ")


def test_a_pass_without_a_total_has_no_eta(caplog, monkeypatch):
    monkeypatch.setenv("C4FORGE_PROGRESS_SECONDS", "0")
    caplog.set_level(logging.INFO, logger="c4forge.vocab")
    list(progress.counted(["a"], "sampling: writing", total=None))
    assert caplog.messages[0].startswith("sampling: writing: 1 documents (") and "ETA" not in caplog.messages[0]
