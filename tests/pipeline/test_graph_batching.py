"""The graph's batched stages give the same pages and counters however they are batched:
line dedup with any number of shards (and a buffer flushed mid-bundle), English detection
with any batch size, on the shared real pages, under Beam's FnApiRunner; and the whole
graph gives what the rule chain gives in memory."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

beam = pytest.importorskip("apache_beam")

from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from c4forge.cleaning_rules import chain, language, lines  # noqa: E402
from c4forge.cleaning_rules.profiles import C4_EN_3_1_0 as PROFILE  # noqa: E402
from c4forge.pipeline import dedup as dedup_transforms  # noqa: E402
from c4forge.pipeline import graph, readers  # noqa: E402
from c4forge.pipeline.shuffle import Shuffle  # noqa: E402
from c4forge.pipeline.shuffle_in_process import in_process_store  # noqa: E402

from conftest import REALWEB_WET, require_shared  # noqa: E402


@pytest.fixture(scope="module")
def cleaned_pages():
    require_shared()
    pages = list(readers.read_wet_pages(str(REALWEB_WET), PROFILE, Counter()))
    rules = lines.CleaningRules()
    # no URL dedup first: second captures under URL variants share many lines
    return [p for p in (lines.clean_page(p, rules, Counter()) for p in pages) if p is not None]


_COLLECTED: list = []


def _collect(page):
    _COLLECTED.append(page)  # FnApiRunner runs in this process; the function is pickled by reference


def run_stage(pages, stage):
    """Runs ``stage`` on ``pages`` in FnApiRunner; returns (output pages, counters)."""
    _COLLECTED.clear()
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions()) as p:
        _ = p | beam.Create(pages, reshuffle=False) | stage | beam.Map(_collect)
    out = list(_COLLECTED)
    counters = Counter()
    for result in p.result.metrics().query()["counters"]:
        counters[f"{result.key.metric.namespace}/{result.key.metric.name}"] += result.committed
    return out, counters


def by_url(pages):
    return sorted(pages, key=lambda page: page.url)


def expected_dedup(pages):
    counters = Counter()
    return chain.DedupeLines().run_in_memory(pages, counters), counters


def _not_called(*_):
    raise AssertionError("a page was coded for a shuffle that passes it by reference")


@pytest.mark.parametrize("shards,flush_bytes,in_process", [(1, 32 << 20, False), (5, 32 << 20, False),
                                                           (64, 4096, False), (5, 32 << 20, True)])
def test_line_dedup_same_for_any_shards_and_flushes(cleaned_pages, shards, flush_bytes, in_process, monkeypatch):
    expected, expected_counters = expected_dedup(cleaned_pages)
    assert expected_counters["dedupe-lines/line-filtered:global_duplicate"] > 100  # the test can see a miss
    with contextlib.ExitStack() as stack:
        shuffle = Shuffle()
        if in_process:  # pages pass by reference: never encoded nor decoded
            shuffle = Shuffle(in_process=stack.enter_context(in_process_store("line-dedup")))
            monkeypatch.setattr(dedup_transforms, "encode_page", _not_called)
            monkeypatch.setattr(dedup_transforms, "decode_page", _not_called)
        got, counters = run_stage(cleaned_pages, dedup_transforms.DedupeLines(
            chain.DedupeLines(), shards, shuffle=shuffle, flush_bytes=flush_bytes))
    assert by_url(got) == by_url(expected)
    assert {k: v for k, v in counters.items() if k.startswith("dedupe-lines/")} == {
        k: v for k, v in expected_counters.items() if k.startswith("dedupe-lines/")}


def test_line_dedup_shards_scale_with_files():
    assert dedup_transforms.line_dedup_shards(1) == dedup_transforms.MIN_LINE_DEDUP_SHARDS
    assert dedup_transforms.line_dedup_shards(1000) == 1000 * dedup_transforms.LINE_DEDUP_SHARDS_PER_FILE
    assert dedup_transforms.line_dedup_shards(10**7) == dedup_transforms.MAX_LINE_DEDUP_SHARDS


@pytest.mark.parametrize("batch_size", [1, 7, 512])
def test_detect_english_same_for_any_batch_size(cleaned_pages, batch_size):
    pages = cleaned_pages[:300]
    expected_counters = Counter()
    expected = [e for e in (language.detect_english(p, expected_counters) for p in pages) if e is not None]
    stage = chain.DetectEnglish(language.LANGDETECT, 0.99, batch_size)
    got, counters = run_stage(pages, beam.ParDo(graph.ApplyPageStage(stage)))
    assert by_url(got) == by_url(expected) and 0 < len(expected) < len(pages)
    assert {k: v for k, v in counters.items() if "english-filter" in k} == dict(expected_counters)


@pytest.mark.slow
def test_beam_graph_keeps_what_the_rule_chain_keeps_in_memory():
    """The graph is the chain's stages wrapped for Beam: same documents, same counters."""
    from c4forge.cleaning_rules.badwords import load_badwords

    from conftest import BADWORDS_DIR

    require_shared()
    words = load_badwords("en", str(BADWORDS_DIR))
    counts = Counter()
    pages = readers.read_wet_pages(str(REALWEB_WET), PROFILE, counts)
    expected = chain.run_in_memory(chain.rule_chain(PROFILE, words), pages, counts)
    assert len(expected) == 252

    _COLLECTED.clear()
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions()) as p:
        _ = graph.build_c4(p, [str(REALWEB_WET)], PROFILE, words) | beam.Map(_collect)
    got = Counter()
    for result in p.result.metrics().query()["counters"]:
        got[f"{result.key.metric.namespace}/{result.key.metric.name}"] += result.committed
    as_rows = sorted((split, page.url, page.text) for split, page in _COLLECTED)
    assert as_rows == sorted((split, page.url, page.text) for split, page in expected)
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in counts.items() if v}


