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


def example_bytes(page: Any) -> bytes:
    """A serialized tf.train.Example, each feature a one-value bytes_list of UTF-8 (as
    ``tfds.features.Text`` encodes it). Deterministic serialization sorts the feature map,
    so the bytes never depend on the protobuf runtime's map order."""
    from tensorflow_datasets.proto import tf_example_pb2, tf_feature_pb2

    features = example_features(page)
    feature_map = {
        name: tf_feature_pb2.Feature(
            bytes_list=tf_feature_pb2.BytesList(value=[features[name].encode("utf-8")])
        )
        for name in FEATURE_NAMES
    }
    example = tf_example_pb2.Example(features=tf_feature_pb2.Features(feature=feature_map))
    return example.SerializeToString(deterministic=True)


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
