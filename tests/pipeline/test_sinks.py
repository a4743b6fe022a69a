"""The corpus sinks: TFDS dataset directory, allenai-style JSONL.gz, and the TF-free readers."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from c4forge.cleaning_rules.page import Page
from c4forge.corpus import example, jsonl, sharding, tfds_metadata, tfrecord
from c4forge.pipeline import sinks
from c4forge.pipeline.files import INCOMPLETE_MARK

# Small shards, so a few hundred pages make several of them.
TARGET_SHARD_BYTES = 8000
IN_PROCESS = ["--runner=FnApiRunner"]
TWO_WORKER_PROCESSES = ["--runner=FnApiRunner", "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
TEXT_PIECES = ["héllo wörld", "naïve café", "日本語のテキスト", "emoji 🎉 ok", 'quote " and \\ backslash', "plain"]


def make_pages(n: int = 300) -> list[tuple[str, Page]]:
    pages = []
    for i in range(n):
        url = f"https://site{i % 7}.example.com/path/{i}?q={i * 31 % 97}"
        text = "\n".join(f"{TEXT_PIECES[(i + j) % len(TEXT_PIECES)]} line {j} of page {i}." for j in range(i % 9 + 1))
        page = Page(
            url=url,
            text=text,
            timestamp=f"2019-04-{i % 28 + 1:02d}T12:{i % 60:02d}:54Z",
            content_type="text/plain",
            content_length=str(len(text.encode()) + 17),
        )
        pages.append((split_of(url), page))
    # Same URL, other content (possible in en.noclean, which does not dedupe): the record
    # bytes break the tie between equal shuffle keys.
    for _, page in pages[5:8]:
        pages.append((split_of(page.url), page.replace(text=page.text + " (second capture)", timestamp="2019-04-30T00:00:00Z")))
    return pages


def split_of(url: str) -> str:
    return "validation" if int(hashlib.md5(url.encode()).hexdigest(), 16) % 10 == 0 else "train"


def run_sinks(out: Path, split_pages, options, *, reshuffle=False, tfds_kwargs=None, jsonl_kwargs=None) -> dict:
    """Runs both sinks; returns {(format, split): summary}."""
    tfds_kwargs = {"target_shard_bytes": TARGET_SHARD_BYTES, **(tfds_kwargs or {})}
    jsonl_kwargs = {"target_shard_bytes": TARGET_SHARD_BYTES, **(jsonl_kwargs or {})}
    summary_path = out / "summaries.jsonl"
    with beam.Pipeline(options=PipelineOptions(options)) as p:
        pcoll = p | beam.Create(split_pages)
        if reshuffle:
            pcoll = pcoll | beam.Reshuffle()
        tfds_summaries = pcoll | "Tfds" >> sinks.WriteTfdsDataset(str(out / "tfds"), **tfds_kwargs)
        jsonl_summaries = pcoll | "Jsonl" >> sinks.WriteJsonlSplits(str(out / "jsonl"), **jsonl_kwargs)
        (
            (tfds_summaries, jsonl_summaries)
            | beam.Flatten()
            | beam.Map(json.dumps, sort_keys=True)
            | beam.io.WriteToText(str(summary_path), shard_name_template="")
        )
    summaries = [json.loads(line) for line in summary_path.read_text().splitlines()]
    return {(s["format"], s["split"]): s for s in summaries}


def dataset_dir(out: Path) -> str:
    return str(out / "tfds" / "c4" / "en" / "3.1.0")


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def canonical(examples) -> list[dict]:
    return sorted(examples, key=lambda ex: (ex["url"], ex["text"]))


def expected_by_split(split_pages) -> dict[str, list[dict]]:
    return {
        split: canonical(page.to_example() for s, page in split_pages if s == split) for split in ["train", "validation"]
    }


def tfrecord_examples(out: Path, split: str) -> list[dict]:
    return [ex for path in tfds_metadata.tfds_split_files(dataset_dir(out), split)
            for ex in example.iter_tfrecord_examples(path)]


def jsonl_files(out: Path, split: str) -> list[Path]:
    return sorted((out / "jsonl").glob(f"c4-{split}.*.json.gz"))


@pytest.fixture(scope="module")
def split_pages():
    return make_pages()


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, split_pages):
    out = tmp_path_factory.mktemp("base")
    return out, run_sinks(out, split_pages, IN_PROCESS)


@pytest.fixture(scope="module")
def shuffled_two_process_run(tmp_path_factory, split_pages):
    out = tmp_path_factory.mktemp("shuffled")
    pages = list(reversed(split_pages))
    random.Random(7).shuffle(pages)
    return out, run_sinks(out, pages, TWO_WORKER_PROCESSES, reshuffle=True)


@pytest.fixture(scope="module")
def train_only_run(tmp_path_factory, split_pages):
    """No validation pages; 500 buckets for ~270 train pages (many empty buckets, which
    must be dropped); stale files from an 'earlier run' seeded beforehand."""
    out = tmp_path_factory.mktemp("train_only")
    stale = [
        Path(dataset_dir(out)) / "c4-validation.tfrecord-00000-of-00001",
        Path(dataset_dir(out)) / "c4-train.tfrecord-00007-of-00999",
        Path(dataset_dir(out)) / f"c4-train.tfrecord-00000-of-00001{INCOMPLETE_MARK}abc",
        out / "jsonl" / "c4-validation.00000-of-00008.json.gz",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"stale")
    unrelated = out / "jsonl" / "README.txt"
    unrelated.write_text("not ours")
    train_pages = [(split, page) for split, page in split_pages if split == "train"]
    summaries = run_sinks(
        out,
        train_pages,
        IN_PROCESS,
        tfds_kwargs={"target_shard_bytes": None, "num_shards": {"train": 500}},
        jsonl_kwargs={"target_shard_bytes": None},  # TFDS's rule: 1 shard for so little data
    )
    return out, summaries, train_pages, stale, unrelated


# --------------------------------------------------------------------------- TFDS dataset


def test_every_example_written_once_in_its_split(base_run, split_pages):
    out, summaries = base_run
    expected = expected_by_split(split_pages)
    for split in ["train", "validation"]:
        examples = tfrecord_examples(out, split)
        assert canonical(examples) == expected[split]
        summary = summaries[("tfrecord", split)]
        files = tfds_metadata.tfds_split_files(dataset_dir(out), split)
        assert summary["files"] == files
        assert summary["num_examples"] == len(examples)
        assert summary["shard_lengths"] == [sum(1 for _ in tfrecord.iter_tfrecords(f)) for f in files]
        assert summary["num_bytes"] == sum(len(r) for f in files for r in tfrecord.iter_tfrecords(f))
        assert summary["file_bytes"] == sum(os.path.getsize(f) for f in files)
    assert summaries[("tfrecord", "train")]["num_shards"] > 4
    assert summaries[("tfrecord", "validation")]["num_shards"] >= 1
    names = set(os.listdir(dataset_dir(out)))
    shard_names = {os.path.basename(f) for s in ["train", "validation"] for f in summaries[("tfrecord", s)]["files"]}
    assert names == shard_names | {"dataset_info.json", "features.json"}
    assert "c4-train.tfrecord-00000-of-" in " ".join(sorted(names))


def test_shards_hold_disjoint_key_ranges_sorted_by_tfds_key(base_run):
    out, _ = base_run
    for split in ["train", "validation"]:
        keys = [
            [sharding.shuffle_key(split, ex["url"]) for ex in example.iter_tfrecord_examples(f)]
            for f in tfds_metadata.tfds_split_files(dataset_dir(out), split)
        ]
        flat = [k for shard in keys for k in shard]
        assert flat == sorted(flat)
        assert all(shard for shard in keys)


def test_output_is_byte_identical_across_order_bundles_and_workers(base_run, shuffled_two_process_run):
    (out_a, summaries_a), (out_b, summaries_b) = base_run, shuffled_two_process_run
    hashes_a = {k: v for k, v in file_hashes(out_a).items() if not k.startswith("summaries")}
    hashes_b = {k: v for k, v in file_hashes(out_b).items() if not k.startswith("summaries")}
    assert "tfds/c4/en/3.1.0/dataset_info.json" in hashes_a
    assert hashes_a == hashes_b

    def without_paths(s):
        digests = {Path(path).name: digest for path, digest in s["file_digests"].items()}
        return {**{k: v for k, v in s.items() if k not in ("directory", "files", "file_digests")}, "digests": digests}

    assert {k: without_paths(s) for k, s in summaries_a.items()} == {k: without_paths(s) for k, s in summaries_b.items()}


def test_summaries_give_each_files_size_and_sha256_for_the_manifest(base_run):
    _, summaries = base_run
    listed = {path: digest for s in summaries.values() for path, digest in s["file_digests"].items()}
    assert any(path.endswith("dataset_info.json") for path in listed) and len(listed) > 10
    for path, (size, sha256) in listed.items():
        data = Path(path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256), path


def test_dataset_info_matches_the_registered_c4_builder(base_run, tmp_path):
    import tensorflow_datasets as tfds

    out, summaries = base_run
    info = tfds.builder_from_directory(dataset_dir(out)).info
    assert (info.name, info.config_name, str(info.version)) == ("c4", "en", "3.1.0")
    assert info.file_format.value == "tfrecord"
    for split in ["train", "validation"]:
        assert info.splits[split].shard_lengths == summaries[("tfrecord", split)]["shard_lengths"]
        assert info.splits[split].num_bytes == summaries[("tfrecord", split)]["num_bytes"]
    registered = tfds.builder("c4/en:3.1.0", data_dir=str(tmp_path / "nothing_here")).info
    for field in ["description", "citation", "homepage", "config_description", "module_name"]:
        assert getattr(info, field) == getattr(registered, field), field
    assert info.features.to_json() == registered.features.to_json()


def test_dataset_info_equals_what_tfds_write_metadata_writes(base_run, tmp_path):
    """tfds.folder_dataset.write_metadata on a copy of the shards, given the same split
    infos, writes the same JSON except the fields it cannot know (config, module)."""
    import tensorflow_datasets as tfds

    out, summaries = base_run
    copy = tmp_path / "c4" / "3.1.0"
    shutil.copytree(dataset_dir(out), copy, ignore=shutil.ignore_patterns("*.json"))
    split_infos = [
        tfds.core.SplitInfo(
            name=split,
            shard_lengths=summaries[("tfrecord", split)]["shard_lengths"],
            num_bytes=summaries[("tfrecord", split)]["num_bytes"],
            filename_template=None,
        )
        for split in ["train", "validation"]
    ]
    tfds.folder_dataset.write_metadata(
        data_dir=copy,
        features=tfds.features.FeaturesDict({name: tfds.features.Text() for name in example.FEATURE_NAMES}),
        split_infos=split_infos,
        check_data=False,
        description=tfds_metadata.C4_DESCRIPTION,
        citation=tfds_metadata.C4_CITATION,
        homepage=tfds_metadata.C4_HOMEPAGE,
    )
    ours = json.loads(Path(dataset_dir(out), "dataset_info.json").read_text())
    theirs = json.loads((copy / "dataset_info.json").read_text())
    only_ours = {"configName", "configDescription", "moduleName"}
    assert {k: v for k, v in ours.items() if k not in only_ours} == theirs
    assert Path(dataset_dir(out), "features.json").read_bytes() == (copy / "features.json").read_bytes()


def test_metadata_is_written_without_tensorflow(tmp_path):
    script = textwrap.dedent(
        f"""
        import importlib.machinery, json, sys

        class PathFinderWithoutTensorFlow(importlib.machinery.PathFinder):  # as if TF were not installed
            @classmethod
            def find_spec(cls, name, path=None, target=None):
                if name.split(".")[0] == "tensorflow":
                    return None
                return importlib.machinery.PathFinder.find_spec(name, path, target)

        sys.meta_path = [
            PathFinderWithoutTensorFlow if f is importlib.machinery.PathFinder else f for f in sys.meta_path
        ]
        from c4forge.corpus.tfds_metadata import TfdsMetadata
        from c4forge.pipeline import sinks
        sinks.write_tfds_metadata({str(tmp_path)!r}, TfdsMetadata(config_description="English C4 dataset."),
                                  {{"train": ([2, 3], 100), "validation": ([], 0)}})
        info = json.load(open({str(tmp_path / "dataset_info.json")!r}))
        assert [s["name"] for s in info["splits"]] == ["train"], info["splits"]
        assert info["splits"][0]["shardLengths"] == ["2", "3"]
        assert "tensorflow" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["dataset_info.json", "features.json"]


