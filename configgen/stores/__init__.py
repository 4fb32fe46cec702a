"""Flag stores backed by real servers: ``from configgen.stores import EtcdStore, RedisStore``.

Each satisfies the generated ``FlagStore`` protocol (``get`` and ``watch``): getters read a
local snapshot, and a background thread keeps it current, reconnecting and resyncing after
any outage. Their clients are optional dependencies, imported when a store is created:
``pip install 'python-configgen[etcd]'`` or ``'python-configgen[redis]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from configgen.stores._etcd import EtcdStore
    from configgen.stores._redis import RedisStore

__all__ = ["EtcdStore", "RedisStore", "encode_value", "open_store"]


def __getattr__(name: str) -> Any:
    if name == "EtcdStore":
        from configgen.stores._etcd import EtcdStore

        return EtcdStore
    if name == "RedisStore":
        from configgen.stores._redis import RedisStore

        return RedisStore
    if name in ("encode_value", "open_store"):
        from configgen.stores import _common

        return getattr(_common, name)
    raise AttributeError(f"module 'configgen.stores' has no attribute {name!r}")
