"""The webhook dispatcher's outbox in each store: its lease, its cursor and its deliveries.

`open_outbox` takes the same URLs as `open_editor`. Each outbox satisfies
`configgen.webhooks.Outbox`:

- ``lease(owner, seconds)``: one dispatcher at a time, across processes and hosts; a
  holder that stops renewing loses the lease after *seconds*.
- ``cursor()`` / ``save_cursor(cursor)``: one JSON document (``{}`` until one is saved).
- ``put`` / ``get`` / ``due`` / ``recent``: delivery records, JSON objects with at least
  ``id``, ``status`` (pending, delivered, failed or disabled), ``next_at`` and ``created``
  (epoch seconds). Of the *finished* records (delivered or failed) the newest
  *retention* are kept (by ``updated``, else ``created``); pending and disabled ones are
  never dropped.

A record that is not JSON (written by hand, cut short) is skipped, never fatal. Errors of
the store itself raise `OutboxError`, naming the store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from configgen.stores._common import parse_store_url, require
from configgen.stores._editors import _after, _b64, _unb64, _write_atomically

if TYPE_CHECKING:
    from configgen.webhooks import Outbox

DEFAULT_RETENTION = 10_000
"""Finished delivery records kept by default."""
STATUSES = ("pending", "delivered", "failed", "disabled")

logger = logging.getLogger("configgen.webhooks")
FINISHED = ("delivered", "failed")
"""The statuses whose records retention drops, oldest first (pending and disabled stay)."""
_ID = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,199}")


class OutboxError(OSError):
    """The outbox's store failed (cannot connect, timed out, refused); the message names it."""


def open_outbox(
    url: str,
    *,
    service: str | None = None,
    retention: int = DEFAULT_RETENTION,
    timeout: float = 5.0,
) -> Outbox:
    """The webhook outbox of a store URL (the URLs of `configgen.stores.open_editor`).

    ``etcd://HOST:PORT/SERVICE``, ``redis://HOST:PORT/DB`` (with *service*) or
    ``file://PATH`` (the overrides file; the outbox is the folder ``<stem>.webhooks``
    beside it). *retention* bounds the finished delivery records kept; *timeout* is how
    long to wait for a server, in seconds.
    """
    address = parse_store_url(url, service)
    if address.kind == "file":
        assert address.path is not None
        return FileOutbox(address.path, retention=retention)
    if address.kind == "etcd":
        return EtcdOutbox(
            address.service,
            host=address.host,
            port=address.port,
            retention=retention,
            timeout=timeout,
        )
    return RedisOutbox(
        address.service,
        host=address.host,
        port=address.port,
        db=address.db,
        retention=retention,
        timeout=timeout,
    )


# -- what every store shares -------------------------------------------------------------------


def _check_retention(retention: int) -> int:
    if retention < 1:
        raise ValueError(f"the outbox keeps at least one finished delivery, not {retention}")
    return retention


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _checked(delivery: Mapping[str, Any]) -> tuple[str, bytes]:
    """The record's id and its JSON; ValueError if it is not a delivery record."""
    record_id = delivery.get("id")
    if (
        not isinstance(record_id, str)
        or not _ID.fullmatch(record_id)
        or len(record_id.encode("utf-8")) > 200  # a file name holds 255 bytes
    ):
        raise ValueError(
            f"a delivery id is 1 to 200 bytes of UTF-8, without / or \\ or control characters, "
            f"not starting with a dot; not {record_id!r}"
        )
    if delivery.get("status") not in STATUSES:
        raise ValueError(
            f"delivery {record_id}: status is one of {', '.join(STATUSES)}, "
            f"not {delivery.get('status')!r}"
        )
    for field in ("next_at", "created"):
        if _number(delivery.get(field)) is None:
            raise ValueError(f"delivery {record_id}: {field} is a number (epoch seconds)")
    if "updated" in delivery and _number(delivery["updated"]) is None:
        raise ValueError(f"delivery {record_id}: updated is a number (epoch seconds)")
    text = json.dumps(dict(delivery), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return record_id, text.encode("utf-8")


def _parsed(data: bytes | str | None) -> dict[str, Any] | None:
    """A stored delivery record, or None when it is missing or is not one."""
    if data is None:
        return None
    try:
        record = json.loads(data)
    except ValueError:  # not JSON, not UTF-8
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("id"), str)
        or record.get("status") not in STATUSES
        or _number(record.get("next_at")) is None
        or _number(record.get("created")) is None
    ):
        return None
    return record


