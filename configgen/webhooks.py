"""Webhooks: every change of a flag, signed as Standard Webhooks v1 define, delivered at least
once to every configured endpoint, whichever server instance or tool made the change.

Events come from the store, not from requests: each audit entry is one ``flag.changed``
event (its id is the entry's), and a value that changed without an entry (a direct
``etcdctl put`` or ``redis-cli HSET``) is one too. One server instance at a time is the
dispatcher (it holds a lease in the store); it keeps its cursor and the pending
deliveries in the store, so a restart or a handover loses nothing. This module holds the
parts that need no store: the configuration, the payloads and signatures, the retry
schedule, and the check of an endpoint's address.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from configgen.audit import AuditEntry, same

EVENTS = ("flag.changed", "webhook.test")
SECRET_PREFIX = "whsec_"
# Standard Webhooks' schedule: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (then give up)
SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
TIMEOUT = 15.0
"""Seconds one delivery attempt may take."""


class WebhookError(ValueError):
    """A webhook endpoint that is configured wrongly; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One ``[[webhooks]]`` table of the server config."""

    url: str
    events: tuple[str, ...]
    secrets: tuple[bytes, ...] = dataclasses.field(repr=False)
    """Signing keys: the first signs; all of them sign while a secret is being rotated."""
    allow_private: bool = False
    name: str = ""

    def __repr__(self) -> str:
        return (
            f"Endpoint({self.shown!r}, events={self.events!r}, allow_private={self.allow_private})"
        )

    @property
    def shown(self) -> str:
        """The URL without its query, which may hold a key: for logs and pages."""
        parts = urlsplit(self.url)
        return parts._replace(query="…" if parts.query else "", fragment="").geturl()

    @property
    def id(self) -> str:
        """Stable across restarts: the endpoint's URL, hashed."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:12]


