"""RedisStore: flags in one Redis hash, with a pub/sub channel announcing changes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from configgen.stores._common import ServerStore, encode_value, require


class RedisStore(ServerStore):
    """Flag values in the Redis hash ``<service>:flags`` (field: flag key, value: text).

    Changes are announced on the channel ``<service>:flags:changed``: `set` and `delete`
    (and ``configgen flags set``) publish there; the store subscribes, and on a message
    reads the whole hash again (one ``HGETALL``, however many changes came at once). A
    pub/sub channel is used rather than keyspace notifications because it needs no server
    configuration (managed Redis often forbids ``CONFIG SET``). As a safety net for writes
    made without publishing, the hash is also read every ``resync_interval`` seconds.

    When the connection breaks the store keeps serving the last values, reconnects and
    reads everything again. ``get()`` never touches the network.

    A field whose name or value is not UTF-8 (or not the client's ``encoding``) is skipped,
    logged once and counted in ``unreadable_keys``; ``unreadable()`` says which and why.
    """

    kind = "redis"

    def __init__(
        self,
        service: str,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        known: Iterable[str] | None = None,
        timeout: float = 5.0,
        resync_interval: float = 30.0,
        retry: float = 0.05,
        max_retry: float = 1.0,
        **client_options: Any,
    ) -> None:
        super().__init__(known, retry, max_retry, client_options.get("encoding", "utf-8"))
        redis = require("redis", "redis")
        self.service = service
        self.key = f"{service}:flags"
        self.channel = f"{service}:flags:changed"
        self.host, self.port, self.db = host, port, db
        # Replies stay bytes: the store decodes each field by itself, so that one field that
        # is not text is skipped instead of failing the whole HGETALL.
        self._client = redis.Redis(
            host=host, port=port, db=db, socket_timeout=timeout,
            socket_connect_timeout=timeout, decode_responses=False, **client_options,
        )  # fmt: skip
        self._resync_interval = resync_interval
        self._start(f"RedisStore({service})")

    def set(self, key: str, value: object) -> None:
        """Write a flag's value and announce it (raises if Redis cannot be reached)."""
        pipe = self._client.pipeline()
        pipe.hset(self.key, key, encode_value(value))
        pipe.publish(self.channel, key)
        pipe.execute()

    def delete(self, key: str) -> None:
        """Remove a flag's value and announce it: the flag goes back to its default."""
        pipe = self._client.pipeline()
        pipe.hdel(self.key, key)
        pipe.publish(self.channel, key)
        pipe.execute()

    def close(self) -> None:
        """Stop the background thread and close the connections."""
        super().close()
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.service!r}, host={self.host!r}, port={self.port}, db={self.db})"

    def _session(self) -> None:
        # Subscription confirmations are kept: redis-py reconnects and resubscribes on its
        # own, and the confirmation after an outage is the cue to read everything again.
        pubsub = self._client.pubsub()
        try:
            pubsub.subscribe(self.channel)  # before reading: no change can slip between
            self._synced_with(self._client.hgetall(self.key).items())
            last = time.monotonic()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is None and time.monotonic() - last < self._resync_interval:
                    continue
                while message is not None:  # coalesce a burst into one read
                    message = pubsub.get_message(timeout=0)
                self._synced_with(self._client.hgetall(self.key).items())
                last = time.monotonic()
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone already
                pubsub.close()
