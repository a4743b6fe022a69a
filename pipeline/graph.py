"""The c4forge Beam graph: input files → pages → the profile's rule chain → (split, page).

    list input files → read pages (parse + length cap) → URL dedup (newest wins)
    → [mC4: paragraph filter] → clean lines/pages → dedup lines across pages
    → language (langdetect, or --langid cld3; mC4: CLD3 labels) → bad words → split

The stages and their order are the rule chain's (``cleaning_rules/chain.py``), defined once for
the graph, the tests and the benchmarks. Here each page stage is wrapped in one generic
counting DoFn and each global stage (dedup across pages) in its shuffle (``pipeline/dedup.py``).
"""

from __future__ import annotations

from typing import Iterable, Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindows

from c4forge.cleaning_rules import chain as chain_lib
from c4forge.cleaning_rules import html_text, language
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import Profile

from . import progress
from .counting import CountingDoFn
from .dedup import global_stage_transform
from .page_bytes import AnyPage
from .readers import open_input, read_warc_pages, read_wet_pages
from .shuffle import RUNNERS_OWN, Shuffle
from .spill import WET_GZIP_EXPANSION

INPUT_FORMATS = ("wet", "warc")


class ReadPages(CountingDoFn):
    """One input file path → its pages: WET conversion records (TFDS split_wet_file), or the
    HTML response records of a WARC file, text extracted; both through the length cap."""

    def __init__(self, profile: Profile, input_format: str = "wet",
                 html_extractor: str = html_text.DEFAULT_EXTRACTOR, progress_every_s: Optional[float] = None,
                 hold_file_bytes: int = 0, raw_pages: bool = False):
        self._profile = profile
        self._input_format = input_format
        self._html_extractor = html_extractor
        self._progress_every_s = progress_every_s
        self._hold_file_bytes = hold_file_bytes
        self._raw_pages = raw_pages

    def setup(self):
        if self._input_format == "warc":
            html_text.check_extractor(self._html_extractor)

    def process(self, path: str) -> Iterable[AnyPage]:
        sizes = [m.size_in_bytes for r in FileSystems.match([path]) for m in r.metadata_list]
        # With WET quirks the file is read twice (the strict UTF-8 check, then the records),
        # unless the check holds its records (read_wet_pages' hold_bytes), which a file whose
        # text is larger than the hold does not (estimated from its gzipped size).
        held = sizes and sizes[0] * WET_GZIP_EXPANSION <= self._hold_file_bytes
        passes = 2 if self._input_format == "wet" and self._profile.wet_quirks and not held else 1
        tracker = progress.FileProgress(path, sizes[0] if sizes else 0, passes=passes,
                                        every_s=self._progress_every_s)

        def open_counted(p):
            return progress.CountingReader(open_input(p), tracker.add_bytes)

        if self._input_format == "warc":
            pages = read_warc_pages(path, self._profile, self.counts, self._html_extractor, open_file=open_counted)
        else:
            pages = read_wet_pages(path, self._profile, self.counts, open_file=open_counted,
                                   hold_bytes=self._hold_file_bytes, raw_pages=self._raw_pages)
        for page in pages:
            tracker.add_page()
            yield page
        tracker.finish()


class ApplyPageStage(CountingDoFn):
    """Any page stage of the rule chain: its pages in, the pages it keeps out, its counts as
    metrics. A stage with ``batch_size`` > 1 gets its pages in batches of that size; results
    are per page, so how a runner bundles pages cannot change them."""

    def __init__(self, stage: chain_lib.PageStage):
        self._stage = stage

    def setup(self):
        self._stage.setup()

    def start_bundle(self):
        super().start_bundle()
        self._batch: list[Page] = []

    def process(self, page: Page):
        if self._stage.batch_size == 1:
            kept = self._stage.apply(page, self.counts)
            if kept is not None:
                yield kept
            return
        self._batch.append(page)
        if len(self._batch) >= self._stage.batch_size:
            yield from self._apply_batch()

    def finish_bundle(self):
        for kept in self._apply_batch():
            yield GlobalWindows.windowed_value(kept)
        super().finish_bundle()

    def _apply_batch(self) -> list[Page]:
        batch, self._batch = self._batch, []
        return [kept for kept in self._stage.apply_batch(batch, self.counts) if kept is not None] if batch else []


class AssignSplit(CountingDoFn):
    """(split, page); counts ``<split>/examples`` as c4.py does."""

    def __init__(self, chain: chain_lib.Chain):
        self._chain = chain

    def setup(self):
        self._kept = progress.KeptProgress()

    def process(self, page: Page):
        self._kept.add()
        yield self._chain.assign_split(page, self.counts), page


def takes_raw_pages(chain: chain_lib.Chain) -> bool:
    """Whether the reader may hand on ``RawPage``s: only to URL dedup, which encodes every page
    for its shuffle (``page_bytes``) and decodes them after it."""
    return bool(chain.stages) and isinstance(chain.stages[0], chain_lib.DedupeUrls)


def build_c4(pipeline, input_paths: list[str], profile: Profile, badwords, *,
             input_format: str = "wet", html_extractor: str = html_text.DEFAULT_EXTRACTOR,
             make_identifier=None, langid_backend: str = language.LANGDETECT,
             shuffle: Shuffle = RUNNERS_OWN, hold_file_bytes: int = 0):
    """The whole C4 graph for one profile; returns a PCollection of (split, page).

    ``input_format="warc"`` reads HTML response records of WARC files instead of WET files
    (text extracted by ``html_extractor``). ``badwords``, ``langid_backend`` and
    ``make_identifier`` are ``chain.rule_chain``'s. ``shuffle``: how the shuffles move their data
    (``pipeline/shuffle.py``; the same pages whichever it is). ``hold_file_bytes``:
    a WET file's records kept after its UTF-8 check, so that it is decompressed once
    (``read_wet_pages``'s ``hold_bytes``; the same pages whatever it is).
    """
    if input_format not in INPUT_FORMATS:
        raise ValueError(f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}")
    if input_format == "warc":
        html_text.check_extractor(html_extractor)  # fail at graph construction, not in a worker
    chain = chain_lib.rule_chain(profile, badwords, langid_backend=langid_backend, make_identifier=make_identifier)
    pages = (
        pipeline
        | "ListInputFiles" >> beam.Create(sorted(input_paths))
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadPages" >> beam.ParDo(ReadPages(profile, input_format, html_extractor, hold_file_bytes=hold_file_bytes,
                                              raw_pages=takes_raw_pages(chain)))
    )
    for stage in chain.stages:
        if isinstance(stage, chain_lib.PageStage):
            pages = pages | stage.name >> beam.ParDo(ApplyPageStage(stage))
        else:
            pages = pages | stage.name >> global_stage_transform(stage, len(input_paths), shuffle)
    return pages | "AssignSplit" >> beam.ParDo(AssignSplit(chain))