def test_tensorflow_reads_the_dataset_both_ways(base_run, split_pages):
    pytest.importorskip("tensorflow")
    import tensorflow_datasets as tfds

    out, _ = base_run
    expected = expected_by_split(split_pages)
    for split in ["train", "validation"]:
        from_dir = tfds.builder_from_directory(dataset_dir(out)).as_dataset(split=split)
        from_load = tfds.load("c4/en:3.1.0", data_dir=str(out / "tfds"), download=False, split=split)
        got_dir = [{k: v.numpy() for k, v in ex.items()} for ex in from_dir]
        got_load = [{k: v.numpy() for k, v in ex.items()} for ex in from_load]
        assert got_dir == got_load
        # tfds interleaves up to 16 shards while reading, so compare as sets.
        want = [{k: v.encode() for k, v in ex.items()} for ex in expected[split]]
        assert canonical(got_dir) == want


def test_example_bytes_equal_tfds_serializer(split_pages):
    pytest.importorskip("tensorflow")
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import example_serializer

    features = tfds.features.FeaturesDict({name: tfds.features.Text() for name in example.FEATURE_NAMES})
    serializer = example_serializer.ExampleSerializer(features.get_serialized_info())
    for _, page in split_pages[:20]:
        tfds_example = serializer.get_tf_example(features.encode_example(page.to_example()))
        assert tfds_example.SerializeToString(deterministic=True) == example.example_bytes(page)


