"""URL dedup: one page per normalized URL (TFDS ``select_newest_page``), deterministic.

TFDS 3.1.0 keeps the page with the greatest WARC-Date string (ISO 8601, so string
order is time order) and, on equal dates, whichever Beam delivered first. We break ties
by a hash instead of arrival order: the larger md5(text) (the c4 3.0.x rule), then the
larger raw URL. ``max_text_hash`` (for 2.2.0, whose pick was arbitrary) orders by
md5(text), then URL, then date.
"""

from __future__ import annotations

import hashlib

from .page import Page


def _text_hash(page: Page) -> bytes:
    return hashlib.md5(page.text.encode("utf-8")).digest()


def newest_key(page: Page):
    return (page.timestamp, _text_hash(page), page.url)


def max_text_hash_key(page: Page):
    return (_text_hash(page), page.url, page.timestamp)


SELECTION_KEYS = {"newest": newest_key, "max_text_hash": max_text_hash_key}


def select_page(a: Page, b: Page, mode: str = "newest") -> Page:
    """The page of the two that survives URL dedup (associative and commutative)."""
    order = SELECTION_KEYS[mode]
    return a if order(a) >= order(b) else b