def _stamp(record: Mapping[str, Any]) -> float:
    """When a record last changed: ``updated``, else ``created``."""
    updated = _number(record.get("updated"))
    return updated if updated is not None else float(record["created"])


def _cursor(data: bytes | None, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        cursor = json.loads(data)
    except ValueError:
        cursor = None
    if not isinstance(cursor, dict):
        logger.warning("the webhook cursor in %s is not a JSON object; starting afresh", where)
        return {}
    return cursor


def _cursor_bytes(cursor: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(cursor), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _due(records: Iterable[dict[str, Any]], now: float, limit: int) -> list[dict[str, Any]]:
    found = [r for r in records if r["status"] == "pending" and float(r["next_at"]) <= now]
    found.sort(key=lambda r: (float(r["next_at"]), r["id"]))
    return found[: max(limit, 0)]


def _recent(
    records: Iterable[dict[str, Any]], endpoint: str | None, limit: int
) -> list[dict[str, Any]]:
    found = [r for r in records if endpoint is None or r.get("endpoint") == endpoint]
    found.sort(key=lambda r: (_stamp(r), r["id"]), reverse=True)
    return found[: max(limit, 0)]


def _oldest_finished(records: Iterable[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    """The finished records beyond the newest *keep*, oldest first."""
    finished = [r for r in records if r["status"] in FINISHED]
    finished.sort(key=lambda r: (_stamp(r), r["id"]))
    return finished[: max(len(finished) - keep, 0)]


def _batch_floor(retention: int) -> int:
    """How many finished records a batched trim keeps: a tenth fewer than *retention*, so
    that the next full read is a tenth of *retention* puts away."""
    return max(retention - retention // 10, 1)


# -- a local folder ---------------------------------------------------------------------------


class FileOutbox:
    """The folder ``<stem>.webhooks`` beside a local overrides file (single host).

    ``leader.json`` (``{"owner", "until"}``) is read and written under an ``fcntl.flock``
    on ``leader.lock``; ``cursor.json`` and each ``deliveries/<id>.json`` are replaced
    whole (a temporary file, fsync, rename), so a reader never sees half a record. Parsed
    records are cached by inode, mtime and size, so polling reads only what changed (and
    what changed in the last two seconds). A trim (under ``deliveries.lock``) keeps a
    tenth fewer than *retention* finished records once there are more than *retention*.
    """

    kind = "file"

    def __init__(self, path: str | os.PathLike[str], *, retention: int = DEFAULT_RETENTION) -> None:
        path = Path(path).absolute()
        self.folder = path.with_name(path.stem + ".webhooks")
        self.deliveries = self.folder / "deliveries"
        self.retention = _check_retention(retention)
        self._cache: dict[str, tuple[tuple[int, int, int], dict[str, Any] | None]] = {}
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileOutbox({str(self.folder)!r})"

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except OutboxError:
            raise
        except OSError as exc:
            raise OutboxError(
                f"webhook outbox in {self.folder}: {exc.strerror or exc}"
                + (f": {exc.filename}" if exc.filename else "")
            ) from exc

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / name, "ab") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def lease(self, owner: str, seconds: float) -> bool:
        """Take the lease when it is free or expired, renew it when *owner* holds it."""
        leader = self.folder / "leader.json"
        with self._errors(), self._locked("leader.lock"):
            try:
                record = json.loads(leader.read_bytes())
            except (FileNotFoundError, ValueError):
                record = None
            now = time.time()
            if (
                isinstance(record, dict)
                and record.get("owner") != owner
                and (_number(record.get("until")) or 0.0) > now
            ):
                return False
            text = json.dumps({"owner": owner, "until": now + seconds})
            _write_atomically(leader, text.encode("utf-8"))
            return True

    def cursor(self) -> dict[str, Any]:
        path = self.folder / "cursor.json"
        with self._errors():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return {}
        return _cursor(data, str(path))

    def save_cursor(self, cursor: Mapping[str, Any]) -> None:
        data = _cursor_bytes(cursor)
        with self._errors():
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.folder / "cursor.json", data)

    def put(self, delivery: Mapping[str, Any]) -> None:
        record_id, data = _checked(delivery)
        with self._errors():
            self.deliveries.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.deliveries / f"{record_id}.json", data)
            if delivery["status"] in FINISHED:
                self._trim()

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        if not _ID.fullmatch(delivery_id):
            return None
        with self._errors():
            try:
                data = (self.deliveries / f"{delivery_id}.json").read_bytes()
            except FileNotFoundError:
                return None
        return _parsed(data)

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        return _due(self._records(), now, limit)

    def recent(self, endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return _recent(self._records(), endpoint, limit)

    def close(self) -> None:
        """Nothing to close: each call opens what it needs."""

    def _names(self) -> list[str]:
        try:
            return [
                name
                for name in os.listdir(self.deliveries)
                if name.endswith(".json") and not name.startswith(".")
            ]
        except FileNotFoundError:
            return []

    def _records(self) -> list[dict[str, Any]]:
        """Every readable record (changed files are read again, others come from the cache)."""
        found = []
        now = time.time()
        with self._errors(), self._cache_lock:
            names = self._names()
            for name in names:
                path = self.deliveries / name
                try:
                    stat = path.stat()
                    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                    cached = self._cache.get(name)
                    # a file changed within the clock's granularity may look unchanged
                    if cached is None or cached[0] != version or stat.st_mtime > now - 2.0:
                        cached = (version, _parsed(path.read_bytes()))
                        self._cache[name] = cached
                except FileNotFoundError:  # trimmed meanwhile
                    continue
                if cached[1] is not None:
                    found.append(cached[1])
            for gone in set(self._cache) - set(names):
                del self._cache[gone]
        return found

    def _trim(self) -> None:
        if len(self._names()) <= self.retention:
            return
        with self._locked("deliveries.lock"):
            records = self._records()
            if sum(r["status"] in FINISHED for r in records) <= self.retention:
                return
            for record in _oldest_finished(records, _batch_floor(self.retention)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.deliveries / f"{record['id']}.json")


# -- etcd --------------------------------------------------------------------------------------


class EtcdOutbox:
    """Keys under ``/<service>/webhooks/`` in etcd, through its v3 JSON gateway.

    ``leader`` holds the owner's name, attached to an etcd lease of *seconds* (etcd's
    shortest is about 2 s): taken by a transaction that creates the key only if it is
    absent, renewed by the holder with a keep-alive of the same lease; when the holder
    stops, etcd deletes the key. ``cursor`` holds the cursor. ``deliveries/<id>`` holds
    each record and ``due/<id>`` its ``next_at`` while it is pending, both written in one
    transaction. A trim keeps a tenth fewer than *retention* finished records once there
    are more than *retention*.
    """

    kind = "etcd"
    _PAGE = 500

    def __init__(
        self,
        service: str,
        *,
        host: str = "127.0.0.1",
        port: int = 2379,
        retention: int = DEFAULT_RETENTION,
        timeout: float = 5.0,
    ) -> None:
        etcd3gw = require("etcd3gw", "etcd")
        self.service = service
        self.prefix = f"/{service}/webhooks/".encode()
        self.records = self.prefix + b"deliveries/"
        self.index = self.prefix + b"due/"
        self.retention = _check_retention(retention)
        self.host, self.port, self.timeout = host, port, timeout
        self._client = etcd3gw.client(host=host, port=port, timeout=timeout)
        self._errors = require("etcd3gw.exceptions", "etcd")

    def __repr__(self) -> str:
        return f"EtcdOutbox({self.service!r}, host={self.host!r}, port={self.port})"

    def _post(self, path: str, request: dict[str, Any]) -> Any:
        where = f"etcd at {self.host}:{self.port}"
        try:
            return self._client.post(self._client.get_url(path), json=request)
        except self._errors.ConnectionFailedError:
            raise OutboxError(f"cannot connect to {where}") from None
        except self._errors.ConnectionTimeoutError:
            raise OutboxError(f"{where} did not answer within {self.timeout:g} s") from None
        except self._errors.Etcd3Exception as exc:
            said = exc.detail_text or type(exc).__name__
            raise OutboxError(f"{where}: {said}") from None

    def _get(self, key: bytes) -> dict[str, Any] | None:
        kvs = self._post("/kv/range", {"key": _b64(key)}).get("kvs", [])
        return kvs[0] if kvs else None

    def _range(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value under *prefix*, read in pages."""
        start, end = prefix, _after(prefix)
        while True:
            reply = self._post(
                "/kv/range", {"key": _b64(start), "range_end": _b64(end), "limit": self._PAGE}
            )
            kvs = reply.get("kvs", [])
            for kv in kvs:
                yield _unb64(kv["key"]), _unb64(kv.get("value", ""))
            if len(kvs) < self._PAGE:
                return
            start = _unb64(kvs[-1]["key"]) + b"\0"

    def _count(self, prefix: bytes) -> int:
        reply = self._post(
            "/kv/range",
            {"key": _b64(prefix), "range_end": _b64(_after(prefix)), "count_only": True},
        )
        return int(reply.get("count", 0))

    def lease(self, owner: str, seconds: float) -> bool:
        """Create the leader key with a fresh lease if it is absent; keep the lease alive
        if *owner* holds it."""
        key = _b64(self.prefix + b"leader")
        ours = _b64(owner)
        kv = self._get(self.prefix + b"leader")
        if kv is not None:
            lease_id = int(kv.get("lease", 0) or 0)
            if lease_id == 0:  # no lease: it would never expire, so it is no one's
                self._post(
                    "/kv/txn",
                    {
                        "compare": [
                            {
                                "key": key,
                                "target": "MOD",
                                "result": "EQUAL",
                                "mod_revision": kv.get("mod_revision", "0"),
                            }
                        ],
                        "success": [{"request_delete_range": {"key": key}}],
                    },
                )
            elif kv.get("value", "") != ours:
                return False
            else:
                reply = self._post("/lease/keepalive", {"ID": lease_id})
                if int(reply.get("result", {}).get("TTL", 0) or 0) > 0:
                    still = self._post(
                        "/kv/txn",
                        {
                            "compare": [
                                {"key": key, "target": "VALUE", "result": "EQUAL", "value": ours},
                                {
                                    "key": key,
                                    "target": "LEASE",
                                    "result": "EQUAL",
                                    "lease": lease_id,
                                },
                            ]
                        },
                    )
                    return bool(still.get("succeeded"))
                # the lease ran out since the key was read: take it afresh
        ttl = max(1, math.ceil(seconds))
        lease_id = int(self._post("/lease/grant", {"TTL": ttl})["ID"])
        reply = self._post(
            "/kv/txn",
            {
                "compare": [{"key": key, "target": "VERSION", "result": "EQUAL", "version": "0"}],
                "success": [{"request_put": {"key": key, "value": ours, "lease": lease_id}}],
            },
        )
        if reply.get("succeeded"):
            return True
        with contextlib.suppress(OutboxError):
            self._post("/lease/revoke", {"ID": lease_id})
        return False

    def cursor(self) -> dict[str, Any]:
        kv = self._get(self.prefix + b"cursor")
        return {} if kv is None else _cursor(_unb64(kv.get("value", "")), repr(self))

    def save_cursor(self, cursor: Mapping[str, Any]) -> None:
        self._post(
            "/kv/put", {"key": _b64(self.prefix + b"cursor"), "value": _b64(_cursor_bytes(cursor))}
        )

    def put(self, delivery: Mapping[str, Any]) -> None:
        record_id, data = _checked(delivery)
        index = _b64(self.index + record_id.encode())
        pending = delivery["status"] == "pending"
        mark: dict[str, Any] = (
            {"request_put": {"key": index, "value": _b64(repr(float(delivery["next_at"])))}}
            if pending
            else {"request_delete_range": {"key": index}}
        )
        write = {
            "request_put": {"key": _b64(self.records + record_id.encode()), "value": _b64(data)}
        }
        self._post("/kv/txn", {"compare": [], "success": [write, mark]})
        if delivery["status"] in FINISHED:
            self._trim()

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        kv = self._get(self.records + delivery_id.encode())
        return None if kv is None else _parsed(_unb64(kv.get("value", "")))

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        """Pending ids from the ``due/`` index, then their records, a transaction per page."""
        waiting = []
        for key, value in self._range(self.index):
            try:
                at = float(value)
            except ValueError:
                continue
            if at <= now:
                waiting.append((at, key[len(self.index) :]))
        waiting.sort()
        found: list[dict[str, Any]] = []
        for start in range(0, len(waiting), 100):
            if len(found) >= limit:
                break
            page = waiting[start : start + 100]
            reply = self._post(
                "/kv/txn",
                {
                    "compare": [],
                    "success": [
                        {"request_range": {"key": _b64(self.records + record_id)}}
                        for _, record_id in page
                    ],
                },
            )
            for response in reply.get("responses", []):
                kvs = response.get("response_range", {}).get("kvs", [])
                record = _parsed(_unb64(kvs[0].get("value", ""))) if kvs else None
                if record is not None:
                    found.append(record)
        return _due(found, now, limit)

    def recent(self, endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return _recent(self._all(), endpoint, limit)

    def close(self) -> None:
        """Close the HTTP session."""
        with contextlib.suppress(Exception):
            self._client.session.close()

    def _all(self) -> list[dict[str, Any]]:
        found = []
        for _, value in self._range(self.records):
            record = _parsed(value)
            if record is not None:
                found.append(record)
        return found

    def _trim(self) -> None:
        if self._count(self.records) - self._count(self.index) <= self.retention:
            return
        records = self._all()
        if sum(r["status"] in FINISHED for r in records) <= self.retention:
            return
        old = _oldest_finished(records, _batch_floor(self.retention))
        for start in range(0, len(old), 100):
            # a record made pending again meanwhile (a retry) stays: compare it is not pending
            keys = [_b64(self.index + r["id"].encode()) for r in old[start : start + 100]]
            self._post(
                "/kv/txn",
                {
                    "compare": [
                        {"key": k, "target": "VERSION", "result": "EQUAL", "version": "0"}
                        for k in keys
                    ],
                    "success": [
                        {"request_delete_range": {"key": _b64(self.records + r["id"].encode())}}
                        for r in old[start : start + 100]
                    ],
                },
            )


# -- Redis -------------------------------------------------------------------------------------

_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
"""Renew the lease if *owner* holds it (or take a leader key that would never expire)."""

_PUT_SCRIPT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
if ARGV[3] == '2' then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
else
  redis.call('ZREM', KEYS[4], ARGV[1])
end
local excess = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[6])
if excess > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, excess - 1)) do
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
end
return 1
"""
"""Write the record, keep the three sets in step, drop the oldest finished records."""


class RedisOutbox:
    """Keys ``<service>:webhooks:*`` in Redis.

    ``leader`` is taken with ``SET NX PX`` and renewed only by its owner (a script that
    compares and ``PEXPIRE``\\ s). ``cursor`` holds the cursor. Records are fields of the
    hash ``deliveries``; the sorted set ``due`` holds the pending ids by ``next_at`` and
    ``recent`` every id by ``updated`` (else ``created``), ``finished`` the delivered and
    failed ones likewise. One script writes a record, updates the sets and drops the oldest
    finished records beyond *retention*, atomically.
    """

    kind = "redis"

    def __init__(
        self,
        service: str,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        retention: int = DEFAULT_RETENTION,
        timeout: float = 5.0,
        **client_options: Any,
    ) -> None:
        redis = require("redis", "redis")
        self.service = service
        base = f"{service}:webhooks:"
        self.leader, self.cursor_key = base + "leader", base + "cursor"
        self.hash, self.due_key = base + "deliveries", base + "due"
        self.recent_key, self.finished_key = base + "recent", base + "finished"
        self.retention = _check_retention(retention)
        self.host, self.port, self.db = host, port, db
        self._redis_errors = redis.exceptions.RedisError
        self._client = redis.Redis(
            host=host,
            port=port,
            db=db,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            **client_options,
        )
        self._renew = self._client.register_script(_RENEW_SCRIPT)
        self._put = self._client.register_script(_PUT_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisOutbox({self.service!r}, host={self.host!r}, port={self.port}, db={self.db})"

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._redis_errors as exc:
            raise OutboxError(
                f"Redis at {self.host}:{self.port} (db {self.db}): {exc or type(exc).__name__}"
            ) from None

    def lease(self, owner: str, seconds: float) -> bool:
        milliseconds = max(1, math.ceil(seconds * 1000))
        with self._errors():
            if self._client.set(self.leader, owner, nx=True, px=milliseconds):
                return True
            return bool(self._renew(keys=[self.leader], args=[owner, milliseconds]))

    def cursor(self) -> dict[str, Any]:
        with self._errors():
            data = self._client.get(self.cursor_key)
        return _cursor(data, repr(self))

    def save_cursor(self, cursor: Mapping[str, Any]) -> None:
        data = _cursor_bytes(cursor)
        with self._errors():
            self._client.set(self.cursor_key, data)

    def put(self, delivery: Mapping[str, Any]) -> None:
        record_id, data = _checked(delivery)
        kind = {"pending": "1", "delivered": "2", "failed": "2"}.get(delivery["status"], "0")
        args = [
            record_id,
            data,
            kind,
            repr(float(delivery["next_at"])),
            repr(_stamp(delivery)),
            str(self.retention),
        ]
        with self._errors():
            self._put(keys=[self.hash, self.due_key, self.recent_key, self.finished_key], args=args)

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        with self._errors():
            return _parsed(self._client.hget(self.hash, delivery_id))

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        offset = 0
        with self._errors():
            while len(found) < limit:
                ids = self._client.zrangebyscore(
                    self.due_key, "-inf", repr(float(now)), start=offset, num=limit
                )
                if not ids:
                    break
                for data in self._client.hmget(self.hash, ids):
                    record = _parsed(data)
                    if record is not None:
                        found.append(record)
                offset += len(ids)
        return _due(found, now, limit)

    def recent(self, endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        batch = max(limit, 100)
        offset = 0
        with self._errors():
            while len(found) < limit:
                ids = self._client.zrevrange(self.recent_key, offset, offset + batch - 1)
                if not ids:
                    break
                for data in self._client.hmget(self.hash, ids):
                    record = _parsed(data)
                    if record is not None and (
                        endpoint is None or record.get("endpoint") == endpoint
                    ):
                        found.append(record)
                offset += len(ids)
        return _recent(found, endpoint, limit)

    def close(self) -> None:
        """Close the connections."""
        self._client.close()


__all__ = [
    "DEFAULT_RETENTION",
    "EtcdOutbox",
    "FileOutbox",
    "OutboxError",
    "RedisOutbox",
    "open_outbox",
]
