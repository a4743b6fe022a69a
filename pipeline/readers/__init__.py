"""Readers turning Common Crawl WET and WARC files into pages, on the record layer
(``c4forge.pipeline.records``)."""

from .beam_files import open_input
from .warc import read_warc_pages, record_to_page
from .wet import read_wet_pages

__all__ = ["open_input", "read_wet_pages", "read_warc_pages", "record_to_page"]
