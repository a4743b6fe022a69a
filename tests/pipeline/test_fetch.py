"""`c4forge build --crawl`: wet.paths.gz, --segments, and WET downloads that survive faults, against a
local stand-in for data.commoncrawl.org (tests/commoncrawl_server.py) that injects them per request.

Backoffs are tiny (RetryPolicy(backoff_s=...), --fetch-backoff) and waits are recorded instead of
slept where the test is about their length.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from c4forge import cli
from c4forge.pipeline import fetch
from c4forge.pipeline.fetch import CacheNotWritable, FetchError, FetchStats, HttpsFetcher, RetryPolicy, cache

from helpers.builds import file_digests
from helpers.commoncrawl_server import FakeCommonCrawl, Fault, listing
from conftest import BADWORDS_DIR, SHARED, require_shared

CRAWL = "CC-MAIN-2019-18"
LISTING = f"crawl-data/{CRAWL}/wet.paths.gz"
REALWEB = f"crawl-data/{CRAWL}/segments/1555578517558.8/wet/realweb-dev.warc.wet.gz"
WHIRLWIND = f"crawl-data/{CRAWL}/segments/1555578517558.8/wet/commoncrawl-whirlwind.warc.wet.gz"
REALWEB_FILE = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"
WHIRLWIND_FILE = SHARED / "data" / "warc-samples" / "commoncrawl-whirlwind.warc.wet.gz"
# What a CDN may answer with 200: gzip, but not WARC.
HTML_ERROR_PAGE = gzip.compress(b"<!DOCTYPE html>\n<html><body><h1>503 Service Unavailable</h1></body></html>\n")


class RecordedSleep:
    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def site():
    require_shared()
    files = {LISTING: listing(REALWEB, WHIRLWIND), REALWEB: REALWEB_FILE.read_bytes(),
             WHIRLWIND: WHIRLWIND_FILE.read_bytes()}
    with FakeCommonCrawl(files) as server:
        yield server


def fetcher_for(site, tmp_path, **policy) -> tuple[HttpsFetcher, RecordedSleep]:
    sleep = RecordedSleep()
    options = {"attempts": 6, "backoff_s": 0.5, "timeout_s": 2.0, "sleep": sleep, **policy}
    return HttpsFetcher(site.base_url, tmp_path / "cache", RetryPolicy(**options), FetchStats()), sleep


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- listing and --segments ------------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [("0:1", [0]), ("1:3", [1, 2]), ("2", [2]), ("3:", [3]), (":2", [0, 1]),
                                            (":", [0, 1, 2, 3])])
def test_segments_select_listing_lines_a_to_b_minus_one(spec, expected):
    entries = [f"crawl-data/{CRAWL}/w{i}.warc.wet.gz" for i in range(4)]
    assert fetch.select_entries(entries, spec) == [entries[i] for i in expected]


@pytest.mark.parametrize("spec, message", [("2:2", "0 <= A < B"), ("x", "expected A:B"), ("-1:2", "0 <= A < B"),
                                           ("3:9", "has 4 WET files"), ("4", "has 4 WET files")])
def test_bad_segments_are_refused(spec, message):
    entries = [f"crawl-data/{CRAWL}/w{i}.warc.wet.gz" for i in range(4)]
    with pytest.raises(FetchError, match=message):
        fetch.select_entries(entries, spec)


@pytest.mark.parametrize("line", ["../../etc/passwd.warc.wet.gz", "/crawl-data/x.warc.wet.gz",
                                  "crawl-data/../x.warc.wet.gz", "crawl-data/x/index.html"])
def test_listing_lines_that_are_not_plain_wet_paths_are_refused(line):
    with pytest.raises(FetchError, match="not crawl-data"):
        fetch.parse_listing(listing(REALWEB, line), "wet.paths.gz")


def test_crawl_ids():
    assert fetch.normalize_crawl_id("2019-18") == CRAWL == fetch.normalize_crawl_id(CRAWL)
    with pytest.raises(FetchError, match="not a crawl id"):
        fetch.normalize_crawl_id("CC-MAIN-2019")


def test_retry_after_in_seconds_or_as_an_http_date():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert fetch.retry_after_seconds("7", now) == 7.0
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert fetch.retry_after_seconds(later, now) == 30.0
    assert fetch.retry_after_seconds("soon", now) is None and fetch.retry_after_seconds(None, now) is None


# --- one file under faults -----------------------------------------------------------------

def test_429_and_503_are_retried_honouring_retry_after(site, tmp_path):
    site.script(WHIRLWIND, Fault(status=503, retry_after="7"), Fault(status=429), Fault(status=500))
    fetcher, sleep = fetcher_for(site, tmp_path)
    path, cached = fetcher.fetch(WHIRLWIND)
    assert not cached and path.read_bytes() == WHIRLWIND_FILE.read_bytes()
    # Retry-After wins; without it: 0.5 s, then doubled.
    assert sleep.waits == [7.0, 1.0, 2.0]
    assert fetcher.stats.retries == 3


def test_a_long_retry_after_is_capped(site, tmp_path):
    site.script(WHIRLWIND, Fault(status=503, retry_after="86400"))
    fetcher, sleep = fetcher_for(site, tmp_path, max_retry_after_s=30.0)
    fetcher.fetch(WHIRLWIND)
    assert sleep.waits == [30.0]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_connection_dropped_mid_body_is_resumed_with_range(site, tmp_path, reset):
    site.script(REALWEB, Fault(cut_after=1_000_000, reset=reset))
    fetcher, _ = fetcher_for(site, tmp_path)
    path, _ = fetcher.fetch(REALWEB)
    assert sha256(path.read_bytes()) == sha256(REALWEB_FILE.read_bytes())
    ranges = [rng for rng, _, _ in site.requests_for(REALWEB)]
    if reset:  # a reset may discard bytes the client had not read yet: it resumes from what it got
        assert ranges[0] is None and len(ranges) == 2
        assert ranges[1] is None or 0 < int(ranges[1][len("bytes="):-1]) <= 1_000_000
    else:
        assert ranges == [None, "bytes=1000000-"]
        assert fetcher.stats.resumed == 1
    assert fetcher.stats.retries == 1
    assert fetcher.stats.bytes == REALWEB_FILE.stat().st_size  # nothing received twice


def test_a_server_that_ignores_range_restarts_the_file_instead_of_appending(site, tmp_path):
    site.script(REALWEB, Fault(cut_after=1_000_000), Fault(ignore_range=True))
    fetcher, _ = fetcher_for(site, tmp_path)
    path, _ = fetcher.fetch(REALWEB)
    assert sha256(path.read_bytes()) == sha256(REALWEB_FILE.read_bytes())
    assert [status for _, status, _ in site.requests_for(REALWEB)] == [200, 200]
    assert fetcher.stats.resumed == 0


def test_a_file_that_changed_upstream_is_restarted_not_spliced(site, tmp_path):
    fetcher, _ = fetcher_for(site, tmp_path)
    part = fetcher.cached_path(REALWEB).with_name(Path(REALWEB).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\x1f\x8b" + b"old version" * 1000)
    part.with_name(part.name + ".json").write_text(json.dumps({"validator": '"old-etag"', "total": 11002}))
    path, _ = fetcher.fetch(REALWEB)
    assert sha256(path.read_bytes()) == sha256(REALWEB_FILE.read_bytes())
    assert site.requests_for(REALWEB)[0][:2] == ("bytes=11002-", 200)  # If-Range did not match: whole file


def test_a_partial_file_from_a_killed_run_is_resumed(site, tmp_path):
    fetcher, _ = fetcher_for(site, tmp_path)
    site.script(REALWEB, Fault(cut_after=2_000_000), Fault(status=503))
    with pytest.raises(FetchError):
        HttpsFetcher(site.base_url, tmp_path / "cache", RetryPolicy(attempts=2, backoff_s=0, sleep=lambda s: None),
                     FetchStats()).fetch(REALWEB)
    assert not fetcher.cached_path(REALWEB).exists()  # given up: nothing under the final name
    path, _ = fetcher.fetch(REALWEB)
    assert sha256(path.read_bytes()) == sha256(REALWEB_FILE.read_bytes())
    assert site.requests_for(REALWEB)[-1][:2] == ("bytes=2000000-", 206)
    assert fetcher.stats.resumed == 1


@pytest.mark.parametrize("fault", [Fault(serve_first=1500), Fault(flip_byte_at=1000), Fault(body=HTML_ERROR_PAGE)],
                         ids=["truncated", "flipped", "html-error-page"])
def test_a_body_of_the_announced_length_that_fails_its_check_is_discarded_and_fetched_again(site, tmp_path, fault):
    site.script(WHIRLWIND, fault)
    fetcher, _ = fetcher_for(site, tmp_path)
    path, _ = fetcher.fetch(WHIRLWIND)
    assert path.read_bytes() == WHIRLWIND_FILE.read_bytes()
    assert [rng for rng, _, _ in site.requests_for(WHIRLWIND)] == [None, None]  # no resume onto bad bytes
    assert fetcher.stats.retries == 1


def test_a_stalled_response_times_out_and_is_retried(site, tmp_path):
    site.script(WHIRLWIND, Fault(delay_s=1.5))
    fetcher, _ = fetcher_for(site, tmp_path, timeout_s=0.3)
    path, _ = fetcher.fetch(WHIRLWIND)
    assert path.read_bytes() == WHIRLWIND_FILE.read_bytes()
    assert fetcher.stats.retries == 1


def test_a_slow_response_within_the_timeout_is_not_a_failure(site, tmp_path):
    site.script(WHIRLWIND, Fault(delay_s=0.2))
    fetcher, _ = fetcher_for(site, tmp_path, timeout_s=2.0)
    fetcher.fetch(WHIRLWIND)
    assert fetcher.stats.retries == 0


def test_a_file_that_never_verifies_is_never_cached(site, tmp_path):
    site.script(WHIRLWIND, *[Fault(flip_byte_at=1000)] * 3)
    fetcher, _ = fetcher_for(site, tmp_path, attempts=3)
    with pytest.raises(FetchError, match="gave up after 3 attempts; last: gzip check failed"):
        fetcher.fetch(WHIRLWIND)
    leftovers = [p.name for p in fetcher.cached_path(WHIRLWIND).parent.iterdir()]
    assert leftovers == [Path(WHIRLWIND).name + ".lock"]


def test_a_complete_partial_file_answered_416_is_kept(site, tmp_path):
    fetcher, _ = fetcher_for(site, tmp_path)
    part = fetcher.cached_path(WHIRLWIND).with_name(Path(WHIRLWIND).name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(WHIRLWIND_FILE.read_bytes())  # killed after the last byte, before the check
    path, _ = fetcher.fetch(WHIRLWIND)
    assert path.read_bytes() == WHIRLWIND_FILE.read_bytes()
    assert [status for _, status, _ in site.requests_for(WHIRLWIND)] == [416]


def test_cached_files_are_not_fetched_again(site, tmp_path):
    fetcher, _ = fetcher_for(site, tmp_path)
    assert fetcher.fetch(WHIRLWIND)[1] is False
    assert fetcher.fetch(WHIRLWIND)[1] is True
    assert len(site.requests_for(WHIRLWIND)) == 1


# --- only real WET is cached; a full disk, a deadline ------------------------------------------

def cache_leftovers(cache_dir: Path, entry: str) -> list[str]:
    """What the cache holds in ``entry``'s folder beside its lock file."""
    folder = (cache_dir / entry).parent
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) if folder.is_dir() else []


