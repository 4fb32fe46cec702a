"""Editors against a real etcd, a real Redis and a file: compare-and-set with an audit log."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from configgen.audit import AuditEntry, Conflict, new_entry
from configgen.stores import EtcdEditor, FileEditor, RedisEditor, open_editor
from tests.servers import Etcd, Redis

REPO = Path(__file__).resolve().parent.parent


class Place:
    """One kind of store: its URL, and a way to put bytes there behind the editor's back."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.server: Etcd | Redis | None = None
        self.overrides = tmp_path / "overrides.toml"
        if kind == "etcd":
            self.server = Etcd(tmp_path)
        elif kind == "redis":
            self.server = Redis(tmp_path)
        if self.server is not None:
            self.server.start()

    @property
    def url(self) -> str:
        if self.kind == "file":
            return f"file://{self.overrides}"
        assert self.server is not None
        path = "svc" if self.kind == "etcd" else "0"
        return f"{self.kind}://127.0.0.1:{self.server.port}/{path}"

    def editor(self, retention: int | None = None) -> Any:
        return open_editor(self.url, service="svc", retention=retention)

    def raw(self, value: str | int) -> object:
        """How the store keeps an int or text: TOML-typed in the file, text in the servers."""
        return value if self.kind == "file" else str(value)

    def put_garbage(self) -> None:
        """A flag value and a flag name that are not UTF-8, and audit records that are none."""
        assert self.server is not None
        if self.kind == "etcd":
            import etcd3gw

            admin = etcd3gw.client(host="127.0.0.1", port=self.server.port)
            for key, value in [
                (b"/svc/flags/max_items", b"\xff\xfe"),
                (b"/svc/flags/\xff\xfename", b"1"),
                (b"/svc/audit/\xff\xfe", b"\xff\xfe"),
                (b"/svc/audit/99999999999999999999-zz", b'{"not": "an entry"}'),
            ]:
                admin.post(admin.get_url("/kv/put"), json={"key": _b64(key), "value": _b64(value)})
            admin.session.close()
        else:
            import redis

            with redis.Redis(port=self.server.port) as admin:
                admin.hset(b"svc:flags", b"max_items", b"\xff\xfe")
                admin.hset(b"svc:flags", b"\xff\xfename", b"1")
                admin.xadd(b"svc:audit", {b"entry": b"\xff\xfe"})
                admin.xadd(b"svc:audit", {b"other": b"1"})
                admin.xadd(b"svc:audit", {b"entry": b'{"not": "an entry"}'})

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(
    params=[
        "file",
        pytest.param("etcd", marks=pytest.mark.servers),
        pytest.param("redis", marks=pytest.mark.servers),
    ]
)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    found = Place(request.param, tmp_path)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def editor(place: Place) -> Iterator[Any]:
    opened = place.editor()
    yield opened
    opened.close()


def change(editor: Any, key: str, expected: object, new: object, note: str = "") -> AuditEntry:
    entry = new_entry(actor="ann", channel="api", flag=key, old=expected, new=new, note=note)
    editor.change(key, expected, new, entry)
    return entry


def test_open_editor_by_url(place: Place) -> None:
    editor = place.editor()
    try:
        expected = {"file": FileEditor, "etcd": EtcdEditor, "redis": RedisEditor}[place.kind]
        assert isinstance(editor, expected)
        assert editor.read_all() == {} and editor.read("ui.theme") is None
        assert editor.history() == []
    finally:
        editor.close()