# --------------------------------------------------------------------------- JSONL


def test_jsonl_layout_and_content(base_run, split_pages):
    out, summaries = base_run
    expected = expected_by_split(split_pages)
    name_re = re.compile(r"c4-(train|validation)\.(\d{5})-of-(\d{5})\.json\.gz")
    assert all(name_re.fullmatch(p.name) for p in (out / "jsonl").iterdir())
    for split in ["train", "validation"]:
        files = jsonl_files(out, split)
        summary = summaries[("jsonl", split)]
        assert [Path(f).name for f in summary["files"]] == [p.name for p in files]
        assert [int(name_re.fullmatch(p.name).group(2)) for p in files] == list(range(len(files)))
        assert {int(name_re.fullmatch(p.name).group(3)) for p in files} == {len(files)}
        rows = []
        for path in files:
            raw = path.read_bytes()
            assert raw[:3] == b"\x1f\x8b\x08" and raw[3] & 0x08 == 0  # gzip, no file name
            assert raw[4:8] == b"\0\0\0\0"  # mtime 0
            data = gzip.decompress(raw)
            if split == "train":
                assert "é".encode() in data or "日本語".encode() in data  # ensure_ascii=False
            for line in data.decode().splitlines():
                assert [k for k, _ in json.loads(line, object_pairs_hook=list)] == ["text", "timestamp", "url"]
            rows.extend(jsonl.iter_jsonl(str(path)))
        assert summary["num_examples"] == len(rows) and summary["num_shards"] == len(files)
        # Same global order as the TFRecords (both sorted by the TFDS shuffle key).
        assert [r["url"] for r in rows] == [ex["url"] for ex in tfrecord_examples(out, split)]
        assert canonical(rows) == [{k: ex[k] for k in ("text", "timestamp", "url")} for ex in expected[split]]
    assert summaries[("jsonl", "train")]["num_shards"] > 2