def test_a_200_answer_that_is_gzipped_html_is_never_cached(site, tmp_path, capsys):
    site.script(WHIRLWIND, *[Fault(body=HTML_ERROR_PAGE)] * 3)
    code = crawl_build(site, tmp_path / "out", tmp_path / "cache", "--segments", "1", "--fetch-attempts", "3")
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("c4forge: error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert f"{WHIRLWIND}: gave up after 3 attempts; last: not a WARC file" in errors[0]
    assert "is --cc-base-url" in errors[0]  # what to do
    assert [status for _, status, _ in site.requests_for(WHIRLWIND)] == [200, 200, 200]
    assert cache_leftovers(tmp_path / "cache", WHIRLWIND) == []
    assert not (tmp_path / "out" / "c4forge-report.json").exists()


def test_a_cached_file_that_is_not_warc_is_evicted_and_fetched_again(site, tmp_path):
    fetcher, _ = fetcher_for(site, tmp_path)
    cached = fetcher.cached_path(WHIRLWIND)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(HTML_ERROR_PAGE)  # cached by a version without the WARC check
    path, from_cache = fetcher.fetch(WHIRLWIND)
    assert not from_cache and path.read_bytes() == WHIRLWIND_FILE.read_bytes()
    assert fetcher.stats.evicted == 1 and len(site.requests_for(WHIRLWIND)) == 1
    assert fetcher.fetch(WHIRLWIND)[1] is True  # the real file stays
    assert fetcher.stats.evicted == 1 and len(site.requests_for(WHIRLWIND)) == 1


def test_a_cached_listing_that_is_not_a_listing_is_evicted(site, tmp_path):
    (tmp_path / LISTING).parent.mkdir(parents=True)
    (tmp_path / LISTING).write_bytes(HTML_ERROR_PAGE)
    request = fetch.CrawlRequest(segments="0", crawl=CRAWL, base_url=site.base_url, cache_dir=tmp_path,
                                 policy=RetryPolicy(backoff_s=0, sleep=lambda s: None))
    inputs = fetch.resolve_crawl_inputs(request)
    assert inputs.report["evicted"] == 1 and inputs.report["listing_entries"] == 2
    assert "1 evicted from the cache" in fetch.format_fetch_line(inputs.report)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT], ids=["ENOSPC", "EDQUOT"])
