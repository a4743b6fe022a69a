"""What a fetch can end with: errors shown as one line (``BuildError``: exit code 2), and the
not-found answer the listing code turns into its own message."""

from __future__ import annotations

from ..errors import BuildError


class FetchError(BuildError):
    """A WET file or listing that could not be had: shown as one line."""


class CrawlNotFound(FetchError):
    pass


class NoNetwork(FetchError):
    pass


class CacheNotWritable(FetchError):
    """Writing the cache failed (a full disk, a quota, permissions): not the network's fault, so
    never retried."""


def short_error(e: BaseException, limit: int = 160) -> str:
    text = " ".join(str(e).split())
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class NotOnServer(Exception):
    """HTTP 403/404/410: the path is not on the server (a wrong crawl id or a stale listing)."""

    def __init__(self, url: str, code: int):
        super().__init__(f"{url}: HTTP {code}")
        self.url, self.code = url, code
