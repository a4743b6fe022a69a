"""C4 examples as ``tf.train.Example``: the feature names, encoding and parsing.

Records are serialized with ``deterministic=True`` (feature map sorted by name). TFDS's own
serializer does not ask for that, and under protobuf's upb backend the map order of a plain
``SerializeToString()`` changes from process to process, so TFDS's shards are not
byte-reproducible; ours are, and they parse to the same examples.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .opener import Opener, open_local
from .tfrecord import iter_tfrecords

SPLITS = ("train", "validation")
FEATURE_NAMES = ("text", "url", "content-type", "content-length", "timestamp")


def example_features(page: Any) -> dict:
    """The five c4 features of a Page (or of an already built example dict)."""
    return dict(page) if isinstance(page, Mapping) else page.to_example()


# The feature map's entries in deterministic serialization's order (sorted by name).
_SORTED_FEATURE_NAMES = tuple(sorted(FEATURE_NAMES))
# Field 1, length-delimited: every message field on the way down to the value is one
# (Example.features, Features.feature, map entry key, Feature.bytes_list, BytesList.value);
# the map entry's value (the Feature) is field 2.
_FIELD_1, _FIELD_2 = b"\x0a", b"\x12"


_ONE_BYTE_VARINTS = tuple(bytes([n]) for n in range(0x80))  # most lengths in a record


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE_VARINTS[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _map_entry_prefix(name: str) -> bytes:
    key = name.encode("utf-8")
    return _FIELD_1 + _varint(len(key)) + key + _FIELD_2


_MAP_ENTRY_PREFIXES = tuple((name, _map_entry_prefix(name)) for name in _SORTED_FEATURE_NAMES)


def example_bytes(page: Any) -> bytes:
    """A serialized tf.train.Example, each feature a one-value bytes_list of UTF-8 (as
    ``tfds.features.Text`` encodes it), byte for byte what protobuf's
    ``SerializeToString(deterministic=True)`` gives (the map sorted by name, so the bytes
    never depend on the runtime's map order). Written directly: through protobuf's Python
    objects it cost ~90 µs a record, most of the sink's CPU (tests compare both). The
    lengths are computed first, so the text is copied once, into the record."""
    features = example_features(page)
    parts, total = [], 0
    for name, entry_prefix in _MAP_ENTRY_PREFIXES:
        value = features[name].encode("utf-8")
        value_header = _FIELD_1 + _varint(len(value))  # BytesList.value
        bytes_list_header = _FIELD_1 + _varint(len(value_header) + len(value))  # Feature.bytes_list
        feature_size = len(bytes_list_header) + len(value_header) + len(value)
        entry_header = entry_prefix + _varint(feature_size)  # key, then the Feature
        entry_size = len(entry_header) + feature_size
        entry_tag = _FIELD_1 + _varint(entry_size)  # Features.feature
        parts += (entry_tag, entry_header, bytes_list_header, value_header, value)
        total += len(entry_tag) + entry_size
    return b"".join([_FIELD_1, _varint(total), *parts])  # Example.features


def _feature_value(feature):
    kind = feature.WhichOneof("kind")
    if kind == "bytes_list":
        values = [v.decode("utf-8") for v in feature.bytes_list.value]
    elif kind == "int64_list":
        values = list(feature.int64_list.value)
    elif kind == "float_list":
        values = list(feature.float_list.value)
    else:
        values = []
    return values[0] if len(values) == 1 else values


def parse_example(data: bytes) -> dict:
    """A serialized tf.train.Example as {feature: value}: one-value lists unwrapped, bytes
    decoded as UTF-8 (so a c4 example gives five strings)."""
    from tensorflow_datasets.proto import tf_example_pb2  # the proto class only; no TensorFlow

    example = tf_example_pb2.Example.FromString(data)
    return {name: _feature_value(feature) for name, feature in sorted(example.features.feature.items())}


def iter_tfrecord_examples(path: str, opener: Opener = open_local) -> Iterator[dict]:
    """The examples of one TFRecord shard, as dicts of str."""
    for record in iter_tfrecords(path, opener=opener):
        yield parse_example(record)
