"""Stateless randomness: every random choice is a hash of stable integers.

Why not ``np.random``: a mask or an order must depend only on (seed, epoch, example index),
never on which process or worker draws it, how batches are cut, or whether the run was
restarted. SplitMix64 (Steele et al. 2014) is a counter-based generator: output i of the stream
keyed by k is ``mix64(k + (i + 1) * GOLDEN)``, so any element can be computed directly and a
whole (rows, n) block of streams is a handful of vectorized uint64 operations.
"""

from __future__ import annotations

import hashlib

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
MASK64 = (1 << 64) - 1


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer (a bijection on uint64 with good avalanche); wraps mod 2^64.
    Works on a copy, in place (half the time of fresh temporaries on a 128 x 566 block)."""
    x = np.array(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return x


def tag(name: str) -> int:
    """A fixed 64-bit constant for a purpose name, so streams for different purposes differ."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def fold_keys(key: int, parts: np.ndarray) -> np.ndarray:
    """One mixing step per element: ``mix64(((key ^ part) + GOLDEN) mod 2^64)``, vectorized."""
    parts = np.asarray(parts).astype(np.uint64)
    with np.errstate(over="ignore"):
        return mix64((np.uint64(key & MASK64) ^ parts) + GOLDEN)


def derive_key(*parts: int) -> int:
    """One 64-bit key from a sequence of integers (order matters): ``fold_keys`` applied left to
    right from 0, so ``fold_keys(derive_key(a, b), ids)[i] == derive_key(a, b, ids[i])``."""
    key = 0
    for part in parts:
        key = int(fold_keys(key, np.uint64(int(part) & MASK64)))
    return key


def hash_stream(keys: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """(rows, length) uint64: elements ``offset .. offset+length-1`` of each row key's stream."""
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1, 1)
    counters = np.arange(offset + 1, offset + length + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        states = keys + counters * GOLDEN
    return mix64(states)


def random_order(key: int, count: int, block: int = 1 << 20) -> np.ndarray:
    """A permutation of ``range(count)`` determined by ``key`` alone (argsort of hashes). The
    hashes are computed a block at a time into one array, so the peak is that array, the argsort's
    result and its merge buffer (about 20 bytes an element), not the stream's temporaries too."""
    hashes = np.empty(count, dtype=np.uint64)
    for first in range(0, count, block):
        last = min(count, first + block)
        hashes[first:last] = hash_stream(np.uint64(key), last - first, offset=first)[0]
    return np.argsort(hashes, kind="stable")


def random_below(keys: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """One integer in ``[0, bound)`` per (already mixed) key; the modulo bias is < bound / 2^64."""
    bounds = np.maximum(np.asarray(bounds).astype(np.uint64), np.uint64(1))
    return (np.asarray(keys, dtype=np.uint64) % bounds).astype(np.int64)
