"""RedisStore: flags in one Redis hash, with a pub/sub channel announcing changes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from configgen.stores._common import Snapshot, encode_value, require


class RedisStore:
    """Flag values in the Redis hash ``<service>:flags`` (field: flag key, value: text).

    Changes are announced on the channel ``<service>:flags:changed``: `set` and `delete`
    (and ``configgen flags set``) publish there; the store subscribes, and on a message
    reads the whole hash again (one ``HGETALL``, however many changes came at once). A
    pub/sub channel is used rather than keyspace notifications because it needs no server
    configuration (managed Redis often forbids ``CONFIG SET``). As a safety net for writes
    made without publishing, the hash is also read every ``resync_interval`` seconds.

    When the connection breaks the store keeps serving the last values, reconnects with
    backoff and reads everything again. ``get()`` never touches the network.
    """

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
        self._redis = require("redis", "redis")
        self.service = service
        self.key = f"{service}:flags"
        self.channel = f"{service}:flags:changed"
        self.host, self.port, self.db = host, port, db
        self._client = self._redis.Redis(
            host=host, port=port, db=db, socket_timeout=timeout,
            socket_connect_timeout=timeout, decode_responses=True, **client_options,
        )  # fmt: skip
        self._resync_interval = resync_interval
        self._retry, self._max_retry = retry, max_retry
        self._snapshot = Snapshot(known)
        self._stop = threading.Event()
        self._synced = threading.Event()
        self.resyncs = 0
        """How many times the whole hash was read."""
        self._thread = threading.Thread(
            target=self._run, name=f"RedisStore({service})", daemon=True
        )
        self._thread.start()

    # -- the FlagStore protocol ----------------------------------------------------------

    def get(self, key: str) -> str | None:
        """The value stored for a flag key, from the local snapshot."""
        return self._snapshot.values.get(key)

    def watch(self, callback: Callable[[], object]) -> None:
        """Call *callback* (no arguments) after the snapshot changes."""
        self._snapshot.watch(callback)

    # -- administration --------------------------------------------------------------------

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

    def values(self) -> dict[str, str]:
        """The snapshot: every value in the hash, by flag key."""
        return dict(self._snapshot.values)

    async def aset(self, key: str, value: object) -> None:
        """`set`, without blocking the event loop."""
        await asyncio.to_thread(self.set, key, value)

    async def adelete(self, key: str) -> None:
        """`delete`, without blocking the event loop."""
        await asyncio.to_thread(self.delete, key)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Wait until the first full read has succeeded."""
        return self._synced.wait(timeout)

    @property
    def errors(self) -> int:
        return self._snapshot.errors

    @property
    def unknown_keys(self) -> int:
        return self._snapshot.unknown_keys

    def close(self) -> None:
        """Stop the background thread and close the connections."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.service!r}, host={self.host!r}, port={self.port}, db={self.db})"

    # -- the background thread -----------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry
        while not self._stop.is_set():
            pubsub = None
            try:
                # Subscription confirmations are kept: redis-py reconnects and resubscribes
                # on its own, and the confirmation after an outage is the cue to resync.
                pubsub = self._client.pubsub()
                pubsub.subscribe(self.channel)  # before reading: no change can slip between
                self._resync()
                delay = self._retry
                self._follow(pubsub)
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._snapshot.failed(
                    f"redis:{type(exc).__name__}",
                    "redis at %s:%s: %s; serving the last known values, retrying",
                    self.host, self.port, exc,
                )  # fmt: skip
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # the connection may be gone already
                        pubsub.close()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._max_retry)

    def _resync(self) -> None:
        self._snapshot.replace(self._client.hgetall(self.key))
        self.resyncs += 1
        self._synced.set()

    def _follow(self, pubsub: Any) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is None and time.monotonic() - last < self._resync_interval:
                continue
            while message is not None:  # coalesce a burst into one read
                message = pubsub.get_message(timeout=0)
            self._resync()
            last = time.monotonic()