def test_open_editor_refuses_unclear_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="etcd://, redis:// or file://"):
        open_editor("http://127.0.0.1/x")
    with pytest.raises(ValueError, match="name the service"):
        open_editor("etcd://127.0.0.1:2379")
    with pytest.raises(ValueError, match="--service"):
        open_editor("redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="file://PATH"):
        open_editor("file://")
    with pytest.raises(ValueError, match="at least one entry"):
        open_editor(f"file://{tmp_path / 'x.toml'}", retention=0)
    monkeypatch.chdir(tmp_path)
    relative = open_editor("file://conf/flags.toml")
    assert relative.path == tmp_path / "conf" / "flags.toml"
    assert relative.audit_path == tmp_path / "conf" / "flags.audit.jsonl"
    assert open_editor("file:///etc/app/flags.toml").path == Path("/etc/app/flags.toml")


def test_compare_and_set_with_one_audit_entry_per_change(place: Place, editor: Any) -> None:
    dark, light, seven = editor.encode("dark"), editor.encode("light"), editor.encode(7)
    assert (dark, seven) == (place.raw("dark"), place.raw(7))
    first = change(editor, "ui.theme", None, dark, note="launch")
    change(editor, "max_items", None, seven)
    change(editor, "ui.theme", dark, light)
    assert editor.read_all() == {"ui.theme": light, "max_items": seven}
    assert editor.read("ui.theme") == light
    history = editor.history()
    assert [(e.flag, e.old, e.new) for e in history] == [
        ("ui.theme", dark, light),
        ("max_items", None, seven),
        ("ui.theme", None, dark),
    ]
    assert history[-1] == first  # every field, as recorded
    assert (first.actor, first.channel, first.note) == ("ann", "api", "launch")

    # a stale expected value, an expected absence, an expected presence: refused, nothing written
    refusals = [("ui.theme", dark, "light"), ("ui.theme", None, "light"), ("discount", seven, None)]
    for key, stale, holds in refusals:
        with pytest.raises(Conflict) as caught:
            change(editor, key, stale, editor.encode("high-contrast"))
        assert caught.value.current == (editor.encode(holds) if holds else None)
        assert caught.value.expected == stale and caught.value.key == key
        assert "nothing was written" in str(caught.value)
    assert editor.read_all() == {"ui.theme": light, "max_items": seven}
    assert len(editor.history()) == 3

    change(editor, "ui.theme", light, None)  # deleted: back to the default
    assert editor.read_all() == {"max_items": seven}
    assert [(e.old, e.new) for e in editor.history("ui.theme")] == [
        (light, None),
        (dark, light),
        (None, dark),
    ]
    with pytest.raises(Conflict):
        change(editor, "ui.theme", light, None)  # deleted already
    assert len(editor.history()) == 4


def test_another_editor_sees_the_same_values_and_history(place: Place, editor: Any) -> None:
    change(editor, "kill_switch", None, editor.encode(True))
    other = place.editor()
    try:
        assert other.read("kill_switch") == (True if place.kind == "file" else "true")
        change(other, "kill_switch", other.read("kill_switch"), other.encode(False))
        assert [e.new for e in editor.history()] == [editor.encode(False), editor.encode(True)]
    finally:
        other.close()


def test_history_pages_and_one_flag(editor: Any) -> None:
    written = []
    for number in range(7):
        key = "a" if number % 2 else "b"
        old = editor.read(key)
        written.append(change(editor, key, old, editor.encode(number)))
    everything = editor.history(limit=100)
    assert everything == written[::-1]
    pages: list[AuditEntry] = []
    before = None
    while page := editor.history(limit=3, before=before):
        assert len(page) <= 3
        pages += page
        before = page[-1].id
    assert pages == everything
    assert editor.history("a") == [e for e in everything if e.flag == "a"]
    assert editor.history("a", limit=2, before=written[5].id) == [written[3], written[1]]
    assert editor.history("nothing") == []


def test_retention_keeps_the_newest_entries(place: Place) -> None:
    editor = place.editor(retention=5)
    try:
        written = []
        for number in range(150):
            written.append(change(editor, "max_items", editor.read("max_items"),
                                  editor.encode(number)))  # fmt: skip
        kept = editor.history(limit=1000)
        assert kept == written[::-1][: len(kept)]  # the newest, none missing among them
        if place.kind == "etcd":
            assert len(kept) == 5
        elif place.kind == "file":  # trimmed in batches: up to a tenth (at least one) more
            assert 5 <= len(kept) <= 6
            lines = editor.audit_path.read_bytes().splitlines()
            assert len(lines) == len(kept)
        else:  # MAXLEN ~: Redis drops whole blocks of (by default) 100 entries
            assert 5 <= len(kept) <= 105
    finally:
        editor.close()


def test_bytes_that_are_not_utf8_do_not_break_reading(
    place: Place, editor: Any, caplog: pytest.LogCaptureFixture
) -> None:
    change(editor, "ui.theme", None, editor.encode("dark"))
    if place.kind == "file":
        with editor.audit_path.open("ab") as log:
            log.write(b'\xff\xfe\n{"not": "an entry"}\n[1, 2]\n')
        assert editor.read_all() == {"ui.theme": "dark"}
        with caplog.at_level("WARNING", logger="configgen.stores._editors"):
            assert [e.flag for e in editor.history()] == ["ui.theme"]
        assert "the audit log holds a line that is not an entry" in caplog.text
        return
    place.put_garbage()
    assert editor.read_all() == {"ui.theme": "dark"}
    assert editor.unreadable() == {
        "max_items": "its stored value is not UTF-8 (2 bytes: b'\\xff\\xfe')",
        "b'\\xff\\xfename'": "its name is not UTF-8",
    }
    with caplog.at_level("WARNING", logger="configgen.stores._editors"):
        assert [e.flag for e in editor.history()] == ["ui.theme"]
    assert caplog.text.count("the audit log holds a line that is not an entry") == 1
    # the unreadable value can be named (as read: its bytes) and so replaced, with an entry
    assert editor.read("max_items") == b"\xff\xfe"
    with pytest.raises(Conflict) as caught:
        change(editor, "max_items", None, "3")
    assert caught.value.current == b"\xff\xfe"
    repaired = change(editor, "max_items", b"\xff\xfe", "3")
    assert editor.read_all() == {"ui.theme": "dark", "max_items": "3"}
    assert editor.unreadable() == {"b'\\xff\\xfename'": "its name is not UTF-8"}
    (logged,) = editor.history("max_items")
    assert logged == AuditEntry.from_json(repaired.to_json())
    assert (logged.old, logged.new) == ("b'\\xff\\xfe'", "3")  # bytes are logged as their repr


WORKER = textwrap.dedent(
    """\
    import json, os, sys, time
    from configgen.audit import Conflict, new_entry
    from configgen.stores import open_editor

    url, go, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    editor = open_editor(url, service="svc", retention=100_000)
    open(f"{go}.{os.getpid()}", "w").close()  # ready
    while not os.path.exists(go):
        time.sleep(0.001)
    accepted = conflicts = 0
    while accepted < count:
        current = editor.read("max_items")
        new = editor.encode((0 if current is None else int(current)) + 1)
        entry = new_entry(actor=str(os.getpid()), channel="api", flag="max_items",
                          old=current, new=new)
        try:
            editor.change("max_items", current, new, entry)
        except Conflict:
            conflicts += 1
        else:
            accepted += 1
    editor.close()
    print(json.dumps({"accepted": accepted, "conflicts": conflicts}))
    """
)


def test_two_processes_increment_without_losing_an_update(place: Place, tmp_path: Path) -> None:
    count = 300
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, place.url, str(go), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < 2:  # both started: they run side by side
        assert all(w.poll() is None for w in workers) and time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    accepted = sum(result["accepted"] for result in results)
    assert accepted == 2 * count
    assert sum(result["conflicts"] for result in results) > 0  # they did get in each other's way
    editor = place.editor()
    try:
        assert editor.read("max_items") == place.raw(accepted)
        history = editor.history(limit=10 * count)
        assert len(history) == accepted  # one entry per accepted write, no more
        steps = sorted(
            (0 if e.old is None else int(e.old), int(e.new))  # type: ignore[call-overload]
            for e in history
        )
        assert steps == [(n, n + 1) for n in range(accepted)]  # each write knew its old value
        assert {e.actor for e in history} == {str(w.pid) for w in workers}
    finally:
        editor.close()
    print(f"{place.kind}: conflicts {[result['conflicts'] for result in results]}")


# -- the file: what the generated FileStore reads, crashes, locking ------------------------------


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


def test_the_generated_file_store_reads_what_the_file_editor_writes(
    tmp_path: Path, ff: ModuleType
) -> None:
    editor = FileEditor(tmp_path / "etc" / "flags.toml")
    values = {"ui.theme": "dark", "ui.layout.density": "spacious", "max_items": 7,
              "discount": 0.5, "kill_switch": False, "greeting": 'say "hi"\n',
              "search.new_ranker": 50.0}  # fmt: skip
    for key, value in values.items():
        change(editor, key, None, editor.encode(value))
    text = editor.path.read_text()
    assert text.endswith(
        'discount = 0.5\ngreeting = "say \\"hi\\"\\n"\nkill_switch = false\nmax_items = 7\n\n'
        '[search]\nnew_ranker = 50.0\n\n[ui]\ntheme = "dark"\n\n[ui.layout]\ndensity = "spacious"\n'
    )
    assert editor.read_all() == values
    store = ff.FileStore(editor.path, settle=0.01)
    flags = ff.Flags(store)
    assert (flags.ui.theme(), flags.ui.layout.density(), flags.max_items(), flags.discount(),
            flags.kill_switch(), flags.greeting()) == (
        "dark", "spacious", 7, 0.5, False, 'say "hi"\n',
    )  # fmt: skip
    assert flags.fallbacks() == {}
    change(editor, "ui.theme", "dark", None)
    store.reload()
    assert flags.ui.theme() == "light"  # deleted: the default
    assert not list(editor.path.parent.glob(".*.tmp"))  # no temporary file left behind


def test_file_editor_reads_a_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.toml"
    path.write_text('max_items = 5\nui.theme = "dark"\n[ui.layout]\ndensity = "extra"\n')
    editor = FileEditor(path)
    assert editor.read_all() == {"max_items": 5, "ui.theme": "dark", "ui.layout.density": "extra"}
    with pytest.raises(Conflict):
        change(editor, "max_items", "5", 6)  # 5 is an int in the file, not the text "5"
    change(editor, "max_items", 5, 6)
    assert editor.read_all()["max_items"] == 6
    path.write_text("max_items = [\n")
    with pytest.raises(ValueError, match="is not a TOML file"):
        editor.read_all()
    with pytest.raises(ValueError, match="is not a TOML file"):
        change(editor, "max_items", 6, 7)
    assert len(editor.history()) == 1  # nothing logged for the refused change


def test_file_editor_refuses_a_key_that_is_a_table_and_a_value(tmp_path: Path) -> None:
    editor = FileEditor(tmp_path / "flags.toml")
    change(editor, "ui.theme", None, "dark")
    with pytest.raises(ValueError, match=r"^ui\.theme and ui\.theme\.x clash: ui\.theme cannot be"):
        change(editor, "ui.theme.x", None, 1)
    with pytest.raises(ValueError, match=r"^ui and ui\.theme clash: ui cannot be a value and a"):
        change(editor, "ui", None, 1)
    assert editor.read_all() == {"ui.theme": "dark"}
    assert len(editor.history()) == 1


def test_file_editor_withdraws_the_entry_of_a_change_it_could_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = FileEditor(tmp_path / "flags.toml")
    kept = change(editor, "max_items", None, 1)
    from configgen.stores import _editors

    def failing(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_editors, "_write_atomically", failing)
    with pytest.raises(OSError, match="No space left"):
        change(editor, "max_items", 1, 2)
    monkeypatch.undo()
    lines = editor.audit_path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2]) == {"aborted": json.loads(lines[1])["id"]}
    assert editor.history() == [kept]
    assert editor.read_all() == {"max_items": 1}

    # a process that died between the log and the file: the next change withdraws its entry
    dead = new_entry(actor="x", channel="cli", flag="max_items", old=1, new=9)
    with editor.audit_path.open("a") as log:
        log.write(dead.to_json() + "\n" + '{"actor": "cut sh')  # and a line cut short
    later = change(editor, "max_items", 1, 3)
    assert editor.history() == [later, kept]
    assert editor.read_all() == {"max_items": 3}


