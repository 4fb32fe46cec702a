"""The operator server in-process: pages, the API, auth, roles, CSRF, CSP, conflicts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from configgen import audit
from configgen.server import ServerConfig, Token, User, create_app
from configgen.server._auth import check_password, hash_password, new_token
from tests.conftest import DATA

PASSWORDS = {"vera": "viewer-pass-1", "eddie": "editor-pass-1", "ada": "admin-pass-1"}
ROLES = {"vera": "viewer", "eddie": "editor", "ada": "admin"}
HASHES = {name: hash_password(password) for name, password in PASSWORDS.items()}
TOKEN, TOKEN_HASH = new_token()
VIEW_TOKEN, VIEW_TOKEN_HASH = new_token()
BASE = "http://testserver"


def _config(**overrides: object) -> ServerConfig:
    settings: dict[str, object] = {
        "users": tuple(User(n, ROLES[n], HASHES[n]) for n in PASSWORDS),  # type: ignore[arg-type]
        "tokens": (Token("bot", "editor", TOKEN_HASH), Token("reader", "viewer", VIEW_TOKEN_HASH)),
        "session_secret": "s" * 32,
    }
    settings.update(overrides)
    return ServerConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def editor() -> audit.MemoryEditor:
    return audit.MemoryEditor()


@pytest.fixture
def client(editor: audit.MemoryEditor) -> Iterator[TestClient]:
    app = create_app(DATA / "everything_flags.toml", editor, _config())
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


def _login(client: TestClient, name: str) -> str:
    response = client.post(
        "/login", data={"name": name, "password": PASSWORDS[name]}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _etag(client: TestClient, key: str, **headers: str) -> str:
    response = client.get(f"/api/v1/flags/{key}", headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def test_passwords_and_tokens_are_kept_as_hashes() -> None:
    stored = hash_password("hunter2")
    assert "hunter2" not in stored and stored.startswith("scrypt$")
    assert check_password("hunter2", stored) and not check_password("hunter3", stored)
    token, digest = new_token()
    assert token not in digest and digest.startswith("sha256$")
    assert "hunter2" not in repr(User("u", "viewer", stored)) and stored not in repr(
        User("u", "viewer", stored)
    )


def test_every_page_needs_a_login_by_default(client: TestClient) -> None:
    for path in ("/", "/flags/new_checkout", "/audit", "/evaluate"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and "/login" in response.headers["location"]
    assert client.get("/api/v1/flags").status_code == 401
    assert client.get("/api/v1/flags").headers["www-authenticate"] == "Bearer"


def test_an_editor_changes_a_flag_with_a_confirmation_and_an_audit_entry(
    client: TestClient, editor: audit.MemoryEditor
) -> None:
    csrf = _login(client, "eddie")
    page = client.get("/flags/max_items").text
    expected = re.search(r'name="expected" value="([^"]+)"', page)
    assert expected is not None
    form = {
        "csrf": csrf,
        "expected": html.unescape(expected.group(1)),
        "action": "set",
        "value": "75",
    }
    confirm = client.post("/flags/max_items/preview", data=form)
    assert confirm.status_code == 200
    assert re.search(r'class="old">50 \(default\)</span>\s*→\s*<span class="new">75<', confirm.text)
    assert editor.read("max_items") is None  # a preview writes nothing
    done = client.post(
        "/flags/max_items", data={**form, "note": "more for the sale"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert editor.read("max_items") == 75
    (entry,) = editor.history("max_items")
    assert (entry.actor, entry.channel, entry.old, entry.new, entry.note) == (
        "eddie",
        "ui",
        None,
        75,
        "more for the sale",
    )
    assert "more for the sale" in client.get("/flags/max_items").text


def test_a_viewer_cannot_change_anything(client: TestClient, editor: audit.MemoryEditor) -> None:
    csrf = _login(client, "vera")
    assert "Change…" not in client.get("/").text
    form = {"csrf": csrf, "expected": audit.etag(None), "action": "set", "value": "true"}
    assert client.post("/flags/new_checkout/preview", data=form).status_code == 403
    assert client.post("/flags/new_checkout", data=form).status_code == 403
    headers = {"authorization": f"Bearer {VIEW_TOKEN}", "if-match": "*"}
    assert (
        client.put("/api/v1/flags/new_checkout", json={"value": True}, headers=headers).status_code
        == 403
    )
    assert editor.read_all() == {}


def test_a_stale_page_is_refused(client: TestClient, editor: audit.MemoryEditor) -> None:
    csrf = _login(client, "eddie")
    stale = audit.etag(None)
    editor.change(
        "ui.theme",
        None,
        "dark",
        audit.new_entry(actor="x", channel="cli", flag="ui.theme", old=None, new="dark"),
    )
    form = {"csrf": csrf, "expected": stale, "action": "set", "value": "light", "note": ""}
    response = client.post("/flags/ui.theme", data=form)
    assert response.status_code == 409
    assert "changed meanwhile" in response.text and "dark" in response.text
    assert editor.read("ui.theme") == "dark" and len(editor.history()) == 1


def test_csrf_token_and_origin_are_required(client: TestClient, editor: audit.MemoryEditor) -> None:
    csrf = _login(client, "eddie")
    form = {"expected": audit.etag(None), "action": "set", "value": "true"}
    assert client.post("/flags/new_checkout", data=form).status_code == 403
    assert client.post("/flags/new_checkout", data={**form, "csrf": "forged"}).status_code == 403
    foreign = client.post(
        "/flags/new_checkout",
        data={**form, "csrf": csrf},
        headers={"origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    cross = client.post(
        "/flags/new_checkout", data={**form, "csrf": csrf}, headers={"sec-fetch-site": "cross-site"}
    )
    assert cross.status_code == 403
    assert editor.read_all() == {}
    ok = client.post(
        "/flags/new_checkout",
        data={**form, "csrf": csrf},
        headers={"origin": BASE},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and editor.read("new_checkout") is True


def test_no_change_through_get(client: TestClient, editor: audit.MemoryEditor) -> None:
    _login(client, "eddie")
    for path in ("/flags/new_checkout?value=true&action=set", "/flags/new_checkout/preview"):
        client.get(path)
    assert editor.read_all() == {}


def test_every_response_carries_a_strict_csp(client: TestClient) -> None:
    for path in ("/login", "/api/v1/flags", "/static/app.css"):
        headers = client.get(path).headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"


def test_descriptions_and_values_are_escaped(tmp_path: Path, editor: audit.MemoryEditor) -> None:
    flags = tmp_path / "flags.toml"
    flags.write_text(
        '[flags.x]\ntype = "string"\ndefault = "<b>bold</b>"\n'
        'description = "<script>alert(1)</script>"\n'
    )
    editor.values["x"] = "<img src=x onerror=alert(2)>"
    with TestClient(create_app(flags, editor, _config()), base_url=BASE) as client:
        _login(client, "vera")
        page = client.get("/").text + client.get("/flags/x").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "<b>bold" not in page


def test_api_statuses(client: TestClient, editor: audit.MemoryEditor) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/v1/flags", headers={"authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/flags/nope", headers=auth).status_code == 404
    tag = _etag(client, "max_items", **auth)
    put = client.put("/api/v1/flags/max_items", json={"value": 7}, headers=auth)
    assert put.status_code == 428
    bad = client.put(
        "/api/v1/flags/max_items", json={"value": "seven"}, headers={**auth, "if-match": tag}
    )
    assert bad.status_code == 422 and "max_items" in bad.json()["error"]
    good = client.put(
        "/api/v1/flags/max_items",
        json={"value": 7, "note": "why"},
        headers={**auth, "if-match": tag},
    )
    assert good.status_code == 200 and good.json()["value"] == 7
    stale = client.put(
        "/api/v1/flags/max_items", json={"value": 8}, headers={**auth, "if-match": tag}
    )
    assert stale.status_code == 412 and stale.json()["current"]["value"] == 7
    assert editor.read("max_items") == 7
    gone = client.delete(
        "/api/v1/flags/max_items", headers={**auth, "if-match": good.headers["etag"]}
    )
    assert gone.status_code == 200 and gone.json()["source"] == "default"
    history = client.get("/api/v1/audit?flag=max_items", headers=auth).json()["entries"]
    assert [(e["old"], e["new"], e["actor"], e["channel"]) for e in history] == [
        (7, None, "bot", "api"),
        (None, 7, "bot", "api"),
    ]


def test_the_api_with_a_session_needs_the_csrf_header(
    client: TestClient, editor: audit.MemoryEditor
) -> None:
    csrf = _login(client, "eddie")
    tag = _etag(client, "kill_switch")
    refused = client.put(
        "/api/v1/flags/kill_switch", json={"value": False}, headers={"if-match": tag}
    )
    assert refused.status_code == 403
    done = client.put(
        "/api/v1/flags/kill_switch",
        json={"value": False},
        headers={"if-match": tag, "x-csrf-token": csrf},
    )
    assert done.status_code == 200 and editor.read("kill_switch") is False


def test_logins_are_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        response = client.post("/login", data={"name": "eddie", "password": "wrong"})
        assert response.status_code == 401
    limited = client.post("/login", data={"name": "eddie", "password": PASSWORDS["eddie"]})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_the_session_cookie_is_httponly_and_samesite(client: TestClient) -> None:
    response = client.post(
        "/login", data={"name": "vera", "password": PASSWORDS["vera"]}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "viewer-pass-1" not in cookie


def test_a_forged_session_is_nobody(client: TestClient) -> None:
    client.cookies.set("configgen_session", "eyJ1IjoiYWRhIiwiYyI6IngiLCJ0IjoxfQ.forged")
    assert client.get("/api/v1/flags").status_code == 401


def test_the_evaluate_panel_says_why(client: TestClient) -> None:
    _login(client, "vera")
    page = client.get(
        "/evaluate", params={"targeting_key": "zed", "attributes": 'country = "FR"'}
    ).text
    assert "in segment &#39;eu&#39; (country = &#39;FR&#39;)" in page


def test_proxy_mode_believes_only_the_proxy(editor: audit.MemoryEditor) -> None:
    import ipaddress

    from configgen.server import Proxy

    proxy = Proxy("X-User", "X-Role", "viewer", (ipaddress.ip_network("10.0.0.0/8"),))
    app = create_app(DATA / "everything_flags.toml", editor, _config(proxy=proxy))
    with TestClient(app, base_url=BASE) as client:  # the test client's address is "testclient"
        assert client.get("/api/v1/flags", headers={"x-user": "mallory"}).status_code == 403
    with TestClient(app, base_url=BASE, client=("10.1.2.3", 5000)) as client:
        assert client.get("/api/v1/flags", headers={"x-user": "pat"}).status_code == 200
        refused = client.get("/api/v1/flags", headers={"x-user": "pat", "x-role": "root"})
        assert refused.status_code == 403
        page = client.get("/", headers={"x-user": "pat", "x-role": "editor"}).text
        assert "pat" in page and "Change…" in page


def test_a_host_app_user(editor: audit.MemoryEditor) -> None:
    app = create_app(
        DATA / "everything_flags.toml",
        editor,
        _config(),
        user=lambda request: ("host-user", "editor"),
    )
    with TestClient(app, base_url=BASE) as client:
        page = client.get("/").text
        assert "host-user" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "expected": audit.etag(None), "action": "set", "value": "on"}
        assert (
            client.post("/flags/new_checkout", data=form, follow_redirects=False).status_code == 303
        )
    assert editor.history()[0].actor == "host-user"


def test_mounted_in_a_starlette_app(editor: audit.MemoryEditor) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    host = Starlette(
        routes=[
            Route("/", lambda request: PlainTextResponse("host")),
            Mount("/ops/flags", app=create_app(DATA / "everything_flags.toml", editor, _config())),
        ]
    )
    with TestClient(host, base_url=BASE) as client:
        first = client.get("/ops/flags/", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith(
            f"{BASE}/ops/flags/login"
        )
        response = client.post(
            "/ops/flags/login",
            data={"name": "eddie", "password": PASSWORDS["eddie"]},
            follow_redirects=False,
        )
        assert "path=/ops/flags" in response.headers["set-cookie"].lower()
        page = client.get("/ops/flags/").text
        assert 'href="http://testserver/ops/flags/static/app.css"' in page
        assert 'action="http://testserver/ops/flags/flags/max_items/preview"' in page
        assert client.get("/").text == "host"


def test_mounted_in_a_flask_app_through_a2wsgi(editor: audit.MemoryEditor) -> None:
    import a2wsgi
    import flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    host = flask.Flask("host")
    host.route("/")(lambda: "host")
    operator = create_app(DATA / "everything_flags.toml", editor, _config(anonymous_viewers=True))
    host.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        host.wsgi_app, {"/flags": a2wsgi.ASGIMiddleware(operator)}
    )
    client = host.test_client()
    assert client.get("/").text == "host"
    listing = client.get("/flags/api/v1/flags")
    assert listing.status_code == 200
    assert {flag["key"] for flag in listing.json["flags"]} >= {"new_checkout", "ui.theme"}
    assert "/flags/static/app.css" in client.get("/flags/").text


@pytest.fixture(params=["file", "etcd", "redis"])
def real_editor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[audit.Editor]:
    from configgen.stores import open_editor

    if request.param == "file":
        editor = open_editor(f"file://{tmp_path / 'overrides.toml'}")
    else:
        server = request.getfixturevalue("etcd" if request.param == "etcd" else "redis_server")
        url = (
            f"etcd://127.0.0.1:{server.port}/shop"
            if request.param == "etcd"
            else f"redis://127.0.0.1:{server.port}/0"
        )
        editor = open_editor(url, service="shop")
    yield editor
    editor.close()


@pytest.mark.servers
def test_api_statuses_over_real_stores(real_editor: audit.Editor) -> None:
    """401/403/404/412/422/428 and one audit entry per accepted write, over each store."""
    app = create_app(DATA / "everything_flags.toml", real_editor, _config())
    with TestClient(app, base_url=BASE) as client:
        auth = {"authorization": f"Bearer {TOKEN}"}
        viewer = {"authorization": f"Bearer {VIEW_TOKEN}"}
        assert client.get("/api/v1/flags").status_code == 401
        assert client.get("/api/v1/flags/nope", headers=auth).status_code == 404
        tag = _etag(client, "ui.theme", **auth)
        assert (
            client.put(
                "/api/v1/flags/ui.theme",
                json={"value": "dark"},
                headers={**viewer, "if-match": tag},
            ).status_code
            == 403
        )
        assert (
            client.put("/api/v1/flags/ui.theme", json={"value": "dark"}, headers=auth).status_code
            == 428
        )
        assert (
            client.put(
                "/api/v1/flags/ui.theme", json={"value": "pink"}, headers={**auth, "if-match": tag}
            ).status_code
            == 422
        )
        done = client.put(
            "/api/v1/flags/ui.theme",
            json={"value": "dark", "note": "n"},
            headers={**auth, "if-match": tag},
        )
        assert done.status_code == 200
        stale = client.put(
            "/api/v1/flags/ui.theme", json={"value": "light"}, headers={**auth, "if-match": tag}
        )
        assert stale.status_code == 412 and stale.json()["current"]["value"] == "dark"
        listing = {f["key"]: f for f in client.get("/api/v1/flags", headers=auth).json()["flags"]}
        assert (listing["ui.theme"]["value"], listing["ui.theme"]["source"]) == ("dark", "store")
        entries = client.get("/api/v1/audit?flag=ui.theme", headers=auth).json()["entries"]
        assert [(e["old"], e["new"], e["actor"], e["note"]) for e in entries] == [
            (None, "dark", "bot", "n")
        ]


def test_over_https_the_cookie_is_secure(editor: audit.MemoryEditor) -> None:
    app = create_app(DATA / "everything_flags.toml", editor, _config())
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post(
            "/login", data={"name": "vera", "password": PASSWORDS["vera"]}, follow_redirects=False
        )
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_never_redirects_off_site(client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        response = client.post(
            "/login",
            data={"name": "vera", "password": PASSWORDS["vera"], "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == f"{BASE}/", target


def test_auth_commands_keep_only_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import stat

    from configgen.cli import main
    from configgen.server import load

    path = tmp_path / "server.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["auth", "user", "alice", "--role", "editor", "--file", str(path)]) == 0
    assert main(["auth", "token", "bot", "--role", "viewer", "--file", str(path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    text = path.read_text()
    assert "a-long-password" not in text and token not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = load(path)
    assert [(u.name, u.role) for u in config.users] == [("alice", "editor")]
    assert check_password("a-long-password", config.users[0].password)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["auth", "user", "bob", "--role", "editor", "--file", str(path)]) == 1
    assert main(["auth", "token", "bot", "--remove", "--file", str(path)]) == 0
    assert load(path).tokens == ()


def test_a_removed_user_is_logged_out_at_once(tmp_path: Path, editor: audit.MemoryEditor) -> None:
    from configgen.server._config import put_entry, remove_entry

    path = tmp_path / "server.toml"
    put_entry(path, "users", {"name": "eddie", "role": "editor", "password": HASHES["eddie"]})
    with TestClient(
        create_app(DATA / "everything_flags.toml", editor, path), base_url=BASE
    ) as client:
        _login(client, "eddie")
        assert client.get("/api/v1/flags").status_code == 200
        remove_entry(path, "users", "eddie")
        assert client.get("/api/v1/flags").status_code == 401


def test_a_login_from_another_site_is_refused(client: TestClient) -> None:
    form = {"name": "vera", "password": PASSWORDS["vera"]}
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        response = client.post("/login", data=form, headers=headers, follow_redirects=False)
        assert response.status_code == 403 and "set-cookie" not in response.headers


def test_a_stale_page_is_refused_at_the_confirmation_already(
    client: TestClient, editor: audit.MemoryEditor
) -> None:
    csrf = _login(client, "eddie")
    form = {"csrf": csrf, "expected": audit.etag(None), "action": "set", "value": "75"}
    editor.change(
        "max_items",
        None,
        60,
        audit.new_entry(actor="x", channel="cli", flag="max_items", old=None, new=60),
    )
    response = client.post("/flags/max_items/preview", data=form)
    assert response.status_code == 409 and "changed since the page was loaded" in response.text


def test_one_client_cannot_lock_out_another_user(client: TestClient) -> None:
    for name in ("zz0", "zz1", "zz2", "zz3", "zz4", "zz5"):
        client.post("/login", data={"name": name, "password": "wrong"})
    ok = client.post(
        "/login", data={"name": "vera", "password": PASSWORDS["vera"]}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_guesses_sent_at_once_are_all_counted() -> None:
    from concurrent.futures import ThreadPoolExecutor

    app = create_app(DATA / "everything_flags.toml", audit.MemoryEditor(), _config())
    with TestClient(app, base_url=BASE) as client, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: (
                    client.post("/login", data={"name": "eddie", "password": f"x{i}"}).status_code
                ),
                range(24),
            )
        )
    assert answers.count(401) == 5 and answers.count(429) == 19


def test_a_new_password_ends_old_sessions(tmp_path: Path, editor: audit.MemoryEditor) -> None:
    from configgen.server._config import put_entry, remove_entry

    path = tmp_path / "server.toml"
    put_entry(path, "users", {"name": "eddie", "role": "viewer", "password": HASHES["eddie"]})
    with TestClient(
        create_app(DATA / "everything_flags.toml", editor, path), base_url=BASE
    ) as client:
        _login(client, "eddie")
        remove_entry(path, "users", "eddie")
        put_entry(
            path,
            "users",
            {"name": "eddie", "role": "admin", "password": hash_password("another-pass-1")},
        )
        assert client.get("/api/v1/flags").status_code == 401  # the old cookie is not an admin's


def test_bodies_over_the_limit_are_refused(client: TestClient, editor: audit.MemoryEditor) -> None:
    big = {"name": "vera", "password": "x" * (70 * 1024)}
    assert client.post("/login", data=big).status_code == 413
    auth = {"authorization": f"Bearer {TOKEN}", "if-match": "*"}
    huge = client.put(
        "/api/v1/flags/greeting",
        content=b'{"value": "' + b"x" * (6 << 20) + b'"}',
        headers={**auth, "content-type": "application/json"},
    )
    assert huge.status_code == 413
    long_value = client.put("/api/v1/flags/greeting", json={"value": "x" * 70_000}, headers=auth)
    assert long_value.status_code == 422
    long_note = client.put(
        "/api/v1/flags/greeting", json={"value": "x", "note": "n" * 2001}, headers=auth
    )
    assert long_note.status_code == 422
    surrogate = client.put(
        "/api/v1/flags/greeting",
        content=b'{"value": "\\ud800"}',
        headers={**auth, "content-type": "application/json"},
    )
    assert surrogate.status_code == 422
    nested = client.put(
        "/api/v1/flags/greeting",
        content=b"[" * 100_000,
        headers={**auth, "content-type": "application/json"},
    )
    assert nested.status_code == 422 and "content-security-policy" in nested.headers
    assert editor.read_all() == {}


def test_unknown_flags_are_not_revealed_without_credentials(client: TestClient) -> None:
    assert client.get("/api/v1/flags/nope").status_code == 401
    assert client.get("/api/v1/flags/new_checkout").status_code == 401


def test_an_unknown_form_action_changes_nothing(
    client: TestClient, editor: audit.MemoryEditor
) -> None:
    csrf = _login(client, "eddie")
    editor.values["max_items"] = 60
    form = {"csrf": csrf, "expected": audit.etag(60), "action": "bogus", "value": "1"}
    assert client.post("/flags/max_items", data=form).status_code == 422
    assert client.post("/flags/max_items/preview", data=form).status_code == 422
    assert editor.read("max_items") == 60


def test_if_match_takes_a_list_of_tags(client: TestClient, editor: audit.MemoryEditor) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    tag = _etag(client, "max_items", **auth)
    listed = client.put(
        "/api/v1/flags/max_items", json={"value": 3}, headers={**auth, "if-match": f'"nope", {tag}'}
    )
    assert listed.status_code == 200 and editor.read("max_items") == 3


def test_behind_a_tls_proxy_the_public_origin_is_the_one_checked(
    editor: audit.MemoryEditor,
) -> None:
    app = create_app(
        DATA / "everything_flags.toml", editor, _config(public_origin="https://flags.example.com")
    )
    with TestClient(app, base_url=BASE) as client:
        form = {"name": "vera", "password": PASSWORDS["vera"]}
        ok = client.post(
            "/login",
            data=form,
            headers={"origin": "https://flags.example.com"},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        refused = client.post("/login", data=form, headers={"origin": BASE})
        assert refused.status_code == 403
