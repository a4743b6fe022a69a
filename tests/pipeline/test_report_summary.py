"""The printed summary alone shows that input was lost: every reader counter of input that was not
read is a row, each file skipped whole is named with what to do about it, and a warning ends it."""

from __future__ import annotations

from c4forge.pipeline.report import format_table, make_report

SPLITS = [{"format": "tfrecord", "split": "train", "num_examples": 3, "num_shards": 1, "file_bytes": 100}]


def summary_of(counters: dict[str, int]) -> str:
    return format_table(make_report(counters, SPLITS, {}))


def row(summary: str, rule: str) -> list[str]:
    return next(line.split() for line in summary.splitlines() if f" {rule} " in line)


def test_input_errors_are_rows_and_end_in_a_warning():
    summary = summary_of({"split-wet-file/passed": 10, "split-wet-file/unparseable-data": 2,
                          "split-wet-file/internal-error": 1, "split-warc-file/read-error": 1,
                          "split-wet-file/filtered:truncated_record": 1, "clean-page/filtered:loremipsum": 4})
    assert row(summary, "unparseable-data") == ["split-wet-file", "unparseable-data", "2", "errors", "0"]
    assert row(summary, "internal-error")[2:4] == ["1", "errors"]
    assert summary.splitlines()[-2] == (
        "WARNING: not all input was read: split-warc-file/read-error 1, split-wet-file/filtered:truncated_record 1, "
        "split-wet-file/internal-error 1, split-wet-file/unparseable-data 2 (the log names each file and offset)")
    assert "loremipsum" not in summary.splitlines()[-2]  # a rule's choice is not a loss


def test_files_skipped_whole_are_named_with_what_to_do():
    summary = summary_of({"split-wet-file/skipped-file:invalid_utf8": 1,
                          "skipped-files/invalid_utf8:gs://bucket/crawl/bad.warc.wet.gz": 1,
                          "split-wet-file/skipped-file:not_regular_file": 1,
                          "skipped-files/not_regular_file:/data/pipe.warc.wet.gz": 1})
    lines = summary.splitlines()
    at = lines.index("files skipped whole (2):")
    assert lines[at + 1].split() == ["invalid_utf8", "gs://bucket/crawl/bad.warc.wet.gz"]
    assert lines[at + 2].split() == ["not_regular_file", "/data/pipe.warc.wet.gz"]
    assert "--no-wet-quirks" in lines[at + 3] and "FIFO" in lines[at + 4]
    assert row(summary, "skipped-file:invalid_utf8")[2:4] == ["1", "files"]
    assert "skipped-files" not in [line.split()[0] for line in lines if line]  # names are not rows


def test_many_skipped_files_are_cut_in_the_summary_not_in_the_report():
    counters = {f"skipped-files/invalid_utf8:/d/f{i:02}.warc.wet.gz": 1 for i in range(25)}
    report = make_report({"split-wet-file/skipped-file:invalid_utf8": 25, **counters}, SPLITS, {})
    assert len(report["skipped_files"]) == 25
    assert "  ... and 15 more (the report's skipped_files lists them all)" in format_table(report)


def test_a_clean_run_has_no_warning_and_old_reports_still_print():
    assert "WARNING" not in summary_of({"split-wet-file/passed": 5})
    old = make_report({"split-wet-file/passed": 5}, SPLITS, {})
    del old["input_lost"], old["skipped_files"]
    assert "pages read: 5" in format_table(old)
