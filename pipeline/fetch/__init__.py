"""Common Crawl WET files for ``c4forge build --crawl``: the crawl's ``wet.paths.gz``, a slice of
its entries (``--segments``, ``listing.py``), and the files themselves (``https.py``).

Two sources:

- ``https`` (default): each chosen file is downloaded from ``--cc-base-url``
  (https://data.commoncrawl.org) into a local cache that mirrors the bucket layout
  (``<cache>/crawl-data/CC-MAIN-.../wet/...warc.wet.gz``). A cached file is never fetched again.
  Downloads run one at a time on the machine that launches the build: meant for local runs
  of a few files.
- ``s3``: nothing is downloaded; Beam reads ``s3://commoncrawl/...`` itself, on the workers
  (needs ``c4forge[aws]`` and AWS credentials). This is the path for distributed runs.
"""

from .https import (CrawlNotFound, FetchError, FetchStats, HttpsFetcher, NoNetwork, NotOnServer, RetryPolicy,
                    check_gzip, parse_content_range, retry_after_seconds)
from .listing import (DEFAULT_BASE_URL, S3_ROOT, SOURCES, CrawlInputs, CrawlRequest, default_cache_dir,
                      format_fetch_line, listing_path, normalize_crawl_id, parse_listing, parse_segments,
                      resolve_crawl_inputs, select_entries)

__all__ = ["CrawlInputs", "CrawlNotFound", "CrawlRequest", "DEFAULT_BASE_URL", "FetchError", "FetchStats",
           "HttpsFetcher", "NoNetwork", "NotOnServer", "RetryPolicy", "S3_ROOT", "SOURCES", "check_gzip",
           "default_cache_dir", "format_fetch_line", "listing_path", "normalize_crawl_id", "parse_content_range",
           "parse_listing", "parse_segments", "resolve_crawl_inputs", "retry_after_seconds", "select_entries"]
