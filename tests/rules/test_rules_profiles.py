"""Rule profiles (c4_reference.md sections 0, 2.1 and 11): which version's behaviour each
profile selects, and the noclean / noblocklist / wet-quirks switches."""

from __future__ import annotations

import dataclasses

import pytest

from c4forge.cleaning_rules import profiles
from c4forge.cleaning_rules.profiles import C4_EN_2_2_0, C4_EN_3_1_0


def test_registry_and_default():
    assert set(profiles.PROFILES) == {"c4-en-3.1.0", "c4-en-2.2.0"}
    assert profiles.DEFAULT_PROFILE == "c4-en-3.1.0"
    assert profiles.get_profile("c4-en-3.1.0") is C4_EN_3_1_0
    assert profiles.get_profile("c4-en-2.2.0") is C4_EN_2_2_0
    with pytest.raises(ValueError, match="c4-en-3.1.0"):
        profiles.get_profile("c4-en-3.0.1")


def test_c4_en_3_1_0_is_tfds_en():
    p = C4_EN_3_1_0
    assert (p.tfds_config, p.tfds_version) == ("en", "3.1.0")
    assert p.wet_quirks and p.require_timestamp
    assert p.max_page_length == 190_000
    assert p.url_dedup == "newest"
    assert p.clean and p.dedup == "lines"
    assert (p.min_words_per_line, p.min_num_sentences, p.max_word_length) == (5, 3, 1000)
    assert (p.line_hash, p.line_owner, p.local_dedup) == ("unicode", "url", True)
    assert p.langdetect_min_probability == 0.99
    assert (p.badwords, p.badwords_filter_fraction) == ("page", 1.0)
    assert p.post_dedupe_min_sentences == 3


def test_c4_en_2_2_0_differences():
    p = C4_EN_2_2_0
    assert p.tfds_version == "2.2.0" and p.tfds_config == "en"
    assert not p.require_timestamp
    assert p.url_dedup == "max_text_hash"
    assert (p.line_hash, p.line_owner, p.local_dedup) == ("bytes", "normalized_url", False)
    assert p.badwords == "line"
    assert p.max_word_length == 1000  # added in 2.2.0
    changed = {f.name for f in dataclasses.fields(p) if getattr(p, f.name) != getattr(C4_EN_3_1_0, f.name)}
    assert changed == {"name", "tfds_version", "require_timestamp", "url_dedup", "line_hash",
                       "line_owner", "local_dedup", "badwords"}


@pytest.mark.parametrize("base", [C4_EN_3_1_0, C4_EN_2_2_0])
def test_noclean_switch(base):
    p = base.with_switches(noclean=True)
    assert p.name == base.name + "+noclean"
    assert p.tfds_config == "en.noclean"
    assert not p.clean and p.dedup == "none"
    assert p.badwords is None and p.badwords_filter_fraction == 0.0
    assert p.post_dedupe_min_sentences == 0
    # untouched: parsing, URL dedup, language id
    assert (p.wet_quirks, p.url_dedup, p.langdetect_min_probability, p.max_page_length) == (
        base.wet_quirks, base.url_dedup, base.langdetect_min_probability, base.max_page_length)
    assert base.clean  # frozen original unchanged


@pytest.mark.parametrize("base", [C4_EN_3_1_0, C4_EN_2_2_0])
def test_noblocklist_switch(base):
    p = base.with_switches(noblocklist=True)
    assert p.name == base.name + "+noblocklist"
    assert p.tfds_config == "en.noblocklist"
    assert p.badwords is None and p.badwords_filter_fraction == 0.0
    assert p.clean and p.dedup == "lines" and p.post_dedupe_min_sentences == 3


def test_both_switches():
    p = C4_EN_3_1_0.with_switches(noclean=True, noblocklist=True)
    assert p.name == "c4-en-3.1.0+noclean+noblocklist"
    assert p.tfds_config == "en.noclean"  # noclean already has no blocklist
    assert not p.clean and p.badwords is None


def test_wet_quirks_switch():
    assert C4_EN_3_1_0.with_switches(wet_quirks=True) == C4_EN_3_1_0
    p = C4_EN_3_1_0.with_switches(wet_quirks=False)
    assert p.name == "c4-en-3.1.0+no-wet-quirks" and not p.wet_quirks
    back = p.with_switches(wet_quirks=True)
    assert back.name == "c4-en-3.1.0+no-wet-quirks+wet-quirks" and back.wet_quirks
    assert C4_EN_3_1_0.with_switches() == C4_EN_3_1_0


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        C4_EN_3_1_0.clean = False  # type: ignore[misc]


def test_slower_without_compiled_names_what_the_profile_would_run(monkeypatch):
    """A local build's warning on an install without its compiled parts (no C compiler at
    install): only the parts the profile's chain runs, in one line."""
    from c4forge.cleaning_rules import chain, language, lines
    from c4forge.cleaning_rules.language import langdetect_exact

    from c4forge.cleaning_rules import badwords

    monkeypatch.setattr(lines, "lines_compiled", None)
    monkeypatch.setattr(langdetect_exact, "_compiled", None)
    monkeypatch.setattr(badwords, "badwords_compiled", None)
    every = chain.slower_without_compiled(C4_EN_3_1_0)
    assert "compiled line rules, language detector and bad-words search" in every
    assert "cleaning, language detection and the bad-words filter take about 3x the CPU" in every
    assert "line rules" not in chain.slower_without_compiled(C4_EN_3_1_0.with_switches(noclean=True))
    assert "line rules" not in chain.slower_without_compiled(C4_EN_2_2_0)  # bad words per line: Python
    assert "language detector" not in chain.slower_without_compiled(C4_EN_3_1_0, language.CLD3)
    one = chain.slower_without_compiled(profiles.MC4_3_1_0)  # no cleaning; CLD3
    assert "compiled bad-words search (" in one and "the bad-words filter takes about 3x" in one
    assert "bad-words" not in chain.slower_without_compiled(C4_EN_3_1_0.with_switches(noblocklist=True))
    assert chain.slower_without_compiled(C4_EN_3_1_0.with_switches(noclean=True), language.CLD3) is None
