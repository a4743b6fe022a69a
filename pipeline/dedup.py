"""The global stages of the rule chain as Beam shuffles: URL dedup, line dedup, span dedup.

Each transform takes its stage object (``cleaning_rules/chain.py``), whose methods are the
pure per-page and per-key steps; the transform only decides what travels where. The result
is the stage's ``run_in_memory`` result, whatever the bundling, sharding or worker count
(``tests/pipeline/test_graph_batching.py``). ``shuffle`` says how the shuffles move their data
(``pipeline/shuffle.py``: the runner's, through files, or by reference in this process).

Skew is bounded by pre-reducing in each bundle before a shuffle, with the same associative
pick as after it: a URL captured thousands of times travels as one page per bundle (its
newest), a line found on millions of pages as one owner record per bundle (its smallest
owner), so no group grows with how often a key repeats. The largest groups are published as
Beam distributions (namespace ``c4forge-shuffle``), which the benchmark prints.

Pages cross a shuffle as bytes (``page_bytes.py``): encoded once before it and decoded once
after it, where as pickled pages the local runners would code them twice each way. One
exception: through an in-process shuffle (``Shuffle.by_reference``) line dedup's pages travel
as they are. Encoding them to UTF-8 and decoding them after cost ~2 CPU-s per 40,000 records
(two thirds of what the language stage takes); held as ``str`` they take more memory (~420 MB
of text where their UTF-8 is ~210: most pages have a character above U+00FF, two bytes each in
a ``str``), peak RSS 820-836 MB instead of 681-694 in docs/speed.md's A/B. URL dedup's pages
stay bytes either way: the reader's ``RawPage`` is already UTF-8 and is decoded once, after
the shuffle.
"""

from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from c4forge.cleaning_rules import chain as chain_lib
from c4forge.cleaning_rules import dedup

from .counting import CountingDoFn
from .page_bytes import AnyPage, RawPage, as_page, decode_page, encode_any_page, encode_page
from .shuffle import RUNNERS_OWN, Shuffle
from .spill import SpillConfig

MIN_LINE_DEDUP_SHARDS = 16
LINE_DEDUP_SHARDS_PER_SPILL_PARTITION = 16
LINE_DEDUP_SHARDS_PER_FILE = 4
MAX_LINE_DEDUP_SHARDS = 1 << 18
OWNER_RECORDS = "owner_records"
# A bundle's owner records are handed on once they reach this size (bounds the buffer).
OWNER_RECORDS_FLUSH_BYTES = 32 << 20
# A bundle holds pages for URL pre-reduction up to this much text, then hands them on.
URL_PREREDUCE_BYTES = 16 << 20
SHUFFLE_METRICS = "c4forge-shuffle"


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


def global_stage_transform(stage: chain_lib.GlobalStage, num_files: int,
                           shuffle: Shuffle = RUNNERS_OWN) -> beam.PTransform:
    """The shuffle that runs ``stage``."""
    if isinstance(stage, chain_lib.DedupeUrls):
        return DedupeUrls(stage, shuffle)
    if isinstance(stage, chain_lib.DedupeLines):
        return DedupeLines(stage, spilled_line_dedup_shards(num_files, shuffle.spill), shuffle)
    if isinstance(stage, chain_lib.DedupeSentenceSpans):
        return DedupeSentenceSpans(stage, shuffle)
    raise TypeError(f"no Beam transform for the global stage {stage.name!r}")


# --- URL dedup --------------------------------------------------------------------------------

class _KeepBestPageOfEachUrlInBundle(CountingDoFn):
    """(normalized URL, page as bytes) with a bundle's pages of one URL reduced to its best,
    held up to ``max_bytes`` of text (then handed on, so memory stays bounded)."""

    def __init__(self, stage: chain_lib.DedupeUrls, max_bytes: int):
        self._stage = stage
        self._max_bytes = max_bytes

    def start_bundle(self):
        super().start_bundle()
        self._best: dict[str, object] = {}
        self._held_bytes = 0

    def process(self, page):  # a Page, or a RawPage from the reader (decoded here only if its URL repeats)
        url = page.normalized_url
        held = self._best.get(url)
        best = page if held is None else self._stage.keep_best((as_page(held), as_page(page)), self.counts)
        self._best[url] = best
        self._held_bytes += _text_size(best) - (_text_size(held) if held is not None else 0)
        if self._held_bytes > self._max_bytes:
            yield from self._hand_on()

    def finish_bundle(self):
        for url_and_page in self._hand_on():
            yield GlobalWindows.windowed_value(url_and_page)
        super().finish_bundle()

    def _hand_on(self) -> list:
        held, self._best, self._held_bytes = self._best, {}, 0
        return [(url, encode_any_page(page)) for url, page in held.items()]


