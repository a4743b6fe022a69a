"""The LDNOOBW bad-words lists C4 uses, pinned by commit and sha256, and the page filter.

The pinned lists ship inside the package (``cleaning_rules/ldnoobw/<commit>/<lang>``, CC-BY-4.0:
LICENSE and NOTICE beside them, naming the source repository), so nothing is downloaded.
``load_badwords`` reads that copy, or ``<badwords_dir>/<commit>/<lang>`` (or
``<badwords_dir>/<lang>``) when a directory is given (``--badwords-dir``,
``$C4FORGE_BADWORDS_DIR``), and refuses any file whose sha256 differs from the pin.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional, Union

import ahocorasick  # pyahocorasick

from .counters import BADWORDS, chars_key, key
from .page import Page
from .urls import url_hash_int

try:  # built by pip install where a C compiler is found; pyahocorasick gives the same verdicts
    from . import badwords_compiled
except ImportError:
    badwords_compiled = None

EN_COMMIT = "25e679f03d96baa721cde20db9944649e8d0a844"  # "older en file for reproducibility"
OTHER_COMMIT = "5faf2ba42d7b1c0977169ec3611df25a3c08eb13"
BADWORDS_DIR_ENV = "C4FORGE_BADWORDS_DIR"
PACKAGED_LISTS = "ldnoobw"  # package data of c4forge.cleaning_rules, laid out <commit>/<lang>

# sha256 of each pinned file (en from TFDS url_checksums/c4.txt).
PINNED_SHA256 = {
    (EN_COMMIT, "en"): "a506cbcf8a31935b122299f3bb1d32be6db3d0ad498765d28f365dfc4f4d7b8c",
    (OTHER_COMMIT, "ar"): "23dbd9c55257bf2a4965f46664dc7eac04b61ff4eb3571e41f7e964c7c3ed96b",
    (OTHER_COMMIT, "cs"): "90706df86709bade1ca39cf9f9d9836409c674fc3bffcb7525bdd20e59b596bc",
    (OTHER_COMMIT, "da"): "ddb46ab67e955d1a5f49c89c18497d23c3d8d6d2522f3740a5d7583f90e434c6",
    (OTHER_COMMIT, "de"): "ebe44d7772897390e27f7bec412fdcdf0efc294e4db157f8487c4cd8d4fabd55",
    (OTHER_COMMIT, "eo"): "0374d76be1dbc77c61362d6e51305e1e4c546b7f734eb96e0bdbad7fd2a6ace1",
    (OTHER_COMMIT, "es"): "073334261cc2e7c08339faefd2f19f9623e8240a0ac18fe2a26c368b897496ce",
    (OTHER_COMMIT, "fa"): "85828629b90fd18a3f6f6efb1934c1294103c33d1c28c0653970adfa179169e9",
    (OTHER_COMMIT, "fi"): "3e0b35b2533ba22fb526d882bea250ddfad907ee7548aacbe15db17e21034c62",
    (OTHER_COMMIT, "fil"): "fb4b43691b1249fee2eca1e66795daedda8e7366d42abcde6553dce611d23d99",
    (OTHER_COMMIT, "fr"): "79763a705e08256b393952852bb63aa903f4485e0ef02f70735f5e50efff213c",
    (OTHER_COMMIT, "fr-CA-u-sd-caqc"): "4a0ef5d55921c91df26676b214d3ac648deef11cfbc4587159ee9aab4085b09a",
    (OTHER_COMMIT, "hi"): "83636e9b7a5260451e09e9e471f81dad9f082d107a82da77047e57d7856ed0cc",
    (OTHER_COMMIT, "hu"): "a6943a971496f16e9a9d59ba6fde146d229699600e9636828d8d34ed9160aff5",
    (OTHER_COMMIT, "it"): "d413f41018d58aa79d2c4809d0161f29ffd5652c4dc34c5b7b9ade680ee5599a",
    (OTHER_COMMIT, "ja"): "f83c4d0843ea6474c17bf171edd72b616b3af403f8613f2cde1bd841faf6f316",
    (OTHER_COMMIT, "kab"): "df7be2ce4a0c80ee717cd7134c90645a8a0f0c0c458a61f927934dbd50eac96d",
    (OTHER_COMMIT, "ko"): "0dd4b74ffea6e3bb35d658e6d8262b53ee99281eaa48ecb515a2065bfcc7f69d",
    (OTHER_COMMIT, "nl"): "8298ba0cdc3ca9a1989c349b8ad0148e4504c2804f2f2fb6c2f52bfb39c5ae71",
    (OTHER_COMMIT, "no"): "e55b46bcec1ea288256924523a997d8d99e124c9aa3e61cbbbfaeca294f745b4",
    (OTHER_COMMIT, "pl"): "98cf824e3692255645c5a72d5913f26fd4f20930f725683b4c96bb312ca5d9b3",
    (OTHER_COMMIT, "pt"): "05ef524b0bb7f83f87257f6ec4dabf70e16b8bb6930f769fb93deaf608ff196d",
    (OTHER_COMMIT, "ru"): "2598adabd2b761733d72a68d8ee4fcc1d2c38f2f85b6ff489985c6ce1d93bf75",
    (OTHER_COMMIT, "sv"): "77f3f99a89bd3b2bde6a654741bacfcb3acca3f5c804af4d8d3fea11e09ea562",
    (OTHER_COMMIT, "th"): "835036d87a3a67738e388cd6de92e3c995c186a1427b4e830fe7b85483c257e7",
    (OTHER_COMMIT, "tlh"): "3c19004e338c0d91d19ba419185279145848b75b2327aa0e3a752c604ad9f59d",
    (OTHER_COMMIT, "tr"): "6c7ae03baee0f3fdc22eed169030567669005dad9a1923e0b571c4bd4f2f2ab5",
    (OTHER_COMMIT, "zh"): "a1d9aa037c8b039ef3b40148b3364ce2ca62ce4a955b7082a16ad99f6cbd1bc0",
}
# Words that are common subwords in languages without spaces (TFDS _BADWORDS_ALLOWLIST).
ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}
NO_WORD_BOUNDARY_LANGS = ("ja", "th", "zh")


class BadwordsError(RuntimeError):
    pass


def commit_for(lang: str) -> str:
    return EN_COMMIT if lang == "en" else OTHER_COMMIT


def packaged_lists():
    """The folder of pinned lists installed with c4forge (a Traversable; a Path when unzipped)."""
    return resources.files(__package__).joinpath(PACKAGED_LISTS)


def _pinned_sha256(commit: str, lang: str) -> str:
    expected = PINNED_SHA256.get((commit, lang))
    if expected is None:
        raise BadwordsError(f"no pinned sha256 for LDNOOBW {lang}@{commit}")
    return expected


def _verified(data: bytes, commit: str, lang: str, source: str) -> bytes:
    expected = _pinned_sha256(commit, lang)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise BadwordsError(
            f"bad-words list {source} has sha256 {digest}, expected {expected} "
            f"(LDNOOBW {lang}@{commit[:7]})"
        )
    return data


def _file_in_dir(badwords_dir: str, commit: str, lang: str) -> Path:
    for candidate in (Path(badwords_dir) / commit / lang, Path(badwords_dir) / lang):
        if candidate.is_file():
            return candidate
    raise BadwordsError(f"no {lang} list under {badwords_dir} (looked for {commit}/{lang} and {lang})")


def _packaged_file(commit: str, lang: str):
    packaged = packaged_lists().joinpath(commit).joinpath(lang)
    if not packaged.is_file():
        raise BadwordsError(f"the bad-words list {packaged} that ships with c4forge is missing (an incomplete "
                            "install? reinstall c4forge, or pass --badwords-dir with a copy laid out <commit>/<lang>)")
    return packaged


def read_badwords_file(lang: str, badwords_dir: Optional[str] = None) -> bytes:
    """Bytes of the pinned list, sha256-checked: from ``badwords_dir`` (else ``$C4FORGE_BADWORDS_DIR``)
    when one is given, else the copy packaged with c4forge. Never downloads."""
    commit = commit_for(lang)
    _pinned_sha256(commit, lang)  # an unpinned language fails here, not as a missing file
    badwords_dir = badwords_dir or os.environ.get(BADWORDS_DIR_ENV)
    source = _file_in_dir(badwords_dir, commit, lang) if badwords_dir else _packaged_file(commit, lang)
    return _verified(source.read_bytes(), commit, lang, str(source))


def parse_word_list(data: bytes, lang: str) -> frozenset[str]:
    """As c4.py: a set of stripped lines, allowlist removed."""
    words = {line.strip() for line in data.decode("utf-8").splitlines(keepends=True)}
    return frozenset(words - ALLOWLIST.get(lang.split("-")[0], set()))


def load_badwords(lang: str = "en", badwords_dir: Optional[str] = None) -> frozenset[str]:
    return parse_word_list(read_badwords_file(lang, badwords_dir), lang)


def _alternation(words: Iterable[str], escape: bool) -> str:
    # Sorted so the pattern is the same in every process; a match exists or not
    # regardless of alternative order.
    return "|".join(re.escape(w) if escape else w for w in sorted(words))


def _trie_alternation(words: Iterable[str]) -> str:
    """The escaped words as one regex that shares prefixes (``ass(?:hole)?|...``).

    It matches exactly the same strings as the flat ``w1|w2|...`` TFDS compiles, so a page
    has a hit under one iff under the other, but the regex engine tries each prefix once
    instead of once per word: ~4.7x faster on real pages.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def pattern(node: dict) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 and "" not in node else "(?:" + "|".join(branches) + ")"
        return group + "?" if "" in node else group

    return pattern(trie)


