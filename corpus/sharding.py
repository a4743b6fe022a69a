"""Which shard an example goes to: the scheme TFDS's ``BeamWriter`` uses when it builds ``c4``.

- each example gets a 128-bit shuffle key ``md5(split_name + url)`` (TFDS's ``Hasher``, with
  the split as salt);
- shard = ``floor(key * num_buckets / largest_key_of_the_split)``; empty buckets are dropped
  and the others renumbered without gaps;
- inside a shard, records are sorted by key (then by record bytes, so duplicate URLs too
  have a fixed order).

Nothing depends on arrival order, bundles, retries or the number of workers, so the output
is byte-identical between runs and runners. The number of buckets comes from the data: a
fixed ``num_shards``, or ``target_shard_bytes``, or by default TFDS's own rule
(``ShardConfig``: 1024 shards for the full c4/en train split, 8 for validation). With the
default rule and the same examples, the example-to-shard mapping and the order within
shards are those of ``tfds build c4/en``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import Mapping, Optional, Union

NumShards = Union[None, int, Mapping[str, int]]


def shuffle_key(split: str, url: str) -> bytes:
    """TFDS's ``Hasher(salt=split).hash_key(url)`` as 16 big-endian bytes (byte order equals
    integer order, and bytes travel through Beam coders without 128-bit ints)."""
    # tfds.core.hashing._to_bytes normalizes backslashes in str keys (a Windows path habit).
    return hashlib.md5(split.encode("utf-8") + url.replace("\\", "/").encode("utf-8")).digest()


def bucket_of(key: bytes, num_buckets: int, largest_key: bytes) -> int:
    """TFDS's ``shuffle.get_bucket_number``: floor(key * n / largest), capped at n - 1.
    The same float expression as TFDS, so boundary cases fall the same way."""
    hkey = int.from_bytes(key, "big")
    max_hkey = int.from_bytes(largest_key, "big") or 2**128
    return min(math.trunc((hkey * num_buckets) / max_hkey), num_buckets - 1)


@dataclasses.dataclass(frozen=True)
class Sharding:
    """How many buckets a split is cut into (empty buckets are then dropped).

    num_shards: a fixed count, or one per split ({"train": 1024, "validation": 8}).
    target_shard_bytes: about this many file bytes per shard.
    Neither: TFDS's rule (``ShardConfig.calculate_number_shards``, imprecise sharding),
    which gives c4/en's 1024 train / 8 validation shards.
    """

    num_shards: NumShards = None
    target_shard_bytes: Optional[int] = None

    def __post_init__(self):
        if self.num_shards is not None and self.target_shard_bytes is not None:
            raise ValueError("give num_shards or target_shard_bytes, not both")
        if self.target_shard_bytes is not None and self.target_shard_bytes <= 0:
            raise ValueError("target_shard_bytes must be positive")

    def fixed_count(self, split: str) -> Optional[int]:
        if isinstance(self.num_shards, Mapping):
            return self.num_shards.get(split)
        return self.num_shards

    def number_of_buckets(self, split: str, num_examples: int, total_bytes: int, overhead_bytes: int) -> int:
        fixed = self.fixed_count(split)
        if fixed is not None:
            if fixed < 1:
                raise ValueError(f"num_shards for {split!r} must be at least 1, got {fixed}")
            return fixed
        if self.target_shard_bytes is not None:
            file_bytes = total_bytes + overhead_bytes * num_examples
            return max(1, min(num_examples, math.ceil(file_bytes / self.target_shard_bytes)))
        return tfds_number_of_shards(num_examples, total_bytes)


def tfds_number_of_shards(num_examples: int, total_bytes: int) -> int:
    """What TFDS's BeamWriter picks for a split of this many serialized bytes."""
    from tensorflow_datasets.core.utils.shard_utils import ShardConfig

    return ShardConfig.calculate_number_shards(
        total_size=total_bytes, num_examples=num_examples, uses_precise_sharding=False
    )
