"""EtcdStore: flags under ``/<service>/flags/<key>`` in etcd, watched live."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from configgen.stores._common import Snapshot, encode_value, require


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(data: str) -> str:
    return base64.b64decode(data).decode()


class EtcdStore:
    """Flag values in etcd (v3 API), one key each: ``/<service>/flags/<flag key>``.

    Values are text: ``true``/``false``, decimal numbers, the enum value or string as it is
    (`encode_value`); the generated ``Flags`` parses them by each flag's type. A background
    thread reads everything under the prefix, then follows a watch from the next revision;
    when the connection breaks it keeps serving the last values, reconnects with backoff
    (``retry`` seconds, doubling up to ``max_retry``) and reads everything again, which also
    covers a revision compacted while away. ``get()`` never touches the network.

    ``known`` (for instance ``DEFAULT_FLAG_VALUES``) names the flag keys: other keys under
    the prefix are ignored, logged once and counted in ``unknown_keys``.
    """

    def __init__(
        self,
        service: str,
        *,
        host: str = "127.0.0.1",
        port: int = 2379,
        prefix: str | None = None,
        known: Iterable[str] | None = None,
        timeout: float = 5.0,
        watch_timeout: float = 60.0,
        retry: float = 0.05,
        max_retry: float = 1.0,
    ) -> None:
        self._etcd3gw = require("etcd3gw", "etcd")
        self.service = service
        self.prefix = prefix if prefix is not None else f"/{service}/flags/"
        self.host, self.port = host, port
        self._client = self._etcd3gw.client(host=host, port=port, timeout=timeout)
        self._watch_timeout = watch_timeout
        self._retry, self._max_retry = retry, max_retry
        self._snapshot = Snapshot(known)
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._response: Any = None
        self.resyncs = 0
        """How many times the whole prefix was read (the first time included)."""
        self._thread = threading.Thread(target=self._run, name=f"EtcdStore({service})", daemon=True)
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
        """Write a flag's value to etcd (raises if etcd cannot be reached)."""
        self._client.put(self.prefix + key, encode_value(value))

    def delete(self, key: str) -> None:
        """Remove a flag's value from etcd: it goes back to its default."""
        self._client.delete(self.prefix + key)

    def values(self) -> dict[str, str]:
        """The snapshot: every value under the prefix, by flag key."""
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
        """Stop the background thread."""
        self._stop.set()
        self._break_stream()
        self._thread.join(timeout=10)

    def __repr__(self) -> str:
        return f"EtcdStore({self.service!r}, host={self.host!r}, port={self.port})"

    # -- the background thread -----------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry
        while not self._stop.is_set():
            try:
                revision = self._resync()
                delay = self._retry
                self._follow(revision + 1)
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._snapshot.failed(
                    f"etcd:{type(exc).__name__}",
                    "etcd at %s:%s: %s; serving the last known values, retrying",
                    self.host, self.port, exc,
                )  # fmt: skip
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._max_retry)

    def _resync(self) -> int:
        """Read the whole prefix; return the revision it was read at."""
        end = self.prefix[:-1] + chr(ord(self.prefix[-1]) + 1)
        reply = self._client.post(
            self._client.get_url("/kv/range"),
            json={"key": _b64(self.prefix), "range_end": _b64(end)},
        )
        values = {
            _text(kv["key"])[len(self.prefix) :]: _text(kv.get("value", ""))
            for kv in reply.get("kvs", [])
        }
        self._snapshot.replace(values)
        self.resyncs += 1
        self._synced.set()
        return int(reply["header"]["revision"])

    def _follow(self, revision: int) -> None:
        """Apply watch events from *revision* until the stream ends or is compacted away."""
        end = self.prefix[:-1] + chr(ord(self.prefix[-1]) + 1)
        request = {"create_request": {"key": _b64(self.prefix), "range_end": _b64(end),
                                      "start_revision": revision}}  # fmt: skip
        response = self._client.session.post(
            self._client.get_url("/watch"), json=request, stream=True,
            timeout=(self._client.timeout, self._watch_timeout),
        )  # fmt: skip
        self._response = response
        try:
            response.raise_for_status()
            for line in response.iter_lines(chunk_size=None):
                if self._stop.is_set():
                    return
                if not line.strip():
                    continue
                result = json.loads(line).get("result", {})
                if int(result.get("compact_revision", 0) or 0) or result.get("canceled"):
                    return  # compacted past our revision: read everything again
                changes: dict[str, str | None] = {}
                for event in result.get("events", []):
                    kv = event["kv"]
                    key = _text(kv["key"])[len(self.prefix) :]
                    deleted = event.get("type") == "DELETE"
                    changes[key] = None if deleted else _text(kv.get("value", ""))
                if changes:
                    self._snapshot.update(changes)
        finally:
            self._response = None
            response.close()

    def _break_stream(self) -> None:
        response = self._response
        if response is None:
            return
        try:
            raw = response.raw._fp.fp.raw._sock  # the socket under requests/urllib3
            raw.shutdown(socket.SHUT_RDWR)
        except Exception:  # best effort: the read timeout ends the stream anyway
            pass
