"""The c4forge Beam graph: C4 stage by stage, top to bottom (TFDS c4.py's order).

    list WET files → read pages (parse + length cap) → URL dedup (newest wins)
    → clean lines/pages → global line dedup → English (langdetect, or --langid cld3) → bad words
    → (split, page)

Every stage is a thin Beam wrapper around a pure function of ``c4forge.cleaning_rules``;
the functions count what they remove in a ``collections.Counter`` and the wrappers move
those counts into Beam metrics under the TFDS counter names.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from c4forge.cleaning_rules import badwords as badwords_rules
from c4forge.cleaning_rules import dedup, html_text, langid, lines, mc4, span_dedup, urldedup, urls
from c4forge.cleaning_rules.counters import DUPLICATE_URL, chars_key, key
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile

from . import progress, sources, spill as spill_lib, warc_source
from .spill import SpillConfig

INPUT_FORMATS = ("wet", "warc")


class _CountingDoFn(beam.DoFn):
    """Collects rule counters per bundle and publishes them as Beam metrics."""

    def start_bundle(self):
        self.counts = Counter()

    def finish_bundle(self):
        for name, value in self.counts.items():
            namespace, counter = name.split("/", 1)
            Metrics.counter(namespace, counter).inc(value)
        self.counts = Counter()


class ReadWetFile(_CountingDoFn):
    """One WET file path → its pages (TFDS split_wet_file + is_valid_length)."""

    def __init__(self, profile: Profile, progress_every_s: float | None = None):
        self._profile = profile
        self._progress_every_s = progress_every_s

    def process(self, path: str) -> Iterable[Page]:
        sizes = [m.size_in_bytes for r in FileSystems.match([path]) for m in r.metadata_list]
        # With WET quirks the file is read twice: the strict UTF-8 check, then the records.
        tracker = progress.FileProgress(path, sizes[0] if sizes else 0,
                                        passes=2 if self._profile.wet_quirks else 1,
                                        every_s=self._progress_every_s)

        def open_counted(p):
            return progress.CountingReader(sources.open_input(p), tracker.add_bytes)

        for page in sources.read_wet_pages(path, self._profile, self.counts, open_file=open_counted):
            tracker.add_page()
            yield page
        tracker.finish()


class ReadWarcFile(_CountingDoFn):
    """One WARC file path → pages of its HTML response records (``pipeline/warc_source.py``)."""

    def __init__(self, profile: Profile, extractor: str = html_text.DEFAULT_EXTRACTOR,
                 progress_every_s: float | None = None):
        self._profile = profile
        self._extractor = extractor
        self._progress_every_s = progress_every_s

    def setup(self):
        html_text.check_extractor(self._extractor)

    def process(self, path: str) -> Iterable[Page]:
        sizes = [m.size_in_bytes for r in FileSystems.match([path]) for m in r.metadata_list]
        tracker = progress.FileProgress(path, sizes[0] if sizes else 0, passes=1, every_s=self._progress_every_s)

        def open_counted(p):
            return progress.CountingReader(sources.open_input(p), tracker.add_bytes)

        for page in warc_source.read_warc_pages(path, self._profile, self.counts, self._extractor,
                                                open_file=open_counted):
            tracker.add_page()
            yield page
        tracker.finish()


class _SelectPage(_CountingDoFn):
    """Of the pages of one normalized URL, the one TFDS keeps (``urldedup.select_page``)."""

    def __init__(self, mode: str):
        self._mode = mode

    def process(self, url_and_pages):
        _, pages = url_and_pages
        best, candidates, chars = None, 0, 0
        for page in pages:
            candidates += 1
            chars += len(page.text)
            best = page if best is None else urldedup.select_page(best, page, self._mode)
        self.counts[key(DUPLICATE_URL, "passed")] += 1
        self.counts[key(DUPLICATE_URL, "filtered")] += candidates - 1
        self.counts[chars_key(DUPLICATE_URL, "filtered")] += chars - len(best.text)
        yield best


class DedupeUrls(beam.PTransform):
    """One page per normalized URL (TFDS select_newest_page, ties broken by hash).

    A GroupByKey, not a lifted CombinePerKey: almost every URL is distinct, so a
    pre-combine would save no shuffle but hold up to 100,000 whole pages in its cache.
    """

    def __init__(self, profile: Profile, spill: Optional[SpillConfig] = None):
        super().__init__()
        self._mode = profile.url_dedup
        self._spill = spill

    def expand(self, pages):
        return (
            pages
            | "KeyByNormalizedUrl" >> beam.Map(lambda p: (p.normalized_url, p))
            | "GroupByNormalizedUrl" >> spill_lib.group_by_key(self._spill)
            | "SelectPage" >> beam.ParDo(_SelectPage(self._mode))
        )


class CleanPages(_CountingDoFn):
    def __init__(self, profile: Profile, line_badwords: Optional[frozenset[str]] = None):
        self._profile = profile
        self._line_badwords = line_badwords

    def setup(self):
        hit = None
        if self._line_badwords is not None:
            hit = badwords_rules.line_badword_regex_2_2_0(self._line_badwords).search
        p = self._profile
        self._rules = lines.CleaningRules(
            min_words_per_line=p.min_words_per_line,
            min_num_sentences=p.min_num_sentences,
            max_word_length=p.max_word_length,
            line_badword_hit=hit,
        )

    def process(self, page: Page):
        cleaned = lines.clean_page(page, self._rules, self.counts)
        if cleaned is not None:
            yield cleaned


def _owner_url(profile: Profile):
    return (lambda p: p.url) if profile.line_owner == "url" else (lambda p: p.normalized_url)


def line_dedup_shards(num_files: int) -> int:
    """Groups for line dedup's shuffles: enough that one group's records and pages fit a
    worker when a whole crawl (~56,000 WET files) is built, few enough that a local run
    moves a handful of large values instead of one per line."""
    return min(max(MIN_LINE_DEDUP_SHARDS, LINE_DEDUP_SHARDS_PER_FILE * num_files), MAX_LINE_DEDUP_SHARDS)


def spilled_line_dedup_shards(num_files: int, spill: Optional[SpillConfig]) -> int:
    """With --spill-dir, also enough groups that one owner shard (its pages, decoded, with
    their owned lines) is a small part of a spill partition, however large the input."""
    shards = line_dedup_shards(num_files)
    if spill is None:
        return shards
    return min(max(shards, LINE_DEDUP_SHARDS_PER_SPILL_PARTITION * spill.partitions), MAX_LINE_DEDUP_SHARDS)


MIN_LINE_DEDUP_SHARDS = 16
LINE_DEDUP_SHARDS_PER_SPILL_PARTITION = 16
LINE_DEDUP_SHARDS_PER_FILE = 4
MAX_LINE_DEDUP_SHARDS = 1 << 18
_OWNER_RECORDS = "owner_records"


class _HashPageLines(beam.DoFn):
    """Pass 1: each page keyed by its owner shard, with its line hashes (pass 3 reuses
    them); and, as a side output, the bundle's owner records batched by line shard:
    a few large values instead of one element per line."""

    def __init__(self, profile: Profile, shards: int, flush_bytes: int = 32 << 20):
        self._line_hash = dedup.LINE_HASHES[profile.line_hash]
        self._owner_url = _owner_url(profile)
        self._shards = shards
        self._flush_bytes = flush_bytes  # bounds the bundle's buffer

    def start_bundle(self):
        self._records: list[bytes] = []
        self._buffered = 0

    def process(self, page: Page):
        hashes = dedup.line_hashes(page.text, self._line_hash)
        owner = dedup.owner_key(self._owner_url(page))
        records = dedup.owner_records(hashes, owner)
        self._records.append(records)
        self._buffered += len(records)
        yield dedup.shard_of(owner, self._shards), (page, b"".join(hashes))
        if self._buffered >= self._flush_bytes:
            for shard_and_records in self._drain():
                yield beam.pvalue.TaggedOutput(_OWNER_RECORDS, shard_and_records)

    def finish_bundle(self):
        for shard_and_records in self._drain():
            yield beam.pvalue.TaggedOutput(_OWNER_RECORDS, GlobalWindows.windowed_value(shard_and_records))

    def _drain(self):
        records, self._records, self._buffered = b"".join(self._records), [], 0
        return dedup.split_records(records, self._shards, by="line").items() if records else ()


class _PickLineOwners(beam.DoFn):
    """Pass 2, per line shard: the winning record of each line, regrouped by owner shard."""

    def __init__(self, shards: int):
        self._shards = shards

    def process(self, shard_and_batches):
        _, batches = shard_and_batches
        winners = dedup.pick_line_owners(b"".join(batches))
        if winners:
            yield from dedup.split_records(winners, self._shards, by="owner").items()


class _RemoveDuplicateLines(_CountingDoFn):
    """Pass 3, per owner shard: each page keeps the lines it owns."""

    def __init__(self, profile: Profile):
        self._profile = profile

    def setup(self):
        self._owner_url = _owner_url(self._profile)
        self._line_hash = dedup.LINE_HASHES[self._profile.line_hash]

    def process(self, joined):
        _, groups = joined
        owned = dedup.owned_lines(groups["owned_lines"])
        nothing: set = set()
        for page, hashes in groups["pages"]:
            kept = dedup.remove_duplicate_lines(
                page, owned.get(dedup.owner_key(self._owner_url(page)), nothing), self.counts,
                min_num_sentences=self._profile.post_dedupe_min_sentences,
                local_dedup=self._profile.local_dedup,
                line_hash=self._line_hash,
                hashes=[hashes[i:i + dedup.DIGEST_BYTES] for i in range(0, len(hashes), dedup.DIGEST_BYTES)],
            )
            if kept is not None:
                yield kept


class DedupeLines(beam.PTransform):
    """TFDS remove_duplicate_text: each distinct line survives only in its owner page.

    The owner of a line is the page with the smallest md5(owner URL), the key TFDS ranks
    by. Records (line hash, owner key) travel batched per bundle and shard
    (``cleaning_rules/dedup.py``); the result does not depend on ``shards``.
    """

    def __init__(self, profile: Profile, shards: int = MIN_LINE_DEDUP_SHARDS, spill: Optional[SpillConfig] = None):
        super().__init__()
        self._profile = profile
        self._shards = shards
        self._spill = spill

    def expand(self, pages):
        hashed = pages | "HashLines" >> beam.ParDo(_HashPageLines(self._profile, self._shards)).with_outputs(
            _OWNER_RECORDS, main="pages")
        owned_lines = (
            hashed[_OWNER_RECORDS]
            | "GroupByLineShard" >> spill_lib.group_by_key(self._spill)
            | "PickLineOwners" >> beam.ParDo(_PickLineOwners(self._shards))
        )
        return (
            {"pages": hashed.pages, "owned_lines": owned_lines}
            | "JoinPagesAndOwnedLines" >> spill_lib.co_group_by_key(self._spill)
            | "RemoveDuplicateLines" >> beam.ParDo(_RemoveDuplicateLines(self._profile))
        )


class _RemoveDuplicateSpans(_CountingDoFn):
    def __init__(self, profile: Profile):
        self._profile = profile

    def process(self, joined):
        _, groups = joined
        owned = set(groups["owned_windows"])
        for page in groups["pages"]:
            kept = span_dedup.remove_duplicate_spans(
                page, owned, self.counts, min_num_sentences=self._profile.post_dedupe_min_sentences)
            if kept is not None:
                yield kept


class DedupeSentenceSpans(beam.PTransform):
    """c4 1.0.0 / T5 paper: every three-sentence window (per line) survives only in the page
    with the smallest md5(url); other pages lose the sentences it covers
    (``cleaning_rules/span_dedup.py``). Counters under ``dedupe-sentences/``."""

    def __init__(self, profile: Profile, spill: Optional[SpillConfig] = None):
        super().__init__()
        self._profile = profile
        self._spill = spill

    def expand(self, pages):
        owner_url = _owner_url(self._profile)
        window_owners = pages | "EmitWindowOwners" >> beam.FlatMap(
            lambda p: ((h, dedup.owner_key(owner_url(p))) for h in span_dedup.page_window_hashes(p.text)))
        if self._spill is None:
            owners = window_owners | "PickOwner" >> beam.CombinePerKey(min)
        else:  # a lifted combine keeps one accumulator per distinct window, i.e. nearly all of them, in memory
            owners = (window_owners
                      | "GroupOwners" >> spill_lib.group_by_key(self._spill)
                      | "PickOwner" >> beam.MapTuple(lambda window, candidates: (window, min(candidates))))
        owned_windows = owners | "KeyByOwner" >> beam.Map(lambda kv: (kv[1], kv[0]))
        pages_by_owner = pages | "KeyPagesByOwner" >> beam.Map(lambda p: (dedup.owner_key(owner_url(p)), p))
        return (
            {"pages": pages_by_owner, "owned_windows": owned_windows}
            | "JoinPagesAndOwnedWindows" >> spill_lib.co_group_by_key(self._spill)
            | "RemoveDuplicateSpans" >> beam.ParDo(_RemoveDuplicateSpans(self._profile))
        )


class DetectEnglish(_CountingDoFn):
    """Pages are detected in batches of ``batch_size`` (``language.detect_english_batch``):
    langdetect's per-text steps run for the whole batch at once. Results are per page,
    so how a runner bundles pages cannot change them. ``backend`` is ``--langid``
    (``cleaning_rules/langid.py``); every backend counts under ``english-filter/``."""

    def __init__(self, min_probability: float, batch_size: int = 512, backend: str = langid.LANGDETECT):
        self._min_probability = min_probability  # langdetect's; CLD3 has its own
        self._batch_size = batch_size
        self._backend = backend

    def setup(self):
        self._detect_batch = langid.english_batch_detector(self._backend, self._min_probability)

    def start_bundle(self):
        super().start_bundle()
        self._batch: list[Page] = []

    def process(self, page: Page):
        self._batch.append(page)
        if len(self._batch) >= self._batch_size:
            yield from self._detect()

    def finish_bundle(self):
        for english in self._detect():
            yield GlobalWindows.windowed_value(english)
        super().finish_bundle()

    def _detect(self):
        batch, self._batch = self._batch, []
        return [p for p in self._detect_batch(batch, self.counts) if p is not None]


class FilterBadwords(_CountingDoFn):
    def __init__(self, words: frozenset[str], filter_fraction: float, lang: str = "en"):
        self._words = words
        self._fraction = filter_fraction
        self._lang = lang

    def setup(self):
        self._regex = {self._lang: badwords_rules.page_badword_regex(self._words, self._lang)}

    def process(self, page: Page):
        if badwords_rules.badwords_filter(page, self._regex, self._fraction, self.counts):
            yield page


class ParagraphFilter(_CountingDoFn):
    """mC4: >= 3 lines and the 3rd-longest >= 200 characters (``paragraph-filter``)."""

    def process(self, page: Page):
        if mc4.paragraph_filter(page, self.counts):
            yield page


class PredictLanguage(_CountingDoFn):
    """mC4: CLD3 label per page (``und`` when unreliable or < min_probability); a reliable
    label outside MC4_LANGUAGES drops the page. ``make_identifier()`` is called once per
    worker; the default needs gcld3 (``mc4.LanguageIdUnavailable`` names how to install it)."""

    def __init__(self, min_probability: float = mc4.MIN_PROBABILITY, make_identifier=None):
        self._min_probability = min_probability
        self._make_identifier = make_identifier or mc4.gcld3_identifier

    def setup(self):
        self._identify = self._make_identifier()
        self._valid = frozenset(mc4.MC4_LANGUAGES)

    def process(self, page: Page):
        out = mc4.predict_language(page, self._identify, self.counts, self._min_probability, self._valid)
        if out is not None:
            yield out


class FilterBadwordsByLanguage(_CountingDoFn):
    """mC4: each page against its language's list (suffix cut at '-'), soft keep by URL hash."""

    def __init__(self, words_by_lang: dict, filter_fraction: float):
        self._words = words_by_lang
        self._fraction = filter_fraction

    def setup(self):
        self._regex = mc4.badword_regexes(self._words)

    def process(self, page: Page):
        if badwords_rules.badwords_filter(page, self._regex, self._fraction, self.counts):
            yield page


