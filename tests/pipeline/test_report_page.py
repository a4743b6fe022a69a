"""The run report as a picture: c4forge-report.svg and a self-contained c4forge-report.html beside
c4forge-report.json, part of the build and its manifest; the numbers they draw; drawn with no
plotting library installed; and the picture and the page as a browser shows them (headless
Chromium, where installed)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from c4forge import cli
from c4forge.pipeline.doc_lengths import bucket_of, counter_name, document_lengths
from c4forge.pipeline.report import make_report
from c4forge.pipeline.report_figure import (KEPT, REMOVED, TOTAL, languages, length_buckets, nice_step,
                                            page_waterfall, report_svg, stage_totals)
from c4forge.pipeline.report_page import report_pictures

from conftest import BADWORDS_DIR, REALWEB_WET, require_shared

REPORT_FILES = ("c4forge-report.json", "c4forge-report.svg", "c4forge-report.html")
COUNTERS = {
    "split-wet-file/passed": 100, "split-wet-file/filtered:no_url": 3,
    "split-wet-file/skipped-file:invalid_utf8": 1, "skipped-files/invalid_utf8:/data/bad<1>.warc.wet.gz": 1,
    "duplicate-url-filter/filtered": 10, "chars/duplicate-url-filter/filtered": 5000,
    "clean-page/filtered:too_few_sentences": 20, "clean-page/line-filtered:no_endmark": 700,
    "chars/clean-page/line-filtered:no_endmark": 30000,
    "english-filter/passed": 40, "english-filter/filtered:ignored_language": 30,
    "english-filter/filtered:ignored_language-de": 25, "english-filter/filtered:ignored_language-fr": 5,
    "badwords-filter/filtered": 4, "train/examples": 35, "validation/examples": 1,
    "c4forge-sinks/tfrecord-train-chars:512": 5, "c4forge-sinks/tfrecord-train-chars:2048": 30,
    "c4forge-sinks/tfrecord-validation-chars:1024": 1, "c4forge-sinks/jsonl-train-chars:512": 5,
}
SPLITS = [{"format": "tfrecord", "split": "train", "num_examples": 35, "num_shards": 1, "file_bytes": 1000}]
REPORT = make_report(COUNTERS, SPLITS, {"profile": "c4-en-3.1.0", "wet_files": 2, "finished_at": "2026-12-01 10:00 UTC"})


def test_document_lengths_are_counted_in_power_of_two_buckets():
    assert [bucket_of(n) for n in (0, 1, 2, 3, 511, 512, 1023, 1024)] == [0, 1, 2, 2, 256, 512, 512, 1024]
    assert counter_name("jsonl", "en-validation", 700) == "jsonl-en-validation-chars:512"
    assert document_lengths(COUNTERS) == {"format": "tfrecord", "unit": "characters", "splits": {
        "train": {"512": 5, "2048": 30}, "validation": {"1024": 1}}}
    assert document_lengths({}) == {"format": None, "unit": "characters", "splits": {}}


def test_the_numbers_behind_the_picture():
    assert [(s["stage"], s["pages"], s["lines"], s["chars"]) for s in stage_totals(REPORT)][:3] == [
        ("split-wet-file", 3, 0, 0), ("duplicate-url-filter", 10, 0, 5000), ("clean-page", 20, 700, 30000)]
    # read → each stage's pages (the readers' own drops come before a page is read) → kept
    assert page_waterfall(REPORT) == [("read", 0, 100), ("duplicate-url-filter", 90, 10), ("clean-page", 70, 20),
                                      ("english-filter", 40, 30), ("badwords-filter", 36, 4), ("kept", 0, 36)]
    assert languages(COUNTERS) == [("en", 40, True), ("de", 25, False), ("fr", 5, False)]
    assert length_buckets(REPORT) == ([512, 1024, 2048], {"train": [5, 0, 30], "validation": [0, 1, 0]})


def test_mc4_languages_come_from_the_language_filter():
    counters = {"language-filter/passed:de": 9, "language-filter/passed:und": 2,
                "language-filter/filtered:ignored_language": 3, **{f"language-filter/passed:l{i:02}": 1
                                                                    for i in range(20)}}
    found = languages(counters)
    assert found[:3] == [("de", 9, True), ("not mC4's", 3, False), ("und", 2, True)]
    assert len(found) == 12 and found[-1] == ("12 others", 12, False)


SVG = "{http://www.w3.org/2000/svg}"


def drawn(svg: str) -> tuple[list[dict], list[str]]:
    """The picture's rectangles (their attributes) and texts, from its XML."""
    root = ET.fromstring(svg)
    rects = [dict(r.attrib) for r in root.iter(f"{SVG}rect")][1:]  # after the white background
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    return rects, texts


