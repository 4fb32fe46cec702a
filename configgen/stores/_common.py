"""What the server-backed stores share: the snapshot, watchers, logging once, encoding."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

logger = logging.getLogger("configgen.stores")
key_logger = logging.getLogger("configgen.stores.keys")
"""Where keys that are skipped (no flag, not UTF-8) are reported, once each."""


def require(module: str, extra: str) -> Any:
    """Import a store's client, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{module} is needed for this store: pip install 'python-configgen[{extra}]'"
        ) from exc


def encode_value(value: object) -> str:
    """How a flag value is stored as text: ``true``/``false``, decimal numbers, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(f"a flag value is a bool, int, float or str, not {type(value).__name__}")


class Snapshot:
    """The values a store serves, replaced whole, and the callbacks told after a change."""

    def __init__(self, known: Iterable[str] | None, encoding: str = "utf-8") -> None:
        self.values: Mapping[str, str] = {}
        self.known = frozenset(known) if known is not None else None
        self.encoding = encoding
        self.unknown_keys = 0
        """How many times a key that is no flag was seen (and ignored)."""
        self.unreadable_keys = 0
        """How many times a key whose name or value is not text was seen (and skipped)."""
        self.unreadable: Mapping[str, str] = {}
        """The keys skipped now because their bytes are not text, and why."""
        self.errors = 0
        """How many times talking to the server failed."""
        self._watchers: list[Callable[[], object]] = []
        self._logged: set[str] = set()
        self._lock = threading.Lock()

    def watch(self, callback: Callable[[], object]) -> None:
        """Add *callback*; first drop the callbacks that are ``gone`` (those of `Flags` that
        no longer exist) whenever their number reaches a power of two, from 64."""
        with self._lock:
            size = len(self._watchers)
            if size >= 64 and size & (size - 1) == 0:
                self._watchers[:] = [w for w in self._watchers if not _gone(w)]
            self._watchers.append(callback)

    def replace(self, values: Mapping[str, str]) -> None:
        """Serve *values* from now on; tell the watchers if anything changed."""
        values = self._filter(values)
        with self._lock:
            if values == self.values:
                return
            self.values = values
        self._notify()

    def update(self, changes: Mapping[str, str | None]) -> None:
        """Apply changes (None: deleted) and tell the watchers."""
        with self._lock:
            values = dict(self.values)
            for key, value in changes.items():
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
            values = self._filter(values)
            if values == self.values:
                return
            self.values = values
        self._notify()

    def replace_raw(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        """`replace` with the server's bytes: keys or values that are not text are skipped."""
        values: dict[str, str] = {}
        unreadable: dict[str, str] = {}
        for name, value in entries:
            decoded = self._decode(name, value, unreadable)
            if decoded is not None:
                values[decoded[0]] = decoded[1]
        with self._lock:
            self.unreadable = unreadable
        self.replace(values)

    def update_raw(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        """`update` with the server's bytes (None: deleted); a value that is not text deletes."""
        decoded_changes: dict[str, str | None] = {}
        with self._lock:
            unreadable = dict(self.unreadable)
        for name, value in changes:
            shown = self._shown(name)
            unreadable.pop(shown, None)  # the key's latest bytes decide
            if value is None:
                decoded_changes[shown] = None
                continue
            decoded = self._decode(name, value, unreadable)
            decoded_changes[shown] = None if decoded is None else decoded[1]
        with self._lock:
            self.unreadable = unreadable
        self.update(decoded_changes)

    def _shown(self, name: bytes) -> str:
        """A key's name as text; a name that is not text as its bytes' repr: ``b'\\xffname'``."""
        try:
            return name.decode(self.encoding)
        except UnicodeDecodeError:
            return repr(name)

    def _decode(
        self, name: bytes, value: bytes, unreadable: dict[str, str]
    ) -> tuple[str, str] | None:
        """The key and value as text, or None (logged once per key, counted, noted)."""
        try:
            key = name.decode(self.encoding)
        except UnicodeDecodeError:
            shown = label = repr(name)
            problem = f"its name is not {self._encoding_name()}"
        else:
            shown, label = key, repr(key)
            if self.known is not None and key not in self.known:
                return key, ""  # dropped by _filter as a key that is no flag, without its value
            try:
                return key, value.decode(self.encoding)
            except UnicodeDecodeError:
                problem = (
                    f"its stored value is not {self._encoding_name()}"
                    f" ({len(value)} bytes: {_preview(value)})"
                )
        self.unreadable_keys += 1
        unreadable[shown] = problem
        self.once(f"unreadable:{shown}", "skipping the key %s: %s", label, problem, log=key_logger)
        return None

    def _encoding_name(self) -> str:
        utf8 = self.encoding.replace("_", "-").lower() in ("utf-8", "utf8")
        return "UTF-8" if utf8 else self.encoding

    def _filter(self, values: Mapping[str, str]) -> dict[str, str]:
        if self.known is None:
            return dict(values)
        kept = {}
        for key, value in values.items():
            if key in self.known:
                kept[key] = value
            else:
                self.unknown_keys += 1
                self.once(
                    f"unknown:{key}", "ignoring %r: no flag has that key", key, log=key_logger
                )
        return kept

    def failed(self, cause: str, message: str, *args: object) -> None:
        self.errors += 1
        self.once(cause, message, *args)

    def once(self, cause: str, message: str, *args: object, log: logging.Logger = logger) -> None:
        if cause not in self._logged:
            self._logged.add(cause)
            log.warning(message, *args)

    def _notify(self) -> None:
        """Call every watcher; first drop those that are ``gone``."""
        with self._lock:
            live = [w for w in self._watchers if not _gone(w)]
            if len(live) < len(self._watchers):
                self._watchers[:] = live
        for callback in live:
            try:
                callback()
            except Exception:
                logger.exception("a flag store watcher failed")


def _gone(callback: object) -> bool:
    """Whether *callback* says it is ``gone``; one that cannot say (a dead
    ``weakref.proxy`` raises) is kept, and fails when it is called, as before."""
    try:
        return getattr(callback, "gone", False) is True
    except Exception:
        logger.debug("a flag store watcher cannot say if it is gone", exc_info=True)
        return False


def _preview(data: bytes, limit: int = 16) -> str:
    """The first bytes of a value, for a message: ``b'\\xff\\xfe'``, cut with ``...``."""
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


class StoreAddress(NamedTuple):
    """Where a store URL points: ``file://PATH``, ``etcd://HOST:PORT/SERVICE`` or
    ``redis://HOST:PORT/DB`` (with a service name)."""

    kind: str  # "file", "etcd" or "redis"
    path: Path | None = None
    service: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    db: int = 0


def parse_store_url(url: str, service: str | None = None) -> StoreAddress:
    """Read a store URL (every opener of a store, editor or outbox reads them here).

    Everything after ``file://`` is the path: ``file:///etc/app/flags.toml`` is absolute,
    ``file://flags.toml`` relative to the current directory. Raise ValueError when unclear.
    """
    if url.startswith("file:"):
        path = url[len("file://") :] if url.startswith("file://") else url[len("file:") :]
        if not path:
            raise ValueError(f"{url}: name the overrides file: file://PATH")
        return StoreAddress("file", path=Path(path).expanduser())
    parts = urlsplit(url)
    path = parts.path.strip("/")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url}: the port is not a number") from None
    if parts.scheme == "etcd":
        if not path:
            raise ValueError(f"{url}: name the service: etcd://HOST:PORT/SERVICE")
        return StoreAddress(
            "etcd", service=path, host=parts.hostname or "127.0.0.1", port=port or 2379
        )
    if parts.scheme == "redis":
        if service is None:
            raise ValueError("a Redis store needs a service name (--service)")
        try:
            db = int(path) if path else 0
        except ValueError:
            raise ValueError(
                f"{url}: the path is the database number: redis://HOST:PORT/0"
            ) from None
        return StoreAddress(
            "redis", service=service, host=parts.hostname or "127.0.0.1", port=port or 6379, db=db
        )
    raise ValueError(f"{url}: a store URL starts with etcd://, redis:// or file://")


