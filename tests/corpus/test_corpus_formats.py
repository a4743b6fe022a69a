"""The corpus's record bytes and sharding math, against Beam's and TFDS's own: TFRecord framing
and reading, tf.train.Example and JSONL lines, TFDS's shuffle key, buckets and shard counts."""

from __future__ import annotations

import io
import random

import pytest

from c4forge.cleaning_rules.page import Page
from c4forge.corpus import example, jsonl, sharding, tfrecord


# --------------------------------------------------------------------------- records


def test_tfrecord_framing_equals_beams():
    from apache_beam.io.tfrecordio import _TFRecordUtil

    for data in [b"", b"x", bytes(range(256)) * 9]:
        buffer = io.BytesIO()
        _TFRecordUtil.write_record(buffer, data)
        assert tfrecord.frame_tfrecord(data) == buffer.getvalue()
        assert _TFRecordUtil.read_record(io.BytesIO(tfrecord.frame_tfrecord(data))) == data


def test_reader_rejects_corrupt_and_truncated_files(tmp_path):
    records = [b"first record", b"second"]
    good = b"".join(tfrecord.frame_tfrecord(r) for r in records)
    path = tmp_path / "good"
    path.write_bytes(good)
    assert list(tfrecord.iter_tfrecords(str(path))) == records
    for name, content in [
        ("bad_data_crc", good[:14] + b"X" + good[15:]),
        ("bad_length_crc", good[:8] + b"\0\0\0\0" + good[12:]),
        ("truncated", good[:-3]),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError):
            list(tfrecord.iter_tfrecords(str(bad)))


def test_example_parses_back_to_the_page_features():
    page = Page(url="https://site3.example.com/path/3?q=93", text="naïve café line 0 of page 3.\nemoji 🎉 ok",
                timestamp="2019-04-04T12:03:54Z", content_type="text/plain", content_length="62")
    assert example.parse_example(example.example_bytes(page)) == page.to_example()


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 2_097_152])
def test_example_bytes_equal_protobufs_deterministic_serialization(size):
    """The hand-written encoding against protobuf's own, across varint length boundaries
    (1, 2, 3 and 4 bytes) and non-ASCII text; the real pages are compared in test_sinks."""
    from tensorflow_datasets.proto import tf_example_pb2, tf_feature_pb2

    rng = random.Random(size)
    features = {name: "".join(rng.choice("aé🎉\n ") for _ in range(size)) for name in example.FEATURE_NAMES}
    features["url"] = "https://a.example/" + "x" * (size // 3)
    expected = tf_example_pb2.Example(features=tf_feature_pb2.Features(feature={
        name: tf_feature_pb2.Feature(bytes_list=tf_feature_pb2.BytesList(value=[value.encode("utf-8")]))
        for name, value in features.items()}))
    assert example.example_bytes(features) == expected.SerializeToString(deterministic=True)
    assert example.parse_example(example.example_bytes(features)) == features


def test_jsonl_line_format():
    page = Page(url="https://a.example/é", text='a "b"\nc 🎉', timestamp="2019-04-25T12:57:54Z")
    line = jsonl.jsonl_line(page)
    assert line == '{"text":"a \\"b\\"\\nc 🎉","timestamp":"2019-04-25T12:57:54Z","url":"https://a.example/é"}\n'.encode()
    assert b"\\u" in jsonl.jsonl_line(page, ensure_ascii=True)


# --------------------------------------------------------------------------- sharding


def test_shuffle_key_and_bucket_equal_tfds():
    from tensorflow_datasets.core import hashing, shuffle

    rng = random.Random(0)
    for split in ["train", "validation"]:
        for url in ["https://a.example/x", "http://b.example/ü?q=1", "file:\\\\c\\d", ""]:
            assert int.from_bytes(sharding.shuffle_key(split, url), "big") == hashing.Hasher(split).hash_key(url)
    for _ in range(2000):
        largest = rng.getrandbits(128)
        key = rng.choice([largest, 0, rng.randrange(largest + 1)])
        n = rng.choice([1, 2, 7, 1024, 4096])
        as_bytes = [k.to_bytes(16, "big") for k in (key, largest)]
        assert sharding.bucket_of(*as_bytes[:1], n, as_bytes[1]) == shuffle.get_bucket_number(key, n, largest)


def test_number_of_buckets():
    default = sharding.Sharding()
    # c4/en 3.1.0 sizes: TFDS's rule gives the 1024/8 shards of the published dataset.
    assert default.number_of_buckets("train", 364_868_892, 828_589_180_707, 16) == 1024
    assert default.number_of_buckets("validation", 364_608, 825_000_000, 16) == 8
    assert default.number_of_buckets("train", 10, 1000, 16) == 1
    by_size = sharding.Sharding(target_shard_bytes=1000)
    assert by_size.number_of_buckets("train", 10, 2000, 16) == 3  # (2000 + 160) / 1000
    assert by_size.number_of_buckets("train", 2, 10**9, 16) == 2  # never more buckets than examples
    fixed = sharding.Sharding(num_shards={"train": 1024, "validation": 8})
    assert fixed.number_of_buckets("validation", 5, 10, 16) == 8
    assert sharding.Sharding(num_shards=4).number_of_buckets("train", 5, 10, 16) == 4
    with pytest.raises(ValueError):
        sharding.Sharding(num_shards=4, target_shard_bytes=10)


# --------------------------------------------------------------------------- manifest


def test_a_file_read_whole_must_have_the_manifests_size_and_sha256(tmp_path):
    import hashlib

    from c4forge.corpus.manifest import CorpusError, FileEntry, VerifyingReader

    path = tmp_path / "shard"
    path.write_bytes(b"0123456789" * 100)
    entry = FileEntry(1000, hashlib.sha256(path.read_bytes()).hexdigest())
    with VerifyingReader(open(path, "rb"), entry, str(path)) as f:
        while f.read(64):
            pass
    path.write_bytes(b"0123456789" * 99 + b"012345678X")  # same size, one byte changed
    with VerifyingReader(open(path, "rb"), entry, str(path)) as f, pytest.raises(CorpusError, match="manifest"):
        while f.read(64):
            pass
    with VerifyingReader(open(path, "rb"), entry, str(path)) as f:
        f.read(10)  # a reader that stops early checks nothing


def test_manifest_round_trip_and_refusals():
    from c4forge.corpus.manifest import CorpusError, Dataset, FileEntry, Manifest

    manifest = Manifest("run", "2026-12-03 08:00 UTC", "c4-en-3.1.0",
                        (Dataset("jsonl", "en", {"train": (3, ("c4-train.00000-of-00001.json.gz",)),
                                                 "validation": (0, ())}),),
                        {"en/c4-train.00000-of-00001.json.gz": FileEntry(10, "ab" * 32)})
    again = Manifest.from_json(manifest.to_json(), "m")
    assert again == manifest and again.dataset("en").shard_paths("train") == ["en/c4-train.00000-of-00001.json.gz"]
    assert again.dataset("en").shard_paths("validation") == [] and again.dataset("c4/en/3.1.0") is None
    with pytest.raises(CorpusError, match="not a readable c4forge manifest"):
        Manifest.from_json(b"{", "m")
    with pytest.raises(CorpusError, match="version"):
        Manifest.from_json(manifest.to_json().replace(b'"c4forge_manifest": 1', b'"c4forge_manifest": 9'), "m")
