"""HTTPS downloads of Common Crawl files into a local cache: retries, resume and checks.

An HTTPS download survives a flaky network and a rate-limiting CDN:

- 408/429/5xx, refused-after-contact or dropped connections, stalls (socket timeout) and short
  bodies are retried with exponential backoff; a ``Retry-After`` header (seconds or an HTTP
  date) is honoured instead, up to ``RetryPolicy.max_retry_after_s``;
- a partial file is resumed with ``Range`` (and ``If-Range`` with the ETag, so a file that
  changed upstream restarts instead of being spliced); a server that ignores ``Range`` and
  answers 200 restarts it from byte 0;
- a finished file must have the announced length (``Content-Length``, or the total in
  ``Content-Range``) and must gunzip completely, every member's CRC and length included,
  before it gets its final name in the cache. Common Crawl publishes no checksums for WET
  files, so this is the strongest check available: a file cut exactly at a gzip member
  boundary *and* served with a matching length would still pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import errno
import gzip
import http.client
import json
import logging
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..errors import BuildError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
USER_AGENT = "c4forge/0.1 (Common Crawl WET fetcher)"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
OFFLINE_HINT = ("use local WET files with --input, or fill --cache-dir on a machine with network "
                "(cached files are never fetched again) and pass the crawl's listing with --wet-paths FILE")


class FetchError(BuildError):
    """A WET file or listing that could not be had: shown as one line."""


class CrawlNotFound(FetchError):
    pass


class NoNetwork(FetchError):
    pass


class NotOnServer(Exception):
    """HTTP 403/404/410: the path is not on the server (a wrong crawl id or a stale listing)."""

    def __init__(self, url: str, code: int):
        super().__init__(f"{url}: HTTP {code}")
        self.url, self.code = url, code


class _Retry(Exception):
    """One failed attempt worth another: why, and how long the server asked us to wait."""

    def __init__(self, reason: str, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _CorruptFile(_Retry):
    """The whole body arrived but is not a valid gzip file: fetched again from byte 0."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10  # per file, the first try included
    backoff_s: float = 1.0  # first delay; doubled after each failure
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 600.0  # a longer Retry-After is shortened to this
    timeout_s: float = 60.0  # socket timeout: connect, and each read
    sleep: Callable[[float], None] = time.sleep

    def delay(self, failures: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        return min(self.backoff_s * 2 ** (failures - 1), self.max_backoff_s)


@dataclasses.dataclass
class FetchStats:
    """What the run report's ``fetch`` section counts. ``files``, ``downloaded`` and
    ``from_cache`` count WET files; ``bytes``, ``retries`` and ``resumed`` include the listing."""

    files: int = 0
    downloaded: int = 0
    from_cache: int = 0
    bytes: int = 0  # received over the network, every attempt included
    retries: int = 0  # failed attempts that were tried again
    resumed: int = 0  # transfers that continued a partial file (HTTP 206) instead of restarting


def check_gzip(path: Path) -> None:
    """A full gunzip pass: every member's deflate data, CRC32 and length. Raises _CorruptFile."""
    with open(path, "rb") as raw:
        if raw.read(2) != GZIP_MAGIC:
            raise _CorruptFile("gzip check failed (not a gzip file)")
    try:
        with gzip.open(path, "rb") as f:
            while f.read(CHUNK_BYTES):
                pass
    except (OSError, EOFError, zlib.error) as e:
        raise _CorruptFile(f"gzip check failed ({short_error(e)})") from None


def retry_after_seconds(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def parse_content_range(value: Optional[str]) -> tuple[Optional[int], Optional[int], Optional[int]]:
    """``bytes 100-199/1000`` → (100, 199, 1000); ``bytes */1000`` → (None, None, 1000)."""
    match = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not match:
        return None, None, None
    start, end, total = match.groups()
    as_int = lambda v: int(v) if v and v != "*" else None  # noqa: E731
    return as_int(start), as_int(end), as_int(total)


def short_error(e: BaseException, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One process at a time per cached file (two builds sharing a cache would interleave
    writes to the same partial file)."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class _PartialFile:
    """``<dest>.part`` plus ``<dest>.part.json``: what was received so far, and the server's
    validator (ETag or Last-Modified) and total length, for If-Range on resume."""

    def __init__(self, dest: Path):
        self.path = dest.with_name(dest.name + ".part")
        self._meta = dest.with_name(dest.name + ".part.json")

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def remembered(self) -> dict:
        try:
            return json.loads(self._meta.read_text())
        except (OSError, ValueError):
            return {}

    def remember(self, validator: Optional[str], total: Optional[int]) -> None:
        self._meta.write_text(json.dumps({"validator": validator, "total": total}))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self._meta.unlink(missing_ok=True)

    def complete_as(self, dest: Path) -> None:
        os.replace(self.path, dest)  # atomic: a cached name always holds a checked file
        self._meta.unlink(missing_ok=True)


def _validator(headers) -> Optional[str]:
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
        return etag
    return headers.get("Last-Modified")


class HttpsFetcher:
    """Downloads ``base_url/<path>`` into ``cache_dir/<path>``, checked, with retries and resume."""

    def __init__(self, base_url: str, cache_dir: Path, policy: RetryPolicy, stats: FetchStats):
        self.base_url = base_url.rstrip("/")
        self.cache_dir = Path(cache_dir).expanduser()
        self.policy = policy
        self.stats = stats
        self._host_answered = False  # refused before any answer = no network, not a flaky server

    def url_of(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def cached_path(self, path: str) -> Path:
        return self.cache_dir.joinpath(*path.split("/"))

    def fetch(self, path: str) -> tuple[Path, bool]:
        """The checked local copy of ``path``, and whether it came from the cache."""
        dest = self.cached_path(path)
        if dest.is_file():
            return dest, True
        dest.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(dest):
            if dest.is_file():  # another process finished it while we waited
                return dest, True
            self._download(self.url_of(path), dest)
        return dest, False

    def _download(self, url: str, dest: Path) -> None:
        part = _PartialFile(dest)
        failures = 0
        while True:
            try:
                self._transfer(url, part)
                check_gzip(part.path)
                part.complete_as(dest)
                return
            except _Retry as e:
                if isinstance(e, _CorruptFile):
                    part.discard()  # never resume onto bytes that failed the check
                failures += 1
                if failures >= self.policy.attempts:
                    raise FetchError(f"{url}: gave up after {failures} attempts; last: {e.reason}") from None
                self.stats.retries += 1
                delay = self.policy.delay(failures, e.retry_after)
                logger.warning("%s: %s; retry %d of %d in %.1f s", url, e.reason, failures,
                               self.policy.attempts - 1, delay)
                self.policy.sleep(delay)

    def _request(self, url: str, part: _PartialFile) -> urllib.request.Request:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        have = part.size()
        if have:
            headers["Range"] = f"bytes={have}-"
            validator = part.remembered().get("validator")
            if validator:
                headers["If-Range"] = validator
        return urllib.request.Request(url, headers=headers)

    def _transfer(self, url: str, part: _PartialFile) -> None:
        """One attempt: raises _Retry when another could succeed; returns when the part file
        holds the whole body."""
        have = part.size()
        try:
            response = urllib.request.urlopen(self._request(url, part), timeout=self.policy.timeout_s)
        except urllib.error.HTTPError as e:
            self._host_answered = True
            with contextlib.closing(e):
                self._handle_error_status(url, e, part, have)
            return  # 416 on a part that already holds the whole file
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise self._connection_problem(url, e) from None
        with response:
            self._host_answered = True
            start, expected = self._accept_body(url, response, part, have)
            self._receive(response, part, start, expected)

    def _handle_error_status(self, url: str, e: urllib.error.HTTPError, part: _PartialFile, have: int) -> None:
        if e.code == 416:  # Range Not Satisfiable: our part may already be the whole file
            _, _, total = parse_content_range(e.headers.get("Content-Range"))
            if have and total == have:
                return
            part.discard()
            raise _Retry(f"HTTP 416 for a {have}-byte partial file; restarting")
        if e.code in (403, 404, 410):
            raise NotOnServer(url, e.code)
        if e.code in RETRY_STATUSES or e.code >= 500:
            raise _Retry(f"HTTP {e.code}", retry_after_seconds(e.headers.get("Retry-After")))
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}")

    def _connection_problem(self, url: str, e: BaseException) -> Exception:
        reason = e.reason if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException) else e
        host = urllib.parse.urlsplit(url).hostname
        if isinstance(reason, ssl.SSLCertVerificationError):
            return FetchError(f"{url}: TLS certificate check failed ({short_error(reason)}); a proxy intercepting TLS "
                              "needs its CA in SSL_CERT_FILE")
        if isinstance(reason, socket.gaierror):
            return NoNetwork(f"cannot resolve {host} ({short_error(reason)}): no network? {OFFLINE_HINT}")
        unreachable = isinstance(reason, ConnectionRefusedError) or (
            isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH))
        if unreachable and not self._host_answered:
            return NoNetwork(f"cannot connect to {host} ({short_error(reason)}): no network? {OFFLINE_HINT}")
        return _Retry(f"connection failed ({short_error(reason)})")

    def _accept_body(self, url: str, response, part: _PartialFile, have: int) -> tuple[int, Optional[int]]:
        """Where this body starts in the file and how many bytes it announces; remembers the
        validator and total for a later resume."""
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if response.status == 206:
            start, end, total = parse_content_range(response.headers.get("Content-Range"))
            remembered_total = part.remembered().get("total")
            if start != have or end is None or (remembered_total and total and total != remembered_total):
                part.discard()
                raise _Retry(f"server resumed with Content-Range {response.headers.get('Content-Range')!r} "
                             f"for a {have}-byte partial file; restarting")
            self.stats.resumed += 1
            part.remember(_validator(response.headers), total)
            return start, end - start + 1
        if response.status != 200:
            raise _Retry(f"unexpected HTTP {response.status}")
        if have:
            logger.info("%s: server answered 200 to a Range request; restarting from byte 0", url)
        part.remember(_validator(response.headers), expected)
        return 0, expected

    def _receive(self, response, part: _PartialFile, start: int, expected: Optional[int]) -> None:
        received = 0
        with open(part.path, "ab" if start else "wb") as f:
            try:
                while True:
                    chunk = response.read1(CHUNK_BYTES)  # what has arrived: a reset loses no read bytes
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    self.stats.bytes += len(chunk)
            except (OSError, http.client.HTTPException) as e:  # reset, timeout, IncompleteRead
                raise _Retry(f"connection lost after {received:,} bytes ({short_error(e)})") from None
        # http.client returns b"" at a premature close when reading in chunks: check the length.
        if expected is not None and received < expected:
            raise _Retry(f"body ended after {received:,} of {expected:,} bytes")
        total = part.remembered().get("total")
        if total is not None and part.size() != total:
            part.discard()
            raise _Retry(f"file has {part.size():,} bytes, the server announced {total:,}; restarting")
