"""Flag stores backed by real servers: ``from configgen.stores import EtcdStore, RedisStore``.

Each satisfies the generated ``FlagStore`` protocol (``get`` and ``watch``): getters read a
local snapshot, and a background thread keeps it current, reconnecting and resyncing after
any outage. Operators change values through an editor (``open_editor(url)``: `FileEditor`,
`EtcdEditor`, `RedisEditor`): compare-and-set, with an audit entry in the same store. The
webhook dispatcher keeps its lease, cursor and deliveries in an outbox (``open_outbox(url)``).
Their clients are optional dependencies, imported when a store is created:
``pip install 'python-configgen[etcd]'`` or ``'python-configgen[redis]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from configgen.stores._editors import EtcdEditor, FileEditor, RedisEditor, open_editor
    from configgen.stores._etcd import EtcdStore
    from configgen.stores._outbox import (
        EtcdOutbox,
        FileOutbox,
        OutboxError,
        RedisOutbox,
        open_outbox,
    )
    from configgen.stores._redis import RedisStore

__all__ = [
    "EtcdEditor",
    "EtcdOutbox",
    "EtcdStore",
    "FileEditor",
    "FileOutbox",
    "OutboxError",
    "RedisEditor",
    "RedisOutbox",
    "RedisStore",
    "encode_value",
    "open_editor",
    "open_outbox",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "EtcdStore":
        from configgen.stores._etcd import EtcdStore

        return EtcdStore
    if name == "RedisStore":
        from configgen.stores._redis import RedisStore

        return RedisStore
    if name in ("EtcdEditor", "FileEditor", "RedisEditor", "open_editor"):
        from configgen.stores import _editors

        return getattr(_editors, name)
    if name in ("EtcdOutbox", "FileOutbox", "OutboxError", "RedisOutbox", "open_outbox"):
        from configgen.stores import _outbox

        return getattr(_outbox, name)
    if name in ("encode_value", "open_store"):
        from configgen.stores import _common

        return getattr(_common, name)
    raise AttributeError(f"module 'configgen.stores' has no attribute {name!r}")
