"""Real ``configgen serve`` processes over one store (a file, real etcd, real Redis):
concurrent compare-and-set writes, and changes reaching a running service."""

from __future__ import annotations

import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import run
from tests.integration.serving import (
    CONFIGGEN,
    Served,
    add_token,
    audit,
    cli,
    make_project,
    put,
    store_url,
)

pytestmark = [pytest.mark.integration, pytest.mark.servers]
WRITES = 1_000


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("processes"))
    run(CONFIGGEN, "generate", cwd=root)
    return root


@pytest.fixture(scope="module")
def tokens(project: Path) -> dict[str, str]:
    return {name: add_token(project, name) for name in ("client-a", "client-b")}


@pytest.fixture(params=["file", "etcd", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL; etcd and Redis are real servers (tests/servers.py)."""
    if request.param == "file":
        return store_url("file", tmp_path)
    server = request.getfixturevalue("etcd" if request.param == "etcd" else "redis_server")
    return store_url(request.param, tmp_path, server.port)


@pytest.fixture
def servers(project: Path, store: str, tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    try:
        for number in (1, 2):
            started.append(Served(project, store, tmp_path / f"serve{number}.log").start())
        yield started
    finally:
        for server in started:
            server.stop()


class Writer(threading.Thread):
    """GET the counter and its ETag, PUT the value + 1 with If-Match; again on 412."""

    def __init__(self, name: str, client: httpx.Client, deadline: float) -> None:
        super().__init__(name=name, daemon=True)
        self.client, self.deadline = client, deadline
        self.accepted: dict[str, tuple[object, int]] = {}  # note -> (value read, value written)
        self.refused = 0
        self.problems: list[str] = []

    def run(self) -> None:
        try:
            self._write()
        except Exception as exc:  # reported by the test
            self.problems.append(f"{type(exc).__name__}: {exc}")

    def _write(self) -> None:
        attempt = 0
        while time.monotonic() < self.deadline:
            read = self.client.get("/api/v1/flags/counter")
            if read.status_code != 200:
                self.problems.append(f"GET {read.status_code}: {read.text}")
                return
            body = read.json()
            if body["value"] >= WRITES:
                return
            attempt += 1
            note = f"{self.name}-{attempt}"
            written = self.client.put(
                "/api/v1/flags/counter",
                json={"value": body["value"] + 1, "note": note},
                headers={"if-match": read.headers["etag"]},
            )
            if written.status_code == 412:
                self.refused += 1
                continue
            if written.status_code != 200:
                self.problems.append(f"PUT {written.status_code}: {written.text}")
                return
            if written.json()["value"] != body["value"] + 1:
                self.problems.append(f"PUT {note} answered {written.json()}")
            # the audit names no default value: what was read is None if none was stored
            self.accepted[note] = (
                None if body["source"] == "default" else body["value"],
                body["value"] + 1,
            )
        self.problems.append("the deadline passed")


def test_two_servers_accept_each_write_once_with_one_audit_entry(
    servers: list[Served], tokens: dict[str, str]
) -> None:
    deadline = time.monotonic() + 240
    clients = [server.client(token) for server, token in zip(servers, tokens.values(), strict=True)]
    writers = [Writer(name, client, deadline) for name, client in zip(tokens, clients, strict=True)]
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert [w.problems for w in writers] == [[], []]
        # the two processes did race: some writes were refused over a value changed meanwhile
        assert sum(w.refused for w in writers) > 0
        accepted = {note: seen for writer in writers for note, seen in writer.accepted.items()}
        assert len(accepted) == sum(len(w.accepted) for w in writers)
        # both processes took writes: they really did race each other
        assert all(w.accepted for w in writers)
        for client in clients:
            described = client.get("/api/v1/flags/counter").json()
            assert (described["value"], described["source"]) == (len(accepted), "store")
        assert len(accepted) == WRITES

        entries = audit(clients[0], "counter")
        assert len(entries) == len(accepted)  # one entry per accepted write, no more
        by_note = {entry["note"]: entry for entry in entries}
        assert by_note.keys() == accepted.keys()
        for note, (read, written) in accepted.items():
            entry = by_note[note]
            # the value replaced is the one this writer read: none was written over
            assert (entry["old"], entry["new"]) == (read, written), note
            assert (entry["actor"], entry["channel"]) == (note.rsplit("-", 1)[0], "api")
        chain = [(entry["old"], entry["new"]) for entry in reversed(entries)]  # oldest first
        assert chain == [(None, 1)] + [(n, n + 1) for n in range(1, WRITES)]
        assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    finally:
        for client in clients:
            client.close()


SERVICE_PROCESS = textwrap.dedent(
    """\
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from shop.configgen_flags import Flags
    from configgen.stores import EtcdStore, RedisStore

    kind, port = sys.argv[2], int(sys.argv[3])
    if kind == "etcd":
        store = EtcdStore("shop", host="127.0.0.1", port=port)
    else:
        store = RedisStore("shop", host="127.0.0.1", port=port, db=0)
    if not store.wait_synced(30):
        sys.exit("the store did not sync")
    flags = Flags(store)
    shown = None
    while True:  # until the test ends this process
        now = f"theme={flags.ui.theme()} max_items={flags.max_items()}"
        if now != shown:
            print(now, flush=True)
            shown = now
        time.sleep(0.01)
    """
)


def _lines(process: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The process's output lines, as they come; the thread ends at its end."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if line == text:
            return
    raise AssertionError(f"{text!r} not seen; the service printed {seen}")


@pytest.mark.parametrize("kind", ["etcd", "redis"])
def test_a_change_through_the_server_reaches_a_running_service(
    kind: str,
    project: Path,
    tokens: dict[str, str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    backend: Any = request.getfixturevalue("etcd" if kind == "etcd" else "redis_server")
    url = store_url(kind, tmp_path, backend.port)
    server = Served(project, url, tmp_path / "serve.log").start()
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE_PROCESS, str(project / "src"), kind, str(backend.port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen: list[str] = []
    lines, pump = _lines(service)
    try:
        _wait_for(lines, "theme=light max_items=50", seen)
        with server.client(tokens["client-a"]) as client:
            assert put(client, "ui.theme", "dark", note="dark mode for all").status_code == 200
            _wait_for(lines, "theme=dark max_items=50", seen)
            assert put(client, "max_items", 80, note="bigger pages").status_code == 200
            _wait_for(lines, "theme=dark max_items=80", seen)
        history = cli(project, "history", store=url).stdout.splitlines()
        assert [line.split("\t")[1:] for line in history] == [
            ["client-a", "api", "max_items", "(default) -> 80", "bigger pages"],
            ["client-a", "api", "ui.theme", "(default) -> dark", "dark mode for all"],
        ]
    finally:
        service.kill()
        service.wait()
        pump.join(timeout=10)
        assert service.stdout is not None
        service.stdout.close()
        server.stop()
