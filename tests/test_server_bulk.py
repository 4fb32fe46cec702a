"""Export and import through the server: the API and the import page, admins only."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from configgen import audit
from configgen.server import ServerConfig, Token, User, create_app
from configgen.server._auth import hash_password, new_token
from tests.conftest import DATA

ADMIN, ADMIN_HASH = new_token()
EDITOR, EDITOR_HASH = new_token()
CONFIG = ServerConfig(
    session_secret="s",
    users=(User("ada", "admin", hash_password("admin-pass-1")),),
    tokens=(Token("ops", "admin", ADMIN_HASH), Token("dev", "editor", EDITOR_HASH)),
)
AS_ADMIN = {"authorization": f"Bearer {ADMIN}"}


def _client(editor: audit.MemoryEditor) -> TestClient:
    return TestClient(create_app(DATA / "everything_flags.toml", editor, CONFIG))


def test_export_then_import_round_trips_through_the_api() -> None:
    source = audit.MemoryEditor({"max_items": 7, "ui.theme": "dark", "new_checkout": True})
    with _client(source) as client:
        exported = client.get("/api/v1/export?format=toml", headers=AS_ADMIN).text
    target = audit.MemoryEditor()
    with _client(target) as client:
        dry = client.post(
            "/api/v1/import?format=toml&dry_run=1", content=exported, headers=AS_ADMIN
        )
        assert dry.status_code == 200 and dry.json()["applied"] is False
        assert [c["key"] for c in dry.json()["changes"]] == [
            "max_items",
            "new_checkout",
            "ui.theme",
        ]
        assert target.read_all() == {}
        done = client.post(
            "/api/v1/import?format=toml&note=copy", content=exported, headers=AS_ADMIN
        )
        assert done.status_code == 200 and done.json()["applied"] is True
        again = client.get("/api/v1/export?format=toml", headers=AS_ADMIN).text
    assert again == exported
    assert {(e.flag, e.channel, e.actor, e.note) for e in target.history()} == {
        ("max_items", "import", "ops", "copy"),
        ("new_checkout", "import", "ops", "copy"),
        ("ui.theme", "import", "ops", "copy"),
    }


def test_an_invalid_import_changes_nothing_and_lists_every_problem() -> None:
    editor = audit.MemoryEditor()
    body = '{"max_items": "lots", "ui.theme": "pink", "nope": 1, "discount": 0.5}'
    with _client(editor) as client:
        response = client.post("/api/v1/import", content=body, headers=AS_ADMIN)
    assert response.status_code == 422
    assert {p["key"] for p in response.json()["problems"]} == {"max_items", "ui.theme", "nope"}
    assert editor.read_all() == {} and editor.history() == []


def test_only_admins_import() -> None:
    editor = audit.MemoryEditor()
    with _client(editor) as client:
        refused = client.post(
            "/api/v1/import",
            content='{"max_items": 1}',
            headers={"authorization": f"Bearer {EDITOR}"},
        )
        assert refused.status_code == 403
    assert editor.read_all() == {}


def test_the_import_page_shows_the_diff_and_asks_first() -> None:
    editor = audit.MemoryEditor({"max_items": 7})
    with _client(editor) as client:
        client.post("/login", data={"name": "ada", "password": "admin-pass-1"})
        page = client.get("/import").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        form = {
            "csrf": csrf.group(1),
            "format": "json",
            "text": '{"max_items": 8, "ui.theme": "dark"}',
        }
        preview = client.post("/import", data=form)
        assert preview.status_code == 200 and editor.read("max_items") == 7
        assert re.search(r'class="old">7</td><td class="new">8<', preview.text)
        expected = re.search(r'name="expected" value="([^"]+)"', preview.text)
        assert expected is not None
        confirm = {**form, "stage": "confirm", "expected": html.unescape(expected.group(1))}
        editor.change(
            "max_items",
            7,
            9,
            audit.new_entry(actor="x", channel="cli", flag="max_items", old=7, new=9),
        )
        stale = client.post("/import", data=confirm)
        assert stale.status_code == 409 and editor.read("ui.theme") is None
        fresh = re.search(r'name="expected" value="([^"]+)"', stale.text)
        assert fresh is not None
        done = client.post(
            "/import",
            data={**confirm, "expected": html.unescape(fresh.group(1))},
            follow_redirects=False,
        )
        assert done.status_code == 303
    assert editor.read_all() == {"max_items": 8, "ui.theme": "dark"}
