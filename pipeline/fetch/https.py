"""HTTPS downloads of Common Crawl files into a local cache: retries, resume, a deadline and checks.

An HTTPS download survives a flaky network and a rate-limiting CDN:

- 408/429/5xx, refused-after-contact or dropped connections, stalls (socket timeout) and short
  bodies are retried with exponential backoff; a ``Retry-After`` header (seconds or an HTTP
  date) is honoured instead, up to ``RetryPolicy.max_retry_after_s``;
- a partial file is resumed with ``Range`` (and ``If-Range`` with the ETag, so a file that
  changed upstream restarts instead of being spliced); a server that ignores ``Range`` and
  answers 200 restarts it from byte 0;
- one file gets ``RetryPolicy.deadline_s`` in all, tries and waits included: a server that
  trickles bytes never trips the per-read timeout, and would otherwise hold the build forever;
- a finished file must have the announced length (``Content-Length``, or the total in
  ``Content-Range``) and pass its content check (``checks.py``: for a WET file, a complete
  gunzip and a first record that is WARC ``warcinfo``) before it gets its final name in the
  cache; a cached file that no longer passes the cheap check is evicted and fetched again.
  Common Crawl publishes no checksums for WET files, so this is the strongest check available:
  a file cut exactly at a gzip member boundary *and* served with a matching length would still pass;
- writing the cache is not the network: a full disk is one line (``cache.py``), never retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import errno
import http.client
import logging
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from .cache import PartialFile, cache_writes, exclusive
from .checks import WET_FILE, BadContent, FileCheck
from .errors import FetchError, NoNetwork, NotOnServer, short_error

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
USER_AGENT = "c4forge/0.1 (Common Crawl WET fetcher)"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
OFFLINE_HINT = ("use local WET files with --input, or fill --cache-dir on a machine with network "
                "(cached files are never fetched again) and pass the crawl's listing with --wet-paths FILE")


class _Retry(Exception):
    """One failed attempt worth another: why, and how long the server asked us to wait."""

    def __init__(self, reason: str, retry_after: Optional[float] = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _WrongContent(_Retry):
    """The whole body arrived but failed its check: deleted, fetched again from byte 0."""


class _DeadlinePassed(Exception):
    """The file's deadline passed during a transfer: no more tries."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10  # per file, the first try included
    backoff_s: float = 1.0  # first delay; doubled after each failure
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 600.0  # a longer Retry-After is shortened to this
    timeout_s: float = 60.0  # socket timeout: connect, and each read
    # Per file, every try and wait included: about 35 KB/s for a 125 MB WET file, and room for
    # the retries' waits; a server that trickles bytes never trips timeout_s.
    deadline_s: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def delay(self, failures: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        return min(self.backoff_s * 2 ** (failures - 1), self.max_backoff_s)


@dataclasses.dataclass
class FetchStats:
    """What the run report's ``fetch`` section counts. ``files``, ``downloaded`` and
    ``from_cache`` count WET files; ``bytes``, ``retries``, ``resumed`` and ``evicted`` include
    the listing."""

    files: int = 0
    downloaded: int = 0
    from_cache: int = 0
    bytes: int = 0  # received over the network, every attempt included
    retries: int = 0  # failed attempts that were tried again
    resumed: int = 0  # transfers that continued a partial file (HTTP 206) instead of restarting
    evicted: int = 0  # cached files that failed their check: deleted and fetched again


class _Deadline:
    def __init__(self, policy: RetryPolicy):
        self.seconds, self._clock = policy.deadline_s, policy.clock
        self._ends = self._clock() + policy.deadline_s

    def left(self) -> float:
        return self._ends - self._clock()

    def check(self) -> None:
        if self.left() <= 0:
            raise _DeadlinePassed()


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

    def fetch(self, path: str, check: FileCheck = WET_FILE) -> tuple[Path, bool]:
        """The checked local copy of ``path``, and whether it came from the cache."""
        dest = self.cached_path(path)
        if dest.is_file() and self._still_good(dest, check) is None:
            return dest, True
        with exclusive(dest, self.cache_dir):
            if dest.is_file():  # another process may have finished it while we waited
                failed = self._still_good(dest, check)
                if failed is None:
                    return dest, True
                self._evict(dest, failed)
            self._download(self.url_of(path), dest, check)
        return dest, False

    @staticmethod
    def _still_good(dest: Path, check: FileCheck) -> Optional[str]:
        """None if the cached file passes its cheap check, else why not."""
        try:
            check.cached(dest)
        except BadContent as e:
            return e.reason
        return None

    def _evict(self, dest: Path, reason: str) -> None:
        logger.warning("%s: the cached file fails its check (%s); deleted, fetching it again", dest, reason)
        with cache_writes(self.cache_dir, dest):
            dest.unlink()
        self.stats.evicted += 1

    def _download(self, url: str, dest: Path, check: FileCheck) -> None:
        part = PartialFile(dest, self.cache_dir)
        deadline = _Deadline(self.policy)
        failures = 0
        while True:
            try:
                self._attempt(url, part, check, deadline)
                part.complete_as(dest)
                return
            except NotOnServer:
                part.discard()  # nothing to resume onto
                raise
            except _DeadlinePassed:
                raise self._gave_up(url, part, f"past the per-file deadline of {deadline.seconds:g} s "
                                                f"(--fetch-deadline)") from None
            except _Retry as e:
                failures += 1
                delay = self.policy.delay(failures, e.retry_after)
                if failures >= self.policy.attempts:
                    raise self._gave_up(url, part, f"after {failures} attempts; last: {e.reason}", e) from None
                if delay >= deadline.left():
                    raise self._gave_up(url, part, f"the next try would pass the per-file deadline of "
                                                    f"{deadline.seconds:g} s (--fetch-deadline); last: {e.reason}",
                                        e) from None
                self.stats.retries += 1
                logger.warning("%s: %s; retry %d of %d in %.1f s", url, e.reason, failures,
                               self.policy.attempts - 1, delay)
                self.policy.sleep(delay)

    def _attempt(self, url: str, part: PartialFile, check: FileCheck, deadline: _Deadline) -> None:
        """One transfer, then the content check; raises _Retry when another try could succeed."""
        self._transfer(url, part, deadline)
        try:
            check.downloaded(part.path)
        except BadContent as e:
            part.discard()  # never resume onto bytes that failed the check
            raise _WrongContent(e.reason) from None

    def _gave_up(self, url: str, part: PartialFile, why: str, last: Optional[_Retry] = None) -> FetchError:
        if isinstance(last, _WrongContent):
            todo = f"the server does not send the file: is --cc-base-url {self.base_url} a Common Crawl mirror?"
        elif part.size():
            todo = (f"run again to resume it (the {part.size():,} bytes received are kept in {part.path}), "
                    f"or raise --fetch-attempts/--fetch-deadline")
        else:
            todo = "run again later, or raise --fetch-attempts/--fetch-deadline"
        return FetchError(f"{url}: gave up {why}; {todo}")

    def _request(self, url: str, part: PartialFile) -> urllib.request.Request:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        have = part.size()
        if have:
            headers["Range"] = f"bytes={have}-"
            validator = part.remembered().get("validator")
            if validator:
                headers["If-Range"] = validator
        return urllib.request.Request(url, headers=headers)

    def _transfer(self, url: str, part: PartialFile, deadline: _Deadline) -> None:
        """One attempt: raises _Retry when another could succeed; returns when the part file
        holds the whole body."""
        deadline.check()
        have = part.size()
        timeout = min(self.policy.timeout_s, deadline.left())  # a stall near the deadline ends at it
        try:
            response = urllib.request.urlopen(self._request(url, part), timeout=timeout)
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
            self._receive(response, part, start, expected, deadline)

    def _handle_error_status(self, url: str, e: urllib.error.HTTPError, part: PartialFile, have: int) -> None:
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

    def _accept_body(self, url: str, response, part: PartialFile, have: int) -> tuple[int, Optional[int]]:
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

    def _receive(self, response, part: PartialFile, start: int, expected: Optional[int], deadline: _Deadline) -> None:
        received = 0
        with part.writes(), part.open(append=bool(start)) as f:
            while True:
                chunk = self._read_chunk(response, received)
                if not chunk:
                    break
                part.write(f, chunk)
                received += len(chunk)
                self.stats.bytes += len(chunk)
                deadline.check()  # what was written stays in the part, for a later run to resume
        # http.client returns b"" at a premature close when reading in chunks: check the length.
        if expected is not None and received < expected:
            raise _Retry(f"body ended after {received:,} of {expected:,} bytes")
        total = part.remembered().get("total")
        if total is not None and part.size() != total:
            part.discard()
            raise _Retry(f"file has {part.size():,} bytes, the server announced {total:,}; restarting")

    @staticmethod
    def _read_chunk(response, received: int) -> bytes:
        try:
            return response.read1(CHUNK_BYTES)  # what has arrived: a reset loses no read bytes
        except (OSError, http.client.HTTPException) as e:  # reset, timeout, IncompleteRead
            raise _Retry(f"connection lost after {received:,} bytes ({short_error(e)})") from None
