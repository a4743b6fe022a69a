"""The vocabulary sample: long-line splitting, keys, the k-smallest rule, order independence,
shards; and the memory check. Synthetic data only (fast)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from c4forge.tokenizer_training import memory, sampling
from c4forge.tokenizer_training.sampling import (
    SmallestKeys, document_units, measure_sample, split_long_line, unit_bytes, write_sample,
)


def nonspace(text: str) -> str:
    return "".join(text.split())


# --- long lines ------------------------------------------------------------------------


def test_short_lines_are_kept_whole_up_to_the_exact_limit():
    line = "a" * 4192
    assert split_long_line(line, 4192) == [line]
    assert split_long_line("é" * 2096, 4192) == ["é" * 2096]  # 4,192 bytes


def test_long_line_splits_at_the_last_sentence_end_that_fits():
    line = "One sentence here. Two sentences here! Three is a longer sentence at the end."
    pieces = split_long_line(line, 45)
    assert pieces == ["One sentence here. Two sentences here!", "Three is a longer sentence at the end."]


def test_without_sentence_ends_it_splits_at_spaces():
    line = "word " * 30
    pieces = split_long_line(line.strip(), 22)
    assert all(len(p.encode()) <= 22 for p in pieces)
    assert all(p.split() == ["word"] * len(p.split()) for p in pieces)  # no word cut
    assert nonspace("".join(pieces)) == nonspace(line)


def test_without_spaces_it_cuts_between_characters_not_inside_them():
    line = "ж" * 10 + "😀" * 5 + "x" * 7  # 2-, 4- and 1-byte characters
    pieces = split_long_line(line, 9)
    assert all(len(p.encode()) <= 9 for p in pieces)
    assert "".join(pieces) == line


def test_whitespace_runs_longer_than_the_limit_give_no_empty_pieces():
    assert split_long_line(" " * 50 + "x" * 10 + " " * 50 + "y", 16) == ["x" * 10, "y"]


@pytest.mark.parametrize("seed", range(20))
def test_random_lines_lose_nothing_but_whitespace_at_cuts(seed):
    rng = random.Random(seed)
    alphabet = ["a", "b", " ", "  ", ". ", "! ", "é", "😀", "\u00a0", "”. ", "中"]
    line = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 3000))) + "x"
    limit = rng.choice([4, 7, 16, 100, 4192])
    pieces = split_long_line(line, limit)
    assert all(0 < len(p.encode()) <= limit and p.strip() for p in pieces)
    assert nonspace("".join(pieces)) == nonspace(line)


def test_sentencepiece_skips_a_long_line_that_the_split_keeps():
    """Characters that occur only in one over-long line: the trainer drops the raw line
    (so they are unknown), but learns them from the split pieces."""
    import sentencepiece as spm

    rare_line = " ".join(["жизнь"] * 1000)  # ~12 KB, no newline
    common = [f"plain english line number {i} with some words." for i in range(300)]

    def train(lines):
        import io

        writer = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=writer, vocab_size=60,
                                       character_coverage=1.0, minloglevel=2, max_sentence_length=4192)
        return spm.SentencePieceProcessor(model_proto=writer.getvalue())

    unsplit = train(common + [rare_line])
    split = train(common + split_long_line(rare_line, 4192))
    assert unsplit.piece_to_id("ж") == unsplit.unk_id()
    assert split.piece_to_id("ж") != split.unk_id()


# --- units and keys --------------------------------------------------------------------------


def test_units_are_lines_split_on_newline_only_and_blank_lines_are_dropped():
    example = {"url": "http://a/", "text": "first line\n\n   \nsecond\u2028still second\r\nthird"}
    texts = [t for _, t in document_units(example, seed=0, max_bytes=4192)]
    assert texts == ["first line", "second\u2028still second\r", "third"]


def test_keys_depend_on_seed_url_and_position_only_as_documented():
    example = {"url": "http://a/", "text": "same\nsame"}
    (k1, _), (k2, _) = document_units(example, 0, 4192)
    assert k1 != k2  # same text, different line index
    assert list(document_units(example, 0, 4192)) == list(document_units(dict(example), 0, 4192))
    assert list(document_units(example, 1, 4192)) != list(document_units(example, 0, 4192))
    assert list(document_units({**example, "url": "http://b/"}, 0, 4192)) != list(document_units(example, 0, 4192))
    assert all(0 <= k < 2**64 for k, _ in document_units(example, 0, 4192))


# --- the k smallest -----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 7, 100, 999, 1000, 5000])
def test_smallest_keys_equals_sorting_including_ties(k):
    rng = random.Random(k)
    keys = [rng.randrange(50) if rng.random() < 0.2 else rng.randrange(2**64) for _ in range(1000)]
    smallest = SmallestKeys(k, buffer_size=64)  # many cut-backs
    for key in keys:
        smallest.add(key, key % 97 + 1)
    threshold = sorted(keys)[min(k, len(keys)) - 1]
    chosen = [key for key in keys if key <= threshold]
    assert smallest.result() == (threshold, len(chosen), sum(key % 97 + 1 for key in chosen))
    assert smallest.units_total == 1000


def test_beam_boundary_finds_the_same_threshold_as_the_local_sampler():
    from c4forge.pipeline.vocab_sampling import KeyHistogram, boundary_of, finish_info

    rng = np.random.default_rng(0)
    keys = [int(k) for k in rng.integers(0, 2**63, 20000, dtype=np.int64)] + [5, 5, 5]
    combine = KeyHistogram()
    accumulators = [combine.create_accumulator() for _ in range(3)]
    for i, key in enumerate(keys):
        combine.add_input(accumulators[i % 3], (key, key % 13 + 1))
    histogram = combine.extract_output(combine.merge_accumulators(accumulators))
    for k in (1, 2, 3, 4, 777, 20003, 10**6):
        boundary = boundary_of(histogram, k)
        bucket = [(key, key % 13 + 1) for key in keys if sampling.histogram_bucket(key) == boundary["bucket"]]
        smallest = SmallestKeys(k)
        for key in keys:
            smallest.add(key, key % 13 + 1)
        threshold, count, nbytes = smallest.result()
        info = finish_info(bucket, boundary, 0, k, 4192, 1000)
        got = (info.threshold, info.sentences, info.sample_bytes, info.units_total)
        assert got == (threshold, count, nbytes, 20003)


# --- the sample on disk ------------------------------------------------------------------------------


def synthetic_examples(n_docs: int = 60) -> list[dict]:
    rng = random.Random(1)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    return [{"url": f"http://example.com/{d}",
             "text": "\n".join(" ".join(rng.choice(words) for _ in range(rng.randrange(3, 40))) + "."
                               for _ in range(rng.randrange(1, 15)))}
            for d in range(n_docs)]


def sample_files(examples, out: Path, sentences: int, seed: int = 0, shard_bytes: int = 2000) -> dict[str, bytes]:
    info = measure_sample(examples, seed, sentences, 4192, shard_bytes)
    write_sample(examples, info, out)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_sample_is_independent_of_document_order(tmp_path):
    examples = synthetic_examples()
    forward = sample_files(examples, tmp_path / "a", 150)
    shuffled = list(examples)
    random.Random(3).shuffle(shuffled)
    assert sample_files(shuffled, tmp_path / "b", 150) == forward
    assert sample_files(examples, tmp_path / "c", 150, seed=1) != forward


def test_sample_has_k_units_sorted_by_key_in_key_range_shards(tmp_path):
    examples = synthetic_examples()
    info = measure_sample(examples, 0, 150, 4192, 2000)
    paths = write_sample(examples, info, tmp_path)
    keyed = {text: key for ex in examples for key, text in document_units(ex, 0, 4192)}
    everything = sorted(keyed.values())
    lines_per_shard = [p.read_text().splitlines() for p in paths]
    assert info.shards == len(paths) > 1 and info.units_total == len(everything)
    assert sum(map(len, lines_per_shard)) == info.sentences == 150
    assert sum(p.stat().st_size for p in paths) == info.sample_bytes
    assert info.threshold == everything[149]
    for index, lines in enumerate(lines_per_shard):
        keys = [keyed[line] for line in lines]
        assert keys == sorted(keys)
        assert all(sampling.shard_of(k, info.threshold, info.shards) == index for k in keys)
    assert sampling.read_sample_info(tmp_path) == info
    assert list(sampling.iter_sample_lines(paths)) == [line for lines in lines_per_shard for line in lines]


def test_asking_for_more_than_the_corpus_takes_everything(tmp_path):
    examples = synthetic_examples(5)
    info = measure_sample(examples, 0, 10**7, 4192)
    units = [u for ex in examples for u in document_units(ex, 0, 4192)]
    assert info.sentences == info.units_total == len(units)
    assert info.sample_bytes == sum(unit_bytes(t) for _, t in units)


# --- memory check ---------------------------------------------------------------------------------


def test_memory_check_refuses_with_the_numbers():
    need = memory.training_memory_estimate(2 * 2**30)
    assert need == memory.BASE_BYTES + memory.BYTES_PER_SAMPLE_BYTE * 2 * 2**30
    with pytest.raises(memory.SampleTooBig, match=r"10,000,000 sentences \(2.0 GB\) needs about 56.2 GB"):
        memory.check_sample_fits(10_000_000, 2 * 2**30, False, limit=16 * 2**30)
    assert memory.check_sample_fits(10_000, 2 * 2**20, False, limit=16 * 2**30) < 16 * 2**30
    assert memory.check_sample_fits(10_000, 2 * 2**40, False, limit=None) > 0  # unknown limit: no refusal


def test_suggested_sentence_count_fits():
    with pytest.raises(memory.SampleTooBig) as refused:
        memory.check_sample_fits(10_000_000, 2 * 2**30, False, limit=16 * 2**30)
    suggested = int(str(refused.value).split("--sentences ")[1].split()[0].replace(",", ""))
    memory.check_sample_fits(suggested, int(2 * 2**30 * suggested / 10_000_000), False, limit=16 * 2**30)


def test_a_limit_below_the_base_says_so():
    with pytest.raises(memory.SampleTooBig, match="even an empty sample needs 256.0 MB"):
        memory.check_sample_fits(100, 10_000, False, limit=200 * 2**20)


def test_large_corpus_flag_costs_more():
    assert memory.training_memory_estimate(10**9, True) > memory.training_memory_estimate(10**9, False)


def test_available_memory_takes_the_tighter_of_meminfo_and_cgroup(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:    8000 kB\n")
    cgroup = tmp_path / "cg"
    cgroup.mkdir()
    assert memory.available_memory(meminfo, cgroup) == 8000 * 1024  # no cgroup files
    (cgroup / "memory.max").write_text("max\n")
    assert memory.available_memory(meminfo, cgroup) == 8000 * 1024
    (cgroup / "memory.max").write_text("5000000\n")
    (cgroup / "memory.current").write_text("1000000\n")
    assert memory.available_memory(meminfo, cgroup) == 4000000
    assert memory.available_memory(tmp_path / "none", tmp_path / "none") is None


@pytest.mark.parametrize("text,expected", [("48G", 48 * 2**30), ("512M", 512 * 2**20), ("2.5GB", int(2.5 * 2**30)),
                                           ("1000", 1000), ("3 GiB", 3 * 2**30)])
def test_parse_size(text, expected):
    assert memory.parse_size(text) == expected


def test_parse_size_rejects_nonsense():
    with pytest.raises(ValueError):
        memory.parse_size("lots")
