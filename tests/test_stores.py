"""EtcdStore and RedisStore against real servers: live changes, crashes, partitions, bursts."""

from __future__ import annotations

import base64
import importlib
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from configgen.stores import EtcdStore, RedisStore
from tests.servers import Etcd, Proxy, Redis

pytestmark = pytest.mark.servers


def eventually(check: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


class Backend:
    """One kind of server, with an admin client that bypasses the store under test."""

    kind: str
    server: Any

    def store(self, port: int | None = None, **options: Any) -> Any:
        raise NotImplementedError

    def put(self, key: str, value: str) -> None:
        raise NotImplementedError

    def remove(self, key: str) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, str]:
        raise NotImplementedError

    def put_bytes(self, name: bytes, value: bytes) -> None:
        """Store raw bytes under a flag key, bypassing every client's encoding."""
        raise NotImplementedError


class EtcdBackend(Backend):
    kind = "etcd"

    def __init__(self, server: Etcd, known: Any) -> None:
        import etcd3gw

        self.server, self.known = server, known
        self.admin = etcd3gw.client(host="127.0.0.1", port=server.port, timeout=5)

    def store(self, port: int | None = None, **options: Any) -> EtcdStore:
        return EtcdStore("svc", port=port or self.server.port, known=self.known, **options)

    def put(self, key: str, value: str) -> None:
        self.admin.put(f"/svc/flags/{key}", value)

    def remove(self, key: str) -> None:
        self.admin.delete(f"/svc/flags/{key}")

    def state(self) -> dict[str, str]:
        return {
            meta["key"].decode()[len("/svc/flags/") :]: value.decode()
            for value, meta in self.admin.get_prefix("/svc/flags/")
        }

    def put_bytes(self, name: bytes, value: bytes) -> None:
        key = base64.b64encode(b"/svc/flags/" + name).decode()
        data = base64.b64encode(value).decode()
        self.admin.post(self.admin.get_url("/kv/put"), json={"key": key, "value": data})

    def compact(self) -> None:
        revision = int(self.admin.status()["header"]["revision"])
        self.admin.post(self.admin.get_url("/kv/compaction"), json={"revision": revision})


class RedisBackend(Backend):
    kind = "redis"

    def __init__(self, server: Redis, known: Any) -> None:
        import redis

        self.server, self.known = server, known
        self.admin = redis.Redis(port=server.port, decode_responses=True)

    def store(self, port: int | None = None, **options: Any) -> RedisStore:
        return RedisStore("svc", port=port or self.server.port, known=self.known, **options)

    def put(self, key: str, value: str) -> None:
        self.admin.hset("svc:flags", key, value)
        self.admin.publish("svc:flags:changed", key)

    def remove(self, key: str) -> None:
        self.admin.hdel("svc:flags", key)
        self.admin.publish("svc:flags:changed", key)

    def state(self) -> dict[str, str]:
        return dict(self.admin.hgetall("svc:flags"))

    def put_bytes(self, name: bytes, value: bytes) -> None:
        import redis

        with redis.Redis(port=self.server.port) as raw:  # no decoding, no encoding
            raw.hset(b"svc:flags", name, value)
            raw.publish(b"svc:flags:changed", name)


