"""A project made with ``configgen init``, served by real ``configgen serve`` processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.conftest import run, tool
from tests.servers import free_port

CONFIGGEN = tool("configgen")
SERVICE = "shop"
PASSWORDS = {"eddie": "editor-pass-1", "vera": "viewer-pass-1"}
ROLES = {"eddie": "editor", "vera": "viewer"}
XSS_DESCRIPTION = "<script>alert('description')</script><img src=x onerror=alert('img')>"
# added to the starter flags.toml that ``configgen init`` writes
EXTRA_FLAGS = f"""
[flags.max_items]
type = "int"
default = 50
description = "Items on a page"

[flags.counter]
type = "int"
default = 0

[flags.banner]
type = "string"
default = "welcome"
description = "{XSS_DESCRIPTION}"
"""


def make_project(folder: Path) -> Path:
    """``configgen init`` in *folder*/shop, some more flags, an editor, a viewer, tokens."""
    root = folder / SERVICE
    root.mkdir(parents=True)
    run(CONFIGGEN, "init", cwd=root)
    flags = root / "flags.toml"
    flags.write_text(flags.read_text(encoding="utf-8") + EXTRA_FLAGS, encoding="utf-8")
    for name, password in PASSWORDS.items():
        subprocess.run(
            [str(CONFIGGEN), "auth", "user", name, "--role", ROLES[name], "--file", "server.toml"],
            input=password + "\n", cwd=root, check=True, capture_output=True, text=True,
        )  # fmt: skip
    return root


def add_token(root: Path, name: str, role: str = "editor") -> str:
    """A new API token (``configgen auth token``), as it is printed once."""
    result = run(CONFIGGEN, "auth", "token", name, "--role", role, "--file", "server.toml",
                 cwd=root)  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


def store_url(kind: str, folder: Path, port: int | None = None) -> str:
    if kind == "file":
        return f"file://{folder / 'flags-overrides.toml'}"
    if kind == "etcd":
        return f"etcd://127.0.0.1:{port}/{SERVICE}"
    return f"redis://127.0.0.1:{port}/0"


def cli(root: Path, *args: str, store: str) -> subprocess.CompletedProcess[str]:
    """``configgen flags ...`` over *store*, as another process."""
    return run(CONFIGGEN, "flags", *args, "--store", store, "--service", SERVICE,
               "--project", root, cwd=root)  # fmt: skip


class Served:
    """``configgen serve`` on a free port of 127.0.0.1."""

    def __init__(self, root: Path, store: str, log: Path) -> None:
        self.root, self.store, self.log = root, store, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(CONFIGGEN), "serve", "--project", str(self.root), "--store", self.store,
                 "--service", SERVICE, "--server-config", str(self.root / "server.toml"),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + "/login", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"configgen serve did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {token}"}, timeout=30
        )


def put(client: httpx.Client, key: str, value: object, note: str = "") -> httpx.Response:
    """GET the flag's ETag, then PUT *value* over it."""
    tag = client.get(f"/api/v1/flags/{key}").headers["etag"]
    return client.put(f"/api/v1/flags/{key}", json={"value": value, "note": note},
                      headers={"if-match": tag})  # fmt: skip


def audit(client: httpx.Client, key: str) -> list[dict[str, object]]:
    """Every audit entry of *key*, newest first, following ``next`` page by page."""
    entries: list[dict[str, object]] = []
    params = {"flag": key, "limit": "500"}
    while True:
        response = client.get("/api/v1/audit", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["entries"]
        if body["next"] is None:
            return entries
        params["before"] = body["next"]
