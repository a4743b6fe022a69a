"""Rule profiles: which C4 version's behaviour to reproduce. Configuration, not code.

``c4-en-3.1.0`` (default) is TFDS c4/en 3.1.0 exactly. ``c4-en-2.2.0`` is the data T5
trained on (bad words checked per line inside cleaning, no local dedup, byte-level line
hashing, line owner by normalized URL, URL dedup without timestamps). The switches
``noclean`` (allenai's en.noclean: no cleaning, no line dedup, no bad-words filter) and
``noblocklist`` (allenai's en.noblocklist: no bad-words filter) apply to any profile.
"""

from __future__ import annotations

import dataclasses

from .lines import MAX_WORD_LENGTH, MIN_NUM_SENTENCES, MIN_WORDS_PER_LINE

# Dedup across pages, after cleaning: "lines" (TFDS >= 1.1.0: whole lines), "spans" (the T5
# paper's wording, c4 1.0.0: three-sentence spans; span_dedup.py) or "none".
DEDUP_MODES = ("lines", "spans", "none")
# Which languages a profile keeps: "en" (c4/en: langdetect, English only) or "mc4"
# (c4/multilingual: CLD3 labels every page, the 107 mC4 languages and "und" are kept).
LANGUAGES = ("en", "mc4")


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    tfds_config: str = "en"
    tfds_version: str = "3.1.0"
    # WET parsing: TFDS's line-based quirks and strict per-file UTF-8 (see wet.py).
    wet_quirks: bool = True
    require_timestamp: bool = True
    max_page_length: int = 190_000
    # URL dedup: "newest" (3.1.0: greatest WARC-Date) or "max_text_hash" (3.0.x rule,
    # used for 2.2.0 whose pick was arbitrary). Ties always end on max (md5(text), url).
    url_dedup: str = "newest"
    clean: bool = True
    min_words_per_line: int = MIN_WORDS_PER_LINE
    min_num_sentences: int = MIN_NUM_SENTENCES
    max_word_length: int | None = MAX_WORD_LENGTH
    dedup: str = "lines"  # DEDUP_MODES
    line_hash: str = "unicode"  # "bytes" in 2.2.x
    line_owner: str = "url"  # "normalized_url" in <= 3.0.x
    local_dedup: bool = True
    langdetect_min_probability: float = 0.99
    # "page": 3.x filter after language detection; "line": 2.2.x check inside cleaning.
    badwords: str | None = "page"
    badwords_filter_fraction: float = 1.0
    languages: str = "en"  # LANGUAGES; mC4's CLD3 labels pages "und" when unreliable or < cld3_min_probability
    cld3_min_probability: float = 0.95
    # mC4's paragraph filter (>= 3 lines, 3rd-longest >= 200 chars) after URL dedup.
    paragraph_filter: bool = False

    @property
    def post_dedupe_min_sentences(self) -> int:
        return self.min_num_sentences if self.clean else 0

    @property
    def multilingual(self) -> bool:
        return self.languages == "mc4"

    def with_switches(self, noclean: bool = False, noblocklist: bool = False, wet_quirks: bool | None = None,
                      dedup: str | None = None) -> "Profile":
        p = self
        if dedup is not None and dedup != p.dedup:
            if dedup not in DEDUP_MODES:
                raise ValueError(f"unknown dedup {dedup!r}; choose from {', '.join(DEDUP_MODES)}")
            p = dataclasses.replace(p, name=p.name + ("+nodedup" if dedup == "none" else "+" + dedup), dedup=dedup)
        if noclean:
            config = "en.noclean" if p.tfds_config == "en" else p.tfds_config
            p = dataclasses.replace(p, name=p.name + "+noclean", tfds_config=config,
                                    clean=False, dedup="none", badwords=None, badwords_filter_fraction=0.0)
        if noblocklist:
            config = "en.noblocklist" if p.tfds_config == "en" else p.tfds_config
            p = dataclasses.replace(p, name=p.name + "+noblocklist", tfds_config=config,
                                    badwords=None, badwords_filter_fraction=0.0)
        if wet_quirks is not None and wet_quirks != p.wet_quirks:
            suffix = "+wet-quirks" if wet_quirks else "+no-wet-quirks"
            p = dataclasses.replace(p, name=p.name + suffix, wet_quirks=wet_quirks)
        return p


C4_EN_3_1_0 = Profile(name="c4-en-3.1.0")
C4_EN_2_2_0 = Profile(
    name="c4-en-2.2.0",
    tfds_version="2.2.0",
    require_timestamp=False,
    url_dedup="max_text_hash",
    line_hash="bytes",
    line_owner="normalized_url",
    local_dedup=False,
    badwords="line",
)

# TFDS c4/multilingual 3.1.0 (mC4): no cleaning, line dedup without the sentence re-check,
# paragraph filter, CLD3 >= 0.95 (else "und"), per-language bad words with the 0.999 soft keep.
MC4_3_1_0 = Profile(
    name="mc4-3.1.0",
    tfds_config="multilingual",
    clean=False,
    paragraph_filter=True,
    languages="mc4",
    badwords_filter_fraction=0.999,
)

PROFILES = {p.name: p for p in (C4_EN_3_1_0, C4_EN_2_2_0)}
# Every profile get_profile knows; mC4 needs the build to load per-language bad-word
# lists and write per-language splits (graph.mc4_splits / badwords.load_badwords per lang).
ALL_PROFILES = {**PROFILES, MC4_3_1_0.name: MC4_3_1_0}
DEFAULT_PROFILE = C4_EN_3_1_0.name


def get_profile(name: str) -> Profile:
    try:
        return ALL_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(ALL_PROFILES)}") from None
