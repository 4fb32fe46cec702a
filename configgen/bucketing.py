"""Percentage rollout buckets: the one bucketing function of ConfigGen.

Two schemes, both flagd's ``fractional`` operation with its default bucketing value, chosen
with ``[tool.configgen] bucketing`` (docs/flags.md, "Rollout buckets"):

``flagd-v3`` (the default)
    The hashed bytes are the canonical CBOR encoding of the array ``[flag_key,
    targeting_key]``; the bucket is ``(murmur3_32(bytes) * 100_000) >> 32``. An empty
    targeting key has no bucket (flagd then serves the default variant).

``flagd-v2``
    The hashed bytes are the UTF-8 of ``flag_key + targeting_key``; the bucket is
    ``(murmur3_32(bytes) * 100_000) >> 32``; an empty targeting key has a bucket.

MurmurHash3 is x86, 32 bits, seed 0, unsigned. Buckets run ``0 .. 99_999``, thousandths of a
percent, and a key is in a rollout of ``p`` percent when its bucket is below ``round(p *
1000)``, so raising ``p`` only ever adds keys. In flagd this is ``fractional`` with two
variants weighted ``round(p * 1000)`` and ``100_000 - round(p * 1000)``. The generated
``configgen_flags.py`` carries a copy of the chosen scheme's functions (it imports only the
standard library); the tests check that the copies agree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Literal

Scheme = Literal["flagd-v3", "flagd-v2"]
SCHEMES: tuple[Scheme, ...] = ("flagd-v3", "flagd-v2")
DEFAULT_SCHEME: Scheme = "flagd-v3"

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


def cbor_pair(first: str, second: str) -> bytes:
    """The canonical CBOR encoding of the array ``[first, second]`` of two text strings."""
    out = bytearray(b"\x82")  # an array (major type 4) of two items
    for text in (first, second):
        data = text.encode("utf-8")
        size = len(data)
        if size < 24:
            out.append(0x60 | size)  # a text string (major type 3), length in the head
        elif size < 0x100:
            out += b"\x78" + size.to_bytes(1, "big")
        elif size < 0x10000:
            out += b"\x79" + size.to_bytes(2, "big")
        elif size < 0x100000000:
            out += b"\x7a" + size.to_bytes(4, "big")
        else:
            out += b"\x7b" + size.to_bytes(8, "big")
        out += data
    return bytes(out)


def bucket(flag_key: str, targeting_key: str) -> int:
    """The ``flagd-v3`` bucket, ``0 .. 99_999``, of *targeting_key* for the flag *flag_key*."""
    digest = murmur3_32(cbor_pair(flag_key, targeting_key))
    return (digest * RESOLUTION) >> 32


def in_rollout(flag_key: str, targeting_key: str | None, percentage: float) -> bool:
    """Whether *targeting_key* is among the first *percentage* percent of keys for the flag
    (``flagd-v3``).

    No targeting key, or an empty one, is in no rollout, unless the rollout is 100 percent.
    """
    if percentage >= 100:
        return True
    if not targeting_key or percentage <= 0:
        return False
    return bucket(flag_key, targeting_key) < round(percentage * 1000)


def bucket_v2(flag_key: str, targeting_key: str) -> int:
    """The ``flagd-v2`` bucket, ``0 .. 99_999``, of *targeting_key* for the flag *flag_key*."""
    digest = murmur3_32((flag_key + targeting_key).encode("utf-8"))
    return (digest * RESOLUTION) >> 32


def in_rollout_v2(flag_key: str, targeting_key: str | None, percentage: float) -> bool:
    """Whether *targeting_key* is among the first *percentage* percent of keys for the flag
    (``flagd-v2``).

    No targeting key is in no rollout, unless the rollout is 100 percent.
    """
    if percentage >= 100:
        return True
    if targeting_key is None or percentage <= 0:
        return False
    return bucket_v2(flag_key, targeting_key) < round(percentage * 1000)


def bucket_for(scheme: Scheme, flag_key: str, targeting_key: str) -> int | None:
    """The bucket of *targeting_key* under *scheme*; None for a key that has none."""
    if scheme == "flagd-v2":
        return bucket_v2(flag_key, targeting_key)
    return bucket(flag_key, targeting_key) if targeting_key else None


def rollout_for(scheme: Scheme) -> Callable[[str, str | None, float], bool]:
    """The ``in_rollout`` function of *scheme*."""
    return in_rollout_v2 if scheme == "flagd-v2" else in_rollout