@pytest.fixture
def ff(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


@pytest.fixture(params=["etcd", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, ff: ModuleType) -> Iterator[Backend]:
    server = Etcd(tmp_path) if request.param == "etcd" else Redis(tmp_path)
    server.start()
    try:
        known = ff.DEFAULT_FLAG_VALUES
        yield EtcdBackend(server, known) if request.param == "etcd" else RedisBackend(server, known)
    finally:
        server.stop()


def test_live_values_through_flags(backend: Backend, ff: ModuleType) -> None:
    store = backend.store()
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)
        assert flags.ui.theme() == "light"
        store.set("ui.theme", "dark")
        store.set("max_items", 7)
        store.set("kill_switch", False)
        assert eventually(lambda: (flags.ui.theme(), flags.max_items(), flags.kill_switch())
                          == ("dark", 7, False))  # fmt: skip
        assert backend.state() == {"ui.theme": "dark", "max_items": "7", "kill_switch": "false"}
        store.delete("ui.theme")
        assert eventually(lambda: flags.ui.theme() == "light")
        backend.put("no.such.flag", "1")  # an unknown key: ignored, logged once, counted
        backend.put("max_items", "lots")  # a wrong type: the default, and a fallback counted
        assert eventually(lambda: store.unknown_keys >= 1)
        assert eventually(
            lambda: (
                flags.max_items() == 50
                and flags.fallbacks().get(("max_items", "wrong-type"), 0) >= 1
            )
        )
    finally:
        store.close()


def test_crash_while_threads_read_then_resync(backend: Backend, ff: ModuleType) -> None:
    backend.put("max_items", "11")
    store = backend.store()
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)
        assert eventually(lambda: flags.max_items() == 11)
        stop = threading.Event()
        errors: list[BaseException] = []
        seen: set[int] = set()

        def read() -> None:
            try:
                while not stop.wait(0.0005):
                    seen.add(flags.max_items())
                    flags.new_checkout(ff.EvaluationContext("alice"))
            except BaseException as exc:  # pragma: no cover
                errors.append(exc)

        readers = [threading.Thread(target=read, daemon=True) for _ in range(8)]
        for thread in readers:
            thread.start()
        try:
            backend.server.kill()  # kill -9
            time.sleep(0.5)
            assert flags.max_items() == 11  # the last known value
            backend.server.start()
            backend.put("max_items", "22")
            assert eventually(lambda: flags.max_items() == 22, within=5.0)  # resynced within 5 s
        finally:
            stop.set()
            for thread in readers:
                thread.join()
        assert errors == []
        # etcd keeps its data across the restart; the test's Redis starts empty, and the
        # store mirrors that (the default, 50) until the new value is written
        assert seen <= ({11, 22} if backend.kind == "etcd" else {11, 22, 50})
        assert store.resyncs >= 2  # read everything again after the restart
    finally:
        store.close()


def test_server_down_at_start(backend: Backend, ff: ModuleType) -> None:
    backend.put("max_items", "33")
    backend.server.kill()
    store = backend.store()
    try:
        flags = ff.Flags(store)
        assert flags.max_items() == 50  # defaults while the server is away
        assert not store.wait_synced(0.3)
        backend.server.start()
        if backend.kind == "redis":  # Redis here keeps no data across restarts
            backend.put("max_items", "33")
        assert eventually(lambda: flags.max_items() == 33, within=10)
    finally:
        store.close()


def test_burst_of_1000_writes(backend: Backend, ff: ModuleType) -> None:
    store = backend.store()
    try:
        assert store.wait_synced(10)
        keys = ["max_items", "discount", "greeting", "ui.theme", "new_checkout"]
        for i in range(1000):
            key = keys[i % len(keys)]
            if i % 7 == 0:
                backend.remove(key)
            else:
                backend.put(key, {"max_items": str(i), "discount": f"{i / 1000}", "greeting": f"g{i}",
                                  "ui.theme": "dark" if i % 2 else "light",
                                  "new_checkout": "true" if i % 2 else "false"}[key])  # fmt: skip
        assert eventually(lambda: store.values() == backend.state(), within=10)
    finally:
        store.close()


