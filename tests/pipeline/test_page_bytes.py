"""Pages as bytes for the shuffles: every field round-trips, equal pages give equal bytes."""

import dataclasses
import pickle

import pytest

from c4forge.cleaning_rules.page import Page
from c4forge.pipeline.page_bytes import decode_page, encode_page

PAGES = [
    Page(),
    Page(url="http://a.example/x", normalized_url="a.example/x", text="one line\nanother line",
         timestamp="2019-04-18T12:00:00Z", content_length="1234", content_type="text/plain"),
    Page(url="u", normalized_url="n", text="", timestamp="t", content_length="", content_type="c",
         language=""),
    Page(url="http://b.example/ü", normalized_url="b.example/ü",
         text="Grüße 世界 🙂\x00\r\n\ud800 lone surrogate", timestamp="ts", content_length="7",
         content_type="text/html", language="de"),
]


@pytest.mark.parametrize("page", PAGES)
def test_every_field_round_trips(page):
    decoded = decode_page(encode_page(page))
    assert decoded == page
    for field in dataclasses.fields(Page):
        assert getattr(decoded, field.name) == getattr(page, field.name)
        assert type(getattr(decoded, field.name)) is type(getattr(page, field.name))


def test_language_none_and_empty_differ():
    assert decode_page(encode_page(Page(language=None))).language is None
    assert decode_page(encode_page(Page(language=""))).language == ""
    assert encode_page(Page(language=None)) != encode_page(Page(language=""))


def test_field_boundaries_are_kept():
    # the same characters split differently between fields are different pages
    assert encode_page(Page(url="ab", normalized_url="")) != encode_page(Page(url="a", normalized_url="b"))
    assert decode_page(encode_page(Page(url="a", normalized_url="b"))) == Page(url="a", normalized_url="b")


def test_deterministic():
    for page in PAGES:
        copy = pickle.loads(pickle.dumps(page))  # equal, distinct string objects
        assert copy is not page
        assert encode_page(copy) == encode_page(page)