def test_a_full_disk_is_one_line_without_retry_or_part_file(site, tmp_path, monkeypatch, code):
    written = []

    def write_then_fill_up(self, f, chunk):
        if written:
            raise OSError(code, os.strerror(code))
        written.append(len(chunk))
        f.write(chunk)

    monkeypatch.setattr(cache.PartialFile, "write", write_then_fill_up)
    site.script(REALWEB, Fault(trickle=(256 * 1024, 0.01)))  # several reads, so the second write fails
    fetcher, sleep = fetcher_for(site, tmp_path)
    with pytest.raises(CacheNotWritable) as failure:
        fetcher.fetch(REALWEB)
    message = str(failure.value)
    assert "\n" not in message and str(tmp_path / "cache") in message
    assert ("no space left" if code == errno.ENOSPC else "quota") in message and "--cache-dir" in message
    assert len(site.requests_for(REALWEB)) == 1 and sleep.waits == [] and fetcher.stats.retries == 0
    assert cache_leftovers(tmp_path / "cache", REALWEB) == []  # no .part, no .part.json


def test_a_server_that_trickles_bytes_is_given_up_at_the_deadline_and_resumed_later(site, tmp_path):
    site.script(REALWEB, Fault(trickle=(4096, 0.02)))  # about 200 KB/s: never idle for the 2 s read timeout
    fetcher, _ = fetcher_for(site, tmp_path, deadline_s=0.6, sleep=time.sleep)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"gave up past the per-file deadline of 0.6 s \(--fetch-deadline\)") as e:
        fetcher.fetch(REALWEB)
    assert time.monotonic() - started < 3
    part = fetcher.cached_path(REALWEB).with_name(Path(REALWEB).name + ".part")
    assert 0 < part.stat().st_size < REALWEB_FILE.stat().st_size and "run again to resume it" in str(e.value)
    assert not fetcher.cached_path(REALWEB).exists()
    have = part.stat().st_size
    path, _ = HttpsFetcher(site.base_url, tmp_path / "cache", RetryPolicy(), FetchStats()).fetch(REALWEB)
    assert sha256(path.read_bytes()) == sha256(REALWEB_FILE.read_bytes())
    assert site.requests_for(REALWEB)[-1][:2] == (f"bytes={have}-", 206)  # the next run resumed it


