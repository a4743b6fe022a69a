"""langdetect 1.0.9's ``detect_langs`` with ``DetectorFactory.seed = 0``, bit for bit: the same
languages, in the same order, with the same float probabilities, without langdetect's
per-character Python loops. docs/language-id.md says why the results are exact, how the
batch path works and how to measure both (benchmarks/langdetect_benchmark.py).

Why one file: its parts are one computation: the per-text path,
the batch path and the load-time self-checks share the profile matrix, the seed-0 random
stream and the per-word n-gram code, and are checked against each other and against
langdetect by tests/test_langdetect_exact.py, which reaches the internals (small limits,
forced hash collisions, simulated self-check failures) through this one module. The
sections below are: model (profiles, tables), random stream, n-grams, per-text detection,
batch path (numpy, then the compiled detector's Python side), setup and fallback.

Public API:

``detect_langs(text) -> [(lang, prob), ...]``
    langdetect's ``detect_langs`` as tuples; raises langdetect's own ``LangDetectException``
    when the text has no n-gram features, as langdetect does.
``detect_top(text) -> (lang | None, prob, verdict)``
    the top language; verdict "ok", "filtered:langdetect_exception" or
    "filtered:no_predictions" (the english-filter counter names).
``detect_top_many(texts, batch_size=512)``
    ``[detect_top(t) for t in texts]``, the same tuples: by the compiled detector
    (``langdetect_compiled.c``) where c4forge was built with it, else batch_size texts advanced
    together by numpy.
``backend()``, ``batch_path_problem()``, ``compiled_problem()``, ``clear_caches()``
    which path runs (a failed self-check falls back to langdetect itself, to the per-text
    path for batches, or from the compiled detector to numpy), and emptying the per-word
    caches (results never depend on them).

State: everything module-level is either immutable once built (profiles, tables, random
stream, gauss table; built once under a lock) or a pure-function cache (n-grams per
word: a dict for the per-text path, ``_WordTable`` for the batch path, used under a lock,
bounded to 100,000 words and ~50 MB and emptied when full). Calls are thread-safe and
independent of one another; no langdetect global is touched.
"""

from __future__ import annotations

import itertools
import operator
from array import array
import json
import math
import os
import random
import re
import threading
import warnings
from collections.abc import Sequence
from operator import itemgetter
from typing import Optional

import numpy as np

try:  # built at install where a C compiler is found; otherwise numpy gives the same results
    from . import langdetect_compiled as _compiled
except ImportError:  # pragma: no cover - depends on the install
    _compiled = None

# langdetect.detector.Detector constants (1.0.9)
_ALPHA_DEFAULT = 0.5
_ALPHA_WIDTH = 0.05
_ITERATION_LIMIT = 1000
_PROB_THRESHOLD = 0.1
_CONV_THRESHOLD = 0.99999
_BASE_FREQ = 10000
_N_TRIAL = 7
_MAX_TEXT_LENGTH = 10000
_SEED = 0

_URL_RE = re.compile(r'https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}')
_MAIL_RE = re.compile(r'[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}')
_MAIL_HEAD = "-_.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # before the '@'

_TWOPI = 2.0 * math.pi  # random.TWOPI
_RANDOM_SCALE = 1.0 / 9007199254740992.0  # CPython random_random: (a*67108864.0+b)*(1.0/9007199254740992.0)

_WORD_CACHE_MAX = 100_000  # words per cache generation (~25 MB)
_BATCH_MIN = 4  # cache misses of a text computed by _rows_batch from this many on
_STREAM_INITIAL = 1 << 16  # 32-bit words of the seed-0 stream made up front (grows on demand)
_DRAWS_INITIAL = 1024  # raw stream words scanned for a text's draws at first (grows on demand)


# --------------------------------------------------------------------------- model


class _Model:
    """Profiles and tables, built once; read-only afterwards."""

    def __init__(self) -> None:
        from langdetect.utils.ngram import NGram
        import langdetect

        self.normalize_vi = NGram.normalize_vi
        self.dmarks = tuple(NGram.DMARK_CLASS)  # normalize_vi only rewrites letter + one of these
        profile_dir = os.path.join(os.path.dirname(langdetect.__file__), "profiles")
        self.langlist, self.vocab, self.matrix = _load_profiles(profile_dir)
        # n-gram lookups: langdetect never emits the 1-gram ' ' (none in 1.0.9's profiles)
        self.lookup = self.vocab
        if " " in self.vocab:  # pragma: no cover
            self.lookup = {w: r for w, r in self.vocab.items() if w != " "}
        # the same lookup as a sorted table of packed keys, for many words at once
        # (_rows_batch): key of an n-gram = its code points + 1, 21 bits each
        self.ngram_keys, self.ngram_key_rows = _key_table(self.lookup)
        # _rows_batch sees a word's first char preceded by "x " (end of the previous word):
        # no such 3-gram may be in the lookup (true of every langdetect profile)
        self.batch_ok = not any(len(w) == 3 and w[1] == " " for w in self.lookup)
        self.upper_bmp = np.array(list(map(str.isupper, map(chr, range(0x10000)))), dtype=bool)
        self.n_lang = len(self.langlist)
        self.init_prob = np.array([1.0 / self.n_lang] * self.n_lang, dtype=np.float64)

        # NGram.normalize as a code-point table. It only rewrites chars of BMP blocks
        # (Basic Latin ... Hangul Syllables); astral chars map to themselves (a slow test
        # checks all 0x110000 code points).
        lut = np.arange(0x110000, dtype=np.uint32)
        normalize = NGram.normalize
        for cp in range(0x10000):
            ch = chr(cp)
            out = normalize(ch)
            if out != ch:
                lut[cp] = ord(out)
        self.lut = lut
        self.ascii_table = {cp: int(lut[cp]) for cp in range(128) if lut[cp] != cp}


def _load_profiles(profile_dir: str):
    """DetectorFactory.load_profile: same file order, same probabilities."""
    list_files = os.listdir(profile_dir)
    langsize = len(list_files)
    langlist: list[str] = []
    vocab: dict[str, int] = {}
    rows, cols, probs = [], [], []
    for filename in list_files:
        if filename.startswith("."):
            continue
        filename = os.path.join(profile_dir, filename)
        if not os.path.isfile(filename):
            continue
        with open(filename, "r", encoding="utf-8") as f:
            data = json.load(f)
        index = len(langlist)
        name = data["name"]
        if name in langlist:
            raise ValueError("Duplicate the same language profile.")
        langlist.append(name)
        freq = data["freq"]
        setdefault = vocab.setdefault
        row = np.array([setdefault(word, len(vocab) + 1) for word in freq], dtype=np.int64)  # row 0: unused
        length = np.fromiter(map(len, freq), dtype=np.int64, count=len(freq))
        n_gram = (length >= 1) & (length <= 3)
        # 1.0 * count / n_words[length - 1]: counts and totals are exact as doubles, one division
        count = np.array(list(freq.values()), dtype=np.float64)[n_gram]
        rows.append(row[n_gram])
        cols.append(np.full(len(count), index, dtype=np.int64))
        probs.append(count / np.array(data["n_words"], dtype=np.float64)[length[n_gram] - 1])
    matrix = np.zeros((len(vocab) + 1, max(langsize, len(langlist))), dtype=np.float64)
    if rows:
        matrix[np.concatenate(rows), np.concatenate(cols)] = np.concatenate(probs)
    # prob vectors have len(langlist) entries; extra columns (non-profile files) are unused
    matrix = np.ascontiguousarray(matrix[:, : len(langlist)])
    return tuple(langlist), vocab, matrix


