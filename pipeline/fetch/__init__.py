"""Common Crawl WET files for ``c4forge build --crawl``: the crawl's ``wet.paths.gz``, a slice of
its entries (``--segments``, ``listing.py``), and the files themselves (``https.py``): checked
(``checks.py``) before they get their name in the cache (``cache.py``).

Two sources:

- ``https`` (default): each chosen file is downloaded from ``--cc-base-url``
  (https://data.commoncrawl.org) into a local cache that mirrors the bucket layout
  (``<cache>/crawl-data/CC-MAIN-.../wet/...warc.wet.gz``). A cached file is never fetched again,
  unless it fails its check (a WET file must start with a WARC warcinfo record): then it is
  evicted and fetched again.
  Downloads run one at a time on the machine that launches the build: meant for local runs
  of a few files.
- ``s3``: nothing is downloaded; Beam reads ``s3://commoncrawl/...`` itself, on the workers
  (needs ``c4forge[aws]`` and AWS credentials). This is the path for distributed runs.
"""

from .checks import BadContent, FileCheck, check_gzip, check_warc_start
from .errors import CacheNotWritable, CrawlNotFound, FetchError, NoNetwork, NotOnServer
from .https import FetchStats, HttpsFetcher, RetryPolicy, parse_content_range, retry_after_seconds
from .listing import (DEFAULT_BASE_URL, S3_ROOT, SOURCES, CrawlInputs, CrawlRequest, default_cache_dir,
                      format_fetch_line, listing_path, normalize_crawl_id, parse_listing, parse_segments,
                      resolve_crawl_inputs, select_entries)

__all__ = ["BadContent", "CacheNotWritable", "CrawlInputs", "CrawlNotFound", "CrawlRequest", "DEFAULT_BASE_URL",
           "FetchError", "FetchStats", "FileCheck", "HttpsFetcher", "NoNetwork", "NotOnServer", "RetryPolicy",
           "S3_ROOT", "SOURCES", "check_gzip", "check_warc_start", "default_cache_dir", "format_fetch_line",
           "listing_path", "normalize_crawl_id", "parse_content_range", "parse_listing", "parse_segments",
           "resolve_crawl_inputs", "retry_after_seconds", "select_entries"]
