"""Percentage rollout buckets: the one bucketing function of ConfigGen.

A targeting key's bucket for a flag is ``murmur3_32(flag_key + targeting_key)`` (MurmurHash3
x86, 32 bits, seed 0, over the UTF-8 bytes) scaled to ``0 .. 99_999`` as
``(hash * 100_000) >> 32``: thousandths of a percent. A key is in a rollout of ``p`` percent
when its bucket is below ``round(p * 1000)``, so raising ``p`` only ever adds keys.

This is flagd's ``fractional`` operation with the default bucketing value (flag key, then
targeting key) and two variants weighted ``p * 1000`` and ``100_000 - p * 1000``: a rollout
moved to flagd keeps the same users. The generated ``configgen_flags.py`` carries a copy of
`murmur3_32` and `bucket` (it imports only the standard library); the tests check that the
two agree.
"""

from __future__ import annotations

import struct

RESOLUTION = 100_000
"""Buckets per 100 percent: one bucket is 0.001 percent."""


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of *data*, as an unsigned int."""
    h = seed
    end = len(data) & ~3
    for (k,) in struct.iter_unpack("<I", data[:end]):
        k = (k * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    if len(data) & 3:
        k = (int.from_bytes(data[end:], "little") * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
    h ^= len(data)
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def bucket(flag_key: str, targeting_key: str) -> int:
    """The bucket, ``0 .. 99_999``, of *targeting_key* for the flag *flag_key*."""
    digest = murmur3_32((flag_key + targeting_key).encode("utf-8"))
    return (digest * RESOLUTION) >> 32


def in_rollout(flag_key: str, targeting_key: str | None, percentage: float) -> bool:
    """Whether *targeting_key* is among the first *percentage* percent of keys for the flag.

    No targeting key is in no rollout, unless the rollout is 100 percent.
    """
    if percentage >= 100:
        return True
    if targeting_key is None or percentage <= 0:
        return False
    return bucket(flag_key, targeting_key) < round(percentage * 1000)
