"""Editors: the writable side of each store, with compare-and-set and an audit log in it.

`open_editor` takes the same URLs as the command line. Each editor satisfies
`configgen.audit.Editor`; see docs/production.md ("Changing values safely").
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from configgen.audit import DEFAULT_RETENTION, AuditEntry, Change, Conflict, same
from configgen.stores._common import Snapshot, encode_value, parse_store_url, require

logger = logging.getLogger(__name__)

_ABORTED = "aborted"
"""The field of a file audit-log line that withdraws an entry whose change was not made."""
_BATCH = "batch"
"""The field of a file audit-log line naming the batch (its first entry's id) it belongs to."""
DEFAULT_MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``: the operations one transaction may hold."""


def open_editor(
    url: str,
    *,
    service: str | None = None,
    retention: int | None = None,
    timeout: float = 5.0,
    max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
) -> Any:
    """An editor from a store URL.

    ``etcd://HOST:PORT/SERVICE``, ``redis://HOST:PORT/DB`` (with *service*), or
    ``file://PATH``: a local TOML overrides file; everything after ``file://`` is the path,
    so ``file:///etc/app/flags.toml`` is absolute and ``file://flags.toml`` is relative to
    the current directory. *retention* (default `configgen.audit.DEFAULT_RETENTION`) bounds
    the audit log; *timeout* is how long to wait for a server, in seconds; *max_txn_ops* is
    the etcd server's ``--max-txn-ops`` (it bounds `EtcdEditor.change_many`).
    """
    kept = DEFAULT_RETENTION if retention is None else retention
    address = parse_store_url(url, service)
    if address.kind == "file":
        assert address.path is not None
        return FileEditor(address.path, retention=kept)
    if address.kind == "etcd":
        return EtcdEditor(
            address.service,
            host=address.host,
            port=address.port,
            retention=kept,
            timeout=timeout,
            max_txn_ops=max_txn_ops,
        )
    return RedisEditor(
        address.service,
        host=address.host,
        port=address.port,
        db=address.db,
        retention=kept,
        timeout=timeout,
    )


def _check_retention(retention: int) -> int:
    if retention < 1:
        raise ValueError(f"the audit log keeps at least one entry, not {retention}")
    return retention


def _entries_newest_first(
    lines: Iterable[bytes | str], key: str | None, before: str | None
) -> Iterator[AuditEntry]:
    """Parsed entries, filtered by flag and id; a line that is not an entry is skipped, with
    a warning (once per reading)."""
    warned = False
    for line in lines:
        try:
            entry = AuditEntry.from_json(line)
        except ValueError as exc:  # not JSON, not UTF-8, not an entry: not ours to show
            if not warned:
                warned = True
                logger.warning("the audit log holds a line that is not an entry (%s); skipped", exc)
            continue
        if key is not None and entry.flag != key:
            continue
        if before is not None and not entry.id < before:
            continue
        yield entry


class _Readable:
    """Decoding the server's bytes: a key or value that is not UTF-8 is skipped, noted once."""

    def __init__(self) -> None:
        self._snapshot = Snapshot(None)
        self._lock = threading.Lock()

    def _decoded(self, entries: Iterable[tuple[bytes, bytes]]) -> dict[str, Any]:
        with self._lock:
            self._snapshot.replace_raw(entries)
            return dict(self._snapshot.values)

    def unreadable(self) -> dict[str, str]:
        """The keys skipped by the last `read_all` because they are not UTF-8, and why.

        A name that is not UTF-8 itself appears as the repr of its bytes (``"b'\\xffkey'"``).
        """
        with self._lock:
            return dict(self._snapshot.unreadable)


def _check_batch(changes: Sequence[Change]) -> None:
    """A batch changes each flag at most once (one expected value, one entry per flag)."""
    seen: set[str] = set()
    for change in changes:
        if change.key in seen:
            raise ValueError(f"{change.key} is changed twice in one batch")
        seen.add(change.key)


def _text_or_bytes(value: bytes) -> str | bytes:
    """A stored value as text; bytes when it is not UTF-8 (what a compare-and-set names)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _raw_bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode("utf-8")
    raise TypeError(f"a stored value in etcd or Redis is text, not {type(raw).__name__}")


# -- a local overrides file --------------------------------------------------------------------


class FileEditor(_Readable):
    """A local TOML overrides file, the one the generated ``FileStore`` reads.

    Raw values are TOML's: bool, int, float, str. Flag keys are dotted; they are written as
    nested tables (``[ui]`` then ``theme = "dark"``), sorted, the whole file at once (a
    temporary file in the same folder, fsync, ``os.replace``), so a reader never sees half
    a file. A missing file is an empty store; the first change creates it.

    The audit log is ``<stem>.audit.jsonl`` beside it (``flags.audit.jsonl`` for
    ``flags.toml``): one JSON entry per line, appended and fsynced before the file is
    replaced. If the replace fails, a line ``{"aborted": "<id>"}`` withdraws the entry; if
    the process died in between, the next change notices (the flag still holds the entry's
    old value) and withdraws it the same way. A batch (`change_many`) appends all its entries
    in one write, each line naming the batch, and replaces the file once; if that fails, or
    the process died in between, every entry of the batch is withdrawn. Writers take an ``fcntl.flock`` on
    ``<name>.lock`` beside the file, so several processes can write safely; readers need
    no lock. The log keeps the newest *retention* entries, trimmed in batches (it may hold
    up to a tenth more between trims).
    """

    kind = "file"

    def __init__(self, path: str | os.PathLike[str], *, retention: int = DEFAULT_RETENTION) -> None:
        super().__init__()
        self.path = Path(path).absolute()
        self.audit_path = self.path.with_name(self.path.stem + ".audit.jsonl")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.retention = _check_retention(retention)

    def __repr__(self) -> str:
        return f"FileEditor({str(self.path)!r})"

    # -- the Editor protocol ---------------------------------------------------------------

    def read_all(self) -> dict[str, Any]:
        """Every value the file holds, by dotted flag key (ValueError if it is not TOML)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document = _parse_toml(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{self.path} is not a TOML file: {exc}") from None
        values: dict[str, Any] = {}
        pending: list[tuple[str, dict[str, Any]]] = [("", document)]
        while pending:
            prefix, table = pending.pop()
            for name, value in table.items():
                if isinstance(value, dict):
                    pending.append((f"{prefix}{name}.", value))
                else:
                    values[prefix + name] = value
        return values

    def read(self, key: str) -> Any:
        """One flag's value in the file, or None."""
        return self.read_all().get(key)

    def encode(self, value: bool | int | float | str) -> Any:
        """The file keeps TOML values: *value* itself."""
        if not isinstance(value, (bool, int, float, str)):
            raise TypeError(
                f"a flag value is a bool, int, float or str, not {type(value).__name__}"
            )
        return value

    def change(self, key: str, expected: Any, new: Any, entry: AuditEntry) -> None:
        """Write *new* (None: remove) if the file holds *expected*, with *entry* logged first."""
        with self._locked():
            values = self.read_all()
            self._withdraw_unmade(values)
            current = values.get(key)
            if not same(current, expected):
                raise Conflict(key, expected, current)
            if new is None:
                values.pop(key, None)
            else:
                values[key] = self.encode(new)
            text = _render_overrides(values, self.audit_path.name)
            self._append(entry.to_json())
            try:
                _write_atomically(self.path, text.encode("utf-8"))
            except BaseException:
                with contextlib.suppress(OSError):
                    self._append(json.dumps({_ABORTED: entry.id}))
                raise
            self._trim()

    def change_many(self, changes: Sequence[Change]) -> None:
        """All changes or none: one lock, one append of every entry, one replace of the file."""
        _check_batch(changes)
        if not changes:
            return
        with self._locked():
            values = self.read_all()
            self._withdraw_unmade(values)
            for change in changes:
                current = values.get(change.key)
                if not same(current, change.expected):
                    raise Conflict(change.key, change.expected, current)
            for change in changes:
                if change.new is None:
                    values.pop(change.key, None)
                else:
                    values[change.key] = self.encode(change.new)
            text = _render_overrides(values, self.audit_path.name)
            batch = changes[0].entry.id
            self._append(*(_batch_line(change.entry, batch) for change in changes))
            try:
                _write_atomically(self.path, text.encode("utf-8"))
            except BaseException:
                with contextlib.suppress(OSError):
                    self._append(*(json.dumps({_ABORTED: c.entry.id}) for c in changes))
                raise
            self._trim()

    def history(
        self, key: str | None = None, *, limit: int = 50, before: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first (by the order they were written)."""
        lines = self._log_lines()
        withdrawn = _withdrawn(lines)
        found: list[AuditEntry] = []
        for entry in _entries_newest_first(reversed(lines), key, before):
            if entry.id in withdrawn:
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    def close(self) -> None:
        """Nothing to close: each call opens what it needs."""

    # -- the audit log ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "ab") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _log_lines(self) -> list[bytes]:
        """The log's complete lines (a last line cut short by a crash is left out)."""
        try:
            data = self.audit_path.read_bytes()
        except FileNotFoundError:
            return []
        return data.split(b"\n")[:-1]

    def _append(self, *lines: str) -> None:
        """Append lines in one write and fsync them (a line cut short by a crash before is
        ended first)."""
        with open(self.audit_path, "a+b") as log:
            log.seek(0, os.SEEK_END)
            start = b""
            if log.tell() > 0:
                log.seek(-1, os.SEEK_END)
                if log.read(1) != b"\n":
                    start = b"\n"
            log.write(start + b"".join(line.encode("utf-8") + b"\n" for line in lines))
            log.flush()
            os.fsync(log.fileno())

    def _withdraw_unmade(self, values: dict[str, Any]) -> None:
        """The last entry's change was not made (a crash between log and file): withdraw it."""
        try:
            with open(self.audit_path, "rb") as log:
                log.seek(max(log.seek(0, os.SEEK_END) - 65536, 0))
                lines = log.read().split(b"\n")[:-1]  # an entry is far shorter than 64 KiB
        except FileNotFoundError:
            return
        if not lines:
            return
        try:
            last = AuditEntry.from_json(lines[-1])
            batch = json.loads(lines[-1]).get(_BATCH)
        except ValueError:
            return  # an aborted marker, or a line that is no entry
        current = values.get(last.flag)
        unmade = same(current, last.old) and not same(current, last.new)
        if not isinstance(batch, str):
            if unmade:
                self._append(json.dumps({_ABORTED: last.id}))
            return
        if not unmade and not same(last.old, last.new):
            return  # the batch's last change was made: so was the batch (the usual case)
        # the last change was a batch: it was made, or none of it was (only after a crash
        # between its log lines and the file is its every flag still at its old value)
        members = [entry for entry in self._batch_entries(batch) if not same(entry.old, entry.new)]
        if members and all(
            same(values.get(entry.flag), entry.old) and not same(values.get(entry.flag), entry.new)
            for entry in members
        ):
            self._append(*(json.dumps({_ABORTED: entry.id}) for entry in members))

    def _batch_entries(self, batch: str) -> list[AuditEntry]:
        """The entries of one batch (read from the whole log: only needed after a crash)."""
        found: list[AuditEntry] = []
        for line in self._log_lines():
            if _BATCH.encode() not in line:
                continue
            with contextlib.suppress(ValueError, AttributeError):
                if json.loads(line).get(_BATCH) == batch:
                    found.append(AuditEntry.from_json(line))
        return found

    def _trim(self) -> None:
        """Keep the newest `retention` entries once the log holds a tenth more."""
        slack = max(self.retention // 10, 1)
        try:
            size = self.audit_path.stat().st_size
        except FileNotFoundError:
            return
        if size < (self.retention + slack) * 100:  # an entry takes well over 100 bytes
            return
        data = self.audit_path.read_bytes()
        if data.count(b"\n") <= self.retention + slack:  # counted without parsing: cheap
            return
        lines = data.split(b"\n")[:-1]
        withdrawn = _withdrawn(lines)
        kept: list[bytes] = []
        for line in lines:
            with contextlib.suppress(ValueError):
                if AuditEntry.from_json(line).id not in withdrawn:
                    kept.append(line)
        if len(kept) > self.retention + slack:
            kept = kept[-self.retention :]
            _write_atomically(self.audit_path, b"".join(line + b"\n" for line in kept))


def _batch_line(entry: AuditEntry, batch: str) -> str:
    """An entry's log line, naming its batch (`AuditEntry.from_json` ignores the extra field)."""
    return json.dumps(
        {**json.loads(entry.to_json()), _BATCH: batch},
        ensure_ascii=False,
        sort_keys=True,
    )


def _withdrawn(lines: list[bytes]) -> set[str]:
    found: set[str] = set()
    for line in lines:
        if b'"' + _ABORTED.encode() + b'"' not in line:
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get(_ABORTED), str):
            found.add(data[_ABORTED])
    return found


def _parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    import tomli

    return tomli.loads(text)


def _render_overrides(
    values: dict[str, Any], audit_name: str = "", *, header: Sequence[str] | None = None
) -> str:
    """The overrides file for *values*: dotted keys as nested tables, sorted; the comment
    lines *header* on top (by default, what writes it and where its changes are logged)."""
    import tomlkit

    tree: dict[str, Any] = {}
    for key in sorted(values):
        *parents, name = key.split(".")
        table = tree
        for depth, part in enumerate(parents):
            inner = table.setdefault(part, {})
            if not isinstance(inner, dict):
                taken = ".".join(parents[: depth + 1])
                raise ValueError(f"{taken} and {key} clash: {taken} cannot be a value and a table")
            table = inner
        if isinstance(table.get(name), dict):
            raise ValueError(f"{key} clashes with {key}.*: it cannot be a value and a table")
        table[name] = values[key]

    def build(table: dict[str, Any], into: Any) -> None:
        for name in sorted(table, key=lambda n: (isinstance(table[n], dict), n)):
            value = table[name]
            if isinstance(value, dict):
                only_tables = all(isinstance(v, dict) for v in value.values())
                inner = tomlkit.table(is_super_table=only_tables)
                build(value, inner)
                into.add(name, inner)
            else:
                into.add(name, value)

    if header is None:
        header = (
            "Flag values set with `configgen flags set` or `configgen serve`.",
            f"Every change is logged in {audit_name}; edits by hand are not.",
        )
    document = tomlkit.document()
    for line in header:
        document.add(tomlkit.comment(line))
    build(tree, document)
    return tomlkit.dumps(document)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace *path* with *data*: a temporary file beside it, fsync, rename, fsync the folder."""
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:  # keep the old file's permissions; a new one is readable by the services
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(folder)


# -- etcd ------------------------------------------------------------------------------------


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode("utf-8") if isinstance(data, str) else data).decode()


def _unb64(data: str) -> bytes:
    return base64.b64decode(data)


def _after(prefix: bytes) -> bytes:
    """The first key past every key starting with *prefix* (an etcd range end)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class EtcdEditor(_Readable):
    """Flag values under ``/<service>/flags/`` in etcd, the keys `EtcdStore` reads.

    Raw values are the texts `configgen.stores.encode_value` writes. A change is one etcd
    transaction: it compares the key's value with the expected one (or that the key does
    not exist), and then both writes (or deletes) the value and puts the audit entry under
    ``/<service>/audit/<entry id>``; otherwise it reads the current value and raises
    `Conflict`. After a change the oldest entries beyond *retention* are deleted (a step
    of its own: at worst a few more are kept a little longer).

    `change_many` is one transaction too: a compare for every key, then every write and
    every audit entry. etcd bounds the operations in one transaction (``--max-txn-ops``,
    128 by default); *max_txn_ops* tells the editor the server's limit, and a batch of more
    changes than fits (`max_changes`, half of it: a change is its value and its entry) is
    refused before anything is sent.
    """

    kind = "etcd"

    def __init__(
        self,
        service: str,
        *,
        host: str = "127.0.0.1",
        port: int = 2379,
        prefix: str | None = None,
        audit_prefix: str | None = None,
        retention: int = DEFAULT_RETENTION,
        timeout: float = 5.0,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
    ) -> None:
        super().__init__()
        if max_txn_ops < 2:
            raise ValueError(f"etcd's --max-txn-ops is at least 2, not {max_txn_ops}")
        self.max_txn_ops = max_txn_ops
        etcd3gw = require("etcd3gw", "etcd")
        self.service = service
        self.prefix = (prefix if prefix is not None else f"/{service}/flags/").encode()
        self.audit_prefix = (
            audit_prefix if audit_prefix is not None else f"/{service}/audit/"
        ).encode()
        self.retention = _check_retention(retention)
        self.host, self.port, self.timeout = host, port, timeout
        self._client = etcd3gw.client(host=host, port=port, timeout=timeout)
        self._errors = require("etcd3gw.exceptions", "etcd")

    def __repr__(self) -> str:
        return f"EtcdEditor({self.service!r}, host={self.host!r}, port={self.port})"

    def _post(self, path: str, request: dict[str, Any]) -> Any:
        try:
            return self._client.post(self._client.get_url(path), json=request)
        except self._errors.ConnectionFailedError:
            raise ConnectionError(f"cannot connect to etcd at {self.host}:{self.port}") from None
        except self._errors.ConnectionTimeoutError:
            raise TimeoutError(
                f"etcd at {self.host}:{self.port} did not answer within {self.timeout:g} s"
            ) from None
        except self._errors.Etcd3Exception as exc:  # their str() is empty: say what it was
            said = exc.detail_text or type(exc).__name__
            raise ConnectionError(f"etcd at {self.host}:{self.port}: {said}") from None

    def read_all(self) -> dict[str, Any]:
        """Every value under the prefix (keys or values that are not UTF-8 are skipped)."""
        reply = self._post(
            "/kv/range", {"key": _b64(self.prefix), "range_end": _b64(_after(self.prefix))}
        )
        start = len(self.prefix)
        return self._decoded(
            (_unb64(kv["key"])[start:], _unb64(kv.get("value", ""))) for kv in reply.get("kvs", [])
        )

    def read(self, key: str) -> Any:
        """One flag's stored text, None, or bytes when the stored value is not UTF-8."""
        reply = self._post("/kv/range", {"key": _b64(self.prefix + key.encode())})
        kvs = reply.get("kvs", [])
        return _text_or_bytes(_unb64(kvs[0].get("value", ""))) if kvs else None

    def encode(self, value: bool | int | float | str) -> Any:
        """The text etcd keeps for *value* (`encode_value`)."""
        return encode_value(value)

    def _compare(self, key: str, expected: Any) -> dict[str, Any]:
        name = _b64(self.prefix + key.encode())
        if expected is None:
            return {"key": name, "target": "VERSION", "result": "EQUAL", "version": "0"}
        return {
            "key": name,
            "target": "VALUE",
            "result": "EQUAL",
            "value": _b64(_raw_bytes(expected)),
        }

    def _writes(self, key: str, new: Any, entry: AuditEntry) -> list[dict[str, Any]]:
        name = _b64(self.prefix + key.encode())
        write: dict[str, Any] = (
            {"request_delete_range": {"key": name}}
            if new is None
            else {"request_put": {"key": name, "value": _b64(_raw_bytes(new))}}
        )
        record = {
            "request_put": {
                "key": _b64(self.audit_prefix + entry.id.encode()),
                "value": _b64(entry.to_json()),
            }
        }
        return [write, record]

    @staticmethod
    def _current(response: dict[str, Any]) -> Any:
        kvs = response.get("response_range", {}).get("kvs", [])
        return _text_or_bytes(_unb64(kvs[0].get("value", ""))) if kvs else None

    def change(self, key: str, expected: Any, new: Any, entry: AuditEntry) -> None:
        """One transaction: compare, write the value and the audit entry; or `Conflict`."""
        name = _b64(self.prefix + key.encode())
        reply = self._post(
            "/kv/txn",
            {
                "compare": [self._compare(key, expected)],
                "success": self._writes(key, new, entry),
                "failure": [{"request_range": {"key": name}}],
            },
        )
        if not reply.get("succeeded"):
            raise Conflict(key, expected, self._current((reply.get("responses") or [{}])[0]))
        self._trim()

    @property
    def max_changes(self) -> int:
        """The most changes `change_many` applies in one transaction: half of ``max_txn_ops``
        (each change is two operations, the value and its audit entry)."""
        return self.max_txn_ops // 2

    def change_many(self, changes: Sequence[Change]) -> None:
        """ONE transaction: a compare per key, then every write and every audit entry.

        etcd bounds each list of a transaction to ``max_txn_ops`` operations, so a batch
        holds up to `max_changes` changes. A bigger one raises ValueError and sends nothing;
        a server whose limit is lower than ``max_txn_ops`` says refuses it the same way.
        """
        _check_batch(changes)
        if not changes:
            return
        if len(changes) > self.max_changes:
            raise ValueError(_too_many(len(changes), self.max_changes, self.max_txn_ops))
        compares = [self._compare(c.key, c.expected) for c in changes]
        success = [op for c in changes for op in self._writes(c.key, c.new, c.entry)]
        failure = [{"request_range": {"key": _b64(self.prefix + c.key.encode())}} for c in changes]
        try:
            reply = self._post(
                "/kv/txn", {"compare": compares, "success": success, "failure": failure}
            )
        except ConnectionError as exc:
            if "too many operations" in str(exc):
                raise ValueError(
                    f"{_too_many(len(changes), None, None)} ({exc}); nothing was written"
                ) from None
            raise
        if not reply.get("succeeded"):
            responses = reply.get("responses") or []
            for change, response in zip(changes, responses, strict=False):
                current = self._current(response)
                if not same(current, change.expected):
                    raise Conflict(change.key, change.expected, current)
            raise Conflict(changes[0].key, changes[0].expected, None)  # not reached
        self._trim()

    def _trim(self) -> None:
        """Delete the oldest audit entries beyond `retention`."""
        whole = {"key": _b64(self.audit_prefix), "range_end": _b64(_after(self.audit_prefix))}
        count = int(self._post("/kv/range", {**whole, "count_only": True}).get("count", 0))
        if count <= self.retention:
            return
        oldest = self._post(
            "/kv/range",
            {
                **whole,
                "keys_only": True,
                "sort_order": "ASCEND",
                "sort_target": "KEY",
                "limit": count - self.retention + 1,
            },
        )
        kvs = oldest.get("kvs", [])
        if len(kvs) == count - self.retention + 1:
            self._post("/kv/deleterange", {"key": whole["key"], "range_end": kvs[-1]["key"]})

    def history(
        self, key: str | None = None, *, limit: int = 50, before: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first by id, read in pages from etcd."""
        end = self.audit_prefix + before.encode() if before else _after(self.audit_prefix)
        batch = max(limit, 100) if key is not None else limit
        found: list[AuditEntry] = []
        while len(found) < limit:
            reply = self._post(
                "/kv/range",
                {
                    "key": _b64(self.audit_prefix),
                    "range_end": _b64(end),
                    "sort_order": "DESCEND",
                    "sort_target": "KEY",
                    "limit": batch,
                },
            )
            kvs = reply.get("kvs", [])
            for entry in _entries_newest_first(
                (_unb64(kv.get("value", "")) for kv in kvs), key, None
            ):
                found.append(entry)
                if len(found) >= limit:
                    break
            if len(kvs) < batch:
                break
            end = _unb64(kvs[-1]["key"])  # the range end is exclusive
        return found

    def close(self) -> None:
        """Close the HTTP session."""
        with contextlib.suppress(Exception):
            self._client.session.close()


def _too_many(count: int, limit: int | None, max_txn_ops: int | None) -> str:
    """Why etcd refuses a batch of *count* changes, and what to do about it."""
    allowed = (
        f"at most {limit} changes (two operations each; the server's --max-txn-ops is "
        f"{max_txn_ops})"
        if limit is not None
        else "fewer changes: the server's --max-txn-ops is lower than configgen was told"
    )
    return (
        f"{count} changes do not fit in one etcd transaction, which takes {allowed}: "
        "import smaller files, or raise --max-txn-ops on every etcd server and pass the "
        "same --max-txn-ops to configgen"
    )


# -- Redis -----------------------------------------------------------------------------------

_CHANGE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '1' then
  if current ~= ARGV[3] then
    if current then return {0, current} end
    return {0}
  end
elseif current then
  return {0, current}
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*', 'entry', ARGV[6])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return {1}
"""
"""Compare the field, write or delete it, append the entry, announce: atomically."""

_CHANGE_MANY_SCRIPT = """
local count = tonumber(ARGV[1])
for i = 0, count - 1 do
  local at = 3 + i * 6
  local current = redis.call('HGET', KEYS[1], ARGV[at])
  if ARGV[at + 1] == '1' then
    if current ~= ARGV[at + 2] then
      if current then return {0, i, current} end
      return {0, i}
    end
  elseif current then
    return {0, i, current}
  end
end
for i = 0, count - 1 do
  local at = 3 + i * 6
  if ARGV[at + 3] == '1' then
    redis.call('HSET', KEYS[1], ARGV[at], ARGV[at + 4])
  else
    redis.call('HDEL', KEYS[1], ARGV[at])
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'entry', ARGV[at + 5])
end
redis.call('PUBLISH', KEYS[3], ARGV[3 + (count - 1) * 6])
return {1}
"""
"""Every compare first, then every write and entry, one announcement: atomically."""


class RedisEditor(_Readable):
    """Flag values in the hash ``<service>:flags``, the one `RedisStore` reads.

    Raw values are the texts `configgen.stores.encode_value` writes. A change is one Lua
    script, atomic in Redis: it compares the field with the expected value (or that there
    is none), sets or deletes it, appends the audit entry to the stream ``<service>:audit``
    (``MAXLEN ~ retention``: Redis trims in whole blocks, so a little more may be kept) and
    publishes the key on ``<service>:flags:changed``, where `RedisStore` listens. Otherwise
    it returns the current value and nothing is written: `Conflict`. `change_many` is one
    script as well: every compare, then every write and entry, and one message (naming the
    batch's last key: stores reread everything on any message).
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
        super().__init__()
        redis = require("redis", "redis")
        self.service = service
        self.key = f"{service}:flags"
        self.stream = f"{service}:audit"
        self.channel = f"{service}:flags:changed"
        self.retention = _check_retention(retention)
        self.host, self.port, self.db = host, port, db
        self._client = redis.Redis(
            host=host,
            port=port,
            db=db,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            **client_options,
        )
        self._change = self._client.register_script(_CHANGE_SCRIPT)
        self._change_many = self._client.register_script(_CHANGE_MANY_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisEditor({self.service!r}, host={self.host!r}, port={self.port}, db={self.db})"

    def read_all(self) -> dict[str, Any]:
        """Every field of the hash (names or values that are not UTF-8 are skipped)."""
        return self._decoded(self._client.hgetall(self.key).items())

    def read(self, key: str) -> Any:
        """One flag's stored text, None, or bytes when the stored value is not UTF-8."""
        value = self._client.hget(self.key, key)
        return None if value is None else _text_or_bytes(value)

    def encode(self, value: bool | int | float | str) -> Any:
        """The text Redis keeps for *value* (`encode_value`)."""
        return encode_value(value)

    def change(self, key: str, expected: Any, new: Any, entry: AuditEntry) -> None:
        """One Lua script: compare, write, append the entry, publish; or `Conflict`."""
        args = [
            key,
            "0" if expected is None else "1",
            b"" if expected is None else _raw_bytes(expected),
            "0" if new is None else "1",
            b"" if new is None else _raw_bytes(new),
            entry.to_json(),
            str(self.retention),
        ]
        reply = self._change(keys=[self.key, self.stream, self.channel], args=args)
        if int(reply[0]) != 1:
            current = _text_or_bytes(reply[1]) if len(reply) > 1 else None
            raise Conflict(key, expected, current)

    def change_many(self, changes: Sequence[Change]) -> None:
        """One Lua script: every compare, then every write and entry, one publish."""
        _check_batch(changes)
        if not changes:
            return
        args: list[str | bytes] = [str(len(changes)), str(self.retention)]
        for change in changes:
            args += [
                change.key,
                "0" if change.expected is None else "1",
                b"" if change.expected is None else _raw_bytes(change.expected),
                "0" if change.new is None else "1",
                b"" if change.new is None else _raw_bytes(change.new),
                change.entry.to_json(),
            ]
        reply = self._change_many(keys=[self.key, self.stream, self.channel], args=args)
        if int(reply[0]) != 1:
            refused = changes[int(reply[1])]
            current = _text_or_bytes(reply[2]) if len(reply) > 2 else None
            raise Conflict(refused.key, refused.expected, current)

    def history(
        self, key: str | None = None, *, limit: int = 50, before: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first (the stream's order), read in pages."""
        batch = max(limit, 100) if key is not None or before is not None else limit
        start: bytes | str = "+"
        found: list[AuditEntry] = []
        while len(found) < limit:
            items = self._client.xrevrange(self.stream, max=start, min="-", count=batch)
            lines = (fields.get(b"entry", b"") for _, fields in items)
            for entry in _entries_newest_first(lines, key, before):
                found.append(entry)
                if len(found) >= limit:
                    break
            if len(items) < batch:
                break
            start = b"(" + items[-1][0]  # exclusive: older than the last one read
        return found

    def close(self) -> None:
        """Close the connections."""
        self._client.close()


__all__ = ["EtcdEditor", "FileEditor", "RedisEditor", "open_editor"]
