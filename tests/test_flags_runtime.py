"""The generated Flags at run time: values, targeting, rollout, expiry, stores and faults."""

from __future__ import annotations

import gc
import importlib
import logging
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


@pytest.fixture
def helpers(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_testing")


def test_defaults(ff: ModuleType) -> None:
    flags = ff.Flags()
    assert flags.kill_switch() is True
    assert flags.max_items() == 50
    assert flags.discount() == 0.15
    assert flags.greeting() == 'Hello, "friend"'
    assert flags.ui.theme() == "light"
    assert flags.ui.layout.density() == "comfortable"
    assert flags.ui.layout.sidebar() is True
    assert flags.new_checkout() is False
    assert dict(ff.DEFAULT_FLAG_VALUES)["search.new_ranker"] == 12.345
    assert sorted(ff.DEFAULT_FLAG_VALUES) == [
        "discount", "greeting", "kill_switch", "max_items", "new_checkout", "old_banner",
        "search.new_ranker", "ui.layout.density", "ui.layout.sidebar", "ui.theme",
    ]  # fmt: skip


def test_store_values_by_dotted_key_and_live_changes(ff: ModuleType) -> None:
    store = ff.MemoryStore({"max_items": 7, "ui.layout.density": "compact"})
    flags = ff.Flags(store)
    assert flags.max_items() == 7
    assert flags.ui.layout.density() == "compact"
    store.set("ui.theme", "dark")
    store.set("discount", "0.5")  # strings are parsed by the flag's type
    store.set("kill_switch", "off")
    assert (flags.ui.theme(), flags.discount(), flags.kill_switch()) == ("dark", 0.5, False)
    store.delete("ui.theme")
    assert flags.ui.theme() == "light"
    assert flags.store is store


def test_targeting(ff: ModuleType) -> None:
    flags = ff.Flags()
    ctx = ff.EvaluationContext
    assert flags.new_checkout(ctx("alice")) is True  # listed user
    assert flags.new_checkout(ctx("bob")) is True  # segment staff
    assert flags.new_checkout(ctx("x-1", {"country": "FR"})) is True  # segment eu
    assert flags.new_checkout(ctx(None, {"country": "FR"})) is True
    assert flags.new_checkout(ctx("x-1", {"country": "US"})) is False
    assert flags.new_checkout() is False
    # rollout 10.5% of the rest, by the published bucketing
    from configgen.bucketing import bucket

    keys = [f"user-{i}" for i in range(2000)]
    expected = [bucket("new_checkout", key) < 10_500 for key in keys]
    assert [flags.new_checkout(ctx(key)) for key in keys] == expected
    assert 150 < sum(expected) < 270


def test_a_stored_value_overrides_targeting(ff: ModuleType) -> None:
    store = ff.MemoryStore({"new_checkout": False})
    flags = ff.Flags(store)
    assert flags.new_checkout(ff.EvaluationContext("alice")) is False  # the kill switch
    store.set("new_checkout", True)
    assert flags.new_checkout() is True  # launched for everyone


def test_percent_flag(ff: ModuleType) -> None:
    from configgen.bucketing import in_rollout

    store = ff.MemoryStore()
    flags = ff.Flags(store)
    ctx = ff.EvaluationContext
    keys = [f"k{i}" for i in range(500)]
    got = [flags.search.new_ranker(ctx(key)) for key in keys]
    assert got == [in_rollout("search.new_ranker", key, 12.345) for key in keys]
    assert flags.search.new_ranker() is False  # no targeting key, no bucket
    store.set("search.new_ranker", 100)
    assert flags.search.new_ranker() is True
    store.set("search.new_ranker", 0)
    assert not any(flags.search.new_ranker(ctx(key)) for key in keys)


def test_expired_flag_returns_its_default(ff: ModuleType) -> None:
    flags = ff.Flags(ff.MemoryStore({"old_banner": True, "ui.layout.sidebar": False}))
    assert flags.old_banner() is False  # expired 2020-01-01: the default, whatever the store says
    assert flags.ui.layout.sidebar() is False  # expires 2099-12-31: the store still counts


class Raising:
    def get(self, key: str) -> object:
        raise ConnectionError("store is down")

    def watch(self, callback: Any) -> None:
        raise ConnectionError("store is down")


def test_store_that_raises(ff: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(Raising())
        flags.refresh()
    assert flags.max_items() == 50
    assert flags.ui.theme() == "light"
    assert flags.fallbacks()[("max_items", "store-error")] == 2
    lines = [r.getMessage() for r in caplog.records if "max_items" in r.getMessage()]
    assert lines == [
        "flag max_items: the store failed: ConnectionError('store is down'); serving its default"
    ]


def test_wrong_types_and_unknown_enum_values(
    ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    store = ff.MemoryStore(
        {"max_items": "many", "ui.theme": "purple", "kill_switch": 3, "search.new_ranker": 250}
    )
    with caplog.at_level(logging.WARNING):
        flags = ff.Flags(store)
        store.set("unrelated", 1)  # a refresh: counted again, logged once
    assert flags.max_items() == 50
    assert flags.ui.theme() == "light"
    assert flags.kill_switch() is True
    assert flags.search.new_ranker(ff.EvaluationContext("k")) == (
        ff.Flags().search.new_ranker(ff.EvaluationContext("k"))
    )
    assert flags.fallbacks() == {
        ("kill_switch", "wrong-type"): 2,
        ("max_items", "wrong-type"): 2,
        ("search.new_ranker", "wrong-type"): 2,
        ("ui.theme", "wrong-type"): 2,
    }
    messages = sorted(r.getMessage() for r in caplog.records)
    assert messages == [
        "flag kill_switch: the stored value 3 is not a bool; serving its default",
        "flag max_items: the stored value 'many' is not an int; serving its default",
        "flag search.new_ranker: the stored value 250 is not a percentage from 0 to 100; serving its default",
        "flag ui.theme: the stored value 'purple' is not one of light, dark, high-contrast; serving its default",
    ]


def test_store_whose_client_cannot_be_imported(ff: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "slow_client.py").write_text(
        "import time\ntime.sleep(0.02)\nraise ImportError('install the extra: pip install x[etcd]')\n"
    )
    sys.path.insert(0, str(tmp_path))

    class LazyStore:
        def get(self, key: str) -> object:
            importlib.import_module("slow_client")
            return None

        def watch(self, callback: Any) -> None:
            pass

    try:
        flags = ff.Flags(LazyStore())
    finally:
        sys.path.remove(str(tmp_path))
    assert flags.ui.theme() == "light"
    assert flags.fallbacks()[("ui.theme", "store-error")] == 1


def test_getters_do_not_touch_the_store(ff: ModuleType) -> None:
    calls = []

    class Counting(ff.MemoryStore):  # type: ignore[misc,name-defined]
        def get(self, key: str) -> object:
            calls.append(key)
            return super().get(key)

    flags = ff.Flags(Counting())
    calls.clear()
    for _ in range(100):
        flags.max_items()
        flags.ui.theme()
        flags.new_checkout(ff.EvaluationContext("u"))
        flags.search.new_ranker(ff.EvaluationContext("u"))
    assert calls == []  # the hot path reads the snapshot refreshed on change


def test_evaluation_errors_give_the_default(ff: ModuleType) -> None:
    flags = ff.Flags()
    unhashable = ff.EvaluationContext(["x"], {})  # type: ignore[arg-type]
    assert flags.new_checkout(unhashable) is False
    assert flags.fallbacks()[("new_checkout", "evaluation-error")] == 1
    assert flags.search.new_ranker(ff.EvaluationContext(12345)) in (True, False)  # type: ignore[arg-type]


def test_segment_values_compare_as_json_does(ff: ModuleType) -> None:
    """A number matches by value whatever its Python type; a bool is not a number; a list,
    a mapping or None matches nothing, and is no error: the next way in is tried."""
    flags = ff.Flags()
    assert flags.new_checkout(ff.EvaluationContext("x", {"country": "DE"})) is True
    for nothing in (["DE"], {"DE": 1}, None, 1, True):
        assert flags.new_checkout(ff.EvaluationContext("x", {"country": nothing})) is False
    assert flags.fallbacks() == {}


def test_flags_are_not_kept_alive_by_their_store(ff: ModuleType) -> None:
    import weakref

    store = ff.MemoryStore()
    reference = weakref.ref(ff.Flags(store))
    gc.collect()
    assert reference() is None
    store.set("max_items", 1)  # the dead watcher is harmless


def test_composite_store(ff: ModuleType) -> None:
    first = ff.MemoryStore({"max_items": 1})
    second = ff.MemoryStore({"max_items": 2, "discount": 0.9})
    flags = ff.Flags(ff.CompositeStore(Raising(), first, second))
    assert (flags.max_items(), flags.discount()) == (1, 0.9)
    first.delete("max_items")
    assert flags.max_items() == 2  # watching every store
    assert flags.fallbacks().get(("max_items", "store-error")) is None  # the failing one is skipped


def test_file_store(ff: ModuleType, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "overrides.toml"
    path.write_text('max_items = 5\n[ui]\ntheme = "dark"\n[ui.layout]\ndensity = "compact"\n')
    store = ff.FileStore(path)
    flags = ff.Flags(store)
    assert (flags.max_items(), flags.ui.theme(), flags.ui.layout.density()) == (
        5,
        "dark",
        "compact",
    )
    path.write_text('"ui.theme" = "light"\nmax_items = 6\n')
    assert store.reload() is True
    assert (flags.max_items(), flags.ui.theme()) == (6, "light")
    with caplog.at_level(logging.WARNING):
        path.write_text("max_items = [broken\n")
        assert store.reload() is False
        path.write_text("max_items = [broken again\n")
        store.reload()
    assert flags.max_items() == 6  # the last good values
    assert store.errors == 2
    path.unlink()
    assert store.reload() is True
    assert flags.max_items() == 50  # no file: no overrides
    store.close()


def test_file_store_under_concurrent_edits(ff: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "overrides.toml"
    path.write_text("max_items = 1\n")
    store = ff.FileStore(path, interval=0.005, settle=0.001)
    flags = ff.Flags(store)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.wait(0.0001):
                seen.add(flags.max_items())
                flags.ui.theme()
        except BaseException as exc:  # pragma: no cover - the test fails below
            errors.append(exc)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for i in range(90):
            if i % 3 == 0:
                path.write_text(f"max_items = {i}\n")
            elif i % 3 == 1:
                path.write_text("max_items = [\n")  # corrupt
            else:
                path.unlink(missing_ok=True)
            store.reload()
        changed = threading.Event()
        store.watch(changed.set)
        path.write_text("max_items = 4242\n")
        assert changed.wait(10)  # the polling thread sees the last edit
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        store.close()
    assert errors == []
    assert flags.max_items() == 4242
    assert seen <= {1, 50, 4242} | set(range(0, 90, 3))


def test_test_helpers(helpers: ModuleType, ff: ModuleType) -> None:
    assert helpers.test_flags().ui.theme() == "light"
    flags = helpers.test_flags_with(
        ui_theme="dark", new_checkout=True, search_new_ranker=100, ui_layout_density="spacious"
    )
    assert flags.ui.theme() == "dark"
    assert flags.new_checkout() is True
    assert flags.search.new_ranker() is True
    assert flags.ui.layout.density() == "spacious"
    assert flags.max_items() == 50
    config = helpers.test_config(debug=True, tags=("a",))
    assert config.debug is True and config.tags == ("a",)
    assert config.server.port == 8080
    for name in ("test_flags", "test_flags_with", "test_config"):
        assert getattr(helpers, name).__test__ is False


def test_pytest_does_not_collect_imported_helpers(flags_package: Path, tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        "from ffapp.configgen_testing import test_config, test_flags, test_flags_with\n\n"
        "def test_uses_them():\n    assert test_flags_with(max_items=3).max_items() == 3\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_user.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(flags_package.parent)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_expired_percent_flag_still_answers_with_a_bool(tmp_path: Path) -> None:
    from configgen.flags_reader import read_flags
    from configgen.render import render_flags
    from tests.test_fuzz import _PROVENANCE, _exec

    path = tmp_path / "flags.toml"
    path.write_text('[flags.a]\ntype = "percent"\ndefault = 100\nexpires = 2000-01-01\n')
    schema, diagnostics = read_flags(path, "flags.toml")
    assert schema is not None, diagnostics
    module = _exec(render_flags(schema, provenance=_PROVENANCE))
    flags = module.Flags(module.MemoryStore({"a": 0}))
    assert (
        flags.a(module.EvaluationContext("someone")) is True
    )  # the default 100%, not the store's 0


def test_fallbacks_count_store_reads_not_getter_calls(ff: ModuleType) -> None:
    """As docs/flags.md says: a bad stored value counts once per refresh, however often its
    getter is called; an evaluation error counts on every call it happens in."""
    store = ff.MemoryStore({"max_items": "many"})
    flags = ff.Flags(store)
    for _ in range(10):
        assert flags.max_items() == 50
    assert flags.fallbacks() == {("max_items", "wrong-type"): 1}
    store.set("max_items", "lots")  # the store reports a change: one more refresh
    assert flags.max_items() == 50
    assert flags.fallbacks() == {("max_items", "wrong-type"): 2}
    unhashable = ff.EvaluationContext(["x"], {})  # type: ignore[arg-type]
    for _ in range(3):
        flags.new_checkout(unhashable)
    assert flags.fallbacks()[("new_checkout", "evaluation-error")] == 3


def test_dropped_flags_leave_no_watchers_behind(ff: ModuleType) -> None:
    """A store drops the callbacks of Flags that are gone: creating and dropping many
    Flags over one store does not make set() slower or the store larger."""
    import gc

    store = ff.MemoryStore()
    kept = ff.Flags(store)
    for _ in range(5_000):
        ff.Flags(store)
    # adding prunes whenever the count reaches a power of two: far fewer than were added
    assert len(store._watchers) < 2_500
    gc.collect()
    store.set("max_items", 7)  # telling the watchers drops those that are gone
    assert len(store._watchers) == 1
    assert kept.max_items() == 7  # the living one still follows the store
    plain: list[int] = []
    store.watch(lambda: plain.append(1))  # a callback with no "gone" is kept for good
    for _ in range(300):
        ff.Flags(store)
    gc.collect()
    store.set("max_items", 8)
    assert plain == [1] and kept.max_items() == 8


def test_the_server_stores_drop_gone_watchers_too() -> None:
    from configgen.stores._common import Snapshot

    class Gone:
        gone = True

        def __call__(self) -> None:
            raise AssertionError("a gone watcher is called")

    snapshot = Snapshot(None)
    for _ in range(64):
        snapshot.watch(Gone())
    called: list[int] = []
    snapshot.watch(lambda: called.append(1))
    assert len(snapshot._watchers) == 1
    snapshot.replace({"a": "1"})
    assert called == [1]


def test_a_watcher_that_cannot_say_if_it_is_gone_is_kept(ff: ModuleType) -> None:
    """A dead weakref.proxy raises ReferenceError on any attribute: it must not stop the
    store from telling the other watchers."""
    import gc
    import weakref

    from configgen.stores._common import Snapshot

    class Listener:
        def __call__(self) -> None:
            pass

    store = ff.MemoryStore()
    flags = ff.Flags(store)
    snapshot = Snapshot(None)
    seen: list[int] = []
    snapshot.watch(lambda: seen.append(1))
    listener = Listener()
    store.watch(weakref.proxy(listener))
    snapshot.watch(weakref.proxy(listener))
    del listener
    gc.collect()
    store.set("max_items", 9)  # the dead proxy fails when called, and is logged
    assert flags.max_items() == 9
    snapshot.replace({"a": "1"})
    assert seen == [1]
    for _ in range(70):  # adding past 64 checks every watcher for "gone"
        store.watch(lambda: None)
    store.set("max_items", 10)
    assert flags.max_items() == 10


def test_evaluation_context_edges(ff: ModuleType) -> None:
    import copy
    import pickle

    ctx = ff.EvaluationContext("a", {"plan": "pro"})
    assert (
        repr(ff.EvaluationContext("a", None))
        == "EvaluationContext(targeting_key='a', attributes=None)"
    )
    assert repr(ff.EvaluationContext()) == "EvaluationContext(targeting_key=None, attributes={})"
    assert pickle.loads(pickle.dumps(ff.EvaluationContext())) == ff.EvaluationContext()

    class Mine(ff.EvaluationContext):  # type: ignore[name-defined,misc]
        __slots__ = ()

    mine = Mine("a", {"plan": "pro"})
    assert type(copy.deepcopy(mine)) is Mine and copy.copy(mine) == mine
    assert mine != ctx and ctx == ff.EvaluationContext("a", {"plan": "pro"})
    assert hash(ctx) == hash(ff.EvaluationContext("a", {"plan": "pro"}))