class AssignMc4Split(_CountingDoFn):
    """(``<lang>`` | ``<lang>-validation``, page); counts ``<split>/examples`` as c4.py does."""

    def setup(self):
        self._kept = progress.KeptProgress()

    def process(self, page: Page):
        self._kept.add()
        split = mc4.mc4_split(page)
        self.counts[key(split, "examples")] += 1
        yield split, page


class AssignSplit(_CountingDoFn):
    """(split, page) by md5(normalized URL) % 1000; counts ``<split>/examples`` as c4.py does."""

    def setup(self):
        self._kept = progress.KeptProgress()

    def process(self, page: Page):
        self._kept.add()
        split = urls.split_of(page.normalized_url)
        self.counts[key(split, "examples")] += 1
        yield split, page


def check_langid(backend: str, profile: Profile) -> None:
    """ValueError for a backend the profile has no use for or an unknown one;
    mc4.LanguageIdUnavailable when its package is missing."""
    if profile.multilingual and backend != langid.LANGDETECT:
        raise ValueError(f"--langid picks the English filter of the c4-en profiles; {profile.name} labels "
                         f"every page with CLD3 already")
    langid.check_backend(backend)


def build_c4(pipeline, wet_paths: list[str], profile: Profile, badwords, *,
             input_format: str = "wet", html_extractor: str = html_text.DEFAULT_EXTRACTOR,
             make_identifier=None, langid_backend: str = langid.LANGDETECT,
             spill: Optional[SpillConfig] = None):
    """The whole C4 graph for one profile; returns a PCollection of (split, page).

    ``input_format="warc"`` reads HTML response records of WARC files instead of WET
    files (text extracted by ``html_extractor``). ``langid_backend`` (``--langid``) picks
    the English filter's identifier; anything but langdetect changes the output vs C4.
    For a multilingual profile (mC4), ``badwords`` maps language → words
    (``mc4.load_mc4_badwords``) and ``make_identifier`` replaces gcld3; splits are then
    ``<lang>`` / ``<lang>-validation``. ``spill`` (``--spill-dir``, local runner only) makes
    the shuffles of pages and dedup records go through files (``pipeline/spill.py``).
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}")
    check_langid(langid_backend, profile)  # fail at graph construction, not in a worker
    if input_format == "warc":
        html_text.check_extractor(html_extractor)  # fail at graph construction, not in a worker
        reader = ReadWarcFile(profile, html_extractor)
    else:
        reader = ReadWetFile(profile)
    pages = (
        pipeline
        | "ListWetFiles" >> beam.Create(sorted(wet_paths))
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadPages" >> beam.ParDo(reader)
        | "DedupeUrls" >> DedupeUrls(profile, spill)
    )
    if profile.multilingual:
        return _build_mc4_tail(pages, profile, badwords, make_identifier,
                               spilled_line_dedup_shards(len(wet_paths), spill), spill)
    if profile.clean:
        line_badwords = badwords if profile.badwords == "line" else None
        pages = pages | "CleanPages" >> beam.ParDo(CleanPages(profile, line_badwords))
    if profile.dedupe and profile.dedup == "three-sentence-spans":
        pages = pages | "DedupeSentenceSpans" >> DedupeSentenceSpans(profile, spill)
    elif profile.dedupe:
        pages = pages | "DedupeLines" >> DedupeLines(profile, spilled_line_dedup_shards(len(wet_paths), spill), spill)
    pages = pages | "DetectEnglish" >> beam.ParDo(
        DetectEnglish(profile.langdetect_min_probability, backend=langid_backend))
    if profile.badwords == "page":
        pages = pages | "FilterBadwords" >> beam.ParDo(FilterBadwords(badwords, profile.badwords_filter_fraction))
    return pages | "AssignSplit" >> beam.ParDo(AssignSplit())


def _build_mc4_tail(pages, profile: Profile, badwords, make_identifier, dedup_shards: int,
                    spill: Optional[SpillConfig] = None):
    """mC4 after URL dedup: paragraph filter → (clean) → dedup → CLD3 → bad words → splits."""
    if make_identifier is None:
        mc4.check_gcld3()  # LanguageIdUnavailable with the install commands, before the run
    if profile.paragraph_filter:
        pages = pages | "ParagraphFilter" >> beam.ParDo(ParagraphFilter())
    if profile.clean:
        pages = pages | "CleanPages" >> beam.ParDo(CleanPages(profile))
    if profile.dedupe and profile.dedup == "three-sentence-spans":
        pages = pages | "DedupeSentenceSpans" >> DedupeSentenceSpans(profile, spill)
    elif profile.dedupe:
        pages = pages | "DedupeLines" >> DedupeLines(profile, dedup_shards, spill)
    pages = pages | "PredictLanguage" >> beam.ParDo(
        PredictLanguage(profile.cld3_min_probability, make_identifier))
    if profile.badwords == "page" and profile.badwords_filter_fraction > 0:
        if not isinstance(badwords, dict):
            raise ValueError("a multilingual profile needs badwords as {language: words} (mc4.load_mc4_badwords)")
        pages = pages | "FilterBadwords" >> beam.ParDo(
            FilterBadwordsByLanguage(badwords, profile.badwords_filter_fraction))
    return pages | "AssignSplit" >> beam.ParDo(AssignMc4Split())