def _key_table(lookup: dict) -> tuple[np.ndarray, np.ndarray]:
    keys, rows = [], []
    for n in (1, 2, 3):
        words = [w for w in lookup if len(w) == n]
        if not words:
            continue
        cps = np.frombuffer("".join(words).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cps = cps.reshape(-1, n).astype(np.int64) + 1
        key = cps[:, 0]
        for j in range(1, n):
            key = (key << 21) | cps[:, j]
        keys.append(key)
        rows.append(np.array([lookup[w] for w in words], dtype=np.int32))
    keys.append(np.array([np.iinfo(np.int64).max], dtype=np.int64))  # sentinel (no n-gram)
    rows.append(np.zeros(1, dtype=np.int32))
    key, row = np.concatenate(keys), np.concatenate(rows)
    order = np.argsort(key)
    return key[order], row[order]


# --------------------------------------------------------------------------- random stream

_stream_lock = threading.Lock()
_stream_state: Optional[tuple[np.ndarray, list]] = None  # replaced whole, never mutated


def _stream(min_len: int) -> tuple[np.ndarray, list]:
    """The first >= min_len 32-bit outputs of random.Random(seed 0), as an array and a list."""
    global _stream_state
    state = _stream_state
    if state is not None and len(state[1]) >= min_len:
        return state
    with _stream_lock:
        state = _stream_state
        if state is None or len(state[1]) < min_len:
            n = max(_STREAM_INITIAL, min_len, 0 if state is None else 2 * len(state[1]))
            getrandbits = random.Random(_SEED).getrandbits
            words = [getrandbits(32) for _ in range(n)]
            state = _stream_state = (np.array(words, dtype=np.uint32), words)
        return state


def _gauss_pair(words: list, q: int) -> tuple[float, float]:
    """random.gauss's (z, gauss_next) from the four 32-bit words at q (two random())."""
    r1 = ((words[q] >> 5) * 67108864.0 + (words[q + 1] >> 6)) * _RANDOM_SCALE
    r2 = ((words[q + 2] >> 5) * 67108864.0 + (words[q + 3] >> 6)) * _RANDOM_SCALE
    x2pi = r1 * _TWOPI
    g2rad = math.sqrt(-2.0 * math.log(1.0 - r2))
    return math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad


class _Draws:
    """One text's ``random.choice(ngrams)`` results along the fixed stream.

    ``pos[a]`` is the raw stream position of the a-th accepted ``_randbelow(n)`` draw
    counted from the stream's start; a choice made from raw position q is the first
    accepted draw at or after q. ``factors[a]`` is the profile row of the n-gram it picks
    (filled on demand).
    """

    __slots__ = ("n", "shift", "size", "pos", "picked", "factors", "filled", "rows", "matrix")

    def __init__(self, n: int, rows: np.ndarray, matrix: np.ndarray) -> None:
        self.n = n
        self.shift = 32 - n.bit_length()
        self.rows = rows
        self.matrix = matrix
        self.size = 0
        self.filled = 0
        self.factors = None
        self.grow(_DRAWS_INITIAL)

    def grow(self, size: int) -> None:
        arr, _ = _stream(size)
        v = arr[:size] >> self.shift
        pos = np.flatnonzero(v < self.n)
        factors = np.empty((len(pos), self.matrix.shape[1]), dtype=np.float64)
        if self.filled:  # same stream prefix, same accepted draws
            factors[: self.filled] = self.factors[: self.filled]
        self.pos, self.picked, self.factors, self.size = pos, v[pos], factors, size

    def first(self, q: int) -> int:
        """Index of the first accepted draw at raw position >= q."""
        while True:
            a = int(self.pos.searchsorted(q))
            if a < len(self.pos):
                return a
            self.grow(self.size * 2)

    def factor_rows(self, start: int, stop: int) -> np.ndarray:
        """Profile rows of accepted draws start..stop-1."""
        while stop > len(self.pos):
            self.grow(self.size * 2)
        if stop > self.filled:
            hi = min(len(self.pos), max(stop, self.filled + 256))
            np.take(self.matrix, self.rows[self.picked[self.filled : hi]], axis=0,
                    out=self.factors[self.filled : hi])
            self.filled = hi
        return self.factors[start:stop]


# --------------------------------------------------------------------------- n-grams


class _WordRows:
    """Pure-function cache: normalized word -> its n-gram rows (int32 bytes).

    The rows are those emitted over ' ' + word + ' ', i.e. for a word followed by a space
    (``_word_rows(word, False)`` gives those of a text's last word when no space follows).
    Two generations bound the memory: when ``new`` is full it becomes ``old``, from which
    words still in use are carried over.
    """

    def __init__(self) -> None:
        self.new: dict[str, bytes] = {}
        self.old: dict[str, bytes] = {}
        self.model: Optional[_Model] = None

    def clear(self) -> None:
        self.new, self.old = {}, {}

    def fill(self, words: list, values: list) -> None:
        """Replaces the None entries of values (cache misses) by the words' rows."""
        found: dict[str, Optional[bytes]] = {}
        misses = []
        old_get = self.old.get
        index = values.index
        i = -1
        try:
            while True:
                i = index(None, i + 1)
                misses.append(i)
                word = words[i]
                if word not in found:
                    found[word] = old_get(word)
        except ValueError:
            pass
        todo = [w for w, v in found.items() if v is None]
        model = self.model
        if len(todo) >= _BATCH_MIN and model.batch_ok:
            found.update(zip(todo, _rows_batch(model, todo)))
        else:
            for word in todo:
                found[word] = _word_rows(model.lookup, word, True)
        for i in misses:
            values[i] = found[words[i]]
        new = self.new
        if len(new) + len(found) > _WORD_CACHE_MAX:
            self.old, self.new = new, {}
            new = self.new
        new.update(found)


def _word_rows(lookup: dict, word: str, space_follows: bool) -> bytes:
    """NGram.add_char + Detector._extract_ngrams over ' ' + word (+ ' ')."""
    get = lookup.get  # n-gram -> row + 1 (0 is never a row: filter(None) drops misses)
    p = " " + word + " " if space_follows else " " + word
    if not word.islower() and _has_capital_pair(word):
        return _rows_slow(get, p).tobytes()
    # at each position k >= 1 of p: the 1-gram p[k], the 2-gram p[k-1:k+1] and, from
    # k = 2, the 3-gram p[k-2:k+1] (len(grams) >= n). The 1-gram ' ' of the trailing
    # space, which langdetect skips, is never in the lookup (see _Model).
    bigrams = list(map(_add, p, p[1:]))
    trigrams = _chain((None,), map(_add, bigrams, p[2:]))
    return array("i", filter(None, map(get, _chain_it(zip(p[1:], bigrams, trigrams))))).tobytes()


def _rows_batch(model: _Model, words: list) -> list:
    """[_word_rows(w, True) for w in words], vectorized: the words are joined into
    S = ' ' + ' '.join(words) + ' ', the n-grams of every position of S are looked up at
    once as packed integer keys, and each word takes the slice of its positions. Across
    a word boundary the only n-gram is the 3-gram "x c" (no profile has one, batch_ok)."""
    c = np.frombuffer((" " + " ".join(words) + " ").encode("utf-32-le", "surrogatepass"),
                      dtype=np.uint32)
    packed, before = _joined_rows(model, c)
    packed = packed.tobytes()
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lengths + 1)  # S index of the space after each word
    starts = ends - lengths
    lo = (before[3 * (starts - 1)] * 4).tolist()
    hi = (before[3 * ends] * 4).tolist()
    return [packed[a:b] for a, b in zip(lo, hi)]