def run_stage_with_distributions(pages, stage):
    """``run_stage``, plus the shuffle distributions as {name: (count, sum, max)}."""
    _COLLECTED.clear()
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions()) as p:
        _ = p | beam.Create(pages, reshuffle=False) | stage | beam.Map(_collect)
    found = {}
    for result in p.result.metrics().query()["distributions"]:
        d = result.committed
        found[result.key.metric.name] = (d.count, d.sum, d.max)
    return list(_COLLECTED), found


def skewed_pages(hot_pages: int) -> list:
    """Pages with a unique sentence each and one boilerplate line on every page; the first
    page is captured ``hot_pages`` times (other dates) under one URL."""
    from c4forge.cleaning_rules.page import Page

    boilerplate = "Skip to main content and read our cookie notice now."
    pages = [Page(url=f"https://site.example/{i}", normalized_url=f"site.example/{i}",
                  text=f"Page {i} says something of its own today.\n{boilerplate}", timestamp="2019-04-20T00:00:00Z")
             for i in range(hot_pages)]
    recaptures = [pages[0].replace(timestamp=f"2019-04-{1 + i % 28:02d}T{i % 24:02d}:00:{i % 60:02d}Z",
                                   text=pages[0].text + f" Capture {i}.") for i in range(hot_pages)]
    return pages + recaptures


@pytest.mark.parametrize("hot_pages", [200, 2000])
def test_hot_keys_cost_one_record_per_bundle_not_one_per_page(hot_pages):
    pages = skewed_pages(hot_pages)
    url_stage, line_stage = chain.DedupeUrls("newest"), chain.DedupeLines()
    got, shuffled = run_stage_with_distributions(pages, dedup_transforms.DedupeUrls(url_stage))
    assert by_url(got) == by_url(url_stage.run_in_memory(pages, Counter()))
    url_groups, _, largest_url_group = shuffled["url-group-pages"]
    assert url_groups == hot_pages and largest_url_group <= 4  # not hot_pages + 1 captures

    distinct = got  # one page per URL: the boilerplate line is on every one of them
    got, shuffled = run_stage_with_distributions(distinct, dedup_transforms.DedupeLines(line_stage, shards=16))
    assert by_url(got) == by_url(line_stage.run_in_memory(distinct, Counter()))
    _, records_bytes, _ = shuffled["line-group-bytes"]
    # one record per own line, and the boilerplate's once per bundle instead of once per page
    assert records_bytes <= (hot_pages + 4) * 32 < 2 * hot_pages * 32


def as_raw(page):
    """The page as the WET reader hands on a plain record's page (its text still UTF-8)."""
    from c4forge.pipeline.page_bytes import RawPage

    return RawPage(page.url, page.normalized_url, page.timestamp, page.content_length, page.content_type,
                   page.text.encode("utf-8"))


def test_url_dedup_takes_raw_pages_and_pages_mixed():
    """The reader hands on RawPages where it can: URL dedup keeps and counts what it keeps of the
    same pages decoded, a URL's captures mixed either way."""
    pages = skewed_pages(50)
    mixed = [as_raw(page) if i % 3 else page for i, page in enumerate(pages)]
    url_stage = chain.DedupeUrls("newest")
    expected_counts = Counter()
    expected = url_stage.run_in_memory(pages, expected_counts)
    got, counters = run_stage(mixed, dedup_transforms.DedupeUrls(url_stage))
    assert by_url(got) == by_url(expected)
    assert {k: v for k, v in counters.items() if v} == {k: v for k, v in expected_counts.items() if v}


def test_the_graph_hands_raw_pages_to_url_dedup_only():
    assert graph.takes_raw_pages(chain.rule_chain(PROFILE, frozenset()))
    no_url_dedup = chain.Chain([s for s in chain.rule_chain(PROFILE, frozenset()).stages
                                if not isinstance(s, chain.DedupeUrls)], multilingual=False)
    assert not graph.takes_raw_pages(no_url_dedup)
