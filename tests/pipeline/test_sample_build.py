"""The real-web sample shipped in the package (pipeline/sample/): what tools/make_sample.py cuts,
Common Crawl's shape, and `c4forge build --sample` with the network off, read back by TFDS."""

from __future__ import annotations

import json
import socket
import sys
import zlib
from pathlib import Path

import pytest

from c4forge.pipeline.inputs import SAMPLE_FILES, sample_file

from conftest import REPO, require_shared
from helpers.offline import NETWORK_OFF_MESSAGE, run_offline

SAMPLE_PAGES = 300
SAMPLE_KEPT = 71  # documents c4/en 3.1.0 keeps, all in train


def load_make_sample():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import make_sample
    finally:
        sys.path.remove(str(REPO / "tools"))
    return make_sample


def warc_types(path: Path) -> list[str]:
    make_sample = load_make_sample()
    return [make_sample.warc_headers(member)["WARC-Type"] for member in make_sample.gzip_members(path.read_bytes())]


def test_sample_files_are_installed_with_the_package():
    for input_format, name in SAMPLE_FILES.items():
        path = Path(sample_file(input_format))
        assert path.name == name and path.is_file()
    assert (Path(sample_file()).parent / "README.md").is_file()


def test_sample_is_shaped_like_common_crawl_files():
    """A warcinfo record first, then one record per page and gzip member, the same pages in both."""
    assert warc_types(Path(sample_file("wet"))) == ["warcinfo"] + ["conversion"] * SAMPLE_PAGES
    assert warc_types(Path(sample_file("warc"))) == ["warcinfo"] + ["response"] * SAMPLE_PAGES
    make_sample = load_make_sample()
    make_sample.check_pairs(*(make_sample.gzip_members(Path(sample_file(f)).read_bytes()) for f in ("wet", "warc")))
    assert sum(Path(sample_file(f)).stat().st_size for f in SAMPLE_FILES) < 5_000_000  # the package stays small


def test_sample_is_what_make_sample_cuts_from_the_shared_pages(tmp_path):
    shared = require_shared()
    written = load_make_sample().cut(shared, tmp_path)
    for input_format, path in written.items():
        assert path.read_bytes() == Path(sample_file(input_format)).read_bytes(), path.name


def test_every_sample_record_is_a_shared_record_unchanged():
    make_sample = load_make_sample()
    shared = require_shared()
    for input_format, source in make_sample.SOURCES.items():
        originals = set(make_sample.gzip_members((shared / source).read_bytes()))
        members = make_sample.gzip_members(Path(sample_file(input_format)).read_bytes())
        assert all(member in originals for member in members)
        assert all(zlib.decompress(m, zlib.MAX_WBITS | 16).startswith(b"WARC/1.0\r\n") for m in members)


def test_no_sample_page_falls_in_the_validation_split():
    """Why a build of the sample has no validation split (C4: md5(normalized url) % 1000 == 0)."""
    from c4forge.cleaning_rules.urls import normalize_url, split_of

    make_sample = load_make_sample()
    members = make_sample.gzip_members(Path(sample_file()).read_bytes())[1:]
    urls = [make_sample.warc_headers(member)["WARC-Target-URI"] for member in members]
    assert len(urls) == SAMPLE_PAGES and {split_of(normalize_url(url)) for url in urls} == {"train"}


def test_the_offline_guard_does_refuse_connections(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:  # reachable: only the guard can stop it
        port = server.getsockname()[1]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        done = run_offline(["-c", probe], tmp_path / "site", timeout=60)
    assert done.returncode != 0 and NETWORK_OFF_MESSAGE in done.stderr
    lookup = run_offline(["-c", "import socket; socket.getaddrinfo('example.com', 443)"], tmp_path / "site",
                         timeout=60)
    assert lookup.returncode != 0 and NETWORK_OFF_MESSAGE in lookup.stderr


READ_WITH_TFDS = """
import json, sys
import tensorflow_datasets as tfds
splits = tfds.load("c4/en:3.1.0", data_dir=sys.argv[1], download=False)
first = next(iter(splits["train"].take(1).as_numpy_iterator()))
print(json.dumps({"splits": {name: sum(1 for _ in ds) for name, ds in splits.items()}, "fields": sorted(first)}))
"""


def read_with_tfds(out: Path, site: Path) -> dict:
    """TFDS in its own process: TensorFlow must not share one with gcld3 (other tests load it)."""
    done = run_offline(["-c", READ_WITH_TFDS, str(out)], site, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("input_format", ["wet", "warc"])
def test_build_sample_works_offline_with_no_other_flag(tmp_path, input_format):
    out, site = tmp_path / "out", tmp_path / "site"
    extra = ["--input-format", "warc"] if input_format == "warc" else []
    build = run_offline(["-m", "c4forge.cli", "build", "--sample", "--output", str(out), *extra], site, timeout=600,
                        cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]

    report = json.loads((out / "c4forge-report.json").read_text())
    assert report["config"]["inputs"] == [sample_file(input_format)] and report["config"]["badwords_dir"] is None
    assert (report["pages_read"], report["pages_kept"]) == (SAMPLE_PAGES - 1, SAMPLE_KEPT)  # one page has no text
    assert report["counters"]["badwords-filter/filtered"] > 0  # the packaged list did filter
    # No validation split: none of the 300 URLs has md5 % 1000 == 0 (pipeline/sample/README.md says so).
    assert read_with_tfds(out, site) == {"splits": {"train": SAMPLE_KEPT},
                                         "fields": ["content-length", "content-type", "text", "timestamp", "url"]}


def test_a_build_without_the_compiled_parts_says_so_and_keeps_the_same_documents(
        tmp_path, monkeypatch, caplog):
    """An install where no C compiler was found: one warning line, the Python line rules,
    langdetect's numpy path and pyahocorasick, the same output."""
    from c4forge import cli
    from c4forge.cleaning_rules import badwords, lines
    from c4forge.cleaning_rules.language import langdetect_exact

    monkeypatch.setattr(lines, "lines_compiled", None)
    monkeypatch.setattr(badwords, "badwords_compiled", None)
    monkeypatch.setattr(langdetect_exact, "_compiled", None)
    monkeypatch.setattr(langdetect_exact, "_compiled_on", False)  # the model may be loaded in this process
    assert cli.main(["build", "--sample", "--output", str(tmp_path)]) == 0
    warnings = [r for r in caplog.records
                if "compiled line rules, language detector and bad-words search" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING" and "the same output" in warnings[0].getMessage()
    assert json.loads((tmp_path / "c4forge-report.json").read_text())["pages_kept"] == SAMPLE_KEPT