def test_file_editor_locks_out_other_writers(tmp_path: Path) -> None:
    import fcntl

    editor = FileEditor(tmp_path / "flags.toml")
    change(editor, "max_items", None, 1)
    script = textwrap.dedent(
        f"""\
        from configgen.audit import new_entry
        from configgen.stores import FileEditor
        editor = FileEditor({str(editor.path)!r})
        entry = new_entry(actor="b", channel="cli", flag="max_items", old=1, new=2)
        editor.change("max_items", 1, 2, entry)
        """
    )
    with open(editor.lock_path, "ab") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        writer = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=1)  # waiting for the lock
        assert editor.read_all() == {"max_items": 1}
    assert writer.wait(timeout=60) == 0
    assert editor.read_all() == {"max_items": 2}
    assert [e.actor for e in editor.history()] == ["b", "ann"]


def test_a_new_overrides_file_is_readable_by_others(tmp_path: Path) -> None:
    editor = FileEditor(tmp_path / "flags.toml")
    change(editor, "max_items", None, 1)
    assert editor.path.stat().st_mode & 0o777 == 0o644
    os.chmod(editor.path, 0o600)
    change(editor, "max_items", 1, 2)
    assert editor.path.stat().st_mode & 0o777 == 0o600  # an existing file keeps its mode