def _text_size(page: AnyPage) -> int:
    return len(page.text_utf8) if isinstance(page, RawPage) else len(page.text)


class _SelectPage(CountingDoFn):
    def __init__(self, stage: chain_lib.DedupeUrls):
        self._stage = stage
        self._group_pages = Metrics.distribution(SHUFFLE_METRICS, "url-group-pages")

    def process(self, url_and_pages):
        pages = [decode_page(data) for data in url_and_pages[1]]
        self._group_pages.update(len(pages))
        yield self._stage.select(pages, self.counts)


class DedupeUrls(beam.PTransform):
    """One page per normalized URL: each bundle's pages of a URL pre-reduced to the best, then
    grouped by URL. (Not Beam's lifted CombinePerKey: its cache holds up to 100,000 whole
    pages; the pre-reduction here is bounded by bytes.)"""

    def __init__(self, stage: chain_lib.DedupeUrls, shuffle: Shuffle = RUNNERS_OWN,
                 prereduce_bytes: int = URL_PREREDUCE_BYTES):
        super().__init__()
        self._stage = stage
        self._shuffle = shuffle
        self._prereduce_bytes = prereduce_bytes

    def expand(self, pages):
        return (
            pages
            | "KeepBestPerUrlInBundle" >> beam.ParDo(_KeepBestPageOfEachUrlInBundle(self._stage,
                                                                                   self._prereduce_bytes))
            | "GroupByNormalizedUrl" >> self._shuffle.group_by_key()
            | "SelectPage" >> beam.ParDo(_SelectPage(self._stage))
        )


# --- line dedup -------------------------------------------------------------------------------

class _HashPageLines(beam.DoFn):
    """Pass 1: each page keyed by its owner shard, with its line hashes (pass 3 reuses
    them); and, as a side output, the bundle's owner records batched by line shard:
    a few large values instead of one element per line."""

    def __init__(self, stage: chain_lib.DedupeLines, shards: int, flush_bytes: int, pages_by_reference: bool):
        self._stage = stage
        self._shards = shards
        self._flush_bytes = flush_bytes
        self._pages_by_reference = pages_by_reference

    def start_bundle(self):
        self._records: list[bytes] = []
        self._buffered = 0

    def process(self, page):
        hashes = self._stage.line_hashes(page)
        owner = self._stage.owner_of(page)
        records = dedup.owner_records(hashes, owner)
        self._records.append(records)
        self._buffered += len(records)
        yield dedup.shard_of(owner, self._shards), (page if self._pages_by_reference else encode_page(page),
                                                    b"".join(hashes))
        if self._buffered >= self._flush_bytes:
            for shard_and_records in self._drain():
                yield beam.pvalue.TaggedOutput(OWNER_RECORDS, shard_and_records)

    def finish_bundle(self):
        for shard_and_records in self._drain():
            yield beam.pvalue.TaggedOutput(OWNER_RECORDS, GlobalWindows.windowed_value(shard_and_records))

    def _drain(self):
        records, self._records, self._buffered = b"".join(self._records), [], 0
        if not records:
            return ()
        # The bundle's own winner of each line first: a line on many pages costs one record.
        return dedup.split_records(dedup.pick_line_owners(records), self._shards, by="line").items()


class _PickLineOwners(beam.DoFn):
    """Pass 2, per line shard: the winning record of each line, regrouped by owner shard."""

    def __init__(self, shards: int):
        self._shards = shards
        self._group_bytes = Metrics.distribution(SHUFFLE_METRICS, "line-group-bytes")

    def process(self, shard_and_batches):
        records = b"".join(shard_and_batches[1])
        self._group_bytes.update(len(records))
        winners = dedup.pick_line_owners(records)
        if winners:
            yield from dedup.split_records(winners, self._shards, by="owner").items()


