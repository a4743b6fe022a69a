"""The page-length cap (TFDS ``is_valid_length``, the stage after ``split_wet_file``), one
rule for WET and WARC pages. The readers apply it as they make pages, so an over-long
page is never held in memory; it still counts as ``too-long-filter``."""

from __future__ import annotations

from .counters import TOO_LONG, chars_key, key


def length_cap(text_length: int, max_page_length: int | None) -> tuple[bool, dict[str, int]]:
    """(whether a page of ``text_length`` characters is kept, the counts it adds): without a
    cap, kept and no counts; else ``too-long-filter/passed``, or ``too-long-filter/filtered``
    with the page's characters under ``chars/too-long-filter/filtered``."""
    if max_page_length is None:
        return True, {}
    if text_length > max_page_length:
        return False, {key(TOO_LONG, "filtered"): 1, chars_key(TOO_LONG, "filtered"): text_length}
    return True, {key(TOO_LONG, "passed"): 1}