def test_cli_writes_through_the_editor(place: Place, tmp_path: Path, cli: Any) -> None:
    from configgen.audit import os_user
    from tests.conftest import DATA, write_project

    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text(encoding="utf-8"))
    common = ["--project", root, "--store", place.url, "--service", "svc"]
    assert cli("flags", "set", "max_items", "7", *common, "--expect-default").code == 0
    stale = cli("flags", "set", "max_items", "8", *common, "--expect", "6")
    assert (stale.code, stale.err) == (
        1,
        "configgen: max_items: expected '6' (--expect), but the store holds '7'; "
        "nothing was written\n",
    )
    assert (
        cli("flags", "set", "max_items", "8", *common, "--expect", "7", "--note", "more").code == 0
    )
    assert cli("flags", "delete", "max_items", *common, "--expect", "8").code == 0
    rows = [line.split("\t")[1:] for line in cli("flags", "history", *common).out.splitlines()]
    me = os_user()
    assert rows == [
        [me, "cli", "max_items", "8 -> (default)"],
        [me, "cli", "max_items", "7 -> 8", "more"],
        [me, "cli", "max_items", "(default) -> 7"],
    ]
    editor = place.editor()
    try:  # typed values in the log, whichever store: the server writes them the same way
        assert [(e.old, e.new) for e in editor.history()] == [(8, None), (7, 8), (None, 7)]
        assert editor.read_all() == {}
    finally:
        editor.close()