def page_badword_regex(words: Iterable[str], lang: str = "en") -> re.Pattern:
    """c4 >= 3.0: whole lower-cased page, ``\\W``/start/end flanks; escaped words (3.1.0)."""
    alternation = _trie_alternation(words)
    if lang in NO_WORD_BOUNDARY_LANGS:
        return re.compile(alternation)
    return re.compile(r"(?:\W|^)({})(?:\W|$)".format(alternation))


_WORD_CHAR = re.compile(r"\w")  # the regex's own \w, so flanks agree with it


def _trie(words: Iterable[str]) -> tuple[list[int], list[int], list[int], list[int]]:
    """The words as badwords_compiled.Matcher's trie: (offsets, chars, children, ends)."""
    nodes: list[dict[str, int]] = [{}]
    ends = [0]
    for word in sorted(words):
        node = 0
        for ch in word:
            if ch not in nodes[node]:
                nodes[node][ch] = len(nodes)
                nodes.append({})
                ends.append(0)
            node = nodes[node][ch]
        ends[node] = 1
    offsets, chars, children = [0], [], []
    for node in nodes:
        for ch in sorted(node):
            chars.append(ord(ch))
            children.append(node[ch])
        offsets.append(len(chars))
    return offsets, chars, children, ends


class PageBadwords:
    """``page_badword_regex(words, lang)`` for a language with word boundaries, without the
    regex: ``search(text)`` finds a hit iff the regex does (tests: TFDS's filter on real
    pages, crafted flanks, random strings); the bad-words stage took 5.7 s before it and 3.1 s
    after in the 40,000-record stage view of an earlier machine (docs/speed.md).

    Python's regex engine tries the word alternation at every character of the page. Here
    an occurrence is a hit when a non-word character or the page's end flanks it on each
    side, exactly the regex's ``(?:\\W|^)`` and ``(?:\\W|$)``: compiled
    (``badwords_compiled.c``: a trie walked only from where a left flank holds) where
    installed, else an Aho-Corasick automaton (pyahocorasick, in C) finds every occurrence
    of every entry in one pass and Python checks the flanks.
    """

    def __init__(self, words: Iterable[str]):
        words = sorted(words)
        self._matcher = None
        if badwords_compiled is not None and "" not in words:  # no list holds an empty entry
            self._matcher = badwords_compiled.Matcher(*_trie(words))
            return
        self._automaton = ahocorasick.Automaton()
        for word in words:
            self._automaton.add_word(word, len(word))
        self._empty = not len(self._automaton)
        if not self._empty:  # an automaton without words cannot be built
            self._automaton.make_automaton()

    def search(self, text: str) -> Optional[tuple[int, int]]:
        """(start, end) of a flanked occurrence of an entry, or None. ``text`` is
        lower-cased by the caller."""
        if self._matcher is not None:
            return self._matcher.search(text)
        if self._empty:
            return None
        word_char = _WORD_CHAR.match
        n = len(text)
        for last, length in self._automaton.iter(text):
            start, end = last + 1 - length, last + 1
            if (start == 0 or not word_char(text, start - 1)) and (end == n or not word_char(text, end)):
                return start, end
        return None

    def search_lower_cased(self, text: str) -> Optional[tuple[int, int]]:
        """``search(text.lower())``; compiled, without the lower-cased copy of the page
        (``badwords_compiled.c``: each character lower-cased as it is read)."""
        if self._matcher is not None:
            return self._matcher.search_lowered(text)
        return self.search(text.lower())


