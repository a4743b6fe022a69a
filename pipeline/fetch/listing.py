"""Which Common Crawl WET files a build reads: the crawl's ``wet.paths.gz`` listing, a slice of
its entries (``--segments``), and (source ``https``) each file fetched into the cache."""

from __future__ import annotations

import dataclasses
import gzip
import logging
import os
import re
import time
import zlib
from pathlib import Path
from typing import Optional, Sequence

from ..access_errors import explained_access_errors
from .checks import GZIP_MAGIC, BadContent, FileCheck, check_gzip
from .errors import CrawlNotFound, FetchError, NotOnServer, short_error
from .https import FetchStats, HttpsFetcher, RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.commoncrawl.org"
S3_ROOT = "s3://commoncrawl"
SOURCES = ("https", "s3")
CACHE_DIR_ENV = "C4FORGE_CACHE_DIR"  # the same root the bad-words cache uses
CRAWL_ID = re.compile(r"CC-MAIN-\d{4}-\d{2}")
# A listing entry becomes a cache path, so only plain relative paths are accepted.
LISTING_ENTRY = re.compile(r"crawl-data/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*\.warc\.wet\.gz")


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_DIR_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "c4forge")
    return Path(root) / "commoncrawl"


def normalize_crawl_id(text: str) -> str:
    """``CC-MAIN-2019-18`` or ``2019-18`` → ``CC-MAIN-2019-18``."""
    crawl = text if text.startswith("CC-MAIN-") else f"CC-MAIN-{text}"
    if not CRAWL_ID.fullmatch(crawl):
        raise FetchError(f"--crawl {text!r} is not a crawl id like CC-MAIN-2019-18")
    return crawl


def listing_path(crawl: str) -> str:
    return f"crawl-data/{crawl}/wet.paths.gz"


def parse_segments(spec: str) -> slice:
    """``A:B`` → entries A..B-1 (0-based, like a Python slice); ``A:`` and ``:B`` leave an end
    open, ``:`` is every entry, and ``N`` alone is entry N."""
    text = spec.strip()
    try:
        if ":" not in text:
            index = int(text)
            start, stop = index, index + 1
        else:
            first, _, second = text.partition(":")
            start = int(first) if first.strip() else 0
            stop = int(second) if second.strip() else None
    except ValueError:
        raise FetchError(f"--segments {spec!r}: expected A:B, A:, :B, : or one index N") from None
    if start < 0 or (stop is not None and stop <= start):
        raise FetchError(f"--segments {spec!r}: need 0 <= A < B")
    return slice(start, stop)


def select_entries(entries: Sequence[str], spec: str) -> list[str]:
    chosen = parse_segments(spec)
    if chosen.start >= len(entries) or (chosen.stop is not None and chosen.stop > len(entries)):
        raise FetchError(f"--segments {spec}: the listing has {len(entries)} WET files (entries 0..{len(entries) - 1})")
    return list(entries[chosen])


