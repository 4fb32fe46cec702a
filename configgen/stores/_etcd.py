"""EtcdStore: flags under ``/<service>/flags/<key>`` in etcd, watched live."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
from collections.abc import Iterable
from typing import Any

from configgen.stores._common import ServerStore, encode_value, require


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _bytes(data: str) -> bytes:
    return base64.b64decode(data)


class EtcdStore(ServerStore):
    """Flag values in etcd (v3 API), one key each: ``/<service>/flags/<flag key>``.

    Values are text: ``true``/``false``, decimal numbers, the enum value or string as it is
    (`encode_value`); the generated ``Flags`` parses them by each flag's type. A background
    thread reads everything under the prefix, then follows a watch from the next revision;
    when the connection breaks it keeps serving the last values, reconnects with backoff
    (``retry`` seconds, doubling up to ``max_retry``) and reads everything again, which also
    covers a revision compacted while away. A watch idle for ``watch_timeout`` seconds is
    reopened the same way (a silent partition). ``get()`` never touches the network.

    ``known`` (for instance ``DEFAULT_FLAG_VALUES``) names the flag keys: other keys under
    the prefix are ignored, logged once and counted in ``unknown_keys``. A key whose name or
    value is not UTF-8 is skipped (its flag gives its default), logged once and counted in
    ``unreadable_keys``; ``unreadable()`` says which and why. The other keys keep syncing.
    """

    kind = "etcd"

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
        super().__init__(known, retry, max_retry)
        etcd3gw = require("etcd3gw", "etcd")
        self.service = service
        self.prefix = prefix if prefix is not None else f"/{service}/flags/"
        self._range_end = self.prefix[:-1] + chr(ord(self.prefix[-1]) + 1)
        self.host, self.port = host, port
        self._client = etcd3gw.client(host=host, port=port, timeout=timeout)
        self._watch_timeout = watch_timeout
        self._response: Any = None
        self._start(f"EtcdStore({service})")

    def set(self, key: str, value: object) -> None:
        """Write a flag's value to etcd (raises if etcd cannot be reached)."""
        self._client.put(self.prefix + key, encode_value(value))

    def delete(self, key: str) -> None:
        """Remove a flag's value from etcd: it goes back to its default."""
        self._client.delete(self.prefix + key)

    def __repr__(self) -> str:
        return f"EtcdStore({self.service!r}, host={self.host!r}, port={self.port})"

    def _session(self) -> None:
        reply = self._client.post(
            self._client.get_url("/kv/range"),
            json={"key": _b64(self.prefix), "range_end": _b64(self._range_end)},
        )
        start = len(self.prefix.encode())
        self._synced_with(
            (_bytes(kv["key"])[start:], _bytes(kv.get("value", ""))) for kv in reply.get("kvs", [])
        )
        self._follow(int(reply["header"]["revision"]) + 1)

    def _follow(self, revision: int) -> None:
        """Apply watch events from *revision* until the stream ends or is compacted away."""
        request = {"create_request": {"key": _b64(self.prefix), "range_end": _b64(self._range_end),
                                      "start_revision": revision}}  # fmt: skip
        response = self._client.session.post(
            self._client.get_url("/watch"), json=request, stream=True,
            timeout=(self._client.timeout, self._watch_timeout),
        )  # fmt: skip
        self._response = response
        start = len(self.prefix.encode())
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
                changes: list[tuple[bytes, bytes | None]] = []
                for event in result.get("events", []):
                    kv = event["kv"]
                    deleted = event.get("type") == "DELETE"
                    value = None if deleted else _bytes(kv.get("value", ""))
                    changes.append((_bytes(kv["key"])[start:], value))
                if changes:
                    self._snapshot.update_raw(changes)
        finally:
            self._response = None
            response.close()

    def _interrupt(self) -> None:
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # best effort: the read timeout ends it anyway
                response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
