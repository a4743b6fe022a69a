"""The bad-words list: pinned URL, sha256 check, cache, offline directory — over a local
HTTP server standing in for raw.githubusercontent.com (tests never use the network)."""

from __future__ import annotations

import http.server
import threading

import pytest

from c4forge.cleaning_rules import badwords

from conftest import BADWORDS_DIR, require_shared


@pytest.fixture
def served_lists(tmp_path, monkeypatch):
    """Serves <tmp>/www/<commit>/<lang> and points the pinned URL template at it."""
    require_shared()
    www = tmp_path / "www"
    (www / badwords.EN_COMMIT).mkdir(parents=True)
    (www / badwords.EN_COMMIT / "en").write_bytes((BADWORDS_DIR / badwords.EN_COMMIT / "en").read_bytes())
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(badwords, "URL_TEMPLATE", f"http://127.0.0.1:{server.server_port}/{{commit}}/{{lang}}")
    monkeypatch.setenv(badwords.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(badwords.BADWORDS_DIR_ENV, raising=False)
    yield www, requests
    server.shutdown()


def test_download_is_verified_and_cached(served_lists, tmp_path):
    _, requests = served_lists
    words = badwords.load_badwords("en")
    assert len(words) == 377 and "2 girls 1 cup" in words
    cached = tmp_path / "cache" / "ldnoobw" / badwords.EN_COMMIT / "en"
    assert cached.is_file()
    assert badwords.load_badwords("en") == words
    assert len(requests) == 1  # second load came from the cache


def test_download_with_wrong_sha256_is_refused_and_not_cached(served_lists, tmp_path):
    www, _ = served_lists
    (www / badwords.EN_COMMIT / "en").write_bytes(b"ass\nbanana\n")
    with pytest.raises(badwords.BadwordsError, match="sha256"):
        badwords.load_badwords("en")
    assert not (tmp_path / "cache" / "ldnoobw" / badwords.EN_COMMIT / "en").exists()


def test_unreachable_host_names_the_offline_option(monkeypatch, tmp_path):
    monkeypatch.setattr(badwords, "URL_TEMPLATE", "http://127.0.0.1:9/{commit}/{lang}")
    monkeypatch.setenv(badwords.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(badwords.BADWORDS_DIR_ENV, raising=False)
    with pytest.raises(badwords.BadwordsError, match="--badwords-dir"):
        badwords.load_badwords("en")


def test_offline_directory_is_checked_too(tmp_path):
    require_shared()
    assert len(badwords.load_badwords("en", str(BADWORDS_DIR))) == 377
    tampered = tmp_path / badwords.EN_COMMIT
    tampered.mkdir()
    (tampered / "en").write_text("ass\n")
    with pytest.raises(badwords.BadwordsError, match="expected a506cbcf"):
        badwords.load_badwords("en", str(tmp_path))


def test_every_pinned_language_in_the_shared_copy_verifies():
    require_shared()
    for (commit, lang) in badwords.PINNED_SHA256:
        data = badwords.fetch_badwords_file(lang, str(BADWORDS_DIR))
        assert data == (BADWORDS_DIR / commit / lang).read_bytes()