def parse_secret(text: str) -> bytes:
    """``whsec_<base64>`` -> the key bytes."""
    if not text.startswith(SECRET_PREFIX):
        raise WebhookError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise WebhookError("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 24:
        raise WebhookError("a webhook secret needs at least 24 random bytes")
    return key


def new_secret() -> str:
    """A fresh ``whsec_`` secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def endpoints(
    tables: Sequence[Mapping[str, Any]], env: Mapping[str, str] | None = None
) -> tuple[Endpoint, ...]:
    """The endpoints of a server config's ``[[webhooks]]``; raise `WebhookError` if wrong."""
    env = os.environ if env is None else env
    found = []
    for index, table in enumerate(tables):
        where = f"webhooks[{index}]"
        unknown = sorted(
            set(table) - {"url", "events", "secret", "secret-env", "allow-private", "name"}
        )
        if unknown:
            raise WebhookError(f"{where}: unknown setting {unknown[0]!r}")
        url = table.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise WebhookError(f"{where}.url: an http:// or https:// URL, not {url!r}")
        if not urlsplit(url).hostname:
            raise WebhookError(f"{where}.url: {url!r} names no host")
        if "@" in urlsplit(url).netloc:
            raise WebhookError(
                f"{where}.url: no user or password in the URL: the signature "
                "authenticates the sender"
            )
        events = table.get("events", ["flag.changed"])
        if not isinstance(events, list) or not all(e in EVENTS for e in events):
            raise WebhookError(f"{where}.events: a list of {', '.join(EVENTS)}")
        texts = _secret_texts(table, where, env)
        allow = table.get("allow-private", False)
        if not isinstance(allow, bool):
            raise WebhookError(f"{where}.allow-private: true or false")
        found.append(
            Endpoint(
                url,
                tuple(events),
                tuple(parse_secret(t) for t in texts),
                allow,
                str(table.get("name", "")),
            )
        )
    return tuple(found)


def _secret_texts(table: Mapping[str, Any], where: str, env: Mapping[str, str]) -> list[str]:
    if ("secret" in table) == ("secret-env" in table):
        raise WebhookError(f"{where}: give either secret or secret-env (an environment variable)")
    if "secret" in table:
        value = table["secret"]
    else:
        name = table["secret-env"]
        if not isinstance(name, str) or name not in env:
            raise WebhookError(f"{where}.secret-env: the environment variable {name!r} is not set")
        value = env[name]
    texts = value.split() if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise WebhookError(f"{where}.secret: a whsec_ secret (or several, space-separated)")
    return texts


# -- payloads and signatures ---------------------------------------------------------------


def payload(event_type: str, entry: AuditEntry | None, when: float | None = None) -> bytes:
    """The body: ``{"type", "timestamp", "data"}``, data being the audit entry."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if when is None else when))
    data = dataclasses.asdict(entry) if entry is not None else {}
    body = {"type": event_type, "timestamp": stamp, "data": data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(message_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` for each key, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def headers(
    message_id: str, body: bytes, keys: Sequence[bytes], now: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message_id, timestamp, body, keys),
        "user-agent": "configgen-webhooks",
    }


def next_attempt(
    attempts: int, retry_after: float | None = None, now: float | None = None
) -> float | None:
    """When to try again after *attempts* failed attempts (None: give up).

    The Standard Webhooks schedule with up to 20% jitter; ``Retry-After`` when the receiver
    asks for longer.
    """
    if attempts >= len(SCHEDULE):
        return None
    now = time.time() if now is None else now
    delay = SCHEDULE[attempts] * (1 + random.uniform(-0.2, 0.2))
    if retry_after is not None:
        delay = max(delay, min(retry_after, SCHEDULE[-1]))
    return now + delay


# -- where an endpoint may be ----------------------------------------------------------------


def address_problem(url: str, allow_private: bool) -> str | None:
    """Why the endpoint must not be called (SSRF), or None: a loopback, private, link-local,
    multicast or reserved address is refused unless *allow_private*."""
    found = resolve(url, allow_private)
    return found if isinstance(found, str) else None


def resolve(url: str, allow_private: bool) -> tuple[str, ...] | str:
    """The endpoint's addresses, or why it must not be called. `send` connects to one of
    these very addresses, so a name that resolves differently the second time (DNS
    rebinding) cannot redirect a delivery."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        return f"cannot resolve {host!r}: {exc.strerror or exc}"
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not allow_private and not address.is_global:
            return (
                f"{host} resolves to {address}, a non-public address: set allow-private = true "
                "for an endpoint inside your network"
            )
        addresses.append(str(address))
    return tuple(addresses) or f"{host!r} has no address"


class Outbox(Protocol):
    """What the dispatcher keeps in the store (file, etcd, Redis): its lease, its cursor, the
    pending and the recent deliveries."""

    def lease(self, owner: str, seconds: float) -> bool:
        """Take or renew the dispatcher's lease; False while another owner holds it."""
        ...

    def cursor(self) -> dict[str, Any]:
        """The dispatcher's saved position: ``{"audit": last entry id, "values": {...}}``."""
        ...

    def save_cursor(self, cursor: Mapping[str, Any]) -> None: ...

    def put(self, delivery: Mapping[str, Any]) -> None:
        """Add or update a delivery record (keyed by ``delivery["id"]``)."""
        ...

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        """Pending deliveries whose ``next_at`` has come."""
        ...

    def recent(self, endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        ...

    def get(self, delivery_id: str) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


# -- sending ---------------------------------------------------------------------------------


def send(
    endpoint: Endpoint, message_id: str, body: bytes, *, timeout: float = TIMEOUT
) -> tuple[int | None, float | None, str]:
    """POST one message; ``(status or None, Retry-After seconds or None, error text)``.

    Redirects are never followed (a 3xx is a failure), and the address is checked first.
    """
    import http.client

    addresses = resolve(endpoint.url, endpoint.allow_private)
    if isinstance(addresses, str):
        return None, None, addresses
    parts = urlsplit(endpoint.url)
    connection = _pinned(parts.scheme, parts.hostname or "", addresses[0], parts.port, timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request(
            "POST", path, body=body, headers=headers(message_id, body, endpoint.secrets)
        )
        response = connection.getresponse()
        response.read(64 * 1024)
        retry_after = _retry_after(response.getheader("retry-after"))
        return response.status, retry_after, ""
    except (OSError, http.client.HTTPException) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def _pinned(scheme: str, host: str, address: str, port: int | None, timeout: float) -> Any:
    """A connection to *address* that presents itself, and checks TLS, as *host*."""
    import http.client
    import ssl

    class Pinned(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.create_connection((address, self.port), self.timeout)

    class PinnedTLS(http.client.HTTPSConnection):
        def connect(self) -> None:
            raw = socket.create_connection((address, self.port), self.timeout)
            self.sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)

    kind = PinnedTLS if scheme == "https" else Pinned
    return kind(host, port, timeout=timeout)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


# -- the dispatcher ---------------------------------------------------------------------------


class Dispatcher:
    """Turns the store's changes into deliveries and delivers them; one per server process,
    of which the one holding the store's lease works and the others wait."""

    SEEN = 1000
    LEASE = 10.0

    def __init__(
        self,
        editor: Any,
        outbox: Outbox,
        endpoints: Sequence[Endpoint],
        flags: Mapping[str, Any],
        *,
        owner: str | None = None,
    ) -> None:
        import threading

        self.editor = editor
        self.outbox = outbox
        self.endpoints = {endpoint.id: endpoint for endpoint in endpoints}
        self.flags = flags
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    # -- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        import threading

        self._thread = threading.Thread(target=self._run, name="configgen-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        import logging

        log = logging.getLogger("configgen.webhooks")
        while not self._stop.is_set():
            try:
                if self.outbox.lease(self.owner, self.LEASE):
                    self.scan()
                    self.deliver_due()
            except Exception:
                self.errors += 1
                log.warning("webhook dispatch failed; retrying", exc_info=True)
            self.wake.wait(0.25)
            self.wake.clear()

    # -- events ----------------------------------------------------------------------------

    def scan(self, now: float | None = None) -> int:
        """Queue a delivery of every change since the saved cursor; return how many events."""
        now = time.time() if now is None else now
        cursor = self.outbox.cursor()
        current = self.editor.read_all()
        if "values" not in cursor:  # first run: the past is not news
            recent = self.editor.history(limit=self.SEEN)
            self.outbox.save_cursor({"seen": [e.id for e in recent], "values": current})
            return 0
        seen = set(cursor.get("seen", []))
        fresh = self._unseen(seen)
        events = list(fresh)
        explained = {entry.flag for entry in fresh}
        before = cursor.get("values", {})
        for key in sorted(set(before) | set(current)):
            if key in explained or same(before.get(key), current.get(key)):
                continue
            events.append(self._direct(key, before.get(key), current.get(key), now))
        for entry in events:
            self.queue("flag.changed", entry, now)
        kept = sorted(seen | {entry.id for entry in fresh})[-self.SEEN :]
        # a change whose entry was read but which landed after the values were: remember
        # its value now, or the next scan would take it for a write straight into the store
        for key in explained:
            raw = self.editor.read(key)
            if raw is None or isinstance(raw, bytes):
                current.pop(key, None)
            else:
                current[key] = raw
        self.outbox.save_cursor({"seen": kept, "values": current})
        if events:
            self.wake.set()
        return len(events)

    def _unseen(self, seen: set[str]) -> list[AuditEntry]:
        found: list[AuditEntry] = []
        before = None
        while len(found) < self.SEEN:
            page = self.editor.history(limit=200, before=before)
            new = [entry for entry in page if entry.id not in seen]
            found.extend(new)
            if len(page) < 200 or not new:
                break
            before = page[-1].id
        return list(reversed(found))  # oldest first

    def _direct(self, key: str, old: object, new: object, now: float) -> AuditEntry:
        from configgen import values

        flag = self.flags.get(key)

        def typed(raw: object) -> object:
            if raw is None or flag is None:
                return raw
            try:
                return values.from_stored(flag, raw)
            except ValueError:
                return raw

        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        return AuditEntry(
            id=f"{int(now * 1e9):020d}-direct-{secrets.token_hex(4)}",
            time=stamp,
            actor="(a write straight into the store)",
            channel="store",
            flag=key,
            old=typed(old),
            new=typed(new),
            note="",
        )

    def queue(
        self,
        event_type: str,
        entry: AuditEntry | None,
        now: float | None = None,
        *,
        every_endpoint: bool = False,
        message_id: str | None = None,
    ) -> list[str]:
        """Add a delivery of one event to each endpoint that takes it; return their ids."""
        now = time.time() if now is None else now
        message_id = message_id or ("msg_" + (entry.id if entry else secrets.token_hex(12)))
        body = payload(event_type, entry, now).decode()
        ids = []
        for endpoint in self.endpoints.values():
            if not every_endpoint and event_type not in endpoint.events:
                continue
            delivery_id = f"{message_id}.{endpoint.id}"
            self.outbox.put(
                {
                    "id": delivery_id,
                    "message_id": message_id,
                    "endpoint": endpoint.id,
                    "url": endpoint.shown,
                    "type": event_type,
                    "flag": entry.flag if entry else "",
                    "body": body,
                    "attempts": 0,
                    "next_at": now,
                    "status": "pending",
                    "last_status": None,
                    "last_error": "",
                    "created": now,
                    "updated": now,
                }
            )
            ids.append(delivery_id)
        return ids

    # -- delivery ----------------------------------------------------------------------------

    def deliver_due(self, now: float | None = None) -> int:
        done = 0
        for delivery in self.outbox.due(time.time() if now is None else now):
            self.deliver(delivery)
            done += 1
        return done

    def deliver(self, delivery: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        endpoint = self.endpoints.get(str(delivery.get("endpoint")))
        if endpoint is None:
            return self._finish(delivery, "failed", None, "the endpoint is no longer configured")
        marker = self.outbox.get(f"endpoint.{endpoint.id}")
        if marker is not None and marker.get("status") == "disabled":
            # failed, not disabled: finished records are trimmed, only the marker stays
            return self._finish(delivery, "failed", None, "the endpoint is disabled (410 Gone)")
        status, retry_after, error = send(
            endpoint, str(delivery["message_id"]), str(delivery["body"]).encode()
        )
        attempts = int(delivery.get("attempts", 0)) + 1
        if status is not None and 200 <= status < 300:
            return self._finish(delivery, "delivered", status, "", attempts)
        if status == 410:
            self.outbox.put(
                {
                    "id": f"endpoint.{endpoint.id}",
                    "status": "disabled",
                    "endpoint": endpoint.id,
                    "url": endpoint.shown,
                    "next_at": now,
                    "created": now,
                    "updated": now,
                }
            )
            return self._finish(
                delivery, "disabled", status, "410 Gone: endpoint disabled", attempts
            )
        error = error or f"answered {status}"
        later = next_attempt(attempts, retry_after, now)
        if later is None:
            return self._finish(delivery, "failed", status, error, attempts)
        record = {
            **delivery,
            "attempts": attempts,
            "next_at": later,
            "last_status": status,
            "last_error": error,
            "updated": now,
        }
        self.outbox.put(record)
        return record

    def _finish(
        self,
        delivery: dict[str, Any],
        status: str,
        code: int | None,
        error: str,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        record = {
            **delivery,
            "status": status,
            "last_status": code,
            "last_error": error,
            "attempts": delivery.get("attempts", 0) if attempts is None else attempts,
            "updated": time.time(),
        }
        self.outbox.put(record)
        return record

    def redeliver(self, delivery_id: str) -> dict[str, Any] | None:
        found = self.outbox.get(delivery_id)
        if found is None or delivery_id.startswith("endpoint."):
            return None
        record = {
            **found,
            "status": "pending",
            "attempts": 0,
            "next_at": time.time(),
            "updated": time.time(),
        }
        self.outbox.put(record)
        self.wake.set()
        return record


class MemoryOutbox:
    """An `Outbox` in memory: for tests and single-process apps (nothing survives a restart)."""

    def __init__(self) -> None:
        import threading

        self.records: dict[str, dict[str, Any]] = {}
        self.saved: dict[str, Any] = {}
        self.holder: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def lease(self, owner: str, seconds: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self.holder is None or self.holder[0] == owner or self.holder[1] < now:
                self.holder = (owner, now + seconds)
                return True
            return False

    def cursor(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.saved))  # type: ignore[no-any-return]

    def save_cursor(self, cursor: Mapping[str, Any]) -> None:
        with self._lock:
            self.saved = json.loads(json.dumps(cursor))

    def put(self, delivery: Mapping[str, Any]) -> None:
        with self._lock:
            self.records[str(delivery["id"])] = dict(delivery)

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.records.get(delivery_id)
            return dict(found) if found is not None else None

    def due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            pending = [
                r
                for r in self.records.values()
                if r.get("status") == "pending" and float(r.get("next_at", 0)) <= now
            ]
        return [dict(r) for r in sorted(pending, key=lambda r: float(r["next_at"]))[:limit]]

    def recent(self, endpoint: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            found = [
                r
                for r in self.records.values()
                if endpoint is None or r.get("endpoint") == endpoint
            ]
        found.sort(key=lambda r: float(r.get("updated", r.get("created", 0))), reverse=True)
        return [dict(r) for r in found[:limit]]