def test_an_etcd_that_is_not_there_is_named(tmp_path: Path) -> None:
    from tests.servers import free_port

    editor = open_editor(f"etcd://127.0.0.1:{free_port()}/svc", timeout=1)
    try:
        with pytest.raises(ConnectionError, match=r"^cannot connect to etcd at 127\.0\.0\.1:"):
            editor.read_all()
    finally:
        editor.close()


# -- batches: change_many, all or nothing ------------------------------------------------------


def batch(editor: Any, *changes: tuple[str, object, object]) -> list[AuditEntry]:
    from configgen.audit import Change

    made = [
        Change(key, expected, new, new_entry(actor="ann", channel="import", flag=key,
                                             old=expected, new=new, note="bulk"))
        for key, expected, new in changes
    ]  # fmt: skip
    editor.change_many(made)
    return [change.entry for change in made]


def test_change_many_applies_every_change_or_none(place: Place, editor: Any) -> None:
    e = editor.encode
    change(editor, "ui.theme", None, e("dark"))
    change(editor, "max_items", None, e(7))
    written = batch(
        editor, ("ui.theme", e("dark"), e("light")), ("max_items", e(7), None),
        ("discount", None, e(0.5)),
    )  # fmt: skip
    assert editor.read_all() == {"ui.theme": e("light"), "discount": e(0.5)}
    history = editor.history()
    assert len(history) == 5 and sorted(history[:3], key=lambda x: x.id) == sorted(
        written, key=lambda x: x.id
    )  # one entry per change, each as recorded
    assert {(x.flag, x.channel, x.note) for x in history[:3]} == {
        ("ui.theme", "import", "bulk"), ("max_items", "import", "bulk"),
        ("discount", "import", "bulk"),
    }  # fmt: skip
    before = (editor.read_all(), editor.history(limit=100))

    # the first, a middle and the last change stale in turn: nothing at all is written
    stale_sets = [
        ("greeting", [("greeting", e("x"), e("y")), ("ui.theme", e("light"), e("dark"))]),
        ("discount", [("greeting", None, e("y")), ("discount", None, e(0.7)),
                      ("kill_switch", None, e(True))]),
        ("max_items", [("greeting", None, e("y")), ("ui.theme", e("light"), None),
                       ("max_items", e(7), None)]),
    ]  # fmt: skip
    for stale_key, stale in stale_sets:
        with pytest.raises(Conflict) as caught:
            batch(editor, *stale)
        assert caught.value.key == stale_key
        assert "nothing was written" in str(caught.value)
        assert (editor.read_all(), editor.history(limit=100)) == before
    with pytest.raises(ValueError, match=r"ui\.theme is changed twice in one batch"):
        batch(editor, ("ui.theme", e("light"), e("dark")), ("ui.theme", e("dark"), None))
    editor.change_many([])
    assert (editor.read_all(), editor.history(limit=100)) == before


def test_a_batch_loses_to_a_change_made_meanwhile(place: Place, editor: Any) -> None:
    e = editor.encode
    for number in range(20):
        change(editor, f"f{number:02d}", None, e(number))
    seen = editor.read_all()
    other = place.editor()
    try:  # another writer changes one flag after the batch read its values
        change(other, "f13", seen["f13"], e(99))
    finally:
        other.close()
    before = (editor.read_all(), editor.history(limit=100))
    with pytest.raises(Conflict) as caught:
        batch(editor, *[(key, raw, e(100)) for key, raw in sorted(seen.items())])
    assert (caught.value.key, caught.value.expected, caught.value.current) == (
        "f13", e(13), e(99),
    )  # fmt: skip
    assert (editor.read_all(), editor.history(limit=100)) == before


