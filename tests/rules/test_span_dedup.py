"""Three-sentence-span dedup (c4 1.0.0, the T5 paper's wording; c4_reference.md §4.3)."""

from __future__ import annotations

from collections import Counter

import pytest

from c4forge.cleaning_rules import chain, dedup, lines, span_dedup
from c4forge.cleaning_rules.page import Page
from c4forge.cleaning_rules.profiles import C4_EN_3_1_0, DEDUP_MODES

from conftest import SHARED

REALWEB_WET = SHARED / "data" / "realweb" / "realweb-dev.warc.wet.gz"

S = ["Alpha one is here.", "Beta two is there.", "Gamma three is near.", "Delta four is far.",
     "Epsilon five is gone."]


def page(url, text):
    return Page(url=url, normalized_url=url, text=text, timestamp="2019-04-25T12:57:54Z")


def dedupe_pages(pages, counts, min_num_sentences=3):
    """Both passes in memory, as the rule chain runs them."""
    return chain.DedupeSentenceSpans(min_num_sentences=min_num_sentences).run_in_memory(pages, counts)


def owners_of(*pages):
    """The urls ordered by owner key (smallest md5 first)."""
    return sorted(pages, key=lambda p: dedup.owner_key(p.url))


def test_windows():
    assert list(span_dedup.windows(["a", "b"])) == [(0, 2)]
    assert list(span_dedup.windows(["a", "b", "c"])) == [(0, 3)]
    assert list(span_dedup.windows(list("abcde"))) == [(0, 3), (1, 4), (2, 5)]
    assert list(span_dedup.windows([])) == []


def test_end_mark_only_windows_are_skipped():
    assert span_dedup.is_end_mark_only(".") and span_dedup.is_end_mark_only(' ?!" ')
    assert not span_dedup.is_end_mark_only("a.") and not span_dedup.is_end_mark_only("")
    assert list(span_dedup.line_windows([".", "!"])) == []
    assert len(list(span_dedup.line_windows([".", "!", "Real one."]))) == 1


def test_hash_is_case_insensitive_per_window():
    a = span_dedup.page_window_hashes(" ".join(S[:3]))
    assert len(a) == 1
    assert span_dedup.page_window_hashes(" ".join(S[:3]).upper()) == a
    assert span_dedup.page_window_hashes(" ".join(S[1:4])) != a


def test_shared_window_removed_from_all_but_owner():
    shared = " ".join(S[:3])
    p1 = page("http://one.example/a", shared + "\nOwn line one is long. It has two. And three here.")
    p2 = page("http://two.example/b", "Prefix sentence is unique. " + shared + "\nOther line is unique. Yes it is. And again.")
    owner, other = owners_of(p1, p2)
    counts = Counter()
    out = {p.url: p for p in dedupe_pages([p1, p2], counts)}
    # the owner keeps the window, the other page loses exactly its three sentences
    assert shared in out[owner.url].text
    assert shared not in out[other.url].text
    assert counts["dedupe-sentences/sentence-filtered:global_duplicate"] == 3
    assert counts["chars/dedupe-sentences/sentence-filtered:global_duplicate"] == sum(len(s) for s in S[:3])
    if other is p2:
        assert out[p2.url].text.split("\n")[0] == "Prefix sentence is unique."


def test_overlapping_windows_remove_covered_sentences_only():
    # other page shares S[0..3] (two windows) inside a longer line: S[0..3] go, the rest stays
    p1 = page("http://a.example/", " ".join(S[:4]))
    p2 = page("http://b.example/", " ".join(["Unique first here.", *S[:4], "Unique last here."]))
    owner, other = owners_of(p1, p2)
    out = {p.url: p for p in dedupe_pages([p1, p2], Counter(), min_num_sentences=0)}
    if other is p2:
        assert out[p2.url].text == "Unique first here. Unique last here."
    else:  # p1 lost all its windows -> empty
        assert p1.url not in out
        assert out[p2.url].text == p2.text


def test_short_line_is_one_window_and_page_threshold():
    line = "Just one sentence here."
    p1 = page("http://x.example/1", line + "\n" + " ".join(S[:3]))
    p2 = page("http://x.example/2", line + "\n" + " ".join(S[2:5]))
    owner, other = owners_of(p1, p2)
    counts = Counter()
    out = {p.url: p for p in dedupe_pages([p1, p2], counts)}
    assert line in out[owner.url].text
    # the other page loses the short line (whole-line window) and keeps 3 sentences
    assert out[other.url].text.split("\n")[0] != line
    assert counts["dedupe-sentences/line-filtered:all_sentences_removed"] == 1
    # with a 4-sentence threshold it is dropped
    counts = Counter()
    out = {p.url for p in dedupe_pages([p1, p2], counts, min_num_sentences=4)}
    assert other.url not in out and counts["dedupe-sentences/filtered:too_few_sentences"] == 1


def test_lines_rebuilt_with_single_spaces_and_original_case():
    p = page("http://solo.example/", "First Sentence here.   Second One there.\tThird Is near.")
    (out,) = dedupe_pages([p], Counter())
    assert out.text == "First Sentence here. Second One there. Third Is near."


def test_order_independent():
    pages = [page(f"http://p{i}.example/", " ".join(S[i % 3:i % 3 + 3]) + f"\nUnique {i} a. Unique {i} b. Unique {i} c.")
             for i in range(6)]
    a = dedupe_pages(pages, Counter())
    b = dedupe_pages(list(reversed(pages)), Counter())
    assert sorted((p.url, p.text) for p in a) == sorted((p.url, p.text) for p in b)


def test_profile_switch():
    assert C4_EN_3_1_0.dedup == "lines"
    p = C4_EN_3_1_0.with_switches(dedup="spans")
    assert p.dedup == "spans" and p.name == "c4-en-3.1.0+spans"
    assert C4_EN_3_1_0.with_switches(dedup="lines") is C4_EN_3_1_0
    assert set(DEDUP_MODES) == {"lines", "spans", "none"}
    assert C4_EN_3_1_0.with_switches(dedup="none").name == "c4-en-3.1.0+nodedup"
    with pytest.raises(ValueError, match="spans"):
        C4_EN_3_1_0.with_switches(dedup="paragraphs")


def _real_cleaned_pages(limit=None):
    if not REALWEB_WET.exists():
        pytest.skip(f"shared real-web data not found at {REALWEB_WET}")
    from c4forge.pipeline import readers

    counts = Counter()
    rules = lines.CleaningRules()
    by_url = {}
    for p in readers.read_wet_pages(str(REALWEB_WET), C4_EN_3_1_0, counts):
        cleaned = lines.clean_page(p, rules, counts)
        if cleaned is not None:
            by_url[cleaned.url] = cleaned
    pages = sorted(by_url.values(), key=lambda p: p.url)
    return pages[:limit] if limit else pages


@pytest.mark.slow
def test_beam_transform_equals_pure_functions_on_real_pages():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    from c4forge.pipeline.dedup import DedupeSentenceSpans

    pages = _real_cleaned_pages()
    counts = Counter()
    expected = dedupe_pages(pages, counts)
    # the real data has cross-page duplicate spans, and the rule removes some
    assert counts["dedupe-sentences/sentence-filtered:global_duplicate"] > 100
    assert any(e.text != p.text for e, p in zip(expected, pages))
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as pipeline:
        out = (pipeline | beam.Create(pages) | DedupeSentenceSpans(chain.DedupeSentenceSpans())
               | beam.Map(lambda p: (p.url, p.text)))
        assert_that(out, equal_to([(p.url, p.text) for p in expected]))
