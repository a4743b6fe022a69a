"""langdetect 1.0.9 (``DetectorFactory.seed = 0``), bit for bit, at a fraction of the cost.

C4 keeps a page iff ``langdetect.detect_langs(text)`` ranks 'en' first with probability
>= 0.99. This module computes the same ``detect_langs`` result -- the same languages, in
the same order, with bit-identical float probabilities -- without running langdetect's
per-character Python loops. Public API:

``detect_langs(text) -> list[(lang, prob)]``
    langdetect's ``detect_langs`` as (lang, prob) tuples; raises langdetect's own
    ``LangDetectException`` when the text has no n-gram features, as langdetect does.
``detect_top(text) -> (lang | None, prob, verdict)``
    drop-in for ``language.langdetect_top``: verdict is "ok",
    "filtered:langdetect_exception" or "filtered:no_predictions".
``detect_english(page, counters, min_probability=0.99)``
    ``language.detect_english`` on top of ``detect_top``.

Why the results are exact (langdetect source: detector.py, detector_factory.py, utils/)
---------------------------------------------------------------------------------------
* Profiles are read as ``DetectorFactory.load_profile`` reads them: same files in the same
  ``os.listdir`` order (the language order fixes the order of every float sum), same
  ``1.0 * freq / n_words[len - 1]`` values, stored in a (n-gram x language) float64 matrix
  (row 0 unused: n-gram rows are >= 1, so that ``filter(None, ...)`` drops misses).
* Text preparation is ``Detector.append`` + ``cleaning_text``: the URL and e-mail regexes
  (skipped only when they cannot match: no "://", no "@"), ``NGram.normalize_vi``, the
  10,000-character cut. The space-run collapse is dropped: it cannot change the Latin
  counts nor the n-grams. The Latin test counts 'A' <= ch <= 'z' against ch >= U+0300
  (langdetect compares ``unicode_block(ch)`` -- an int -- with the string 'Latin Extended
  Additional', so every ch >= U+0300 counts as non-Latin; replicated).
* ``NGram.normalize`` is a per-character map, so it is applied as a code-point table built
  from ``NGram.normalize`` itself. ``NGram.add_char``'s state machine reduces to: words are
  the runs between spaces of the normalized text; at each position of ' ' + word (+ ' '
  if a space follows) it emits the 1-, 2-, 3-gram ending there (inside the word, the
  1-gram ' ' excluded), unless that char and the previous one are both ``isupper()`` (the
  ``capitalword`` flag); only n-grams present in the profiles are kept. The n-grams of a
  word are therefore a pure function of the word, and are cached per word; a text's
  cache misses are computed together, with numpy (``_rows_batch``: integer work only).
* Random draws: ``_detect_block`` reseeds ``random.Random`` with 0 for every text, so the
  Mersenne-Twister 32-bit output stream is the same for every text; it is generated once
  from ``random.Random(0).getrandbits(32)``. ``choice(ngrams)`` is ``_randbelow(n)``:
  ``getrandbits(k)`` (= word >> (32 - k)), k = n.bit_length(), redrawn while >= n.
  ``gauss`` draws two ``random()`` (= ((a >> 5) * 2**26 + (b >> 6)) / 2**53 from two
  words) on trials 0, 2, 4, 6 and returns its cached second value on trials 1, 3, 5; it
  is replicated with the same ``math`` functions. A self-check against the interpreter's
  ``random.Random`` runs at load time; if it fails, the module falls back to langdetect.
* Arithmetic: ``prob[j] *= weight + p[j]`` is elementwise IEEE float64 in numpy too
  (the five updates between normalizations are one ``np.multiply.reduce`` over axis 0,
  a left-to-right fold per element, also checked at load time). The normalizing sum is
  Python's own ``sum`` over the same floats in the same order (so it follows the
  interpreter, e.g. 3.12's compensated sum). ``max(prob / s) == max(prob) / s`` since
  rounding is monotonic (and once a language holds half the sum, only it can pass the
  0.99999 test). ``langprob += prob / 7`` (a sequential ``np.add.accumulate`` over the
  trials) and the final ``> 0.1`` filter and stable descending sort are the same
  operations. Nothing depends on the machine beyond what langdetect's result depends on
  (``os.listdir`` order, the interpreter's ``sum``, ``math`` and ``random``).

State: everything module-level is either immutable once built (profiles, tables, random
stream; built once under a lock) or a pure-function cache (n-grams per word). Calls are
thread-safe and independent of one another; no langdetect global is touched.
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
from operator import itemgetter
from typing import Optional

import numpy as np

MIN_PROBABILITY = 0.99

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
    entries: list[tuple[int, int, float]] = []
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
        n_words = data["n_words"]
        for word, count in data["freq"].items():
            row = vocab.setdefault(word, len(vocab) + 1)  # row 0: unused zero row
            length = len(word)
            if 1 <= length <= 3:
                entries.append((row, index, 1.0 * count / n_words[length - 1]))
    matrix = np.zeros((len(vocab) + 1, max(langsize, len(langlist))), dtype=np.float64)
    for row, col, p in entries:
        matrix[row, col] = p
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
    packed = rows[kept].tobytes()
    before = np.zeros(len(rows) + 1, dtype=np.int64)  # kept rows before each flat index
    np.cumsum(kept, out=before[1:])
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lengths + 1)  # S index of the space after each word
    starts = ends - lengths
    lo = (before[3 * (starts - 1)] * 4).tolist()
    hi = (before[3 * ends] * 4).tolist()
    return [packed[a:b] for a, b in zip(lo, hi)]


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


def _prepare(model: _Model, text: str) -> str:
    """Detector.append + cleaning_text, then NGram.normalize of every char."""
    if "://" in text:
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MAIL_RE.sub(" ", text)
    if text.isascii():
        return text[:_MAX_TEXT_LENGTH].translate(model.ascii_table)
    if any(mark in text for mark in model.dmarks):
        text = model.normalize_vi(text)
    text = text[:_MAX_TEXT_LENGTH]
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
    """(language, probability, verdict) exactly as language.langdetect_top."""
    try:
        predictions = _detect(text)
    except _NoFeatures:
        return None, 0.0, "filtered:langdetect_exception"
    if not predictions:
        return None, 0.0, "filtered:no_predictions"
    lang, prob = predictions[0]
    return lang, prob, "ok"


# --------------------------------------------------------------------------- setup, fallback

_model: Optional[_Model] = None
_model_ok: Optional[bool] = None
_model_lock = threading.Lock()
_word_cache = _WordRows()
_reference_lock = threading.Lock()


def backend() -> str:
    """'numpy' (this module's exact re-implementation) or 'langdetect' (self-check failed)."""
    return "numpy" if _get_model() is not None else "langdetect"


def clear_caches() -> None:
    """Empties the per-word n-gram cache (results never depend on it)."""
    _word_cache.clear()


def _get_model() -> Optional[_Model]:
    if _model_ok is None:
        _load()
    return _model if _model_ok else None


def _load() -> None:
    global _model, _model_ok
    with _model_lock:
        if _model_ok is not None:
            return
        model = _Model()
        clear_caches()  # rows are the model's
        _word_cache.model = model
        problem = _self_check()
        if problem:
            warnings.warn(f"langdetect_exact: {problem}; falling back to langdetect itself", RuntimeWarning)
        _model = model
        _model_ok = not problem


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
        a = check.random((6, 55)) * np.exp(check.standard_normal((6, 55)) * 20)
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