@pytest.mark.servers
def test_etcd_batches_up_to_half_of_max_txn_ops_changes(tmp_path: Path) -> None:
    server = Etcd(tmp_path)
    server.start()
    editor = EtcdEditor("svc", port=server.port)
    try:
        assert editor.max_changes == 64  # etcd's default --max-txn-ops is 128
        written = batch(editor, *[(f"f{n:03d}", None, str(n)) for n in range(64)])
        assert len(editor.read_all()) == 64
        assert sorted(editor.history(limit=1000), key=lambda x: x.id) == sorted(
            written, key=lambda x: x.id
        )
        with pytest.raises(ValueError, match=r"^65 changes do not fit in one etcd transaction, "
                           r"which takes at most 64 changes \(two operations each; the server's "
                           r"--max-txn-ops is 128\): import smaller files, or raise"):  # fmt: skip
            batch(editor, *[(f"g{n:03d}", None, "1") for n in range(65)])
        assert len(editor.read_all()) == 64 and len(editor.history(limit=1000)) == 64
    finally:
        editor.close()
        server.stop()


@pytest.mark.servers
def test_etcd_with_a_lower_max_txn_ops_refuses_a_batch_clearly(tmp_path: Path) -> None:
    server = Etcd(tmp_path)
    server.command += ["--max-txn-ops", "16"]
    server.start()
    editor = EtcdEditor("svc", port=server.port)  # believes the default, 128
    try:
        with pytest.raises(ValueError, match=r"^20 changes do not fit .* the server's "
                           r"--max-txn-ops is lower.* too many operations"):  # fmt: skip
            batch(editor, *[(f"f{n:02d}", None, "1") for n in range(20)])
        assert editor.read_all() == {} and editor.history() == []
        told = EtcdEditor("svc", port=server.port, max_txn_ops=16)
        try:
            with pytest.raises(ValueError, match="at most 8 changes"):
                batch(told, *[(f"f{n:02d}", None, "1") for n in range(9)])
            batch(told, *[(f"f{n:02d}", None, "1") for n in range(8)])
            assert len(told.read_all()) == 8 and len(told.history(limit=100)) == 8
        finally:
            told.close()
    finally:
        editor.close()
        server.stop()


def test_file_batch_is_withdrawn_whole_when_the_file_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = FileEditor(tmp_path / "flags.toml")
    kept = change(editor, "max_items", None, 1)
    from configgen.stores import _editors

    def failing(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_editors, "_write_atomically", failing)
    with pytest.raises(OSError, match="No space left"):
        batch(editor, ("max_items", 1, 2), ("ui.theme", None, "dark"), ("discount", None, 0.5))
    monkeypatch.undo()
    lines = [json.loads(line) for line in editor.audit_path.read_text().splitlines()]
    assert len(lines) == 7  # one entry, three of the batch, three withdrawals
    assert [line["aborted"] for line in lines[4:]] == [line["id"] for line in lines[1:4]]
    assert editor.history() == [kept] and editor.read_all() == {"max_items": 1}

    # a writer that died between the batch's log lines and the file: the next change
    # withdraws the whole batch, not only its last entry
    dead = [new_entry(actor="x", channel="import", flag=key, old=old, new=new)
            for key, old, new in [("max_items", 1, 9), ("ui.theme", None, "dark")]]  # fmt: skip
    with editor.audit_path.open("a") as log:
        for entry in dead:
            log.write(_editors._batch_line(entry, dead[0].id) + "\n")
    later = change(editor, "discount", None, 0.25)
    assert editor.history() == [later, kept]
    # a batch that was made stays, also when a later change looks at it
    made = batch(editor, ("max_items", 1, 2), ("ui.theme", None, "dark"))
    again = change(editor, "discount", 0.25, 0.5)
    assert {x.id for x in editor.history(limit=10)} == {
        again.id,
        later.id,
        kept.id,
        *(x.id for x in made),
    }
    assert editor.read_all() == {"max_items": 2, "ui.theme": "dark", "discount": 0.5}


def test_a_change_after_a_batch_reads_only_the_logs_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = FileEditor(tmp_path / "flags.toml")
    batch(editor, *[(f"f{n:03d}", None, n) for n in range(300)])

    def whole_log(self: FileEditor) -> list[bytes]:
        raise AssertionError("the whole log was read")

    monkeypatch.setattr(FileEditor, "_log_lines", whole_log)
    change(editor, "f000", 0, 1)  # the batch was made: its last entry says so