def parse_listing(data: bytes, source: str) -> list[str]:
    """A ``wet.paths`` listing (gzipped or not) → its entries, each checked to be a plain
    relative ``crawl-data/...warc.wet.gz`` path."""
    try:
        text = (gzip.decompress(data) if data[:2] == GZIP_MAGIC else data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise FetchError(f"{source} is not a wet.paths listing ({short_error(e)})") from None
    entries = [line.strip() for line in text.splitlines() if line.strip()]
    bad = [e for e in entries if not LISTING_ENTRY.fullmatch(e) or ".." in e.split("/")]
    if bad:
        raise FetchError(f"{source}: {len(bad)} line(s) are not crawl-data/...warc.wet.gz paths, e.g. {bad[0][:120]!r}")
    if not entries:
        raise FetchError(f"{source} lists no WET files")
    return entries


def _check_listing_file(path: Path) -> None:
    try:
        parse_listing(path.read_bytes(), path.name)
    except FetchError as e:  # an error page served as the listing: never cached
        raise BadContent(str(e)) from None


def _check_downloaded_listing(path: Path) -> None:
    check_gzip(path)
    _check_listing_file(path)


LISTING_FILE = FileCheck(downloaded=_check_downloaded_listing, cached=_check_listing_file)


def crawl_of(entry: str) -> str:
    return entry.split("/")[1]


@dataclasses.dataclass(frozen=True)
class CrawlRequest:
    """What ``--crawl/--wet-paths/--segments/--source/...`` ask for."""

    segments: str
    crawl: Optional[str] = None
    wet_paths: Optional[str] = None  # a copy of the crawl's wet.paths(.gz): local or any Beam filesystem
    source: str = "https"
    base_url: str = DEFAULT_BASE_URL
    cache_dir: Optional[Path] = None
    policy: RetryPolicy = RetryPolicy()


@dataclasses.dataclass(frozen=True)
class CrawlInputs:
    files: list[str]  # what the build reads: cached local paths, or s3:// paths
    report: dict  # the run report's "fetch" section


def _read_any_path(path: str) -> bytes:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with explained_access_errors(path):
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                return f.read()
        except FileNotFoundError:
            raise FetchError(f"--wet-paths {path}: no such file") from None
        except OSError as e:
            if not FileSystems.exists(path):
                raise FetchError(f"{path}: no such file") from None
            raise FetchError(f"cannot read {path} ({short_error(e)})") from None


def _require_s3() -> None:
    try:
        import boto3  # noqa: F401  (Beam's s3 filesystem needs it; its own error is an assert)
    except ImportError:
        raise FetchError("--source s3 reads s3://commoncrawl with Beam's s3 filesystem, which needs boto3: "
                         "pip install 'c4forge[aws]' (or use --source https)") from None


def _listing_entries(request: CrawlRequest, crawl: Optional[str],
                     fetcher: Optional[HttpsFetcher]) -> tuple[list[str], str]:
    """The listing's entries and where they came from."""
    if request.wet_paths:
        return parse_listing(_read_any_path(request.wet_paths), request.wet_paths), request.wet_paths
    if request.source == "s3":
        where = f"{S3_ROOT}/{listing_path(crawl)}"
        return parse_listing(_read_any_path(where), where), where
    try:
        local, _ = fetcher.fetch(listing_path(crawl), LISTING_FILE)
    except NotOnServer as e:
        raise CrawlNotFound(f"no {listing_path(crawl)} at {fetcher.base_url} (HTTP {e.code}): is {crawl} a crawl id? "
                            "Crawls are listed at https://index.commoncrawl.org/collinfo.json") from None
    return parse_listing(local.read_bytes(), fetcher.url_of(listing_path(crawl))), fetcher.url_of(listing_path(crawl))


def _check_crawl_matches(entries: list[str], crawl: Optional[str], where: str) -> None:
    others = sorted({crawl_of(e) for e in entries} - {crawl}) if crawl else []
    if others:
        raise FetchError(f"{where} lists files of {', '.join(others[:3])}, not of --crawl {crawl}")


def resolve_crawl_inputs(request: CrawlRequest) -> CrawlInputs:
    """The listing, the chosen entries, and (source https) each file fetched into the cache."""
    if request.source not in SOURCES:
        raise FetchError(f"--source {request.source!r}: choose one of {', '.join(SOURCES)}")
    if not request.crawl and not request.wet_paths:
        raise FetchError("name the crawl with --crawl CC-MAIN-YYYY-WW, or pass its listing with --wet-paths FILE")
    crawl = normalize_crawl_id(request.crawl) if request.crawl else None
    if request.source == "s3":
        _require_s3()
    stats = FetchStats()
    fetcher = None
    if request.source == "https":
        fetcher = HttpsFetcher(request.base_url, request.cache_dir or default_cache_dir(), request.policy, stats)
    entries, where = _listing_entries(request, crawl, fetcher)
    _check_crawl_matches(entries, crawl, where)
    chosen = select_entries(entries, request.segments)
    files = [f"{S3_ROOT}/{e}" for e in chosen] if fetcher is None else _fetch_all(fetcher, chosen, stats)
    report = {"source": request.source, "crawl": crawl or crawl_of(chosen[0]), "segments": request.segments,
              "listing": where, "listing_entries": len(entries), "wet_paths": chosen,
              **dataclasses.asdict(stats)}
    if fetcher is not None:
        report["cache_dir"] = str(fetcher.cache_dir)
    return CrawlInputs(files=files, report=report)


def _fetch_all(fetcher: HttpsFetcher, chosen: list[str], stats: FetchStats) -> list[str]:
    files = []
    for i, entry in enumerate(chosen, 1):
        started, bytes_before = time.time(), stats.bytes
        try:
            local, cached = fetcher.fetch(entry)
        except NotOnServer as e:
            raise FetchError(f"{e.url}: HTTP {e.code} (listed in wet.paths, but not on the server)") from None
        stats.files += 1
        stats.from_cache += cached
        stats.downloaded += not cached
        if cached:
            logger.info("WET %d/%d from the cache: %s", i, len(chosen), local)
        else:
            seconds = max(time.time() - started, 1e-6)
            logger.info("WET %d/%d fetched: %s (%.1f MB at %.1f MB/s)", i, len(chosen), entry,
                        (stats.bytes - bytes_before) / 1e6, (stats.bytes - bytes_before) / 1e6 / seconds)
        files.append(str(local))
    return files


def format_fetch_line(report: dict) -> str:
    evicted = report.get("evicted", 0)  # reports from before the content check lack it
    return (f"fetch ({report['source']}, {report['crawl']} entries {report['segments']}): {report['files']} WET "
            f"file(s), {report['downloaded']} downloaded ({report['bytes']:,} bytes), {report['from_cache']} from "
            f"cache, {report['retries']} retries, {report['resumed']} resumed"
            + (f", {evicted} evicted from the cache (failed their check)" if evicted else ""))