def test_the_picture_draws_the_numbers_of_the_report():
    rects, texts = drawn(report_svg(REPORT))
    # the waterfall: read (blue), four removals (red), kept (green), each labelled
    waterfall = [r for r in rects if r["fill"] in (TOTAL, REMOVED, KEPT)][:6]
    assert [r["fill"] for r in waterfall] == [TOTAL] + [REMOVED] * 4 + [KEPT]
    heights = [float(r["height"]) for r in waterfall]
    assert heights[0] == pytest.approx(heights[1] * 10, rel=0.02)  # 100 read, 10 removed by URL dedup
    assert heights[-1] == pytest.approx(heights[0] * 0.36, rel=0.02)  # 36 kept
    for label in ("100", "−10", "−20", "−30", "−4", "36", "duplicate-url-filter", "kept"):
        assert label in texts
    # the rules with their notes, the languages, the length buckets, what was skipped
    assert "clean-page\u00a0\u00a0line-filtered:no_endmark" in texts  # two spaces kept (SVG collapses runs)
    assert "700 lines, 30k chars" in texts and "10 pages, 5k chars" in texts
    assert {"en", "de", "fr", "40", "25", "5"} <= set(texts)
    assert {"512", "1,024", "2,048", "train", "validation"} <= set(texts)
    assert "Files skipped whole: 1" in texts and "\u00a0\u00a0invalid_utf8:\u00a0/data/bad<1>.warc.wet.gz" in texts
    assert texts[0] == "c4forge build: c4-en-3.1.0 from 2 input file(s), 100 pages read, 36 kept (36.0%), " \
                       "finished 2026-12-01 10:00 UTC"


def test_a_report_with_nothing_to_draw_still_makes_a_picture():
    empty = make_report({}, [], {"profile": "c4-en-noclean"})
    rects, texts = drawn(report_svg(empty))
    assert "nothing removed" in texts and "no document lengths in this report" in texts
    assert "no language filter in this profile" in texts


def test_axis_steps_are_round_numbers():
    assert [nice_step(span) for span in (1, 6, 10, 15, 45, 100, 1_300, 40_000)] == [1, 1, 2, 5, 10, 20, 250, 10_000]


def test_the_page_is_self_contained_and_names_what_was_skipped():
    svg, page = report_pictures(REPORT)
    assert svg.startswith(b"<svg") and ET.fromstring(svg).tag == f"{SVG}svg"
    text = page.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>") and svg.decode("utf-8") in text  # the picture inline
    assert not re.search(r'(src|href)="', text)  # nothing loaded from outside the page
    assert "/data/bad&lt;1&gt;.warc.wet.gz" in text and "invalid_utf8" in text
    assert "100 pages read, 36 kept (36.0%)" in text


def test_the_picture_needs_no_plotting_library(hide_module):
    hide_module("matplotlib")
    svg, page = report_pictures(REPORT)
    assert b"Pages: read" in svg and b"<svg" in page


def build(out: Path, *extra: str) -> int:
    require_shared()
    return cli.main(["build", "--input", str(REALWEB_WET), "--output", str(out), "--badwords-dir", str(BADWORDS_DIR),
                     *extra])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-page")
    assert build(out, "--format", "both") == 0
    return out


@pytest.mark.slow
def test_the_build_writes_the_picture_and_the_page_and_lists_them_in_its_manifest(built):
    files = json.loads((built / "c4forge-manifest.json").read_text())["files"]
    for name in REPORT_FILES:
        data = (built / name).read_bytes()
        assert files[name] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    report = json.loads((built / "c4forge-report.json").read_text())
    lengths = report["document_lengths"]
    assert lengths["format"] == "tfrecord" and sum(lengths["splits"]["train"].values()) == report["pages_kept"] == 252
    # both sinks counted the same documents
    assert sum(v for k, v in report["counters"].items() if k.startswith("c4forge-sinks/jsonl-train-chars:")) == 252


@pytest.mark.slow
def test_a_build_without_matplotlib_draws_its_report_too(tmp_path, hide_module):
    hide_module("matplotlib")
    assert build(tmp_path / "out") == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("c4forge-report.*")) == sorted(REPORT_FILES)
    files = json.loads((tmp_path / "out" / "c4forge-manifest.json").read_text())["files"]
    assert all(name in files for name in REPORT_FILES)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium): the page is not rendered")
    return found


def screenshot(page: Path, png: Path, profile: Path, size: str = "1400,2600") -> None:
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", f"--window-size={size}", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("c4forge-report.html", (1400, 2600)), ("c4forge-report.svg", (1600, 1100))])
def test_the_page_and_the_picture_render_in_headless_chromium(built, tmp_path, name, size):
    from PIL import Image

    shot = tmp_path / "page.png"
    screenshot(built / name, shot, tmp_path / "profile", size=f"{size[0]},{size[1]}")
    with Image.open(shot) as image:
        assert image.size == size
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    # the picture drew: its greens (kept) and reds (removed), not a blank page
    assert any(g > 100 and r < 80 and b < 80 for _, (r, g, b) in colors)
    assert any(r > 170 and g < 60 and b < 60 for _, (r, g, b) in colors)
