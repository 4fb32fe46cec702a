"""A real `configgen serve` delivers every change to a real receiver that verifies with the
`standardwebhooks` package: changes through the UI, the API, the command line, an import and
straight into the store (etcdctl, redis-cli, an edit of the file), across a receiver outage
and a server restart, over each store."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from configgen.server._auth import new_token
from tests.conftest import DATA
from tests.servers import free_port
from tests.test_webhooks import SECRET, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.servers]
TOKEN, TOKEN_HASH = new_token()


@pytest.fixture(params=["file", "etcd", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'overrides.toml'}"
    server = request.getfixturevalue("etcd" if request.param == "etcd" else "redis_server")
    return (
        f"etcd://127.0.0.1:{server.port}/shop"
        if request.param == "etcd"
        else f"redis://127.0.0.1:{server.port}/0"
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.start()
    yield found
    found.stop()


class Served:
    def __init__(self, root: Path, store: str) -> None:
        self.root, self.store = root, store
        self.process: subprocess.Popen[bytes] | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "configgen",
                "serve",
                "--project",
                str(self.root),
                "--store",
                self.store,
                "--service",
                "shop",
                "--port",
                str(self.port),
            ],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with httpx.Client() as probe:
                    probe.get(self.url + "/login", timeout=1)
                return
            except httpx.HTTPError:
                assert self.process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _project(root: Path, receiver: Receiver) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1"\n[tool.configgen]\nconfig = "config.toml"\n'
        'flags = "flags.toml"\npackage = "src/shop"\nenv-prefix = "SHOP_"\n'
    )
    (root / "config.toml").write_text("a = 1\n")
    (root / "src" / "shop").mkdir(parents=True)
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text())
    (root / "server.toml").write_text(
        f'session-secret = "x"\n[[tokens]]\nname = "ci"\nrole = "admin"\nhash = "{TOKEN_HASH}"\n'
        f'[[webhooks]]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\nallow-private = true\n'
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "configgen",
            "auth",
            "user",
            "ui-user",
            "--role",
            "editor",
            "--file",
            str(root / "server.toml"),
        ],
        input="ui-password-1\n",
        text=True,
        check=True,
        capture_output=True,
    )
    return root


def _wait(condition: Any, what: str, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _delivered(receiver: Receiver) -> list[tuple[str, object]]:
    return [(m["data"]["flag"], m["data"]["new"]) for _, m in receiver.messages]


def _cli(root: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "configgen", "flags", *args, "--service", "shop"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _direct(store: str, key: str, value: str) -> None:
    """A write straight into the store, as another tool would make it (no audit entry)."""
    if store.startswith("file://"):
        path = Path(store[len("file://") :])
        text = path.read_text() if path.exists() else ""
        path.write_text(text + f"\n{key} = {value}\n")
        return
    from urllib.parse import urlsplit

    from tests.servers import need

    port = str(urlsplit(store).port)
    if store.startswith("etcd://"):
        command = [
            need("etcdctl", "etcd-client"),
            "--endpoints",
            f"127.0.0.1:{port}",
            "put",
            f"/shop/flags/{key}",
            value,
        ]
        env = {"ETCDCTL_API": "3"}
    else:
        command = [need("redis-cli", "redis-tools"), "-p", port, "HSET", "shop:flags", key, value]
        env = {}
    import os

    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr


def _ui_change(served: Served, root: Path, key: str, value: str) -> None:
    """Log in as a person would and change a flag through the pages (with the confirmation)."""
    import html
    import re

    with httpx.Client(base_url=served.url) as browser:
        login = browser.post("/login", data={"name": "ui-user", "password": "ui-password-1"})
        assert login.status_code in (200, 303), login.text
        page = browser.get(f"/flags/{key}").text
        csrf = html.unescape(re.findall(r'name="csrf" value="([^"]+)"', page)[0])
        expected = html.unescape(re.findall(r'name="expected" value="([^"]+)"', page)[0])
        form = {"csrf": csrf, "expected": expected, "action": "set", "value": value}
        assert browser.post(f"/flags/{key}/preview", data=form).status_code == 200
        done = browser.post(f"/flags/{key}", data={**form, "note": "from the UI"})
        assert done.status_code in (200, 303), done.text


def test_every_change_reaches_the_receiver(
    tmp_path: Path, store_url: str, receiver: Receiver
) -> None:
    root = _project(tmp_path / "proj", receiver)
    served = Served(root, store_url)
    served.start()
    try:
        from configgen.stores import open_outbox

        outbox = open_outbox(store_url, service="shop")
        _wait(lambda: "values" in outbox.cursor(), "the dispatcher's first scan")
        with httpx.Client(
            base_url=served.url, headers={"authorization": f"Bearer {TOKEN}"}
        ) as client:
            tag = client.get("/api/v1/flags/max_items").headers["etag"]
            put = client.put(
                "/api/v1/flags/max_items", json={"value": 1}, headers={"if-match": tag}
            )
            assert put.status_code == 200
        _cli(root, "set", "max_items", "2", "--store", store_url)
        (root / "batch.json").write_text('{"discount": 0.5}')
        _cli(root, "import", str(root / "batch.json"), "--store", store_url)
        _direct(store_url, "greeting", '"hi"' if store_url.startswith("file") else "hi")
        _ui_change(served, root, "search.new_ranker", "25")
        _wait(lambda: len(receiver.messages) >= 5, "five deliveries")
        assert sorted(_delivered(receiver), key=str) == sorted(
            [
                ("max_items", 1),
                ("max_items", 2),
                ("discount", 0.5),
                ("greeting", "hi"),
                ("search.new_ranker", 25.0),
            ],
            key=str,
        )
        channels = {m["data"]["flag"]: m["data"]["channel"] for _, m in receiver.messages}
        assert channels == {
            "max_items": "cli",
            "discount": "import",
            "greeting": "store",
            "search.new_ranker": "ui",
        }
        # the receiver goes away; the change waits for it (retried after 5 s)
        receiver.stop()
        _cli(root, "set", "ui.theme", "dark", "--store", store_url)
        _wait(
            lambda: any(
                r.get("attempts", 0) >= 1 for r in outbox.recent() if r.get("flag") == "ui.theme"
            ),
            "a failed attempt",
        )
        receiver.start()
        _wait(lambda: ("ui.theme", "dark") in _delivered(receiver), "delivery after the outage")
        # the server stops; a change made meanwhile is delivered after its restart
        served.stop()
        _cli(root, "set", "kill_switch", "false", "--store", store_url)
        served.start()
        _wait(lambda: ("kill_switch", False) in _delivered(receiver), "delivery after a restart")
        ids = [message_id for message_id, _ in receiver.messages]
        assert len(ids) == len(set(ids)) == 7
        outbox.close()
    finally:
        served.stop()