def compiled_installed() -> bool:
    """Whether this install has the compiled search (built where a C compiler was found)."""
    return badwords_compiled is not None


def page_badword_matcher(words: Iterable[str], lang: str = "en"):
    """What the page filter searches with: ``PageBadwords``, or the regex itself for a
    language without word boundaries (its regex has no flanks)."""
    if lang in NO_WORD_BOUNDARY_LANGS:
        return page_badword_regex(words, lang)
    return PageBadwords(words)


def line_badword_regex_2_2_0(words: Iterable[str]) -> re.Pattern:
    """c4 2.2.x: per lower-cased line, one non-[a-z] character needed on each side; unescaped."""
    return re.compile(r"[^a-z]({})[^a-z]".format(_alternation(words, escape=False)))


def keeps_badword_page(normalized_url: str, filter_fraction: float) -> bool:
    """Soft filter: a page with a bad word survives iff md5(url) % den >= num."""
    numerator, denominator = float(filter_fraction).as_integer_ratio()
    return url_hash_int(normalized_url) % denominator >= numerator


def badwords_filter(
    page: Page, matcher_by_lang: dict[str, Union[re.Pattern, PageBadwords]], filter_fraction: float,
    counters: Counter,
) -> bool:
    """True to keep the page. Counts as TFDS: badwords-filter and badwords-filter-<lang>.
    ``matcher_by_lang``: ``page_badword_matcher`` (or ``page_badword_regex``) per language."""
    lang = (page.language or "").split("-")[0]
    matcher = matcher_by_lang.get(lang)
    if matcher is not None:
        found = (matcher.search_lower_cased(page.text) if isinstance(matcher, PageBadwords)
                 else matcher.search(page.text.lower()))
        if found is not None:
            verdict = "soft-passed" if keeps_badword_page(page.normalized_url, filter_fraction) else "filtered"
            counters[key(BADWORDS, verdict)] += 1
            counters[key(f"{BADWORDS}-{lang}", verdict)] += 1
            if verdict == "filtered":
                counters[chars_key(BADWORDS, verdict)] += len(page.text)
            return verdict == "soft-passed"
        counters[key(f"{BADWORDS}-{lang}", "passed")] += 1
    counters[key(BADWORDS, "passed")] += 1
    return True
