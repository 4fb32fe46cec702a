"""OFREP against the real OpenFeature SDK and its OFREP provider, over a real server."""

from __future__ import annotations

import importlib
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from configgen.server._auth import new_token
from tests.conftest import DATA

pytestmark = pytest.mark.integration  # a real server process and the real SDK: one Python
TOKEN, TOKEN_HASH = new_token()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`configgen serve` over a file store, and the overrides file it writes."""
    root = tmp_path_factory.mktemp("ofrep")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1"\n[tool.configgen]\nconfig = "config.toml"\n'
        'flags = "flags.toml"\npackage = "src/shop"\nenv-prefix = "SHOP_"\n'
    )
    (root / "config.toml").write_text("a = 1\n")
    (root / "flags.toml").write_text((DATA / "everything_flags.toml").read_text())
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    (root / "server.toml").write_text(
        f'session-secret = "x"\n[[tokens]]\nname = "sdk"\nrole = "viewer"\nhash = "{TOKEN_HASH}"\n'
    )
    overrides = root / "overrides.toml"
    overrides.write_text('max_items = 7\n[search]\nnew_ranker = 40.5\n[ui]\ntheme = "dark"\n')
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "configgen", "serve", "--project", str(root), "--port", str(port),
         "--store", f"file://{overrides}", "--server-config", str(root / "server.toml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                assert process.stderr is not None
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.05)
    assert subprocess.run([sys.executable, "-m", "configgen", "generate", "--project", str(root)],
                          capture_output=True).returncode == 0  # fmt: skip
    try:
        yield url, root
    finally:
        process.terminate()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()


_PROVIDERS: list[OFREPProvider] = []


@pytest.fixture(autouse=True)
def _close_providers() -> Iterator[None]:
    yield
    while _PROVIDERS:
        _PROVIDERS.pop().session.close()


def _client(url: str, token: str | None = TOKEN) -> Any:
    provider = OFREPProvider(
        url, headers_factory=(lambda: {"Authorization": f"Bearer {token}"}) if token else None
    )
    _PROVIDERS.append(provider)
    name = f"ofrep-{random.random()}"
    api.set_provider(provider, name)
    return api.get_client(name)


def _generated(root: Path) -> Any:
    sys.path.insert(0, str(root / "src"))
    try:
        module = importlib.import_module("shop.configgen_flags")
    finally:
        sys.path.remove(str(root / "src"))
    return module


GETTERS = {
    "bool": "get_boolean_details",
    "percent": "get_boolean_details",
    "int": "get_integer_details",
    "float": "get_float_details",
    "string": "get_string_details",
    "enum": "get_string_details",
}
DEFAULTS: dict[str, Any] = {"bool": False, "percent": False, "int": 0, "float": 0.0, "string": "",
                            "enum": ""}  # fmt: skip


def test_every_kind_agrees_with_the_generated_flags_for_random_contexts(
    served: tuple[str, Path],
) -> None:
    url, root = served
    module = _generated(root)
    store = module.FileStore(root / "overrides.toml")
    flags = module.Flags(store)
    client = _client(url)
    from configgen.flags_reader import read_flags

    schema, _ = read_flags(root / "flags.toml", "flags.toml")
    assert schema is not None
    rng = random.Random(1)
    keys = ["alice", "bob", "carol", None, *(f"user-{i}" for i in range(500))]
    all_flags = schema.flags()
    for _ in range(10_000):  # 10,000 random contexts, each with a random flag
        targeting_key = rng.choice(keys)
        attributes = {"country": rng.choice(["DE", "US", "FR", 1, True]),
                      "plan": rng.choice(["pro", "free"])}  # fmt: skip
        context = EvaluationContext(targeting_key, attributes)
        ctx = module.EvaluationContext(targeting_key, attributes)
        flag = rng.choice(all_flags)
        getter = flags
        for part in flag.path:
            getter = getattr(getter, part)
        details = getattr(client, GETTERS[flag.kind])(flag.key, DEFAULTS[flag.kind], context)
        expected = getter(ctx)
        assert details.error_code is None, (flag.key, details)
        assert (details.value, type(details.value)) == (expected, type(expected)), (
            flag.key,
            targeting_key,
            attributes,
        )
    store.close()


def test_reasons(served: tuple[str, Path]) -> None:
    url, _ = served
    client = _client(url)
    assert client.get_boolean_details("new_checkout", False,
                                      EvaluationContext("alice")).reason == Reason.TARGETING_MATCH  # fmt: skip
    assert client.get_integer_details("max_items", 0).reason == Reason.STATIC
    assert client.get_boolean_details("old_banner", True).reason == Reason.DISABLED
    assert client.get_boolean_details("search.new_ranker", False,
                                      EvaluationContext("x")).reason == Reason.SPLIT  # fmt: skip


def test_errors(served: tuple[str, Path]) -> None:
    url, _ = served
    client = _client(url)
    missing = client.get_boolean_details("no_such_flag", True)
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    mismatch = client.get_integer_details("greeting", 3)
    assert (mismatch.value, mismatch.error_code) == (3, ErrorCode.TYPE_MISMATCH)
    anonymous = _client(url, token=None).get_boolean_details("new_checkout", True)
    assert anonymous.value is True and anonymous.error_code == ErrorCode.GENERAL
    assert "unauthorized" in (anonymous.error_message or "")


def test_bulk_evaluation_with_etags(served: tuple[str, Path]) -> None:
    import httpx

    url, _ = served
    headers = {"authorization": f"Bearer {TOKEN}"}
    first = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "alice"}},
                       headers=headers)  # fmt: skip
    assert first.status_code == 200
    flags = {entry["key"]: entry for entry in first.json()["flags"]}
    assert flags["new_checkout"]["value"] is True and flags["ui.theme"]["value"] == "dark"
    again = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "alice"}},
                       headers={**headers, "if-none-match": first.headers["etag"]})  # fmt: skip
    assert again.status_code == 304
    bad = httpx.post(f"{url}/ofrep/v1/evaluate/flags", content=b"{nope", headers=headers)
    assert bad.status_code == 400 and bad.json()["errorCode"] == "PARSE_ERROR"
    context = httpx.post(f"{url}/ofrep/v1/evaluate/flags", json={"context": [1]}, headers=headers)
    assert context.status_code == 400 and context.json()["errorCode"] == "INVALID_CONTEXT"
