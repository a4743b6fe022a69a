"""URL normalization and the hash-based train/validation split (TFDS ``normalize_url``)."""

from __future__ import annotations

import hashlib
import re

# Not anchored and case-sensitive, as in TFDS: every "http(s)://(www.)" is removed,
# also inside a path (web.archive.org/web/2019/http://www.x.com -> .../2019/x.com).
_SCHEME_AND_WWW = re.compile(r"https?:\/\/(www\.)?")
# From the first "?" followed by utm_/ref/feed to the end.
_TRACKING_QUERY = re.compile(r"\?(utm_|ref|feed).*")

VALIDATION_MODULUS = 1000
SPLITS = ("train", "validation")


def normalize_url(url: str) -> str:
    url = _SCHEME_AND_WWW.sub("", url)
    url = _TRACKING_QUERY.sub("", url)
    return url.rstrip("/")


def url_hash_int(normalized_url: str) -> int:
    """int(md5(url).hexdigest(), 16): TFDS's hash for the split and the bad-word soft keep."""
    return int.from_bytes(hashlib.md5(normalized_url.encode("utf-8")).digest(), "big")


def split_of(normalized_url: str) -> str:
    """'validation' for 0.1% of URLs (md5 % 1000 == 0), else 'train'."""
    return "validation" if url_hash_int(normalized_url) % VALIDATION_MODULUS == 0 else "train"
