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
``configgen_flags.py`` carries a copy of `Rollout` and the functions it uses (it imports only
the standard library); the tests check that the copies agree.

`Rollout` is the hot path: the flag's part of the hashed bytes is encoded, and its whole
4-byte blocks mixed, once per flag; buckets of targeting keys already seen are remembered (up
to 65,536 per flag, then forgotten at once); and when the ``mmh3`` package is importable and
gives the same hashes, its C MurmurHash3 is used in place of the pure-Python one. Both give the
same buckets (tested against the same vectors).
"""

from __future__ import annotations

import importlib
import struct
from collections.abc import Callable
from typing import Literal

Scheme = Literal["flagd-v3", "flagd-v2"]
SCHEMES: tuple[Scheme, ...] = ("flagd-v3", "flagd-v2")
DEFAULT_SCHEME: Scheme = "flagd-v3"

RESOLUTION = 100_000
"""Buckets per 100 percent: one bucket is 0.001 percent."""

EVERYONE = 100_001
"""The threshold of a rollout of 100 percent: every context, with a targeting key or not."""


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit of *data*, as an unsigned int."""
    whole = len(data) & ~3
    return _murmur3_finish(_murmur3_mix(seed, data[:whole]), data[whole:], len(data))


def _murmur3_mix(h: int, blocks: bytes) -> int:
    """MurmurHash3's state *h* after mixing in *blocks*, whole 4-byte blocks."""
    for (k,) in struct.iter_unpack("<I", blocks):
        k = (k * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    return h


def _murmur3_finish(h: int, tail: bytes, length: int) -> int:
    """MurmurHash3 from state *h*: the last 0 to 3 bytes *tail*, then the final mix of a
    hash of *length* bytes in all."""
    if tail:
        k = (int.from_bytes(tail, "little") * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
    h ^= length
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _c_murmur3() -> Callable[[bytes, int, bool], int] | None:
    """The ``mmh3`` package's MurmurHash3 when it is importable and agrees with ours."""
    try:
        hash32: Callable[[bytes, int, bool], int] = importlib.import_module("mmh3").hash
        agrees = hash32(b"configgen", 0, False) == murmur3_32(b"configgen")
    except (ImportError, AttributeError, TypeError, ValueError):  # none, or another API
        return None
    return hash32 if agrees else None


_C_MURMUR3 = _c_murmur3()


def cbor_text(text: str) -> bytes:
    """The canonical CBOR encoding of the text string *text* (major type 3)."""
    data = text.encode("utf-8")
    size = len(data)
    if size < 24:
        return bytes((0x60 | size,)) + data  # the length in the head
    if size < 0x100:
        return b"\x78" + size.to_bytes(1, "big") + data
    if size < 0x10000:
        return b"\x79" + size.to_bytes(2, "big") + data
    if size < 0x100000000:
        return b"\x7a" + size.to_bytes(4, "big") + data
    return b"\x7b" + size.to_bytes(8, "big") + data


def _utf8(text: str) -> bytes:
    return text.encode("utf-8")


def threshold(percentage: float) -> int:
    """The buckets below which a key is in a rollout of *percentage*: ``round(percentage *
    1000)``, or `EVERYONE` from 100 percent on."""
    return EVERYONE if percentage >= 100 else max(round(percentage * 1000), 0)


class Rollout:
    """The buckets of one flag's targeting keys, under a bucketing scheme.

    ``flagd-v3`` hashes the canonical CBOR of ``[flag_key, targeting_key]`` and gives an
    empty targeting key no bucket; ``flagd-v2`` hashes the UTF-8 of ``flag_key +
    targeting_key``. Either way no targeting key has no bucket.
    """

    __slots__ = ("_buckets", "_encode", "_head", "_keyless", "_rest", "_state")

    def __init__(self, flag_key: str, scheme: str = "flagd-v3") -> None:
        v2 = scheme == "flagd-v2"
        self._encode = _utf8 if v2 else cbor_text
        self._head = self._encode(flag_key) if v2 else b"\x82" + cbor_text(flag_key)
        self._keyless = frozenset(() if v2 else ("",))  # the keys with no bucket
        whole = len(self._head) & ~3
        self._state = _murmur3_mix(0, self._head[:whole])  # the flag's part, mixed once
        self._rest = self._head[whole:]
        self._buckets: dict[str, int] = {}

    def bucket(self, targeting_key: str) -> int:
        """The bucket, ``0 .. 99_999``, of *targeting_key*, which must have one."""
        found = self._buckets.get(targeting_key)
        if found is None:
            tail = self._encode(targeting_key)
            if _C_MURMUR3 is not None:
                digest = _C_MURMUR3(self._head + tail, 0, False)
            else:
                data = self._rest + tail
                whole = len(data) & ~3
                state = _murmur3_mix(self._state, data[:whole])
                length = len(self._head) + len(tail)
                digest = _murmur3_finish(state, data[whole:], length)
            found = (digest * 100_000) >> 32
            if len(targeting_key) <= 256:  # long keys are not kept: memory
                if len(self._buckets) >= 65_536:  # all forgotten: cheaper than an LRU
                    self._buckets.clear()
                self._buckets[targeting_key] = found
        return found

    def includes(self, targeting_key: str | None, limit: int) -> bool:
        """Whether *targeting_key* is in the rollout whose `threshold` is *limit*."""
        if limit > 100_000:
            return True
        if limit <= 0 or targeting_key is None or targeting_key in self._keyless:
            return False
        return self.bucket(targeting_key) < limit


_rollouts: dict[tuple[str, str], Rollout] = {}


def _rollout(flag_key: str, scheme: Scheme) -> Rollout:
    found = _rollouts.get((flag_key, scheme))
    if found is None:
        if len(_rollouts) >= 4096:
            _rollouts.clear()
        found = _rollouts[flag_key, scheme] = Rollout(flag_key, scheme)
    return found


def cbor_pair(first: str, second: str) -> bytes:
    """The canonical CBOR encoding of the array ``[first, second]`` of two text strings."""
    return b"\x82" + cbor_text(first) + cbor_text(second)


def bucket(flag_key: str, targeting_key: str) -> int:
    """The ``flagd-v3`` bucket, ``0 .. 99_999``, of *targeting_key* for the flag *flag_key*."""
    return (murmur3_32(cbor_pair(flag_key, targeting_key)) * RESOLUTION) >> 32


def in_rollout(flag_key: str, targeting_key: str | None, percentage: float) -> bool:
    """Whether *targeting_key* is among the first *percentage* percent of keys for the flag
    (``flagd-v3``).

    No targeting key, or an empty one, is in no rollout, unless the rollout is 100 percent.
    """
    return _rollout(flag_key, "flagd-v3").includes(targeting_key, threshold(percentage))


def bucket_v2(flag_key: str, targeting_key: str) -> int:
    """The ``flagd-v2`` bucket, ``0 .. 99_999``, of *targeting_key* for the flag *flag_key*."""
    return (murmur3_32((flag_key + targeting_key).encode("utf-8")) * RESOLUTION) >> 32


def in_rollout_v2(flag_key: str, targeting_key: str | None, percentage: float) -> bool:
    """Whether *targeting_key* is among the first *percentage* percent of keys for the flag
    (``flagd-v2``).

    No targeting key is in no rollout, unless the rollout is 100 percent.
    """
    return _rollout(flag_key, "flagd-v2").includes(targeting_key, threshold(percentage))


def bucket_for(scheme: Scheme, flag_key: str, targeting_key: str) -> int | None:
    """The bucket of *targeting_key* under *scheme*; None for a key that has none."""
    if scheme == "flagd-v2":
        return bucket_v2(flag_key, targeting_key)
    return bucket(flag_key, targeting_key) if targeting_key else None


def rollout_for(scheme: Scheme) -> Callable[[str, str | None, float], bool]:
    """The ``in_rollout`` function of *scheme*."""
    return in_rollout_v2 if scheme == "flagd-v2" else in_rollout