def test_a_wait_past_the_deadline_is_not_slept(site, tmp_path):
    site.script(WHIRLWIND, Fault(status=503, retry_after="120"))
    fetcher, sleep = fetcher_for(site, tmp_path, deadline_s=60.0)
    with pytest.raises(FetchError, match=r"next try would pass the per-file deadline of 60 s \(--fetch-deadline\); "
                                         r"last: HTTP 503"):
        fetcher.fetch(WHIRLWIND)
    assert sleep.waits == []


# --- c4forge build --crawl, end to end -------------------------------------------------------

@pytest.fixture(scope="module")
def local_build(tmp_path_factory) -> Path:
    require_shared()
    out = tmp_path_factory.mktemp("local-build")
    assert cli.main(["build", "--input", str(REALWEB_FILE), "--input", str(WHIRLWIND_FILE), "--output", str(out),
                     "--badwords-dir", str(BADWORDS_DIR)]) == 0
    return out


def crawl_build(site, out: Path, cache: Path, *extra: str) -> int:
    return cli.main(["build", "--crawl", CRAWL, "--segments", "0:2", "--cc-base-url", site.base_url,
                     "--cache-dir", str(cache), "--output", str(out), "--badwords-dir", str(BADWORDS_DIR),
                     "--fetch-backoff", "0.01", "--fetch-timeout", "1", *extra])


