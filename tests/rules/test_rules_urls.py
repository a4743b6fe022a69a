"""URL normalization and the train/validation split (TFDS ``normalize_url``, c4_reference.md 7.3-7.4)."""

from __future__ import annotations

import hashlib

import pytest

from c4forge.cleaning_rules import urls


@pytest.mark.parametrize("url, expected", [
    # scheme and www. removal
    ("http://example.com/a", "example.com/a"),
    ("https://example.com/a", "example.com/a"),
    ("https://www.example.com/a", "example.com/a"),
    ("http://www.example.com", "example.com"),
    ("http://www2.example.com/", "www2.example.com"),
    ("ftp://example.com/a", "ftp://example.com/a"),
    # not anchored: every occurrence goes, also inside the path
    ("https://web.archive.org/web/2019/http://www.example.com/",
     "web.archive.org/web/2019/example.com"),
    ("http://a.com/redirect?to=https://www.b.com/x", "a.com/redirect?to=b.com/x"),
    # case-sensitive: upper-case schemes and WWW stay
    ("HTTP://Example.com/A", "HTTP://Example.com/A"),
    ("https://WWW.Example.COM/Path", "WWW.Example.COM/Path"),
    ("Https://example.com", "Https://example.com"),
    # tracking query: only right after "?", and everything after it goes
    ("https://example.com/a?utm_source=x&b=1", "example.com/a"),
    ("https://example.com/a/?ref=home", "example.com/a"),
    ("https://example.com/a?reference=yes", "example.com/a"),
    ("https://example.com/a?feed=rss2#top", "example.com/a"),
    ("https://example.com/a?feedback=1", "example.com/a"),
    ("https://example.com/a?b=1&utm_source=x", "example.com/a?b=1&utm_source=x"),
    ("https://example.com/a?b=1&ref=x", "example.com/a?b=1&ref=x"),
    ("https://example.com/a?UTM_source=x", "example.com/a?UTM_source=x"),
    ("https://example.com/a?x=1?utm_y=2", "example.com/a?x=1"),
    ("https://example.com/a#?ref=1", "example.com/a#"),
    ("https://example.com/a?q=1/", "example.com/a?q=1"),
    # trailing slashes: all of them, but only at the end
    ("https://example.com/a///", "example.com/a"),
    ("https://example.com//a//b/", "example.com//a//b"),
    ("https://", ""),
    ("/", ""),
    ("", ""),
    # no fragment removal, no lower-casing, no percent-decoding
    ("https://example.com/A%20B#Section", "example.com/A%20B#Section"),
    ("https://www.münchen.de/Straße/", "münchen.de/Straße"),
])
def test_normalize_url(url, expected):
    assert urls.normalize_url(url) == expected


def test_normalize_url_is_idempotent_on_examples():
    for url in ["https://www.x.com/a/?ref=1", "https://web.archive.org/web/1/http://www.y.org//", "Z.com/A/"]:
        once = urls.normalize_url(url)
        assert urls.normalize_url(once) == once


def test_scheme_removal_happens_before_query_cut():
    # the query rule applies to the result of the scheme rule ("?ref" appears only then)
    assert urls.normalize_url("http://a.com/?http://ref=1") == "a.com"


def test_url_hash_is_tfds_int_of_the_md5_hex():
    assert urls.url_hash_int("") == int("d41d8cd98f00b204e9800998ecf8427e", 16)
    for u in ["a.com", "münchen.de/straße", "example.com/page/126"]:
        assert urls.url_hash_int(u) == int(hashlib.md5(u.encode("utf-8")).hexdigest(), 16)


@pytest.mark.parametrize("normalized_url, split", [
    ("example.com/page/126", "validation"),   # md5 % 1000 == 0
    ("example.com/page/686", "validation"),
    ("example.com/page/1200", "validation"),
    ("example.com/page/125", "train"),
    ("a.com", "train"),                       # md5 % 1000 == 431
    ("münchen.de/straße", "train"),           # 106
])
def test_split_of(normalized_url, split):
    assert urls.split_of(normalized_url) == split


def test_split_of_matches_md5_mod_1000_and_rate():
    n_val = 0
    n = 20000
    for i in range(n):
        u = f"site{i}.example.org/path/{i * 7}"
        expected = "validation" if int(hashlib.md5(u.encode()).hexdigest(), 16) % 1000 == 0 else "train"
        got = urls.split_of(u)
        assert got == expected
        n_val += got == "validation"
    # about 0.1%: 20 expected, a binomial(20000, 0.001) is within 5..40 with overwhelming odds
    assert 5 <= n_val <= 40
