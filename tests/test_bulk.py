"""``configgen flags export`` and ``import``: formats, every problem at once, all or nothing,
round trips through a file, a real etcd and a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from configgen import bulk
from configgen.audit import Conflict, os_user
from configgen.stores import FileEditor, open_editor
from tests.conftest import DATA, CLIResult, write_project
from tests.servers import Etcd, Redis

CLI = Callable[..., CLIResult]


@pytest.fixture
def everything(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text(encoding="utf-8"))
    return root


class Store:
    """One kind of store, holding two services (or two files): where to export from, where
    to import into."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind, self.tmp_path = kind, tmp_path
        self.server: Etcd | Redis | None = None
        if kind == "etcd":
            self.server = Etcd(tmp_path)
        elif kind == "redis":
            self.server = Redis(tmp_path)
        if self.server is not None:
            self.server.start()

    def args(self, service: str = "svc") -> list[str]:
        if self.kind == "file":
            return ["--store", f"file://{self.tmp_path / service}.toml"]
        assert self.server is not None
        path = service if self.kind == "etcd" else "0"
        return ["--store", f"{self.kind}://127.0.0.1:{self.server.port}/{path}",
                "--service", service]  # fmt: skip

    def editor(self, service: str = "svc") -> Any:
        return open_editor(self.args(service)[1], service=service)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture(
    params=[
        "file",
        pytest.param("etcd", marks=pytest.mark.servers),
        pytest.param("redis", marks=pytest.mark.servers),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    found = Store(request.param, tmp_path)
    try:
        yield found
    finally:
        found.close()


VALUES = [
    ("ui.theme", "high-contrast"),
    ("ui.layout.density", "very-spacious-with-a-long-name"),
    ("ui.layout.sidebar", "false"),
    ("max_items", "-9223372036854775808"),
    ("discount", "0.1"),
    ("greeting", 'multi\nline "quoted" ünïcode'),
    ("kill_switch", "off"),
    ("search.new_ranker", "50"),
    ("new_checkout", "yes"),
]
EXPORTED_JSON = """\
{
  "discount": 0.1,
  "greeting": "multi\\nline \\"quoted\\" ünïcode",
  "kill_switch": false,
  "max_items": -9223372036854775808,
  "new_checkout": true,
  "search.new_ranker": 50.0,
  "ui.layout.density": "very-spacious-with-a-long-name",
  "ui.layout.sidebar": false,
  "ui.theme": "high-contrast"
}
"""
EXPORTED_TOML = """\
# Flag values exported by `configgen flags export`; `configgen flags import FILE` applies them.
# Also a valid overrides file for FileStore.
discount = 0.1
greeting = "multi\\nline \\"quoted\\" ünïcode"
kill_switch = false
max_items = -9223372036854775808
new_checkout = true

[search]
new_ranker = 50.0

[ui]
theme = "high-contrast"

[ui.layout]
density = "very-spacious-with-a-long-name"
sidebar = false
"""


def test_export_then_import_into_an_empty_store_gives_the_same_export(
    store: Store, everything: Path, tmp_path: Path, cli: CLI
) -> None:
    project = ["--project", everything]
    for key, value in VALUES:
        assert cli("flags", "set", key, value, *project, *store.args()).code == 0
    exports = {}
    for format, expected in (("json", EXPORTED_JSON), ("toml", EXPORTED_TOML)):
        out = tmp_path / f"export.{format}"
        result = cli("flags", "export", *project, *store.args(), "-o", out)
        assert (result.code, result.out, result.err) == (0, "", "")
        assert out.read_text(encoding="utf-8") == expected  # the same from every store
        exports[format] = out

    for format, out in exports.items():
        target = f"empty_{format}"
        imported = cli("flags", "import", out, *project, *store.args(target), "--note", "copy")
        assert imported.code == 0, imported.err
        assert imported.out.endswith("\n9 changes written, each with its audit entry\n")
        again = cli("flags", "export", *project, *store.args(target), "--format", format)
        assert (again.code, again.out) == (0, out.read_text(encoding="utf-8"))
        editor = store.editor(target)
        try:
            history = editor.history(limit=100)
        finally:
            editor.close()
        assert len(history) == 9  # one entry per flag, in the store's own log
        assert {(e.channel, e.actor, e.note, e.old) for e in history} == {
            ("import", os_user(), "copy", None)
        }
        assert {e.flag: e.new for e in history} == json.loads(EXPORTED_JSON)
        nothing = cli("flags", "import", out, *project, *store.args(target))
        assert (nothing.code, nothing.out) == (
            0,
            f"nothing to change: the store already holds the values of {out}\n",
        )


def test_the_toml_export_is_an_overrides_file(everything: Path, tmp_path: Path, cli: CLI) -> None:
    project = ["--project", everything, "--store", f"file://{tmp_path / 'o.toml'}"]
    for key, value in VALUES:
        assert cli("flags", "set", key, value, *project).code == 0
    out = tmp_path / "copy.toml"
    assert cli("flags", "export", *project, "-o", out).code == 0
    assert FileEditor(out).read_all() == FileEditor(tmp_path / "o.toml").read_all()
    one = cli("flags", "export", *project, "ui.theme", "--format", "toml")
    assert one.out.endswith('\n[ui]\ntheme = "high-contrast"\n')
    two = cli("flags", "export", *project, "max_items", "old_banner")
    assert (two.code, two.out, two.err) == (
        0,
        '{\n  "max_items": -9223372036854775808\n}\n',
        "configgen: old_banner: no stored value (its default False applies); nothing to export\n",
    )
    typo = cli("flags", "export", *project, "ui.them")
    assert (typo.code, typo.err) == (
        1,
        "configgen: no flag 'ui.them' in flags.toml (did you mean 'ui.theme'?)\n",
    )
    assert cli("flags", "export", *project, "-o", tmp_path / "x.yaml").code == 2
    assert cli("flags", "export", *project, "--format", "yaml").code == 2


def test_values_a_flag_cannot_read_are_not_exported(
    everything: Path, tmp_path: Path, cli: CLI
) -> None:
    overrides = tmp_path / "o.toml"
    overrides.write_text(
        'max_items = "lots"\ndiscount = 0.5\nremoved_flag = 1\n[ui]\ntheme = "x"\n'
    )
    result = cli("flags", "export", "--project", everything, "--store", f"file://{overrides}")
    assert (result.code, result.out) == (1, '{\n  "discount": 0.5\n}\n')
    assert result.err == (
        "configgen: warning: max_items is an int flag: 'lots' is not a whole number; services "
        "serve the default 50; not exported\n"
        "configgen: warning: ui.theme is an enum flag: 'x' is not one of light, dark, "
        "high-contrast; services serve the default 'light'; not exported\n"
        "configgen: note: key 'removed_flag' in the store is no flag in flags.toml; not exported\n"
    )


BAD_TOML = """\
max_items = 99999999999999999999
discount = nan
kill_switch = "yes"
greeting = "fine"

[ui]
theme = "purple"
layout.densty = "extra"

[search]
new_ranker = 100.5
"""
BAD_JSON = """\
{
  "max_items": 1.5,
  "discount": Infinity,
  "greeting": "fine",
  "ui": {"theme": "purple", "layout": {"densty": "extra"}},
  "search.new_ranker": -0.1,
  "new_checkout": "true",
  "max_items": 3
}
"""


def test_every_problem_is_listed_with_its_place_and_nothing_is_written(
    everything: Path, tmp_path: Path, cli: CLI
) -> None:
    overrides = tmp_path / "o.toml"
    project = ["--project", everything, "--store", f"file://{overrides}"]
    toml_file, json_file = tmp_path / "bad.toml", tmp_path / "bad.json"
    toml_file.write_text(BAD_TOML)
    json_file.write_text(BAD_JSON)
    result = cli("flags", "import", toml_file, *project)
    assert (result.code, result.out) == (1, "")
    assert result.err.replace(str(toml_file), "bad.toml") == (
        "bad.toml:1:1: max_items is an int flag: 99999999999999999999 is out of the 64-bit range\n"
        "bad.toml:2:1: discount is a float flag: NaN is not a finite number\n"
        'bad.toml:3:1: kill_switch is a bool flag: "yes" is not true or false\n'
        'bad.toml:7:1: ui.theme is an enum flag: "purple" is not one of light, dark, '
        "high-contrast\n"
        "bad.toml:8:1: no flag 'ui.layout.densty' in flags.toml (did you mean "
        "'ui.layout.density'?)\n"
        "bad.toml:11:1: search.new_ranker is a percent flag: 100.5 is not a percentage from 0 "
        "to 100\n"
        "configgen: bad.toml: 6 problems; nothing was written\n"
    )
    result = cli("flags", "import", json_file, *project)
    assert (result.code, result.out) == (1, "")
    assert result.err.replace(str(json_file), "bad.json") == (
        "bad.json:2:3: max_items is an int flag: 1.5 is not a whole number\n"
        "bad.json:3:3: discount is a float flag: Infinity is not a finite number\n"
        'bad.json:5:10: ui.theme is an enum flag: "purple" is not one of light, dark, '
        "high-contrast\n"
        "bad.json:5:40: no flag 'ui.layout.densty' in flags.toml (did you mean "
        "'ui.layout.density'?)\n"
        "bad.json:6:3: search.new_ranker is a percent flag: -0.1 is not a percentage from 0 "
        "to 100\n"
        'bad.json:7:3: new_checkout is a bool flag: "true" is not true or false\n'
        "bad.json:8:3: max_items is given twice (first at line 2)\n"
        "configgen: bad.json: 7 problems; nothing was written\n"
    )
    assert not overrides.exists() and not (tmp_path / "o.audit.jsonl").exists()

    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "max_items": 3,\n  "discount": .5\n}\n')
    result = cli("flags", "import", broken, *project)
    assert result.err.endswith(":3:15: invalid JSON: expecting value\n"
                               "configgen: " + str(broken) + ": 1 problem; nothing was written\n")  # fmt: skip
    broken.write_text('["max_items", 3]')
    result = cli("flags", "import", broken, *project)
    assert ':1:1: an import file in JSON is one object: {"flag.key": value, ...}\n' in result.err
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_bytes(b'max_items = 3\ngreeting = "\xff"\n')
    result = cli("flags", "import", bad_toml, *project)
    assert ":2:13: not valid UTF-8 (byte 0xff); the file must be UTF-8\n" in result.err
    assert result.code == 1 and not overrides.exists()
    unnamed = tmp_path / "values.txt"
    unnamed.write_text("max_items = 3\n")
    result = cli("flags", "import", unnamed, *project)
    assert (result.code, result.err) == (
        2,
        f"configgen: {unnamed}: its name ends in neither .json nor .toml: say --format json "
        "or --format toml\n",
    )
    assert cli("flags", "import", unnamed, *project, "--format", "toml").code == 0


def test_the_diff_dry_run_and_replace(everything: Path, tmp_path: Path, cli: CLI) -> None:
    overrides = tmp_path / "o.toml"
    project = ["--project", everything, "--store", f"file://{overrides}"]
    for key, value in [("max_items", "7"), ("ui.theme", "dark"), ("greeting", "hi")]:
        assert cli("flags", "set", key, value, *project).code == 0
    # a value the flag cannot read, and a key of no flag
    overrides.write_text('discount = "lots"\nremoved = 1\n' + overrides.read_text())
    wanted = tmp_path / "wanted.json"
    wanted.write_text('{"max_items": 8, "ui.theme": "dark", "kill_switch": false}')
    before = overrides.read_bytes()
    dry = cli("flags", "import", wanted, *project, "--dry-run", "--replace")
    assert (dry.code, dry.out, dry.err) == (
        0,
        "- discount: 'lots' (invalid) -> (default)\n"
        '- greeting: "hi" -> (default)\n'
        "+ kill_switch: (default) -> false\n"
        "~ max_items: 7 -> 8\n"
        "4 changes; a dry run: nothing was written\n",
        "configgen: note: key 'removed' in the store is no flag in flags.toml; "
        "--replace leaves it\n",
    )
    assert overrides.read_bytes() == before
    merged = cli("flags", "import", wanted, *project, "--note", "sync")
    assert merged.out == (
        "+ kill_switch: (default) -> false\n~ max_items: 7 -> 8\n"
        "2 changes written, each with its audit entry\n"
    )
    replaced = cli("flags", "import", wanted, *project, "--replace")
    assert replaced.out.endswith("2 changes written, each with its audit entry\n")
    assert FileEditor(overrides).read_all() == {
        "max_items": 8, "ui.theme": "dark", "kill_switch": False, "removed": 1,
    }  # fmt: skip
    rows = [line.split("\t")[1:] for line in cli("flags", "history", *project).out.splitlines()]
    assert rows[:4] == [
        [os_user(), "import", "greeting", "hi -> (default)"],
        [os_user(), "import", "discount", "lots -> (default)"],
        [os_user(), "import", "max_items", "7 -> 8", "sync"],
        [os_user(), "import", "kill_switch", "(default) -> false", "sync"],
    ]


def _many_flags(root: Path, count: int) -> None:
    (root / "flags.toml").write_text(
        "".join(f'[flags.f{n:04d}]\ntype = "int"\ndefault = 0\n' for n in range(count))
    )


def test_a_thousand_values_with_one_bad_one_change_nothing(
    tmp_path: Path, cli: CLI, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    _many_flags(root, 1000)
    overrides = tmp_path / "o.toml"
    project = ["--project", root, "--store", f"file://{overrides}"]
    assert cli("flags", "set", "f0001", "1", *project).code == 0
    before = (overrides.read_bytes(), (tmp_path / "o.audit.jsonl").read_bytes())
    values: dict[str, object] = {f"f{n:04d}": n for n in range(1000)}
    values["f0617"] = 2**64
    file = tmp_path / "many.json"
    file.write_text(json.dumps(values, indent=1))
    result = cli("flags", "import", file, *project)
    assert (result.code, result.out) == (1, "")
    assert result.err.replace(str(file), "many.json") == (
        "many.json:619:2: f0617 is an int flag: 18446744073709551616 is out of the 64-bit range\n"
        "configgen: many.json: 1 problem; nothing was written\n"
    )
    assert (overrides.read_bytes(), (tmp_path / "o.audit.jsonl").read_bytes()) == before

    values["f0617"] = 617
    file.write_text(json.dumps(values, indent=1))
    started = time.perf_counter()
    result = cli("flags", "import", file, *project)
    took = time.perf_counter() - started
    assert result.code == 0 and result.out.endswith(
        "\n999 changes written, each with its audit entry\n"
    )
    assert len(FileEditor(overrides).history(limit=5000)) == 1000  # the set, then 999
    with capsys.disabled():
        print(f"\nimport of 1,000 values into a file: {took * 1000:.0f} ms")


@pytest.mark.servers
def test_a_thousand_values_into_redis_in_one_script(
    tmp_path: Path, cli: CLI, redis_server: Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    _many_flags(root, 1000)
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    project = ["--project", root, "--store", url, "--service", "svc"]
    file = tmp_path / "many.toml"
    file.write_text("".join(f"f{n:04d} = {n + 1}\n" for n in range(1000)))
    started = time.perf_counter()
    result = cli("flags", "import", file, *project)
    took = time.perf_counter() - started
    assert result.code == 0 and result.out.endswith(
        "\n1000 changes written, each with its audit entry\n"
    )
    editor = open_editor(url, service="svc")
    try:
        assert len(editor.read_all()) == 1000 and len(editor.history(limit=5000)) == 1000
    finally:
        editor.close()
    with capsys.disabled():
        print(f"\nimport of 1,000 values into Redis: {took * 1000:.0f} ms")


def test_a_value_changed_meanwhile_stops_the_whole_import(
    store: Store, everything: Path, tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = ["--project", everything, *store.args()]
    assert cli("flags", "set", "max_items", "7", *project).code == 0
    assert cli("flags", "set", "ui.theme", "dark", *project).code == 0
    wanted = tmp_path / "wanted.toml"
    wanted.write_text('max_items = 8\ngreeting = "hi"\ndiscount = 0.5\n[ui]\ntheme = "light"\n')
    editor = store.editor()
    try:
        kind = type(editor)
        applying = kind.change_many

        def after_another_write(self: Any, changes: Any) -> None:
            # another operator changes one flag after the import read the store
            other = store.editor()
            try:
                raw = other.read("ui.theme")
                from configgen.audit import new_entry

                entry = new_entry(actor="bob", channel="ui", flag="ui.theme", old="dark",
                                  new="high-contrast")  # fmt: skip
                other.change("ui.theme", raw, other.encode("high-contrast"), entry)
            finally:
                other.close()
            applying(self, changes)

        monkeypatch.setattr(kind, "change_many", after_another_write)
        result = cli("flags", "import", wanted, *project)
        monkeypatch.undo()
        assert result.code == 1
        assert result.out == (
            '+ discount: (default) -> 0.5\n+ greeting: (default) -> "hi"\n'
            '~ max_items: 7 -> 8\n~ ui.theme: "dark" -> "light"\n'
        )
        assert result.err == (
            "configgen: ui.theme changed meanwhile: the store now holds 'high-contrast', not "
            "'dark'; nothing was written (none of the 4 changes)\n"
        )
        assert editor.read_all() == {
            "max_items": editor.encode(7), "ui.theme": editor.encode("high-contrast"),
        }  # fmt: skip
        assert [(e.actor, e.flag) for e in editor.history()] == [
            ("bob", "ui.theme"), (os_user(), "ui.theme"), (os_user(), "max_items"),
        ]  # fmt: skip
    finally:
        editor.close()


@pytest.mark.servers
def test_an_import_too_big_for_one_etcd_transaction_is_refused(
    tmp_path: Path, cli: CLI, etcd: Etcd
) -> None:
    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    _many_flags(root, 100)
    url = f"etcd://127.0.0.1:{etcd.port}/svc"
    project = ["--project", root, "--store", url]
    file = tmp_path / "many.toml"
    file.write_text("".join(f"f{n:04d} = {n + 1}\n" for n in range(65)))
    for extra in ([], ["--dry-run"]):
        result = cli("flags", "import", file, *project, *extra)
        assert result.code == 1 and result.out.count("\n+ ") == 64
        assert result.err == (
            "configgen: 65 changes do not fit in one etcd transaction, which takes at most 64 "
            "(two operations each; etcd's --max-txn-ops is 128): nothing was written. Import "
            "smaller files, or raise --max-txn-ops on every etcd server and pass the same "
            "--max-txn-ops to configgen\n"
        )
    small = cli("flags", "import", file, *project, "--max-txn-ops", "16", "--dry-run")
    assert "which takes at most 8 (two operations each; etcd's --max-txn-ops is 16)" in small.err
    editor = open_editor(url)
    try:
        assert editor.read_all() == {} and editor.history() == []
        file.write_text("".join(f"f{n:04d} = {n + 1}\n" for n in range(64)))
        assert cli("flags", "import", file, *project).code == 0
        assert len(editor.read_all()) == 64 and len(editor.history(limit=100)) == 64
    finally:
        editor.close()


def test_the_functions_the_server_calls() -> None:
    from configgen.audit import MemoryEditor
    from configgen.flags_reader import read_flags

    schema, _ = read_flags(DATA / "everything_flags.toml", "flags.toml")
    assert schema is not None
    flags = {flag.key: flag for flag in schema.flags()}
    editor = MemoryEditor({"max_items": 7, "ui.theme": "dark", "gone": 1})
    exported = bulk.export_values(bulk.stored_values(editor), flags)
    assert exported == bulk.Export({"max_items": 7, "ui.theme": "dark"}, {}, ["gone"])
    assert bulk.render(exported.values, "json") == '{\n  "max_items": 7,\n  "ui.theme": "dark"\n}\n'
    wanted, problems = bulk.parse_import(
        b'{"max_items": 8, "greeting": "hi"}', flags, format="json", shown_as="upload"
    )
    assert (wanted, problems) == ({"max_items": 8, "greeting": "hi"}, [])
    differences = bulk.plan(wanted, editor.read_all(), flags, replace=True)
    assert differences == [
        bulk.Difference("greeting", None, None, "hi"),
        bulk.Difference("max_items", 7, 7, 8),
        bulk.Difference("ui.theme", "dark", "dark", None),
    ]
    assert bulk.too_many(editor, 10_000) is None
    batch = bulk.changes(differences, editor, actor="ann", note="n", channel="ui")
    editor.change_many(batch)
    assert editor.values == {"max_items": 8, "greeting": "hi", "gone": 1}
    assert [(e.actor, e.channel, e.flag, e.old, e.new) for e in editor.history()] == [
        ("ann", "ui", "ui.theme", "dark", None),
        ("ann", "ui", "max_items", 7, 8),
        ("ann", "ui", "greeting", None, "hi"),
    ]
    with pytest.raises(Conflict):
        editor.change_many(batch)
    _, problems = bulk.parse_import("max_items = 'x'\n", flags, format="toml", shown_as="up")
    assert [(p.path, p.line, p.col, p.key) for p in problems] == [("up", 1, 1, "max_items")]


@pytest.mark.servers
def test_an_import_replaces_a_value_that_is_not_utf8(
    tmp_path: Path, everything: Path, cli: CLI, redis_server: Redis
) -> None:
    import redis

    with redis.Redis(port=redis_server.port) as admin:
        admin.hset(b"svc:flags", b"max_items", b"\xff\xfe")
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    project = ["--project", everything, "--store", url, "--service", "svc"]
    exported = cli("flags", "export", *project)
    assert (exported.code, exported.out) == (1, "{}\n")
    assert "max_items is an int flag: b'\\xff\\xfe' is not a whole number" in exported.err
    wanted = tmp_path / "wanted.json"
    wanted.write_text('{"max_items": 3}')
    result = cli("flags", "import", wanted, *project)
    assert (result.code, result.out) == (
        0,
        "~ max_items: b'\\xff\\xfe' (invalid) -> 3\n1 change written, with its audit entry\n",
    )
    assert cli("flags", "export", *project).out == '{\n  "max_items": 3\n}\n'