def open_store(url: str, *, service: str | None = None, known: Iterable[str] | None = None) -> Any:
    """A store from a URL: ``etcd://HOST:PORT/SERVICE`` or ``redis://HOST:PORT/DB``."""
    address = parse_store_url(url, service)
    if address.kind == "etcd":
        from configgen.stores._etcd import EtcdStore

        return EtcdStore(address.service, host=address.host, port=address.port, known=known)
    if address.kind == "redis":
        from configgen.stores._redis import RedisStore

        return RedisStore(
            address.service, host=address.host, port=address.port, db=address.db, known=known
        )
    raise ValueError(f"{url}: a store URL starts with etcd:// or redis://")


class ServerStore:
    """The part of a server-backed store that does not depend on the server.

    A subclass opens a session, reads everything (`_resync`) and follows changes
    (`_follow`) until the session ends; this class runs that in a background thread,
    reconnecting with backoff, and serves the snapshot.
    """

    kind = "server"

    def __init__(
        self, known: Iterable[str] | None, retry: float, max_retry: float, encoding: str = "utf-8"
    ) -> None:
        self._snapshot = Snapshot(known, encoding)
        self._retry, self._max_retry = retry, max_retry
        self._stop = threading.Event()
        self._synced = threading.Event()
        self.resyncs = 0
        """How many times everything was read (the first time included)."""
        self._thread: threading.Thread | None = None

    def _start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
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
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def values(self) -> dict[str, str]:
        """The snapshot: every stored value, by flag key."""
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
        """How many times talking to the server failed (each kind logged once)."""
        return self._snapshot.errors

    @property
    def unknown_keys(self) -> int:
        """How many times a key that is no flag was seen and ignored."""
        return self._snapshot.unknown_keys

    @property
    def unreadable_keys(self) -> int:
        """How many times a key whose name or stored value is not UTF-8 was seen and skipped.

        Such a key is served as if it were not stored (its flag gives its default); the
        other keys keep syncing. Each key is logged once.
        """
        return self._snapshot.unreadable_keys

    def unreadable(self) -> dict[str, str]:
        """The keys skipped in the last read because they are not UTF-8, and why.

        A name that is not UTF-8 itself appears as the repr of its bytes (``"b'\\xffkey'"``).
        """
        return dict(self._snapshot.unreadable)

    def close(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- for subclasses --------------------------------------------------------------------

    def _session(self) -> None:
        """Read everything, then follow changes until the connection ends (or raise)."""
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Make a blocked `_session` return soon (on close)."""

    def _synced_with(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        """Everything under the prefix was read: serve it (names and values as bytes)."""
        self._snapshot.replace_raw(entries)
        self.resyncs += 1
        self._synced.set()

    def _run(self) -> None:
        delay = self._retry
        while not self._stop.is_set():
            before = self.resyncs
            try:
                self._session()
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._snapshot.failed(
                    f"{self.kind}:{type(exc).__name__}",
                    "%r: %s; serving the last known values, retrying",
                    self,
                    exc,
                )
            if self.resyncs > before:
                delay = self._retry  # the session got going: start the backoff afresh
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._max_retry)