class _KeepOwnedLines(CountingDoFn):
    """Pass 3, per owner shard: each page keeps the lines it owns."""

    def __init__(self, stage: chain_lib.DedupeLines, pages_by_reference: bool):
        self._stage = stage
        self._pages_by_reference = pages_by_reference

    def process(self, joined):
        _, groups = joined
        owned = dedup.owned_lines(groups["owned_lines"])
        nothing: set = set()
        for page, hashes in groups["pages"]:
            if not self._pages_by_reference:
                page = decode_page(page)
            kept = self._stage.keep_owned_lines(
                page, owned.get(self._stage.owner_of(page), nothing), self.counts,
                hashes=[hashes[i:i + dedup.DIGEST_BYTES] for i in range(0, len(hashes), dedup.DIGEST_BYTES)])
            if kept is not None:
                yield kept


class DedupeLines(beam.PTransform):
    """Each distinct line survives only in its owner page. Records (line hash, owner key)
    travel batched per bundle and shard (``cleaning_rules/dedup.py``); the result depends on
    neither ``shards`` nor ``flush_bytes``."""

    def __init__(self, stage: chain_lib.DedupeLines, shards: int = MIN_LINE_DEDUP_SHARDS,
                 shuffle: Shuffle = RUNNERS_OWN, flush_bytes: int = OWNER_RECORDS_FLUSH_BYTES):
        super().__init__()
        self._stage = stage
        self._shards = shards
        self._shuffle = shuffle
        self._flush_bytes = flush_bytes

    def expand(self, pages):
        hashed = pages | "HashLines" >> beam.ParDo(
            _HashPageLines(self._stage, self._shards, self._flush_bytes, self._shuffle.by_reference)
        ).with_outputs(OWNER_RECORDS, main="pages")
        owned_lines = (
            hashed[OWNER_RECORDS]
            | "GroupByLineShard" >> self._shuffle.group_by_key()
            | "PickLineOwners" >> beam.ParDo(_PickLineOwners(self._shards))
        )
        return (
            {"pages": hashed.pages, "owned_lines": owned_lines}
            | "JoinPagesAndOwnedLines" >> self._shuffle.co_group_by_key()
            | "RemoveDuplicateLines" >> beam.ParDo(_KeepOwnedLines(self._stage, self._shuffle.by_reference))
        )


# --- span dedup -------------------------------------------------------------------------------

class _KeepOwnedSpans(CountingDoFn):
    def __init__(self, stage: chain_lib.DedupeSentenceSpans):
        self._stage = stage

    def process(self, joined):
        _, groups = joined
        owned = set(groups["owned_windows"])
        for page_bytes in groups["pages"]:
            kept = self._stage.keep_owned_spans(decode_page(page_bytes), owned, self.counts)
            if kept is not None:
                yield kept


class DedupeSentenceSpans(beam.PTransform):
    """Every three-sentence window survives only in its owner page; counters under
    ``dedupe-sentences/``."""

    def __init__(self, stage: chain_lib.DedupeSentenceSpans, shuffle: Shuffle = RUNNERS_OWN):
        super().__init__()
        self._stage = stage
        self._shuffle = shuffle

    def expand(self, pages):
        stage = self._stage
        window_owners = pages | "EmitWindowOwners" >> beam.FlatMap(
            lambda p: ((h, stage.owner_of(p)) for h in stage.window_hashes(p)))
        if self._shuffle.spill is None:
            owners = window_owners | "PickOwner" >> beam.CombinePerKey(min)
        else:  # a lifted combine keeps one accumulator per distinct window, i.e. nearly all of them, in memory
            owners = (window_owners
                      | "GroupOwners" >> self._shuffle.group_by_key()
                      | "PickOwner" >> beam.MapTuple(lambda window, candidates: (window, min(candidates))))
        owned_windows = owners | "KeyByOwner" >> beam.Map(lambda kv: (kv[1], kv[0]))
        pages_by_owner = pages | "KeyPagesByOwner" >> beam.Map(lambda p: (stage.owner_of(p), encode_page(p)))
        return (
            {"pages": pages_by_owner, "owned_windows": owned_windows}
            | "JoinPagesAndOwnedWindows" >> self._shuffle.co_group_by_key()
            | "RemoveDuplicateSpans" >> beam.ParDo(_KeepOwnedSpans(stage))
        )