def _joined_rows(model: _Model, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram rows of S = ' ' + w1 + ' ' + w2 + ... + ' ' (code points c, uint32).

    Returns (packed, before): packed = the rows found, in langdetect's order (int32);
    before[j] = how many of them come from the first j queries, 3 queries (1-, 2-,
    3-gram) per position k >= 1 of S. The rows of the word at S[s:e] are
    packed[before[3 * (s - 1)] : before[3 * e]]; those of the same word with no space
    after it stop at before[3 * (e - 1)]."""
    c1 = c.astype(np.int64) + 1
    # queries at positions k = 1 .. len(S) - 1: 1-gram, 2-gram, 3-gram (none at k = 1)
    queries = np.zeros((len(c) - 1, 3), dtype=np.int64)
    queries[:, 0] = c1[1:]
    k2 = (c1[:-1] << 21) | c1[1:]
    queries[:, 1] = k2
    queries[1:, 2] = (k2[:-1] << 21) | c1[2:]
    flat = queries.reshape(-1)
    order = flat.argsort()
    wanted = flat[order]
    keys = model.ngram_keys
    at = keys.searchsorted(wanted)
    rows = np.empty(len(flat), dtype=np.int32)
    rows[order] = np.where(keys[at] == wanted, model.ngram_key_rows[at], 0)
    # NGram.capitalword positions (this char and the previous one upper case) emit nothing
    upper = model.upper_bmp[np.minimum(c, 0xFFFF)]
    astral = np.flatnonzero(c > 0xFFFF)
    if len(astral):
        upper[astral] = [chr(cp).isupper() for cp in c[astral].tolist()]
    capital = upper[1:] & upper[:-1]
    if capital.any():
        rows.reshape(-1, 3)[capital] = 0
    kept = rows != 0
    before = np.zeros(len(rows) + 1, dtype=np.int64)  # kept rows before each flat index
    np.cumsum(kept, out=before[1:])
    return rows[kept], before


def _has_capital_pair(word: str) -> bool:
    """Two adjacent isupper() chars: NGram.capitalword positions, skipped by langdetect."""
    upper = list(map(_isupper, word))
    return any(upper) and any(map(_and, upper, upper[1:]))


def _rows_slow(get, p: str) -> array:
    """The general state machine (words with capitalized runs), p = ' ' + word [+ ' ']."""
    rows = array("i")
    prev_upper = False  # p[0] == ' '
    for k in range(1, len(p)):
        ch = p[k]
        upper = ch.isupper()
        # NGram.capitalword: this char and the previous one are both upper case
        if not (upper and prev_upper):
            if ch != " ":
                r = get(ch)
                if r:
                    rows.append(r)
            r = get(p[k - 1 : k + 1])
            if r:
                rows.append(r)
            if k >= 2:
                r = get(p[k - 2 : k + 1])
                if r:
                    rows.append(r)
        prev_upper = upper
    return rows


_isupper = str.isupper
_add = operator.add
_and = operator.and_
_chain = itertools.chain
_chain_it = itertools.chain.from_iterable


def _prepare_str(model: _Model, text: str) -> str:
    """Detector.append: URL and e-mail removal, NGram.normalize_vi, the 10,000-char cut."""
    if "://" in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _remove_mails(text)
    # normalize_vi merges a letter and the mark after it into one char, so the text before the
    # cut changes only where a mark stands at most one past it: only that much is searched
    # (whole texts, mostly two bytes a char, took ~0.1 CPU-s per 40,000 records).
    head = text[:_MAX_TEXT_LENGTH + 1]
    if not head.isascii() and any(mark in head for mark in model.dmarks):
        return model.normalize_vi(text)[:_MAX_TEXT_LENGTH]
    return text[:_MAX_TEXT_LENGTH]


def _remove_mails(text: str) -> str:
    """_MAIL_RE.sub(" ", text), trying only the starts that can match.

    The part before the '@' is 1 to 64 chars of _MAIL_HEAD, which has no '@': a match
    that uses the '@' at p starts in the run of those chars that ends at p - 1, at most
    64 chars back, and not before the previous match's end. re.sub takes the leftmost
    such start, and whether it matches does not depend on the start (the rest of the
    pattern is matched from p); its end does not either. So, '@' after '@', the first
    possible start is tried."""
    out = []
    done = 0  # end of the last match
    at = text.find("@")
    while at >= 0:
        head = text[max(done, at - 64) : at]
        start = at - (len(head) - len(head.rstrip(_MAIL_HEAD)))
        found = _MAIL_RE.match(text, start) if start < at else None
        if found is None:
            at = text.find("@", at + 1)
            continue
        out += (text[done:start], " ")
        done = found.end()
        at = text.find("@", done)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _prepare(model: _Model, text: str) -> str:
    """Detector.append + cleaning_text, then NGram.normalize of every char."""
    text = _prepare_str(model, text)
    if text.isascii():
        return text.translate(model.ascii_table)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    non_latin = int(np.count_nonzero(cps >= 0x300))
    if non_latin:
        latin = int(np.count_nonzero((cps >= 0x41) & (cps <= 0x7A)))
        if latin * 2 < non_latin:
            cps = cps[(cps < 0x41) | (cps > 0x7A)]
    return model.lut[cps].tobytes().decode("utf-32-le", "surrogatepass")


def _ngram_rows(model: _Model, cache: _WordRows, text: str) -> np.ndarray:
    """Detector._extract_ngrams: the profile rows of the text's n-grams, in order (int32)."""
    text = _prepare(model, text)
    # str.split() also splits at U+0085, U+1680 and U+3000, which langdetect keeps in words
    if "\x85" in text or "\u1680" in text or "\u3000" in text:
        words = list(filter(None, text.split(" ")))
    else:
        words = text.split()
    if words and text[-1] != " ":
        last = _word_rows(model.lookup, words.pop(), False)
    else:
        last = b""
    values = list(map(cache.new.get, words))
    if None in values:
        cache.fill(words, values)
    values.append(last)
    return np.frombuffer(b"".join(values), dtype=np.int32)


# --------------------------------------------------------------------------- detection

_FIRST_CHUNK = 61  # updates gathered when a trial starts (13 normalization blocks)
_NEXT_CHUNK = 50  # then 10 blocks at a time
_local = threading.local()


class _Scratch:
    """Per-thread work rows: G[1 + u] = factors (weight + profile row) of update u, then
    the normalized prob after the block ending at u. ``blocks[b]`` is the view
    G[5b - 4 : 5b + 2] (prob, then the block's five factors), ``rows[k]`` the view G[k]:
    made once, since a view costs as much as the arithmetic on it."""

    def __init__(self, n_lang: int) -> None:
        self.n_lang = n_lang
        self.G = G = np.empty((_ITERATION_LIMIT + 2, n_lang), dtype=np.float64)
        self.rows = list(G)
        self.blocks = [G[max(5 * b - 4, 0) : 5 * b + 2] for b in range(_ITERATION_LIMIT // 5 + 1)]


def _scratch(n_lang: int) -> _Scratch:
    scratch = getattr(_local, "scratch", None)
    if scratch is None or scratch.n_lang != n_lang:
        scratch = _local.scratch = _Scratch(n_lang)
    return scratch


def _probabilities(model: _Model, rows: np.ndarray) -> list:
    """Detector._detect_block for the given n-gram rows; returns langprob (list)."""
    draws = _Draws(len(rows), rows, model.matrix)
    _, words = _stream(64)
    init_prob = model.init_prob
    scratch = _scratch(model.n_lang)
    G, G_rows, blocks = scratch.G, scratch.rows, scratch.blocks
    finals = np.empty((_N_TRIAL, model.n_lang), dtype=np.float64)
    reduce = _mul_reduce
    divide = np.divide
    add = np.add
    q = 0  # raw stream position
    gauss_next = None
    for t in range(_N_TRIAL):
        if gauss_next is None:
            if q + 4 > len(words):
                _, words = _stream(q + 4)
            z, gauss_next = _gauss_pair(words, q)
            q += 4
        else:
            z, gauss_next = gauss_next, None
        alpha = _ALPHA_DEFAULT + (0.0 + z * 1.0) * _ALPHA_WIDTH
        weight = alpha / _BASE_FREQ

        a = draws.first(q)  # accepted draw of update 0
        add(draws.factor_rows(a, a + _FIRST_CHUNK), weight, out=G[1 : 1 + _FIRST_CHUNK])
        filled = _FIRST_CHUNK  # updates whose factors are in G[1 : 1 + filled]
        lead = -1  # index of the largest probability at the last full max
        b = 0  # block: updates 5b-4 .. 5b (update 0 alone for b = 0), normalized after 5b
        while True:
            i = 5 * b  # last update of the block
            if i >= filled:
                hi = min(filled + _NEXT_CHUNK, _ITERATION_LIMIT + 1)
                add(draws.factor_rows(a + filled, a + hi), weight, out=G[1 + filled : 1 + hi])
                filled = hi
            # prob[j] *= weight + row[j], update after update, then _normalize_prob
            r = reduce(blocks[b], 0) if b else init_prob * G_rows[1]
            lst = r.tolist()
            sump = sum(lst)
            divide(r, sump, G_rows[i + 1])
            # maxp > CONV, with maxp = max(lst) / sump (division rounding is monotonic).
            # If the previous leader holds >= half the sum, no other entry can reach CONV.
            if lead >= 0 and lst[lead] >= 0.5 * sump:
                converged = lst[lead] / sump > _CONV_THRESHOLD
            else:
                top = max(lst)
                lead = lst.index(top)
                converged = top / sump > _CONV_THRESHOLD
            if converged or i >= _ITERATION_LIMIT:
                break
            b += 1
        q = int(draws.pos[a + i]) + 1
        divide(G_rows[i + 1], _N_TRIAL, finals[t])
    # langprob[j] += prob[j] / n_trial, trial after trial (accumulate is a sequential sum)
    return np.add.accumulate(finals, axis=0)[-1].tolist()


_mul_reduce = np.multiply.reduce


def _sorted_predictions(langlist, langprob: list) -> list:
    result = [(lang, p) for lang, p in zip(langlist, langprob) if p > _PROB_THRESHOLD]
    result.sort(key=_PROB_KEY, reverse=True)
    return result


_PROB_KEY = itemgetter(1)


class _NoFeatures(Exception):
    pass


def _detect(text: str) -> list:
    model = _get_model()
    if model is None:
        return _reference_predictions(text)
    return _detect_with(model, text)


def _detect_with(model: _Model, text: str) -> list:
    rows = _ngram_rows(model, _word_cache, text)
    if not len(rows):
        raise _NoFeatures
    return _sorted_predictions(model.langlist, _probabilities(model, rows))


def detect_langs(text: str) -> list:
    """langdetect.detect_langs(text) with seed 0, as [(lang, prob), ...]."""
    try:
        return _detect(text)
    except _NoFeatures:
        from langdetect.lang_detect_exception import ErrorCode, LangDetectException

        raise LangDetectException(ErrorCode.CantDetectError, "No features in text.") from None


def detect_top(text: str) -> tuple[Optional[str], float, str]:
    """(language, probability, verdict): langdetect's first prediction, or why there is none."""
    return _top_of(_detect, text)


def _top_of(detect, *args) -> tuple[Optional[str], float, str]:
    """detect_top's tuple from detect(*args), a list of predictions."""
    try:
        predictions = detect(*args)
    except _NoFeatures:
        return None, 0.0, "filtered:langdetect_exception"
    if not predictions:
        return None, 0.0, "filtered:no_predictions"
    lang, prob = predictions[0]
    return lang, prob, "ok"


# --------------------------------------------------------------------------- batch path

_BATCH_SIZE = 512  # texts advanced together by detect_top_many (docs/language-id.md)
_BATCH_MAX = 1 << 14  # keeps a batch's n-gram indices (< 3 * 10,001 a text) within int32
_CHUNK_CHARS = 1 << 19  # code points per n-gram extraction chunk (bounds its temporaries)
_BATCH_STREAM = 640  # stream words scanned for each text's draws at first (grows on demand)
_TABLE_MAX_CHARS = 1 << 22  # word table limits, with _WORD_CACHE_MAX words (< 60 MB)
_TABLE_MAX_ROWS = 1 << 23
_ROWS_GROUP = 1 << 16  # code points of new words given to _joined_rows at once
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: its powers are odd, none is 0
_SLOT_MIX = np.uint64(0xBF58476D1CE4E5B9)
_AR4 = np.arange(4)
_AR5 = np.arange(5)[:, None]
# columns of the batch engine's integer state, one row per text still running: the flat
# index of its next draw, of its first and one past its last scanned draw, stream words
# scanned, n, 32 - n.bit_length(), block, trial, index of the text
_CUR, _BASE, _END, _COV, _N, _SH, _BLK, _TRIAL, _SLOT = range(9)


def _ramps(first: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """concatenate([arange(f, f + k) for f, k in zip(first, lengths)]) for lengths >= 1:
    one cumsum (np.repeat is slow for short runs)."""
    out = np.ones(int(lengths.sum()), dtype=np.int64)
    heads = np.cumsum(lengths) - lengths
    out[heads[1:]] = first[1:] - first[:-1] - lengths[:-1] + 1
    out[0] = first[0]
    return np.cumsum(out, out=out)


def _grown(arr: np.ndarray, need: int) -> np.ndarray:
    """arr, or a copy with room for at least need entries (the capacity doubles)."""
    if len(arr) >= need:
        return arr
    out = np.zeros(max(need, 2 * len(arr)), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


class _WordTable:
    """Exact cache of the batch path: normalized word (code points) -> its n-gram rows.

    A word is found by a 64-bit hash of its code points (open addressing, linear
    probing). A hash match is only a candidate: ``_chunk_features`` compares every
    occurrence char by char with the stored word, so a collision costs speed (the texts
    concerned take the per-text path), never exactness. Per word id: its chars in
    ``chars`` from ``char_off`` (each word followed by a space), its rows in ``rows`` from
    ``row_off`` (``row_cnt`` of them when a space follows the word, the last ``trail`` of
    which end at that space). Arrays are only appended to, or replaced whole (growth,
    clear), so a batch keeps reading the arrays it was given.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.slot_keys = np.zeros(1 << 16, dtype=np.uint64)  # 0: empty (hashes are odd)
        self.slot_ids = np.zeros(1 << 16, dtype=np.int32)
        self.char_off = np.zeros(1 << 12, dtype=np.int32)
        self.row_off = np.zeros(1 << 12, dtype=np.int32)
        self.row_cnt = np.zeros(1 << 12, dtype=np.int32)
        self.trail = np.zeros(1 << 12, dtype=np.int32)
        self.chars = np.zeros(1 << 16, dtype=np.uint32)
        self.rows = np.zeros(1 << 16, dtype=np.int32)
        self.n_words = self.n_chars = self.n_rows = 0

    def full(self) -> bool:
        return (self.n_words > _WORD_CACHE_MAX or self.n_chars > _TABLE_MAX_CHARS
                or self.n_rows > _TABLE_MAX_ROWS)

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        bits = len(self.slot_keys).bit_length() - 1
        return ((keys * _SLOT_MIX) >> np.uint64(64 - bits)).astype(np.intp)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Candidate word id of each hash, -1 where none is stored."""
        slot = self._slots(keys)
        stored = self.slot_keys[slot]
        ids = self.slot_ids[slot].astype(np.int64)
        other = np.flatnonzero(stored != keys)
        if len(other):  # a collision in the slot (probe on) or an empty slot (a miss)
            mask = len(self.slot_keys) - 1
            ids[other] = -1
            pending = other[stored[other] != 0]
            slot = slot[pending]
            while len(pending):
                slot = (slot + 1) & mask
                stored = self.slot_keys[slot]
                hit = stored == keys[pending]
                ids[pending[hit]] = self.slot_ids[slot[hit]]
                rest = ~hit & (stored != 0)
                pending, slot = pending[rest], slot[rest]
        return ids

    def _insert(self, keys: np.ndarray, ids: np.ndarray) -> None:
        """Stores distinct keys, none of them present yet."""
        mask = len(self.slot_keys) - 1
        slot = self._slots(keys)
        pending = np.arange(len(keys))
        while len(pending):
            free = self.slot_keys[slot] == 0
            # of the pending keys probing the same free slot, the first one takes it
            taken, first = np.unique(slot[free], return_index=True)
            winners = np.flatnonzero(free)[first]
            self.slot_keys[taken] = keys[pending[winners]]
            self.slot_ids[taken] = ids[pending[winners]]
            rest = np.ones(len(pending), dtype=bool)
            rest[winners] = False
            pending, slot = pending[rest], (slot[rest] + 1) & mask

    def add(self, model: _Model, c: np.ndarray, starts: np.ndarray, ends: np.ndarray,
            keys: np.ndarray) -> np.ndarray:
        """Stores the words c[starts[j]:ends[j]] (c[ends[j]] is a space) under the hashes
        keys[j]; returns their ids."""
        lengths = ends - starts
        seg_end = np.cumsum(lengths + 1)  # each word with the space after it
        joined = np.empty(int(seg_end[-1]) + 1, dtype=np.uint32)  # ' ' w1 ' ' w2 ... ' '
        joined[0] = 32
        joined[1:] = c[_ramps(starts, lengths + 1)]
        j_start = seg_end - lengths  # of each word in joined
        if model.batch_ok:  # _joined_rows on ~_ROWS_GROUP chars at a time (its temporaries)
            lo, mid, hi = (np.empty(len(keys), dtype=np.int64) for _ in range(3))
            parts, done, w0 = [], 0, 0
            while w0 < len(keys):
                base = int(j_start[w0]) - 1  # the space before word w0
                w1 = max(w0 + 1, int(np.searchsorted(seg_end, base + _ROWS_GROUP, "right")))
                part, before = _joined_rows(model, joined[base : seg_end[w1 - 1] + 1])
                lo[w0:w1] = done + before[3 * (j_start[w0:w1] - base - 1)]
                mid[w0:w1] = done + before[3 * (seg_end[w0:w1] - base - 1)]
                hi[w0:w1] = done + before[3 * (seg_end[w0:w1] - base)]
                parts.append(part)
                done += len(part)
                w0 = w1
            packed = np.concatenate(parts)
        else:  # pragma: no cover - no langdetect profile needs it (see _Model.batch_ok)
            words = joined.tobytes().decode("utf-32-le", "surrogatepass").split(" ")[1:-1]
            full = [_word_rows(model.lookup, w, True) for w in words]
            packed = np.frombuffer(b"".join(full), dtype=np.int32)
            hi = np.cumsum([len(x) // 4 for x in full])
            lo = hi - [len(x) // 4 for x in full]
            mid = lo + [len(_word_rows(model.lookup, w, False)) // 4 for w in words]
        count = len(keys)
        old, new = self.n_words, self.n_words + count
        ids = np.arange(old, new, dtype=np.int32)
        if 2 * new > len(self.slot_keys):  # keep the load <= 1/2
            size = len(self.slot_keys)
            while 2 * new > size:
                size *= 2
            used = self.slot_keys != 0
            old_keys, old_ids = self.slot_keys[used], self.slot_ids[used]
            self.slot_keys = np.zeros(size, dtype=np.uint64)
            self.slot_ids = np.zeros(size, dtype=np.int32)
            self._insert(old_keys, old_ids)
        self._insert(keys, ids)
        for name, values in (("char_off", self.n_chars + j_start - 1), ("row_off", self.n_rows + lo),
                             ("row_cnt", hi - lo), ("trail", hi - mid)):
            column = _grown(getattr(self, name), new)
            column[old:new] = values
            setattr(self, name, column)
        self.chars = _grown(self.chars, self.n_chars + len(joined) - 1)
        self.chars[self.n_chars : self.n_chars + len(joined) - 1] = joined[1:]
        self.rows = _grown(self.rows, self.n_rows + len(packed))
        self.rows[self.n_rows : self.n_rows + len(packed)] = packed
        self.n_words = new
        self.n_chars += len(joined) - 1
        self.n_rows += len(packed)
        return ids


_powers_lock = threading.Lock()
_powers_state: Optional[np.ndarray] = None


def _powers() -> np.ndarray:
    """_HASH_BASE ** i mod 2**64 for every index i of a chunk, and one more."""
    global _powers_state
    if _powers_state is None:
        with _powers_lock:
            if _powers_state is None:
                powers = np.full(_CHUNK_CHARS + _MAX_TEXT_LENGTH + 3, _HASH_BASE, dtype=np.uint64)
                powers[0] = 1
                _powers_state = np.cumprod(powers)  # wraps mod 2**64
    return _powers_state


def _word_hashes(c: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """An odd 64-bit polynomial hash of each word c[starts[j]:ends[j]] (starts >= 1)."""
    powers = _powers()
    prefix = np.cumsum(np.multiply(c, powers[: len(c)], dtype=np.uint64))
    # sum of c[i] * B**i over the word, times B**(M - start): the same at any position
    h = (prefix[ends - 1] - prefix[starts - 1]) * powers[len(powers) - 1 - starts]
    return h | np.uint64(1)


_BUCKET_BITS = 3  # _Features.bucket_occ: one entry per 8 n-grams


class _Features:
    """The n-grams of a batch of texts, not materialized. Text t has n[t] n-grams: the
    batch's n-grams gbase[t] .. gbase[t] + n[t] - 1. Word occurrence o (of word
    occ_id[o]; only those with n-grams) holds the n-grams occ_start[o] ..
    occ_start[o + 1] - 1 (occ_start ends with the total); n-gram g of it is
    rows[row_off[occ_id[o]] + g - occ_start[o]]. bucket_occ[b] is the occurrence holding
    n-gram b << _BUCKET_BITS."""

    __slots__ = ("n", "gbase", "occ_start", "occ_id", "bucket_occ", "rows", "row_off", "fallback")

    def occurrence(self, g: np.ndarray) -> np.ndarray:
        """The occurrence holding each n-gram g (occ_start[o] <= g < occ_start[o + 1])."""
        occ = self.bucket_occ[g >> _BUCKET_BITS].astype(np.int64)
        occ_start = self.occ_start
        pending = np.flatnonzero(occ_start[occ + 1] <= g)  # usually none: 8 n-grams a bucket
        while len(pending):
            occ[pending] += 1
            pending = pending[occ_start[occ[pending] + 1] <= g[pending]]
        return occ


def _batch_features(model: _Model, table: _WordTable, prepared: list) -> _Features:
    """Detector._extract_ngrams for many texts (after _prepare_str), chunk by chunk; for
    the first texts only (len(result.n) of them) when the word table gets full."""
    count = len(prepared)
    feats = _Features()
    feats.n = np.zeros(count, dtype=np.int64)
    feats.gbase = np.zeros(count, dtype=np.int64)
    feats.fallback = np.zeros(count, dtype=bool)
    lengths = list(map(len, prepared))
    # room for every word: a text of length k has at most (k + 1) // 2 (pages never
    # written cost no memory)
    room = sum(lengths) // 2 + count + 1
    feats.occ_start = np.empty(room, dtype=np.int32)
    feats.occ_id = np.empty(room, dtype=np.int32)
    totals = [0, 0]  # n-grams and word occurrences (with n-grams) of the batch so far
    lo = 0
    while lo < count:
        hi, size = lo + 1, lengths[lo] + 2
        while hi < count and size + lengths[hi] + 1 <= _CHUNK_CHARS:
            size += lengths[hi] + 1
            hi += 1
        _chunk_features(model, table, prepared[lo:hi], lengths[lo:hi], lo, totals, feats)
        lo = hi
        if table.full():  # the rest after clearing it (see _detect_top_batch)
            feats.n, feats.gbase, feats.fallback = feats.n[:lo], feats.gbase[:lo], feats.fallback[:lo]
            break
    total, occurrences = totals
    feats.occ_start[occurrences] = total
    feats.occ_start = occ_start = feats.occ_start[: occurrences + 1]
    feats.occ_id = feats.occ_id[:occurrences]
    # n-gram b << _BUCKET_BITS is in the last occurrence whose first bucket is <= b
    first_bucket = (occ_start[:-1] + (1 << _BUCKET_BITS) - 1) >> _BUCKET_BITS
    buckets = (total + (1 << _BUCKET_BITS) - 1) >> _BUCKET_BITS
    feats.bucket_occ = np.cumsum(np.bincount(first_bucket, minlength=buckets)[:buckets], dtype=np.int32)
    feats.bucket_occ -= 1
    feats.rows, feats.row_off = table.rows, table.row_off
    return feats


def _chunk_features(model, table, texts, lengths, first, totals, feats) -> None:
    """_batch_features for the texts first .. first + len(texts) - 1."""
    lengths = np.array(lengths, dtype=np.int64)
    c = np.frombuffer((" " + " ".join(texts) + " ").encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(lengths + 1)  # index of the space after each text
    starts = ends - lengths
    # _prepare's Latin filter, text by text (a segment: a text and the space after it)
    non_latin = np.add.reduceat(c >= 0x300, starts, dtype=np.int64)
    latin_char = (c - np.uint32(0x41)) < np.uint32(0x3A)  # 'A' <= ch <= 'z'
    latin = np.add.reduceat(latin_char, starts, dtype=np.int64)
    drop = (non_latin > 0) & (latin * 2 < non_latin)
    if drop.any():
        keep = np.ones(len(c), dtype=bool)
        keep[1:] = ~(latin_char[1:] & np.repeat(drop, lengths + 1))
        c = c[keep]
        lengths = lengths - latin * drop
        ends = np.cumsum(lengths + 1)
        starts = ends - lengths
    c = model.lut[c]
    # words: the runs between spaces (c starts and ends with one)
    space = c == 32
    edges = np.flatnonzero(space[1:] != space[:-1]) + 1
    w_start, w_end = edges[0::2], edges[1::2]
    first_word = np.searchsorted(w_start, starts)  # of each text, and one past its last
    stop_word = np.searchsorted(w_start, ends)
    texts_at = slice(first, first + len(texts))
    total, occurrences = totals
    if not len(w_start):
        feats.gbase[texts_at] = total
        return
    keys = _word_hashes(c, w_start, w_end)
    ids = table.lookup(keys)
    miss = np.flatnonzero(ids < 0)
    if len(miss):
        new_keys, new_first, new_inverse = np.unique(keys[miss], return_index=True, return_inverse=True)
        seen = miss[new_first]  # an occurrence of each new word
        ids[miss] = table.add(model, c, w_start[seen], w_end[seen], new_keys)[new_inverse]
    # Every occurrence must equal its stored word: c[lo:] is compared with the stored
    # chars at `at`, which runs over each stored word and the space after it (so that
    # lengths differ shows too), then stays on that space for the further spaces of a run.
    head = int(w_start[0])
    char_off = table.char_off[ids]
    at = (~(space[head:] & space[head - 1 : -1])).astype(np.int32)  # 0: a space after a space
    at[0] = char_off[0]
    at[w_start[1:] - head] = char_off[1:] - char_off[:-1] - (w_end[:-1] - w_start[:-1])
    np.cumsum(at, out=at)
    same = np.take(table.chars, at, mode="clip") == c[head:]
    if not same.all():
        bad = np.searchsorted(w_start, np.flatnonzero(~same) + head, "right") - 1
        feats.fallback[first + np.unique(np.searchsorted(stop_word, bad, "right"))] = True
    counts = table.row_cnt[ids].astype(np.int64)
    # a text's last word with no space after it lacks the n-grams ending at that space
    last = stop_word[(c[ends - 1] != 32) & (stop_word > first_word)] - 1
    counts[last] -= table.trail[ids[last]]
    before = np.empty(len(counts) + 1, dtype=np.int64)
    before[0] = total
    np.cumsum(counts, out=before[1:])
    before[1:] += total
    feats.gbase[texts_at] = before[first_word]
    feats.n[texts_at] = before[stop_word] - before[first_word]
    with_ngrams = np.flatnonzero(counts)
    end = occurrences + len(with_ngrams)
    feats.occ_start[occurrences:end] = before[with_ngrams]
    feats.occ_id[occurrences:end] = ids[with_ngrams]
    totals[:] = int(before[-1]), end


_GAUSS_INITIAL = 4096  # stream positions of the gauss table at first (grows on demand)
_gauss_lock = threading.Lock()
_gauss_state: Optional[tuple[np.ndarray, np.ndarray]] = None  # replaced whole, never mutated


def _gauss_table(min_len: int) -> tuple[np.ndarray, np.ndarray]:
    """_gauss_pair(words, q) for q = 0 .. >= min_len - 1, as two arrays (z, gauss_next)."""
    global _gauss_state
    state = _gauss_state
    if state is not None and len(state[0]) >= min_len:
        return state
    with _gauss_lock:
        state = _gauss_state
        if state is None or len(state[0]) < min_len:
            size = max(_GAUSS_INITIAL, min_len, 0 if state is None else 2 * len(state[0]))
            _, words = _stream(size + 4)
            pairs = [_gauss_pair(words, q) for q in range(size)]
            state = _gauss_state = (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
        return state


def _batch_draws(feats: _Features, texts: np.ndarray, n: np.ndarray, shift: np.ndarray, size: int):
    """The accepted ``_randbelow(n)`` draws (see _Draws) among the first size stream words,
    for texts with n n-grams (shift = 32 - n.bit_length()), flat, text after text:
    (stream positions, profile rows of the n-grams drawn, draws per text)."""
    arr, _ = _stream(size + 8)
    head = arr[:size]
    pos, val, counts = [], [], []
    step = max(1, (1 << 18) // size)  # texts at a time: bounds the (texts x size) temporaries
    for lo in range(0, len(n), step):
        drawn = head >> shift[lo : lo + step, None].astype(np.uint32)
        accepted = drawn < n[lo : lo + step, None].astype(np.uint32)
        flat = np.flatnonzero(accepted)
        pos.append((flat % size).astype(np.int32))
        val.append(drawn.reshape(-1)[flat])
        counts.append(np.count_nonzero(accepted, axis=1))
    pos, val, counts = np.concatenate(pos), np.concatenate(val), np.concatenate(counts)
    g = val.astype(np.int64) + np.repeat(feats.gbase[texts], counts)  # n-gram in the batch
    occ = feats.occurrence(g)
    rows = feats.rows[feats.row_off[feats.occ_id[occ]] + (g - feats.occ_start[occ])]
    return pos, rows, counts


def _row_sums_max(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of r (texts x languages): Python's sum() of the row's floats, and their max.

    A reduction over the outer axis of a C-contiguous array adds row after row, so each
    column total is the left-to-right double sum (numpy's pairwise summation is only
    used along the inner axis). That is CPython's sum() before 3.12; _batch_self_check
    compares the two at load time, and detect_top_many falls back to the per-text path
    where they differ (3.12's compensated sum)."""
    count = len(r)
    columns = np.empty((r.shape[1], max(count, 2)))  # one column would make axis 0 the inner one
    columns[:, :count] = r.T
    if count < 2:
        columns[:, 1:] = 1.0
    return np.add.reduce(columns, axis=0)[:count], np.maximum.reduce(columns, axis=0)[:count]


def _batch_langprob(model: _Model, feats: _Features, texts: np.ndarray) -> np.ndarray:
    """Detector._detect_block's langprob for each of the given texts (n > 0), the texts
    advanced together: each step runs one normalization block of every text still running,
    with the operations of _probabilities on (texts x ...) arrays."""
    n = feats.n[texts]
    count = len(n)
    langprob = np.zeros((count, model.n_lang))
    if not count:
        return langprob
    shift = 32 - np.frexp(n.astype(np.float64))[1].astype(np.int64)  # 32 - n.bit_length()
    pos, draw_rows, counts = _batch_draws(feats, texts, n, shift, _BATCH_STREAM)
    used = len(pos)
    st = np.zeros((count, 9), dtype=np.int64)  # columns _CUR ..
    st[:, _END] = np.cumsum(counts)
    st[:, _BASE] = st[:, _END] - counts
    st[:, _COV] = _BATCH_STREAM
    st[:, _N] = n
    st[:, _SH] = shift
    st[:, _SLOT] = np.arange(count)
    arr, words = _stream(_BATCH_STREAM + 8)
    # trial 0: gauss from stream words 0..3, the first choice at or after word 4
    z, gauss_next = _gauss_pair(words, 0)
    st[:, _CUR] = st[:, _BASE] + np.count_nonzero((arr[:4] >> shift[:, None]) < n[:, None], axis=1)
    fl = np.empty((count, 2))  # weight, gauss_next
    fl[:, 0] = _trial_weight(z)
    fl[:, 1] = gauss_next
    prob = np.tile(model.init_prob, (count, 1))
    matrix, init_prob = model.matrix, model.init_prob
    last_block = _ITERATION_LIMIT // 5
    starting = np.arange(count)  # texts in block 0 (update 0 alone)
    step = 0  # no text is past block `step`
    while len(st):
        short = np.flatnonzero(st[:, _CUR] + 5 > st[:, _END])
        while len(short):  # draws beyond those scanned: scan twice as far (same prefix)
            size = 2 * int(st[short, _COV].max())
            p, r, c = _batch_draws(feats, texts[st[short, _SLOT]], st[short, _N], st[short, _SH], size)
            pos, draw_rows = _grown(pos, used + len(p)), _grown(draw_rows, used + len(p))
            pos[used : used + len(p)], draw_rows[used : used + len(p)] = p, r
            base = used + np.cumsum(c) - c
            st[short, _CUR] += base - st[short, _BASE]
            st[short, _BASE], st[short, _END], st[short, _COV] = base, base + c, size
            used += len(p)
            arr, words = _stream(size + 8)
            short = short[st[short, _CUR] + 5 > st[short, _END]]
        # the five updates of the block
        factors = matrix.take(draw_rows[st[:, _CUR] + _AR5], axis=0)
        factors += fl[:, 0][:, None]  # weight + p[j]: (5, texts, languages)
        if starting is not None:
            factors[1:, starting] = 1.0  # exact no-ops: block 0 is update 0 alone
        # prob[j] *= weight + p[j], update after update, then _normalize_prob
        r = factors[0]
        r *= prob
        r *= factors[1]
        r *= factors[2]
        r *= factors[3]
        r *= factors[4]
        sums, top = _row_sums_max(r)
        converged = top / sums > _CONV_THRESHOLD
        prob = np.divide(r, sums[:, None], out=r)
        st[:, _CUR] += 5
        if starting is not None:
            st[starting, _CUR] -= 4
        if step >= last_block:
            converged |= st[:, _BLK] >= last_block  # update 1000: the iteration limit
        st[:, _BLK] += 1
        step += 1
        ended = np.flatnonzero(converged)
        starting = None
        if not len(ended):
            continue
        langprob[st[ended, _SLOT]] += prob[ended] / _N_TRIAL
        trial = st[ended, _TRIAL] + 1
        st[ended, _TRIAL] = trial
        more = trial < _N_TRIAL
        nxt = ended[more]
        if len(nxt):
            # the next trial starts at the stream word after its previous trial's last draw
            q = pos[st[nxt, _CUR] - 1].astype(np.int64) + 1
            z = fl[nxt, 1]
            even = np.flatnonzero((trial[more] & 1) == 0)  # trials 2, 4, 6 draw a gauss pair
            if len(even):
                qe, te = q[even], nxt[even]
                gz, gn = _gauss_table(int(qe.max()) + 1)
                z[even] = gz[qe]
                fl[te, 1] = gn[qe]
                drawn = arr[qe[:, None] + _AR4] >> st[te, _SH][:, None]
                st[te, _CUR] += np.count_nonzero(drawn < st[te, _N][:, None], axis=1)
            fl[nxt, 0] = _trial_weight(z)
            prob[nxt] = init_prob
            st[nxt, _BLK] = 0
        if not more.all():
            keep = np.ones(len(st), dtype=bool)
            keep[ended[~more]] = False
            st, fl, prob = st[keep], fl[keep], prob[keep]
            if len(nxt):
                nxt = np.flatnonzero(st[:, _BLK] == 0)
        starting = nxt if len(nxt) else None
    return langprob


def _trial_weight(z):
    """Detector._detect_block's weight, alpha / BASE_FREQ, of a trial whose gauss is z
    (a float or an array of them)."""
    return (_ALPHA_DEFAULT + (0.0 + z * 1.0) * _ALPHA_WIDTH) / _BASE_FREQ


def _trial_weights(min_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stream words, weight_first, weight_next) for the compiled detector: a trial that
    draws its gauss pair at stream position q has weight weight_first[q], the trial after it
    weight_next[q] (the pair's second value); q = 0 .. >= min_len - 1."""
    gz, gn = _gauss_table(min_len)
    arr, _ = _stream(len(gz) + 4)
    return arr, _trial_weight(gz), _trial_weight(gn)


def _detect_top_compiled(model: _Model, prepared: list) -> list:
    """detect_top of the prepared texts by the compiled detector (langdetect_compiled.c)."""
    count = len(prepared)
    langprob = np.zeros((count, model.n_lang))
    ngrams = np.zeros(count, dtype=np.int64)
    done, size = 0, 0
    with _table_lock:  # the detector's word cache
        while done < count:  # a text that needs more stream words than passed: twice as many
            stream, first, nxt = _trial_weights(2 * size)
            size = len(first)
            done = _compiled_detector.langprob_many(prepared, stream, first, nxt, langprob, ngrams, done)
    live = np.flatnonzero(ngrams)
    return _top_predictions(model, langprob[live], live, count)


def _compiled_self_check(model: _Model) -> str:
    """'' if the compiled detector gives the per-text path's results (the same floats),
    else the problem (then the numpy batch path runs): texts with capitals, accents, other
    scripts, astral chars, e-mails and URLs, of many lengths, with and without a trailing
    space."""
    texts = ["", " ", "a", "ok ", "Hello world, this is an English sentence.", "Das ist ein deutscher Satz. ",
             "to be or NOT to be, ThAt is the QUESTION " * 40, "réunion à la mairie de Québec " * 9,
             "東京都の天気は晴れです。Tokyo" * 5, "Ẩẩẩẩ ạ hello 𝐀𝐁𝐂 \U0001F600 Привет мир ",
             "mail me@example.com or see https://example.com/x?y=1 today", "ab cd ef gh ij kl mn op " * 600]
    prepared = [_prepare_str(model, t) for t in texts]
    try:
        compiled = _detect_top_compiled(model, prepared)
    except (ValueError, TypeError, MemoryError) as e:  # pragma: no cover - a build of another interface
        return f"the compiled detector failed: {e}"
    finally:
        _compiled_detector.clear()
    expect = [_top_of(_detect_with, model, text) for text in texts]
    return "" if compiled == expect else "the compiled detector's results differ from the per-text path's"


def _top_predictions(model: _Model, langprob: np.ndarray, live: np.ndarray, count: int) -> list:
    """detect_top's tuples of count texts: for text live[i], whose langprob is langprob[i],
    _sorted_predictions' first entry, the largest p > 0.1 (the first language on ties); for
    the others, no features."""
    out: list = [(None, 0.0, "filtered:langdetect_exception")] * count
    best = langprob.argmax(axis=1)
    best_p = langprob[np.arange(len(live)), best]
    langlist = model.langlist
    for i, b, p in zip(live.tolist(), best.tolist(), best_p.tolist()):
        out[i] = (langlist[b], p, "ok") if p > _PROB_THRESHOLD else (None, 0.0, "filtered:no_predictions")
    return out


def _detect_top_batch(model: _Model, texts: list, prepared: list) -> list:
    """detect_top of the first texts (all of them unless the word table gets full: it is
    emptied before the next batch, so that it stays within its limits but for a chunk)."""
    with _table_lock:
        if _word_table.full():
            _word_table.clear()
        feats = _batch_features(model, _word_table, prepared)
    texts = texts[: len(feats.n)]
    live = np.flatnonzero((feats.n > 0) & ~feats.fallback)
    out = _top_predictions(model, _batch_langprob(model, feats, live), live, len(texts))
    for i in np.flatnonzero(feats.fallback).tolist():
        out[i] = detect_top(texts[i])
    return out


def detect_top_many(texts: Sequence[str], batch_size: int = _BATCH_SIZE) -> list[tuple[Optional[str], float, str]]:
    """[detect_top(text) for text in texts] (the same tuples), batch_size texts at a time."""
    texts = list(texts)
    model = _get_model()
    if model is None or (_batch_problem and not _compiled_on):
        return [detect_top(text) for text in texts]
    batch_size = min(max(1, batch_size), _BATCH_MAX)
    out: list = []
    prepared: list = []  # of texts[len(out):]
    while len(out) < len(texts):
        batch = texts[len(out) : len(out) + batch_size]
        prepared += [_prepare_str(model, text) for text in batch[len(prepared) :]]
        done = (_detect_top_compiled(model, prepared) if _compiled_on
                else _detect_top_batch(model, batch, prepared))
        out += done
        del prepared[: len(done)]
    return out


def _wide_floats(rng: np.random.Generator, shape) -> np.ndarray:
    """Positive doubles spread over many magnitudes (55 per row: langdetect's languages),
    where summation orders and methods give different roundings: the self-checks' inputs."""
    return rng.random(shape) * np.exp(rng.standard_normal(shape) * 20)


def _batch_self_check() -> str:
    """'' if _row_sums_max gives this interpreter's sum() and max(), else the problem."""
    check = np.random.default_rng(1)
    for count in (1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 300, 2048):
        r = _wide_floats(check, (count, 55))
        sums, top = _row_sums_max(r)
        if sums.tolist() != list(map(sum, r.tolist())):
            return "sum() is not a left-to-right double sum"
        if top.tolist() != list(map(max, r.tolist())):  # pragma: no cover
            return "maximum.reduce differs from max()"
    return ""


# --------------------------------------------------------------------------- setup, fallback

_model: Optional[_Model] = None
_model_ok: Optional[bool] = None
_model_lock = threading.Lock()
_word_cache = _WordRows()
_word_table = _WordTable()
_table_lock = threading.Lock()
_batch_problem = ""  # why detect_top_many uses the per-text path ('' if it does not)
_compiled_on = False  # detect_top_many runs the compiled detector (langdetect_compiled.c)
_compiled_detector = None  # its _compiled.Detector (model and word cache)
_compiled_problem = ""  # why it does not ('' if it does)
_reference_lock = threading.Lock()


def backend() -> str:
    """'numpy' (this module's exact re-implementation) or 'langdetect' (self-check failed)."""
    return "numpy" if _get_model() is not None else "langdetect"


def compiled_installed() -> bool:
    """Whether this install has the compiled detector (built where a C compiler was found);
    cheap: the model is not loaded."""
    return _compiled is not None


def compiled_problem() -> str:
    """Why ``detect_top_many`` does not run the compiled detector ('' when it does)."""
    _get_model()
    return _compiled_problem


def batch_path_problem() -> str:
    """Why ``detect_top_many`` runs the per-text path ('' when its batch path is on)."""
    _get_model()  # the batch self-check runs with the model's
    return _batch_problem


def clear_caches() -> None:
    """Empties the per-word n-gram caches (results never depend on them)."""
    _word_cache.clear()
    with _table_lock:
        _word_table.clear()
        if _compiled_detector is not None:
            _compiled_detector.clear()


def _get_model() -> Optional[_Model]:
    if _model_ok is None:
        _load()
    return _model if _model_ok else None


def _load() -> None:
    global _model, _model_ok, _batch_problem
    with _model_lock:
        if _model_ok is not None:
            return
        model = _Model()
        clear_caches()  # rows are the model's
        _word_cache.model = model
        problem = _self_check()
        if problem:
            warnings.warn(f"langdetect_exact: {problem}; falling back to langdetect itself", RuntimeWarning)
        _batch_problem = _batch_self_check()
        _set_compiled(model, problem)
        _model = model
        _model_ok = not problem


def _set_compiled(model: _Model, model_problem: str = "") -> None:
    global _compiled_on, _compiled_problem, _compiled_detector
    sum_mode = _sum_mode() if _compiled is not None and not model_problem else None
    if model_problem:  # langdetect itself runs
        _compiled_problem = f"the exact re-implementation is off: {model_problem}"
    elif _compiled is None:
        _compiled_problem = "c4forge was installed without its compiled part (no C compiler at install)"
    elif sum_mode is None:
        _compiled_problem = "sum() is neither a left-to-right nor a Neumaier sum"
    else:
        _compiled_detector = _compiled.Detector(model.lut, model.ngram_keys, model.ngram_key_rows,
                                                model.matrix, model.n_lang, sum_mode=sum_mode)
        _compiled_problem = _compiled_self_check(model)
        if _compiled_problem:
            warnings.warn(f"langdetect_exact: {_compiled_problem}; using the numpy path", RuntimeWarning)
    _compiled_on = not _compiled_problem


def _left_to_right_sum(values: list) -> float:
    """CPython's sum() of floats before 3.12."""
    total = 0
    for x in values:
        total = total + x
    return total


def _neumaier_sum(values: list) -> float:
    """CPython's sum() of floats from 3.12 on (bltinmodule.c: Neumaier's compensated sum,
    the first value taken as 0 + values[0])."""
    if not values:
        return 0
    total, compensation = 0 + values[0], 0.0
    for x in values[1:]:
        t = total + x
        if abs(total) >= abs(x):
            compensation += (total - t) + x
        else:
            compensation += (x - t) + total
        total = t
    if compensation and math.isfinite(compensation):
        total += compensation
    return total


def _sum_mode() -> Optional[int]:
    """How this interpreter's sum() adds langdetect's probabilities: 0 left to right, 1 as
    Neumaier (the compiled detector's sum_mode), None neither."""
    vectors = _wide_floats(np.random.default_rng(2), (64, 55)).tolist()
    for mode, emulated in enumerate((_left_to_right_sum, _neumaier_sum)):
        if all(sum(v) == emulated(v) for v in vectors):
            return mode
    return None


def _self_check() -> str:
    """'' if this interpreter's random and numpy behave as replicated, else the problem."""
    rng = random.Random()
    _, words = _stream(4096)
    for n in (1, 2, 3, 5, 7, 100, 1000, 1025, 4097, 30000):
        rng.seed(_SEED)
        draws = _Draws(n, np.arange(n, dtype=np.int32), np.arange(n, dtype=np.float64)[:, None])
        q = 0
        gnext = None
        for _t in range(4):
            g = rng.gauss(0.0, 1.0)
            if gnext is None:
                z, gnext = _gauss_pair(words, q)
                q += 4
            else:
                z, gnext = gnext, None
            if (0.0 + z * 1.0) != g:
                return "random.gauss differs from the replicated one"
            count = 3 + 170 * _t
            a = draws.first(q)
            for v in draws.factor_rows(a, a + count)[:, 0].tolist():
                if rng.choice(range(n)) != v:
                    return "random.choice differs from the replicated one"
            q = int(draws.pos[a + count - 1]) + 1
    check = np.random.default_rng(0)
    for _ in range(20):
        a = _wide_floats(check, (6, 55))
        expect = a[0].tolist()
        for k in range(1, 6):
            expect = [x * y for x, y in zip(expect, a[k].tolist())]
        if _mul_reduce(a, axis=0).tolist() != expect:
            return "numpy multiply.reduce is not a left-to-right fold"
    return ""


def _reference_predictions(text: str) -> list:
    """langdetect itself (seed 0), as [(lang, prob)]; used only if the self-check fails."""
    import langdetect
    from langdetect.lang_detect_exception import LangDetectException

    with _reference_lock:
        langdetect.DetectorFactory.seed = _SEED
        try:
            return [(x.lang, x.prob) for x in langdetect.detect_langs(text)]
        except LangDetectException:
            raise _NoFeatures from None
