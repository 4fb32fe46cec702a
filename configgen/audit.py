"""Changing flag values the safe way: compare-and-set, and an audit entry with each change.

Every store an operator writes through (a local overrides file, etcd, Redis) has an
`Editor`: it reads the raw values the services read, and changes one only if it still
holds the value the writer saw (`Conflict` otherwise, with what it holds now), recording
an `AuditEntry` in the same store, atomically with the change. The command line and the
server both write through it, so every instance and every operator sees one history.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import hashlib
import json
import os
import secrets
import time
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol

Channel = Literal["ui", "api", "cli", "import", "store"]
"""Through what a change came; ``store``: written straight into the store by another tool
(no audit entry of its own; the webhook dispatcher reports it)."""
CHANNELS: tuple[Channel, ...] = ("ui", "api", "cli", "import", "store")
DEFAULT_RETENTION = 10_000
"""Audit entries kept per store, newest first; older ones are dropped."""


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One change of one flag: who, when, through what, from which value to which."""

    id: str
    """Sortable by time: nanoseconds since the epoch, then random hex."""
    time: str
    """UTC, ISO 8601 with ``Z``."""
    actor: str
    """The user, the API token's name, or the OS user for the command line."""
    channel: Channel
    flag: str
    old: object
    """The value before (None: none was stored, the default applied)."""
    new: object
    """The value after (None: deleted, back to the default)."""
    note: str = ""

    def to_json(self) -> str:
        """One line of JSON; a value that is not JSON (stored bytes) is kept as its repr."""
        return json.dumps(
            dataclasses.asdict(self), ensure_ascii=False, sort_keys=True, default=_jsonable
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditEntry:
        """The entry `to_json` wrote; ValueError for anything else (wrong JSON, a field missing)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an audit entry is a JSON object")
        fields = {field.name for field in dataclasses.fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in fields})
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"not an audit entry: {exc}") from None


def _jsonable(value: object) -> str:
    """Stored bytes that are not text (and anything else JSON lacks), shown as their repr."""
    return repr(value)


def new_entry(
    *, actor: str, channel: Channel, flag: str, old: object, new: object, note: str = ""
) -> AuditEntry:
    """An entry for a change made now."""
    now = time.time_ns()
    stamp = datetime.datetime.fromtimestamp(now / 1e9, datetime.timezone.utc)
    return AuditEntry(
        id=f"{now:020d}-{secrets.token_hex(4)}",
        time=stamp.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        actor=actor,
        channel=channel,
        flag=flag,
        old=old,
        new=new,
        note=note,
    )


def os_user() -> str:
    """Who runs the command line, as the audit log names them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


class Change(NamedTuple):
    """One flag's part of a batch: store *new* (None: delete) over *expected*, recording *entry*."""

    key: str
    expected: Any
    new: Any
    entry: AuditEntry


class Conflict(Exception):
    """The store no longer holds the value the writer saw: nothing was written."""

    def __init__(self, key: str, expected: object, current: object) -> None:
        self.key = key
        self.expected = expected
        self.current = current
        super().__init__(
            f"{key} changed meanwhile: it holds {_shown(current)}, not {_shown(expected)}; "
            "nothing was written"
        )

    def __reduce__(self) -> tuple[type[Conflict], tuple[str, object, object]]:
        # picklable (multiprocessing, worker pools) although __init__ takes three arguments
        return type(self), (self.key, self.expected, self.current)


def _shown(raw: object) -> str:
    return "no value (the default)" if raw is None else repr(raw)


def etag(raw: object) -> str:
    """A strong entity tag of a raw stored value (its kind and value; absent is one too)."""
    kind = "absent" if raw is None else type(raw).__name__
    shown = json.dumps([kind, raw], sort_keys=True, default=_jsonable)
    digest = hashlib.sha256(shown.encode("utf-8"))
    return '"' + digest.hexdigest()[:32] + '"'


def same(one: object, other: object) -> bool:
    """Raw values compare by kind and value: ``1``, ``1.0`` and ``True`` differ.

    A stored NaN is the same as NaN (``nan == nan`` is false, but it is what the store holds).
    """
    if type(one) is not type(other):
        return False
    if isinstance(one, float) and isinstance(other, float) and one != one and other != other:
        return True
    return one == other


class Editor(Protocol):
    """The writable side of a store, for operators: the file, etcd and Redis each have one."""

    def read_all(self) -> dict[str, Any]:
        """Every stored raw value by flag key, read now (not a cached snapshot)."""
        ...

    def read(self, key: str) -> Any:
        """One flag's raw stored value, or None."""
        ...

    def encode(self, value: bool | int | float | str) -> Any:
        """The raw form this store keeps *value* in (text for etcd and Redis)."""
        ...

    def change(self, key: str, expected: Any, new: Any, entry: AuditEntry) -> None:
        """Store *new* (None: delete) if the store holds *expected* (None: nothing), and
        record *entry* with it, atomically; raise `Conflict` and write nothing otherwise."""
        ...

    def change_many(self, changes: Sequence[Change]) -> None:
        """Apply every change, each with its entry, all or nothing: if any flag no longer
        holds its expected value, raise `Conflict` (for the first such flag) and write nothing."""
        ...

    def history(
        self, key: str | None = None, *, limit: int = 50, before: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first: of one flag or all, older than the id *before*."""
        ...

    def close(self) -> None: ...


class MemoryEditor:
    """An `Editor` over a dict, for tests and for apps that keep flags in memory."""

    def __init__(
        self, values: dict[str, Any] | None = None, *, retention: int = DEFAULT_RETENTION
    ) -> None:
        import threading

        self.values: dict[str, Any] = dict(values or {})
        self.entries: list[AuditEntry] = []
        self.retention = retention
        self._lock = threading.Lock()

    def read_all(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.values)

    def read(self, key: str) -> Any:
        with self._lock:
            return self.values.get(key)

    def encode(self, value: bool | int | float | str) -> Any:
        return value

    def change(self, key: str, expected: Any, new: Any, entry: AuditEntry) -> None:
        self.change_many([Change(key, expected, new, entry)])

    def change_many(self, changes: Sequence[Change]) -> None:
        with self._lock:
            for change in changes:
                current = self.values.get(change.key)
                if not (current is None and change.expected is None) and not same(
                    current, change.expected
                ):
                    raise Conflict(change.key, change.expected, current)
            for change in changes:
                if change.new is None:
                    self.values.pop(change.key, None)
                else:
                    self.values[change.key] = change.new
                self.entries.append(change.entry)
            del self.entries[: -self.retention]

    def history(
        self, key: str | None = None, *, limit: int = 50, before: str | None = None
    ) -> list[AuditEntry]:
        with self._lock:
            found = [
                entry
                for entry in reversed(self.entries)
                if (key is None or entry.flag == key) and (before is None or entry.id < before)
            ]
        return found[:limit]

    def close(self) -> None:
        pass


__all__ = [
    "CHANNELS",
    "AuditEntry",
    "Change",
    "Channel",
    "Conflict",
    "Editor",
    "MemoryEditor",
    "etag",
    "new_entry",
    "os_user",
    "same",
]
