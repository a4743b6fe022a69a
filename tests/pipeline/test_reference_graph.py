"""The TFDS reference graph (pipeline/verify/reference.py) and the parity comparison (pipeline/verify/compare.py).

The slow tests run the real c4_utils functions through Beam on the shared realweb WET
file and check them against the shared TFDS 3.1.0 output.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from c4forge.pipeline.verify import compare as parity

from conftest import SHARED

REALWEB = SHARED / "data" / "realweb"
WET = REALWEB / "realweb-dev.warc.wet.gz"
EXPECTED_DOCS = REALWEB / "realweb-dev.c4-tfds-3.1.0.jsonl"
EXPECTED_COUNTERS = REALWEB / "realweb-dev.c4-tfds-3.1.0.counters.json"
BADWORDS_DIR = SHARED / "assets" / "ldnoobw"

# What the shared JSONL holds per document.
SHARED_FIELDS = ("url", "text", "timestamp", "split")

SELECT_NEWEST_STEPS = ("select_newest/Merge", "select_newest/ExtractOutputs")


def _require_shared():
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED} not found)")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def realweb_run():
    _require_shared()
    from c4forge.pipeline.verify import reference

    return reference.run_reference([WET], BADWORDS_DIR)


@pytest.fixture(scope="module")
def expected_counters():
    _require_shared()
    return json.loads(EXPECTED_COUNTERS.read_text())


# --------------------------------------------------------------------------------------
# Reference graph on the shared realweb data


@pytest.mark.slow
def test_reference_documents_equal_shared_jsonl(realweb_run):
    expected = _read_jsonl(EXPECTED_DOCS)
    report = parity.compare(expected, realweb_run.documents, fields=SHARED_FIELDS)
    assert report.identical, report.format_text()
    assert len(realweb_run.documents) == len(expected) == 252


@pytest.mark.slow
def test_reference_documents_carry_all_tfds_features(realweb_run):
    keys = {"url", "text", "timestamp", "split", "content-type", "content-length"}
    assert all(set(doc) == keys for doc in realweb_run.documents)


@pytest.mark.slow
def test_reference_counters_equal_shared_except_known(realweb_run, expected_counters):
    from c4forge.pipeline.verify import reference

    known = dict(reference.KNOWN_COUNTER_DIFFERENCES)
    known.update({name: "c4.py _emit_examples counter" for name in reference.split_counter_names()})
    report = parity.compare(
        [], [], expected_counters, realweb_run.counters, known_differences=known
    )
    assert report.identical, report.format_text()
    # The known differences that do show up, with their values.
    assert {(d.name, d.reference, d.candidate) for d in report.known_counter_differences} == {
        ("duplicate-url-filter/filtered", 0, 47),
        ("duplicate-url-filter/passed", 927, 1901),
        ("train/examples", None, 252),
    }


@pytest.mark.slow
def test_url_duplicates_are_counted_in_the_precombine(realweb_run, expected_counters):
    """Why the shared file says duplicate-url-filter/filtered = 0.

    CombinePerKey(select_newest_page) is lifted: the precombine (fused into the upstream
    stage, and reported under an upstream step name) already reduces the pages of each URL
    that share a bundle, so Merge and ExtractOutputs each call select_newest_page once per
    URL with a single page. Their values alone are the shared file's.
    """
    by_step = realweb_run.counters_by_step
    filtered = by_step["duplicate-url-filter/filtered"]
    passed = by_step["duplicate-url-filter/passed"]
    pages_in = realweb_run.counters["too-long-filter/passed"]
    distinct_urls = passed["select_newest/ExtractOutputs"]

    assert sum(filtered.values()) == pages_in - distinct_urls == 47
    for step in SELECT_NEWEST_STEPS:
        assert filtered[step] == expected_counters["duplicate-url-filter/filtered"] == 0
        assert passed[step] == expected_counters["duplicate-url-filter/passed"] == 927
    precombine = {s: v for s, v in filtered.items() if s not in SELECT_NEWEST_STEPS}
    assert sum(precombine.values()) == 47


# --------------------------------------------------------------------------------------
# Separate worker processes, without TensorFlow

_RUN_IN_SUBPROCESS = textwrap.dedent(
    """
    import json, sys
    from c4forge.pipeline.verify import reference
    wet, badwords_dir, out = sys.argv[1:4]
    result = reference.run_reference([wet], badwords_dir, sys.argv[4:])
    with open(out, "w") as f:
        json.dump({"documents": result.documents, "counters": result.counters}, f)
    """
)


def _write_wet_head(source: Path, target: Path, records: int) -> None:
    """The first ``records`` WARC records of a WET file (warcinfo included)."""
    kept, seen = [], 0
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        for line in f:
            if line.strip() == "WARC/1.0":
                seen += 1
                if seen > records:
                    break
            kept.append(line)
    with gzip.open(target, "wt", encoding="utf-8", newline="") as f:
        f.writelines(kept)


def _block_tensorflow(tmp_path: Path) -> dict:
    """An environment in which ``import tensorflow`` fails, workers included."""
    fake = tmp_path / "no_tf" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('tensorflow blocked by test')\n")
    path = os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path)


@pytest.mark.slow
def test_reference_in_worker_processes_without_tensorflow(tmp_path):
    _require_shared()
    from c4forge.pipeline.verify import reference

    wet = tmp_path / "head.warc.wet.gz"
    _write_wet_head(WET, wet, records=150)
    in_process = reference.run_reference([wet], BADWORDS_DIR)
    assert in_process.documents  # the sample must exercise the whole graph

    out = tmp_path / "result.json"
    multi_processing = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    subprocess.run(
        [sys.executable, "-c", _RUN_IN_SUBPROCESS, str(wet), str(BADWORDS_DIR), str(out)]
        + multi_processing,
        env=_block_tensorflow(tmp_path),
        check=True,
        capture_output=True,
        timeout=300,
    )
    separate = json.loads(out.read_text())
    report = parity.compare(
        in_process.documents,
        separate["documents"],
        in_process.counters,
        separate["counters"],
        known_differences=reference.KNOWN_COUNTER_DIFFERENCES,
    )
    assert report.identical, report.format_text()


# --------------------------------------------------------------------------------------
# parity.compare on hand-made inputs


def _doc(url, text="One. Two. Three.", timestamp="2019-04-20T10:00:00Z", split="train"):
    return {"url": url, "text": text, "timestamp": timestamp, "split": split}


REF_DOCS = [_doc("http://a"), _doc("http://b", text="Line one.\nLine two here.")]
REF_COUNTERS = {"clean-page/passed": 2, "english-filter/passed": 2}


def test_parity_identical_inputs():
    report = parity.compare(REF_DOCS, list(REF_DOCS), REF_COUNTERS, dict(REF_COUNTERS))
    assert report.identical
    assert report.format_text().startswith("parity: IDENTICAL")


def test_parity_document_missing_and_extra():
    candidate = [REF_DOCS[0], _doc("http://c")]
    report = parity.compare(REF_DOCS, candidate)
    assert not report.identical
    assert report.only_in_reference == ["http://b"]
    assert report.only_in_candidate == ["http://c"]
    text = report.format_text()
    assert "only in reference 1" in text and "http://b" in text


def test_parity_text_differs_with_first_differing_line():
    candidate = [REF_DOCS[0], _doc("http://b", text="Line one.\nLine 2 here.")]
    report = parity.compare(REF_DOCS, candidate)
    [difference] = report.field_differences
    assert (difference.url, difference.field) == ("http://b", "text")
    assert difference.excerpt.startswith("line 2, char 6:")
    assert "'Line two here.'" in difference.excerpt and "'Line 2 here.'" in difference.excerpt
    assert "text 1" in report.format_text()


def test_parity_text_differs_by_missing_line():
    candidate = [REF_DOCS[0], _doc("http://b", text="Line one.")]
    [difference] = parity.compare(REF_DOCS, candidate).field_differences
    assert "2 vs 1 lines" in difference.excerpt and "Line two here." in difference.excerpt


def test_parity_other_field_differs():
    candidate = [REF_DOCS[0], dict(REF_DOCS[1], split="validation")]
    [difference] = parity.compare(REF_DOCS, candidate).field_differences
    assert (difference.field, difference.reference, difference.candidate) == (
        "split",
        "train",
        "validation",
    )


def test_parity_compares_only_named_or_shared_fields():
    candidate = [dict(d, **{"content-type": "text/plain"}) for d in REF_DOCS]
    assert parity.compare(REF_DOCS, candidate).identical
    changed = [REF_DOCS[0], dict(REF_DOCS[1], timestamp="2019-04-21T00:00:00Z")]
    assert parity.compare(REF_DOCS, changed, fields=["url", "text"]).identical


def test_parity_counter_differs():
    candidate = dict(REF_COUNTERS, **{"clean-page/passed": 3, "new/counter": 1})
    report = parity.compare(REF_DOCS, REF_DOCS, REF_COUNTERS, candidate)
    assert not report.identical
    assert [(d.name, d.reference, d.candidate) for d in report.counter_differences] == [
        ("clean-page/passed", 2, 3),
        ("new/counter", None, 1),
    ]
    assert "clean-page/passed: reference 2, candidate 3" in report.format_text()


def test_parity_absent_counter_equals_zero():
    report = parity.compare([], [], {"a/b": 0}, {})
    assert report.identical


def test_parity_known_counter_difference_is_listed_not_hidden():
    candidate = dict(REF_COUNTERS, **{"english-filter/passed": 5})
    report = parity.compare(
        REF_DOCS,
        REF_DOCS,
        REF_COUNTERS,
        candidate,
        known_differences={"english-filter/passed": "bundle-dependent"},
    )
    assert report.identical
    assert report.counter_differences == []
    [known] = report.known_counter_differences
    assert (known.name, known.reference, known.candidate, known.reason) == (
        "english-filter/passed",
        2,
        5,
        "bundle-dependent",
    )
    text = report.format_text()
    assert "1 known differences" in text and "bundle-dependent" in text


def test_parity_known_differences_as_plain_names():
    report = parity.compare([], [], {"a/b": 1}, {"a/b": 2}, known_differences={"a/b"})
    assert report.identical and report.known_counter_differences[0].name == "a/b"


def test_parity_duplicate_urls_are_reported():
    report = parity.compare(REF_DOCS, REF_DOCS + [REF_DOCS[0]])
    assert not report.identical
    assert report.duplicate_urls["candidate"] == ["http://a"]


def test_parity_format_text_limits_examples():
    reference = [_doc(f"http://{i}") for i in range(10)]
    text = parity.compare(reference, []).format_text(max_examples=3)
    assert "only in reference (10):" in text and "… and 7 more" in text