def test_partition_and_compaction_while_away(tmp_path: Path, ff: ModuleType) -> None:
    server = Etcd(tmp_path)
    server.start()
    proxy = Proxy(server.port)
    backend = EtcdBackend(server, ff.DEFAULT_FLAG_VALUES)
    store = backend.store(port=proxy.port, watch_timeout=2.0)
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)
        backend.put("max_items", "1")
        assert eventually(lambda: flags.max_items() == 1)
        proxy.cut()  # a network partition
        for i in range(2, 30):
            backend.put("max_items", str(i))
        backend.put("ui.theme", "dark")
        backend.compact()  # the revision the store watched from is gone
        assert flags.max_items() == 1
        proxy.restore()
        assert eventually(lambda: (flags.max_items(), flags.ui.theme()) == (29, "dark"), within=10)
        server.pause()  # a partition by stopping the process
        time.sleep(0.3)
        assert flags.max_items() == 29
        server.resume()
        backend.put("max_items", "30")
        assert eventually(lambda: flags.max_items() == 30, within=10)
    finally:
        store.close()
        proxy.close()
        server.stop()


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from ffapp.configgen_flags import Flags
    from configgen.stores import open_store

    store = open_store(sys.argv[2], service="svc")
    store.wait_synced(10)
    flags = Flags(store)
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while flags.ui.theme() != "dark" and time.monotonic() < deadline:
        time.sleep(0.001)
    print("seen" if flags.ui.theme() == "dark" else "timeout", flush=True)
    store.close()
    """
)


def test_ten_processes_see_a_change(backend: Backend, flags_package: Path) -> None:
    url = (f"etcd://127.0.0.1:{backend.server.port}/svc" if backend.kind == "etcd"
           else f"redis://127.0.0.1:{backend.server.port}/0")  # fmt: skip
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(flags_package.parent), url],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        backend.put("ui.theme", "dark")
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "seen"
            assert child.wait(timeout=30) == 0
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def test_composite_chain_falls_back_to_the_file(tmp_path: Path, ff: ModuleType) -> None:
    server = Etcd(tmp_path)
    server.start()
    backend = EtcdBackend(server, ff.DEFAULT_FLAG_VALUES)
    overrides = tmp_path / "flags.toml"
    overrides.write_text('max_items = 5\n[ui]\ntheme = "dark"\n')
    etcd = backend.store()
    try:
        assert etcd.wait_synced(10)
        flags = ff.Flags(ff.CompositeStore(etcd, ff.FileStore(overrides)))
        assert (flags.max_items(), flags.ui.theme()) == (5, "dark")
        backend.put("max_items", "9")
        assert eventually(lambda: flags.max_items() == 9)  # etcd first
        server.kill()
        assert (flags.max_items(), flags.ui.theme()) == (9, "dark")  # last known, then the file
    finally:
        etcd.close()
        server.stop()


def test_cli(backend: Backend, tmp_path: Path, cli: Any) -> None:
    from tests.conftest import DATA, write_project

    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text(encoding="utf-8"))
    url = (f"etcd://127.0.0.1:{backend.server.port}/svc" if backend.kind == "etcd"
           else f"redis://127.0.0.1:{backend.server.port}/0")  # fmt: skip
    common = ["--project", root, "--store", url, "--service", "svc"]
    assert cli("flags", "set", "ui.theme", "dark", *common).out == "ui.theme = dark\n"
    assert cli("flags", "set", "kill_switch", "OFF", *common).out == "kill_switch = false\n"
    assert backend.state() == {"ui.theme": "dark", "kill_switch": "false"}
    assert cli("flags", "get", "ui.theme", *common).out == "dark\n"
    assert cli("flags", "get", "max_items", *common).out == "(default 50)\n"
    listing = cli("flags", "list", *common).out.splitlines()
    assert "ui.theme\tenum\tdark" in listing and "max_items\tint\t(default 50)" in listing
    wrong = cli("flags", "set", "max_items", "many", *common)
    assert (wrong.code, wrong.err) == (
        1,
        "configgen: max_items is an int flag: 'many' is not an integer\n",
    )
    wrong = cli("flags", "set", "ui.theme", "blue", *common)
    assert (
        wrong.err
        == "configgen: ui.theme is an enum flag: 'blue' is not one of light, dark, high-contrast\n"
    )
    wrong = cli("flags", "set", "search.new_ranker", "150", *common)
    assert wrong.err == "configgen: search.new_ranker is a percent flag: 150 is not from 0 to 100\n"
    unknown = cli("flags", "get", "ui.them", *common)
    assert unknown.err == "configgen: no flag 'ui.them' in flags.toml (did you mean 'ui.theme'?)\n"
    assert cli("flags", "delete", "ui.theme", *common).code == 0
    assert backend.state() == {"kill_switch": "false"}


def test_asyncio_writes_do_not_block_the_loop(backend: Backend, ff: ModuleType) -> None:
    import asyncio

    store = backend.store()
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)

        async def main() -> list[int]:
            ticks: list[int] = []

            async def ticker() -> None:
                for i in range(5):
                    ticks.append(i)
                    await asyncio.sleep(0)

            await asyncio.gather(store.aset("max_items", 99), ticker())
            await store.adelete("greeting")
            return ticks

        assert asyncio.run(main()) == [0, 1, 2, 3, 4]
        assert eventually(lambda: flags.max_items() == 99)
    finally:
        store.close()


def test_paused_server(backend: Backend, ff: ModuleType) -> None:
    store = backend.store()
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)
        backend.put("max_items", "5")
        assert eventually(lambda: flags.max_items() == 5)
        backend.server.pause()  # a partition: the process stops answering
        time.sleep(0.5)
        assert flags.max_items() == 5
        backend.server.resume()
        backend.put("max_items", "6")
        assert eventually(lambda: flags.max_items() == 6, within=10)
    finally:
        store.close()


NOT_UTF8 = b"\xff\xfe"
NOT_UTF8_NAME = b"\xff\xfeflag"


def _warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(
        text in record.getMessage()
        for record in caplog.records
        if record.name.startswith("configgen.stores") and record.levelno == logging.WARNING
    )


def test_bytes_that_are_not_utf8_are_skipped_and_the_rest_syncs(
    backend: Backend, ff: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="configgen.stores")
    backend.put_bytes(b"max_items", NOT_UTF8)
    backend.put_bytes(NOT_UTF8_NAME, b"1")
    backend.put("ui.theme", "dark")
    store = backend.store()
    try:
        assert store.wait_synced(10)  # the first read succeeds despite the bad bytes
        flags = ff.Flags(store)
        assert store.values() == {"ui.theme": "dark"}
        assert (flags.ui.theme(), flags.max_items()) == ("dark", 50)
        assert store.unreadable() == {
            "max_items": "its stored value is not UTF-8 (2 bytes: b'\\xff\\xfe')",
            "b'\\xff\\xfeflag'": "its name is not UTF-8",
        }
        assert store.unreadable_keys >= 2
        assert store.errors == 0

        backend.put("greeting", "hello")  # a live change of another key still arrives
        assert eventually(lambda: flags.greeting() == "hello")
        backend.put_bytes(b"discount", b"0.5\x80")  # a live change that is not UTF-8
        assert eventually(lambda: "discount" in store.unreadable())
        backend.put("ui.theme", "light")  # and the next good change after it
        assert eventually(lambda: flags.ui.theme() == "light")
        assert flags.discount() == 0.15

        backend.server.kill()  # a crash, a restart, a reconnect and a full read again
        backend.server.start()
        if backend.kind == "redis":  # the test's Redis keeps nothing across a restart
            backend.put_bytes(b"max_items", NOT_UTF8)
            backend.put_bytes(NOT_UTF8_NAME, b"1")
        backend.put("ui.theme", "high-contrast")
        assert eventually(lambda: flags.ui.theme() == "high-contrast", within=10)
        assert store.resyncs >= 2
        assert flags.max_items() == 50 and "max_items" in store.unreadable()

        backend.put("max_items", "7")  # a good value replaces the bad one
        assert eventually(lambda: flags.max_items() == 7)
        assert "max_items" not in store.unreadable()
        backend.remove("discount")  # deleting the bad one ends its problem
        assert eventually(lambda: "discount" not in store.unreadable())
        assert set(store.unreadable()) == {"b'\\xff\\xfeflag'"}
    finally:
        store.close()
    # once per key, however many full reads saw it (Redis reads everything on each change)
    assert _warnings_about(caplog, "'max_items': its stored value is not UTF-8") == 1
    assert _warnings_about(caplog, "b'\\xff\\xfeflag': its name is not UTF-8") == 1
    assert _warnings_about(caplog, "'discount': its stored value is not UTF-8") == 1


def test_hostile_values_do_not_stop_the_sync(backend: Backend, ff: ModuleType) -> None:
    huge_text = "x" * 512 * 1024
    hostile = {
        b"max_items": b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
        b"discount": b"\xc0\xaf",  # an overlong encoding: not UTF-8
        b"new_checkout": b"\xe2\x82",  # a character cut short
        b"search.new_ranker": bytes(range(256)) * 2048,  # 512 KiB of binary garbage
        b"ui.layout.density": b'{"a": [1,',  # broken JSON: text all the same, a wrong enum
        b"kill_switch": b"true = [",  # broken TOML: text, a wrong bool
        b"greeting": huge_text.encode(),  # huge, but text
        b"ui.theme": "dark\x00\u202e".encode(),  # NUL and a bidi override: text, a wrong enum
        "ünïcode-key".encode(): b"1",  # UTF-8 name that is no flag: unknown, not unreadable
    }
    for name, value in hostile.items():
        backend.put_bytes(name, value)
    store = backend.store()
    try:
        assert store.wait_synced(10)
        flags = ff.Flags(store)
        assert set(store.unreadable()) == {
            "max_items",
            "discount",
            "new_checkout",
            "search.new_ranker",
        }
        assert "(524288 bytes: b'\\x00\\x01" in store.unreadable()["search.new_ranker"]
        assert flags.greeting() == huge_text
        assert (flags.max_items(), flags.discount(), flags.kill_switch()) == (50, 0.15, True)
        assert (flags.ui.theme(), flags.ui.layout.density()) == ("light", "comfortable")
        assert flags.fallbacks().keys() >= {
            ("ui.theme", "wrong-type"),
            ("ui.layout.density", "wrong-type"),
            ("kill_switch", "wrong-type"),
        }
        assert store.unknown_keys >= 1
        backend.put("ui.theme", "dark")
        assert eventually(lambda: flags.ui.theme() == "dark")
    finally:
        store.close()


def test_cli_reports_a_value_that_is_not_utf8(backend: Backend, tmp_path: Path, cli: Any) -> None:
    from tests.conftest import DATA, write_project

    root = write_project(tmp_path / "proj", "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text(encoding="utf-8"))
    url = (f"etcd://127.0.0.1:{backend.server.port}/svc" if backend.kind == "etcd"
           else f"redis://127.0.0.1:{backend.server.port}/0")  # fmt: skip
    common = ["--project", root, "--store", url, "--service", "svc"]
    backend.put_bytes(b"max_items", NOT_UTF8)
    backend.put_bytes(NOT_UTF8_NAME, b"1")
    backend.put("ui.theme", "dark")
    bad_value = (
        "configgen: max_items: its stored value is not UTF-8 (2 bytes: b'\\xff\\xfe'); "
        "services serve the default 50 instead\n"
    )

    listing = cli("flags", "list", *common)
    assert listing.code == 1  # the whole listing, and a problem to report
    lines = listing.out.splitlines()
    assert len(lines) == 10
    assert "ui.theme\tenum\tdark" in lines
    assert "max_items\tint\t(unreadable: default 50)" in lines
    assert "greeting\tstring\t(default 'Hello, \"friend\"')" in lines
    assert listing.err == bad_value + (
        "configgen: key b'\\xff\\xfeflag': its name is not UTF-8; skipped\n"
    )
    # a process of its own, where no test has set logging up: the same lines, none repeated
    # by the store's own log messages
    alone = subprocess.run(
        [sys.executable, "-m", "configgen", "flags", "list", *map(str, common)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (alone.returncode, alone.stdout, alone.stderr) == (1, listing.out, listing.err)

    got = cli("flags", "get", "max_items", *common)
    assert (got.code, got.out, got.err) == (1, "", bad_value)
    got = cli("flags", "get", "ui.theme", *common)
    assert (got.code, got.out, got.err) == (0, "dark\n", "")

    backend.remove("max_items")  # gone between the listing and the next read
    got = cli("flags", "get", "max_items", *common)
    assert (got.code, got.out, got.err) == (0, "(default 50)\n", "")
    assert cli("flags", "set", "max_items", "3", *common).code == 0
    assert cli("flags", "get", "max_items", *common).out == "3\n"
