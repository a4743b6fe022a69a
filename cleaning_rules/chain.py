"""The rule chain: a profile's stages in order, defined once (TFDS c4.py ``_get_pages_pcollection``).

    (readers: parse + length cap) → URL dedup → [mC4: paragraph filter] → clean lines and pages
    → dedup across pages (lines, or sentence spans) → language → bad words → split

Each stage is a small object around the pure functions of this package, in one of two kinds:

- a ``PageStage`` looks at one page at a time: ``apply(page, counts) -> page or None``
  (``batch_size`` > 1: ``apply_batch`` gets that many pages at once; language detection
  runs its per-text steps for a whole batch);
- a ``GlobalStage`` needs every page at once (one page per URL, lines or spans owned by one
  page): the Beam graph runs it as shuffles (``pipeline/dedup.py``), ``run_in_memory`` as
  dicts, with the same pure functions and the same result.

``rule_chain`` is the only place that turns a profile's switches into stages. The Beam graph
(``pipeline/graph.py``) wraps every PageStage in one generic counting DoFn and every
GlobalStage in its shuffle; ``run_in_memory`` runs the same chain on a list of pages (tests,
benchmarks). Stages count what they remove into a plain ``Counter`` under TFDS's names.
A stage's ``setup()`` runs once per worker before its first page (regexes, models).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Optional, Sequence, Union

from . import badwords as badwords_rules
from . import dedup, language, lines, mc4, span_dedup, urldedup, urls
from .counters import DUPLICATE_URL, chars_key, key
from .page import Page
from .profiles import Profile

# Pages langdetect advances together (langdetect_exact.detect_top_many): results are per page,
# so the batch size only changes speed.
LANGUAGE_BATCH_SIZE = 512


class PageStage:
    """A rule applied to one page at a time."""

    name = ""  # the Beam step name
    batch_size = 1

    def setup(self) -> None:
        """Once per worker, before the first page."""

    def apply(self, page: Page, counts: Counter) -> Optional[Page]:
        raise NotImplementedError

    def apply_batch(self, pages: Sequence[Page], counts: Counter) -> list[Optional[Page]]:
        return [self.apply(page, counts) for page in pages]


class GlobalStage:
    """A rule that needs every page at once (dedup across pages)."""

    name = ""

    def run_in_memory(self, pages: list[Page], counts: Counter) -> list[Page]:
        raise NotImplementedError


Stage = Union[PageStage, GlobalStage]


# --- URL dedup --------------------------------------------------------------------------------

class DedupeUrls(GlobalStage):
    """One page per normalized URL (TFDS ``select_newest_page``, ties broken by hash)."""

    name = "DedupeUrls"

    def __init__(self, mode: str):
        self.mode = mode  # urldedup.SELECTION_KEYS

    def keep_best(self, pages: Iterable[Page], counts: Counter) -> Page:
        """The page kept of some pages of one normalized URL; the others are counted as
        removed. The pick is associative: bundles can pre-reduce their pages of a URL first."""
        best, candidates, chars = None, 0, 0
        for page in pages:
            candidates += 1
            chars += len(page.text)
            best = page if best is None else urldedup.select_page(best, page, self.mode)
        counts[key(DUPLICATE_URL, "filtered")] += candidates - 1
        counts[chars_key(DUPLICATE_URL, "filtered")] += chars - len(best.text)
        return best

    def select(self, pages: Iterable[Page], counts: Counter) -> Page:
        """The page kept of all the pages of one normalized URL (counted as passed)."""
        counts[key(DUPLICATE_URL, "passed")] += 1
        return self.keep_best(pages, counts)

    def run_in_memory(self, pages, counts):
        by_url: dict[str, list[Page]] = {}
        for page in pages:
            by_url.setdefault(page.normalized_url, []).append(page)
        return [self.select(group, counts) for group in by_url.values()]


# --- cleaning ---------------------------------------------------------------------------------

class ParagraphFilter(PageStage):
    """mC4: >= 3 lines and the 3rd-longest >= 200 characters (``paragraph-filter``)."""

    name = "ParagraphFilter"

    def apply(self, page, counts):
        return page if mc4.paragraph_filter(page, counts) else None


class CleanPages(PageStage):
    """TFDS ``clean_page``: line rules, then the page rules (``lines.py``)."""

    name = "CleanPages"

    def __init__(self, profile: Profile, line_badwords: Optional[frozenset[str]] = None):
        self._profile = profile
        self._line_badwords = line_badwords  # c4 2.2.0 checks bad words per line, here

    def setup(self):
        p = self._profile
        hit = None
        if self._line_badwords is not None:
            hit = badwords_rules.line_badword_regex_2_2_0(self._line_badwords).search
        self._rules = lines.CleaningRules(min_words_per_line=p.min_words_per_line,
                                          min_num_sentences=p.min_num_sentences,
                                          max_word_length=p.max_word_length, line_badword_hit=hit)

    def apply(self, page, counts):
        return lines.clean_page(page, self._rules, counts)


# --- dedup across pages -----------------------------------------------------------------------

class DedupeLines(GlobalStage):
    """TFDS ``remove_duplicate_text``: each distinct line survives only in its owner page, the
    page with the smallest md5(owner URL) (``dedup.py``). The passes, for the Beam graph:
    ``line_hashes`` + ``owner_records`` per page, ``dedup.pick_line_owners`` per line,
    ``keep_owned_lines`` per page."""

    name = "DedupeLines"

    def __init__(self, line_hash: str = "unicode", line_owner: str = "url", local_dedup: bool = True,
                 min_num_sentences: int = lines.MIN_NUM_SENTENCES):
        self._line_hash = dedup.LINE_HASHES[line_hash]
        self._owner_is_normalized_url = line_owner == "normalized_url"  # c4 <= 3.0.x
        self._local_dedup = local_dedup
        self._min_num_sentences = min_num_sentences

    def owner_of(self, page: Page) -> bytes:
        return dedup.owner_key(page.normalized_url if self._owner_is_normalized_url else page.url)

    def line_hashes(self, page: Page) -> list[bytes]:
        return dedup.line_hashes(page.text, self._line_hash)

    def keep_owned_lines(self, page: Page, owned: set[bytes], counts: Counter,
                         hashes: Optional[Sequence[bytes]] = None) -> Optional[Page]:
        return dedup.remove_duplicate_lines(page, owned, counts, min_num_sentences=self._min_num_sentences,
                                            local_dedup=self._local_dedup, line_hash=self._line_hash,
                                            hashes=hashes)

    def run_in_memory(self, pages, counts):
        hashes = [self.line_hashes(page) for page in pages]
        records = b"".join(dedup.owner_records(h, self.owner_of(page)) for page, h in zip(pages, hashes))
        owned = dedup.owned_lines([dedup.pick_line_owners(records)])
        kept = (self.keep_owned_lines(page, owned.get(self.owner_of(page), set()), counts, h)
                for page, h in zip(pages, hashes))
        return [page for page in kept if page is not None]


class DedupeSentenceSpans(GlobalStage):
    """c4 1.0.0 / the T5 paper: every three-sentence window survives only in the page with the
    smallest md5(url); other pages lose the sentences it covers (``span_dedup.py``)."""

    name = "DedupeSentenceSpans"

    def __init__(self, line_owner: str = "url", min_num_sentences: int = lines.MIN_NUM_SENTENCES):
        self._owner_is_normalized_url = line_owner == "normalized_url"
        self._min_num_sentences = min_num_sentences

    def owner_of(self, page: Page) -> bytes:
        return dedup.owner_key(page.normalized_url if self._owner_is_normalized_url else page.url)

    @staticmethod
    def window_hashes(page: Page) -> set[bytes]:
        return span_dedup.page_window_hashes(page.text)

    def keep_owned_spans(self, page: Page, owned: set[bytes], counts: Counter) -> Optional[Page]:
        return span_dedup.remove_duplicate_spans(page, owned, counts, min_num_sentences=self._min_num_sentences)

    def run_in_memory(self, pages, counts):
        owner_of_window: dict[bytes, bytes] = {}
        for page in pages:
            owner = self.owner_of(page)
            for h in self.window_hashes(page):
                if h not in owner_of_window or owner < owner_of_window[h]:
                    owner_of_window[h] = owner
        owned: dict[bytes, set[bytes]] = {}
        for h, owner in owner_of_window.items():
            owned.setdefault(owner, set()).add(h)
        kept = (self.keep_owned_spans(page, owned.get(self.owner_of(page), set()), counts) for page in pages)
        return [page for page in kept if page is not None]


# --- language ---------------------------------------------------------------------------------

class DetectEnglish(PageStage):
    """c4/en: English only (``--langid``: langdetect, C4's own, or CLD3), ``english-filter``."""

    name = "DetectEnglish"
    batch_size = LANGUAGE_BATCH_SIZE

    def __init__(self, backend: str, min_probability: float, batch_size: int = LANGUAGE_BATCH_SIZE):
        self._backend = backend
        self._min_probability = min_probability  # langdetect's; CLD3 has its own
        self.batch_size = batch_size

    def setup(self):
        self._detect = language.english_batch_detector(self._backend, self._min_probability)

    def apply_batch(self, pages, counts):
        return self._detect(pages, counts)

    def apply(self, page, counts):
        return self._detect([page], counts)[0]


class PredictLanguage(PageStage):
    """mC4: a CLD3 label per page (``und`` when unreliable or < min_probability); a reliable
    label outside MC4_LANGUAGES drops the page. ``make_identifier()`` (default: gcld3) runs
    once per worker."""

    name = "PredictLanguage"

    def __init__(self, min_probability: float, make_identifier: Optional[Callable[[], language.Identifier]] = None):
        self._min_probability = min_probability
        self._make_identifier = make_identifier or language.gcld3_identifier

    def setup(self):
        self._identify = self._make_identifier()
        self._valid = frozenset(language.MC4_LANGUAGES)

    def apply(self, page, counts):
        return language.predict_language(page, self._identify, counts, self._min_probability, self._valid)


# --- bad words --------------------------------------------------------------------------------

class FilterBadwords(PageStage):
    """Each page against its language's LDNOOBW list; a hit drops it unless md5(url) keeps it
    (mC4's soft filter, ``filter_fraction`` < 1)."""

    name = "FilterBadwords"

    def __init__(self, words_by_lang: dict[str, frozenset[str]], filter_fraction: float):
        self._words = words_by_lang
        self._fraction = filter_fraction

    def setup(self):
        self._matchers = {lang: badwords_rules.page_badword_matcher(words, lang) for lang, words in self._words.items()}

    def apply(self, page, counts):
        return page if badwords_rules.badwords_filter(page, self._matchers, self._fraction, counts) else None


# --- the chain --------------------------------------------------------------------------------

class Chain:
    """A profile's stages in order, and how a kept page gets its split."""

    def __init__(self, stages: Sequence[Stage], multilingual: bool):
        self.stages = tuple(stages)
        self._multilingual = multilingual

    @property
    def split_names(self) -> tuple[str, ...]:
        return mc4.mc4_split_names() if self._multilingual else urls.SPLITS

    def assign_split(self, page: Page, counts: Counter) -> str:
        """c4.py: md5(normalized URL) % 1000 == 0 is validation (mC4: per language); counts
        ``<split>/examples`` as TFDS does."""
        split = mc4.mc4_split(page) if self._multilingual else urls.split_of(page.normalized_url)
        counts[key(split, "examples")] += 1
        return split


def check_langid(backend: str, profile: Profile) -> None:
    """ValueError for an English-filter backend the profile has no use for or an unknown one;
    language.LanguageIdUnavailable when its package is missing."""
    if profile.multilingual and backend != language.LANGDETECT:
        raise ValueError(f"--langid picks the English filter of the c4-en profiles; {profile.name} labels "
                         f"every page with CLD3 already")
    language.check_backend(backend)


def rule_chain(profile: Profile, badwords, *, langid_backend: str = language.LANGDETECT,
               make_identifier: Optional[Callable[[], language.Identifier]] = None) -> Chain:
    """The stages of ``profile``. ``badwords``: the en word set, or for mC4 {language: words}
    (``mc4.load_mc4_badwords``); None when the profile has no bad-words filter.
    ``langid_backend`` (``--langid``) picks the English filter's identifier (anything but
    langdetect changes the output vs C4); ``make_identifier`` replaces mC4's gcld3."""
    check_langid(langid_backend, profile)  # fail here, not in a worker
    if profile.multilingual and make_identifier is None:
        language.check_gcld3()
    stages: list[Stage] = [DedupeUrls(profile.url_dedup)]
    if profile.paragraph_filter:
        stages.append(ParagraphFilter())
    if profile.clean:
        stages.append(CleanPages(profile, badwords if profile.badwords == "line" else None))
    if profile.dedup == "lines":
        stages.append(DedupeLines(profile.line_hash, profile.line_owner, profile.local_dedup,
                                  profile.post_dedupe_min_sentences))
    elif profile.dedup == "spans":
        stages.append(DedupeSentenceSpans(profile.line_owner, profile.post_dedupe_min_sentences))
    if profile.multilingual:
        stages.append(PredictLanguage(profile.cld3_min_probability, make_identifier))
    else:
        stages.append(DetectEnglish(langid_backend, profile.langdetect_min_probability))
    if profile.badwords == "page":
        if profile.multilingual and not isinstance(badwords, dict):
            raise ValueError("a multilingual profile needs badwords as {language: words} (mc4.load_mc4_badwords)")
        stages.append(FilterBadwords(badwords if profile.multilingual else {"en": badwords},
                                     profile.badwords_filter_fraction))
    return Chain(stages, profile.multilingual)


def slower_without_compiled(profile: Profile, langid_backend: str = language.LANGDETECT) -> Optional[str]:
    """The warning a local build logs when this install lacks compiled code that ``profile``'s
    chain would run (installed where no C compiler was found: the same output, more CPU);
    None when it has it all."""
    missing = []
    if profile.clean and profile.badwords != "line" and not lines.compiled_installed():
        missing.append(("line rules", "cleaning"))
    if not profile.multilingual and language.compiled_detector_missing(langid_backend):
        missing.append(("language detector", "language detection"))
    if profile.badwords == "page" and not badwords_rules.compiled_installed():
        missing.append(("bad-words search", "the bad-words filter"))
    if not missing:
        return None
    parts, stages = (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
                     for names in zip(*missing))
    return (f"c4forge was installed without its compiled {parts} (no C compiler at install): the same "
            f"output, but {stages} {'take' if len(missing) > 1 else 'takes'} about 3x the CPU; reinstall "
            f"c4forge where gcc or clang is found to speed it up")


# --- in memory --------------------------------------------------------------------------------

def run_stage_in_memory(stage: Stage, pages: list[Page], counts: Counter) -> list[Page]:
    """One stage over a list of pages (a PageStage must be set up)."""
    if isinstance(stage, GlobalStage):
        return stage.run_in_memory(pages, counts)
    size = stage.batch_size
    return [kept for start in range(0, len(pages), size)
            for kept in stage.apply_batch(pages[start:start + size], counts) if kept is not None]


def run_in_memory(chain: Chain, pages: Iterable[Page], counts: Counter) -> list[tuple[str, Page]]:
    """The whole chain on pages held in memory: (split, page) of every page kept, as the Beam
    graph gives them (in another order)."""
    for stage in chain.stages:
        if isinstance(stage, PageStage):
            stage.setup()
    kept = list(pages)
    for stage in chain.stages:
        kept = run_stage_in_memory(stage, kept, counts)
    return [(chain.assign_split(page, counts), page) for page in kept]