@pytest.mark.slow
def test_build_from_a_faulty_server_equals_the_build_from_local_files(site, tmp_path, local_build, capsys):
    site.script(LISTING, Fault(status=503, retry_after="0"))
    site.script(REALWEB,
                Fault(status=429),  # retry 1
                Fault(cut_after=1_000_000),  # retry 2: short body, clean close
                Fault(cut_after=500_000, reset=True),  # retry 3: resumed (1), then reset
                Fault(ignore_range=True, cut_after=2_000_000),  # retry 4: 200 to a Range request, restarted, cut
                Fault(flip_byte_at=3_000_000))  # retry 5: resumed (2) into a corrupt file: discarded
    site.script(WHIRLWIND, Fault(serve_first=1500), Fault(delay_s=2.5))  # retries 6 and 7
    out = tmp_path / "out"
    assert crawl_build(site, out, tmp_path / "cache") == 0
    assert file_digests(out) == file_digests(local_build)
    for entry, source in ((REALWEB, REALWEB_FILE), (WHIRLWIND, WHIRLWIND_FILE)):
        assert sha256((tmp_path / "cache" / entry).read_bytes()) == sha256(source.read_bytes())
    report = json.loads((out / "c4forge-report.json").read_text())
    stats = {k: report["fetch"][k] for k in ("files", "downloaded", "from_cache", "retries", "resumed")}
    assert stats == {"files": 2, "downloaded": 2, "from_cache": 0, "retries": 8, "resumed": 2}
    assert report["fetch"]["wet_paths"] == [REALWEB, WHIRLWIND] and report["fetch"]["crawl"] == CRAWL
    assert report["pages_kept"] == json.loads((local_build / "c4forge-report.json").read_text())["pages_kept"]
    assert "8 retries, 2 resumed" in capsys.readouterr().out


@pytest.mark.slow
def test_a_rerun_with_a_local_listing_and_a_full_cache_needs_no_network(site, tmp_path, local_build):
    cache = tmp_path / "cache"
    assert crawl_build(site, tmp_path / "first", cache, "--segments", "1") == 0  # fetches whirlwind only
    assert [p for p, *_ in site.log] == [LISTING, WHIRLWIND]
    wet_paths = tmp_path / "wet.paths.gz"
    wet_paths.write_bytes(listing(REALWEB, WHIRLWIND))
    assert cli.main(["build", "--wet-paths", str(wet_paths), "--segments", "1", "--cc-base-url", "http://127.0.0.1:9",
                     "--cache-dir", str(cache), "--output", str(tmp_path / "again"),
                     "--badwords-dir", str(BADWORDS_DIR)]) == 0
    report = json.loads((tmp_path / "again" / "c4forge-report.json").read_text())
    assert (report["fetch"]["from_cache"], report["fetch"]["downloaded"], report["fetch"]["bytes"]) == (1, 0, 0)
    assert file_digests(tmp_path / "again") == file_digests(tmp_path / "first")


def test_a_listing_of_another_crawl_is_refused(site, tmp_path, capsys):
    wet_paths = tmp_path / "wet.paths"
    wet_paths.write_text(REALWEB.replace(CRAWL, "CC-MAIN-2020-05") + "\n")
    assert cli.main(["build", "--crawl", CRAWL, "--wet-paths", str(wet_paths), "--segments", "0",
                     "--cache-dir", str(tmp_path), "--output", str(tmp_path / "out")]) == 2
    assert "lists files of CC-MAIN-2020-05, not of --crawl CC-MAIN-2019-18" in capsys.readouterr().err


def test_listing_is_gzip_checked_like_wet_files(site, tmp_path):
    site.script(LISTING, Fault(serve_first=20))
    request = fetch.CrawlRequest(segments="0", crawl=CRAWL, base_url=site.base_url, cache_dir=tmp_path,
                                 policy=RetryPolicy(backoff_s=0, sleep=lambda s: None))
    inputs = fetch.resolve_crawl_inputs(request)
    assert inputs.report["retries"] == 1 and inputs.report["listing_entries"] == 2
    assert gzip.decompress((tmp_path / LISTING).read_bytes()).decode().split() == [REALWEB, WHIRLWIND]
