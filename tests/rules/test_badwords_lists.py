"""Where the bad-words lists come from: the pinned copy shipped in the package (the default, never
a download), or --badwords-dir / $C4FORGE_BADWORDS_DIR instead; sha256-checked either way."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from c4forge.cleaning_rules import badwords, mc4

from conftest import BADWORDS_DIR, require_shared

PACKAGED = Path(str(badwords.packaged_lists()))
SOURCE_REPOSITORY = "https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No developer's override, and no network: a download attempt would fail loudly."""
    monkeypatch.delenv(badwords.BADWORDS_DIR_ENV, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("the bad-words lists must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_the_package_ships_exactly_the_pinned_lists_and_their_sha256_match():
    shipped = {(p.parent.name, p.name): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in PACKAGED.glob("*/*") if p.is_file()}
    assert shipped == badwords.PINNED_SHA256
    assert len(shipped) == 28


def test_the_package_ships_the_license_and_a_notice_naming_the_source():
    assert (PACKAGED / "LICENSE").read_text().startswith("Attribution 4.0 International")
    notice = (PACKAGED / "NOTICE").read_text()
    assert SOURCE_REPOSITORY in notice and "CC-BY-4.0" in notice
    assert badwords.EN_COMMIT in notice and badwords.OTHER_COMMIT in notice


def test_the_packaged_lists_are_the_shared_copies_byte_for_byte():
    require_shared()
    for commit, lang in badwords.PINNED_SHA256:
        assert (PACKAGED / commit / lang).read_bytes() == (BADWORDS_DIR / commit / lang).read_bytes()
    assert (PACKAGED / "LICENSE").read_bytes() == (BADWORDS_DIR / "LICENSE").read_bytes()


def test_the_default_is_the_packaged_copy():
    words = badwords.load_badwords("en")
    assert len(words) == 377 and "2 girls 1 cup" in words
    assert badwords.read_badwords_file("de") == (PACKAGED / badwords.OTHER_COMMIT / "de").read_bytes()
    merged = mc4.load_mc4_badwords()
    assert len(merged) == 27 and "fr-CA-u-sd-caqc" not in merged  # fr-CA merges into fr


def test_a_tampered_packaged_copy_is_refused(tmp_path, monkeypatch):
    (tmp_path / badwords.EN_COMMIT).mkdir()
    (tmp_path / badwords.EN_COMMIT / "en").write_bytes(b"ass\nbanana\n")
    monkeypatch.setattr(badwords, "packaged_lists", lambda: tmp_path)
    with pytest.raises(badwords.BadwordsError, match="expected a506cbcf"):
        badwords.load_badwords("en")


def test_a_missing_packaged_copy_says_to_reinstall_or_pass_a_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(badwords, "packaged_lists", lambda: tmp_path)
    with pytest.raises(badwords.BadwordsError, match="reinstall c4forge, or pass --badwords-dir"):
        badwords.load_badwords("en")


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_a_directory_overrides_the_packaged_copy(tmp_path, monkeypatch, how):
    """An empty directory fails: proof that it, not the packaged copy, is read."""
    if how == "environment":
        monkeypatch.setenv(badwords.BADWORDS_DIR_ENV, str(tmp_path))
    directory = str(tmp_path) if how == "argument" else None
    with pytest.raises(badwords.BadwordsError, match=f"no en list under {tmp_path}"):
        badwords.load_badwords("en", directory)
    (tmp_path / badwords.EN_COMMIT).mkdir()
    (tmp_path / badwords.EN_COMMIT / "en").write_bytes(b"ass\n")
    with pytest.raises(badwords.BadwordsError, match="sha256"):  # checked like the packaged copy
        badwords.load_badwords("en", directory)
    (tmp_path / badwords.EN_COMMIT / "en").write_bytes((PACKAGED / badwords.EN_COMMIT / "en").read_bytes())
    assert len(badwords.load_badwords("en", directory)) == 377


def test_the_shared_copy_still_works_as_an_override():
    require_shared()
    for commit, lang in badwords.PINNED_SHA256:
        assert badwords.read_badwords_file(lang, str(BADWORDS_DIR)) == (BADWORDS_DIR / commit / lang).read_bytes()