# --------------------------------------------------------------------------- empty split


def test_empty_validation_split(train_only_run):
    import tensorflow_datasets as tfds

    out, summaries, train_pages, stale, unrelated = train_only_run
    for fmt in ["tfrecord", "jsonl"]:
        s = summaries[(fmt, "validation")]
        assert (s["num_examples"], s["num_shards"], s["files"], s["shard_lengths"]) == (0, 0, [], [])
    assert not any(path.exists() for path in stale)
    assert unrelated.exists()
    assert jsonl_files(out, "validation") == []
    assert tfds_metadata.tfds_split_files(dataset_dir(out), "validation") == []
    info = tfds.builder_from_directory(dataset_dir(out)).info
    assert list(info.splits) == ["train"]

    # 500 buckets for fewer examples: empty buckets dropped, the rest numbered 0..n-1.
    keys = sorted(sharding.shuffle_key("train", page.url) for _, page in train_pages)
    non_empty = {sharding.bucket_of(k, 500, keys[-1]) for k in keys}
    train = summaries[("tfrecord", "train")]
    assert train["num_shards"] == len(non_empty) < 500
    assert sum(train["shard_lengths"]) == len(train_pages) and min(train["shard_lengths"]) > 0
    assert canonical(tfrecord_examples(out, "train")) == canonical(p.to_example() for _, p in train_pages)
    assert summaries[("jsonl", "train")]["num_shards"] == 1
    assert len(list(jsonl.iter_jsonl(str(jsonl_files(out, "train")[0])))) == len(train_pages)


def test_tensorflow_reads_train_when_validation_is_empty(train_only_run):
    pytest.importorskip("tensorflow")
    import tensorflow_datasets as tfds

    out, _, train_pages, _, _ = train_only_run
    ds = tfds.load("c4/en:3.1.0", data_dir=str(out / "tfds"), download=False, split="train")
    assert sum(1 for _ in ds) == len(train_pages)
    assert set(tfds.load("c4/en:3.1.0", data_dir=str(out / "tfds"), download=False)) == {"train"}
