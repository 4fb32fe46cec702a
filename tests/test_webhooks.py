"""Webhooks: Standard Webhooks signatures checked by the reference receiver, delivery across
failures and outages, direct writes, 410, redirects, SSRF, the server's pages and API."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import standardwebhooks

from configgen import audit, webhooks
from configgen.flags_reader import read_flags
from tests.conftest import DATA
from tests.servers import free_port

SECRET = webhooks.new_secret()
OLD_SECRET = webhooks.new_secret()
SCHEMA, _ = read_flags(DATA / "everything_flags.toml", "flags.toml")
assert SCHEMA is not None
FLAGS = {flag.key: flag for flag in SCHEMA.flags()}


class Receiver:
    """A real HTTP receiver on 127.0.0.1 that verifies each message as Standard Webhooks do."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[int] = []  # answers to give before 204, in order
        self.extra: dict[str, str] = {}
        self.server: http.server.ThreadingHTTPServer | None = None
        self.verifier = standardwebhooks.Webhook(SECRET)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.verifier.verify(body, headers)  # raises on a bad signature
                status = receiver.answers.pop(0) if receiver.answers else 204
                if status < 300:
                    receiver.messages.append((headers["webhook-id"], json.loads(body)))
                self.send_response(status)
                for name, value in receiver.extra.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.start()
    yield found
    found.stop()


def _endpoint(url: str, **extra: object) -> webhooks.Endpoint:
    (endpoint,) = webhooks.endpoints(
        [{"url": url, "secret": f"{SECRET} {OLD_SECRET}", "allow-private": True, **extra}]
    )
    return endpoint


def _change(editor: audit.MemoryEditor, key: str, new: object, actor: str = "ann") -> None:
    old = editor.read(key)
    editor.change(
        key, old, new, audit.new_entry(actor=actor, channel="api", flag=key, old=old, new=new)
    )


def test_signatures_verify_with_the_reference_receiver_for_each_secret() -> None:
    body = webhooks.payload("flag.changed", None)
    headers = webhooks.headers(
        "msg_1", body, [webhooks.parse_secret(SECRET), webhooks.parse_secret(OLD_SECRET)]
    )
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (SECRET, OLD_SECRET):
        assert standardwebhooks.Webhook(secret).verify(body, headers)["type"] == "flag.changed"
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhooks.new_secret()).verify(body, headers)
    tampered = body.replace(b"flag.changed", b"flag.changeD")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(tampered, headers)


def test_every_change_is_delivered_across_failures_and_an_outage(receiver: Receiver) -> None:
    editor = audit.MemoryEditor()
    outbox = webhooks.MemoryOutbox()
    dispatcher = webhooks.Dispatcher(editor, outbox, [_endpoint(receiver.url)], FLAGS)
    dispatcher.scan()  # the first scan sets the cursor: the past is not news
    _change(editor, "max_items", 1)
    receiver.answers = [500, 500]
    assert dispatcher.scan() == 1
    dispatcher.deliver_due()  # 500
    far = time.time() + 10**6
    dispatcher.deliver_due(now=far)  # 500 again
    receiver.stop()  # the receiver goes away
    _change(editor, "max_items", 2)
    _change(editor, "ui.theme", "dark")
    editor.values["kill_switch"] = "false"  # a write straight into the store, no audit entry
    assert dispatcher.scan() == 3
    dispatcher.deliver_due(now=far)  # connection refused for everything
    assert not receiver.messages
    receiver.start()  # and comes back
    for _ in range(3):
        dispatcher.deliver_due(now=far * 2)
    ids = [message_id for message_id, _ in receiver.messages]
    assert len(ids) == len(set(ids)) == 4
    changes = sorted(
        (m["data"]["flag"], str(m["data"]["new"]), m["data"]["channel"])
        for _, m in receiver.messages
    )
    assert changes == [
        ("kill_switch", "False", "store"),
        ("max_items", "1", "api"),
        ("max_items", "2", "api"),
        ("ui.theme", "dark", "api"),
    ]
    records = outbox.recent()
    assert {r["status"] for r in records} == {"delivered"}
    assert max(r["attempts"] for r in records) == 4  # 500, 500, refused, then delivered


def test_a_restarted_dispatcher_resumes_from_the_store(receiver: Receiver) -> None:
    editor = audit.MemoryEditor()
    outbox = webhooks.MemoryOutbox()
    endpoint = _endpoint(receiver.url)
    webhooks.Dispatcher(editor, outbox, [endpoint], FLAGS).scan()
    _change(editor, "max_items", 5)
    webhooks.Dispatcher(editor, outbox, [endpoint], FLAGS).scan()  # queued, then "crashed"
    _change(editor, "max_items", 6)
    again = webhooks.Dispatcher(editor, outbox, [endpoint], FLAGS, owner="second")
    again.scan()
    again.deliver_due()
    assert sorted(m["data"]["new"] for _, m in receiver.messages) == [5, 6]


def test_retry_after_is_honoured_and_410_disables(receiver: Receiver) -> None:
    editor = audit.MemoryEditor()
    outbox = webhooks.MemoryOutbox()
    dispatcher = webhooks.Dispatcher(editor, outbox, [_endpoint(receiver.url)], FLAGS)
    dispatcher.scan()
    _change(editor, "max_items", 1)
    dispatcher.scan()
    receiver.answers, receiver.extra = [503], {"Retry-After": "600"}
    before = time.time()
    dispatcher.deliver_due()
    (record,) = outbox.recent()
    assert record["status"] == "pending" and record["next_at"] >= before + 600
    receiver.answers, receiver.extra = [410], {}
    dispatcher.deliver_due(now=before + 10**6)
    assert outbox.get(f"endpoint.{_endpoint(receiver.url).id}")["status"] == "disabled"  # type: ignore[index]
    _change(editor, "max_items", 2)
    dispatcher.scan()
    dispatcher.deliver_due()
    assert not receiver.messages


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    endpoint = _endpoint(receiver.url)
    receiver.answers, receiver.extra = [307], {"Location": "http://127.0.0.1:1/elsewhere"}
    status, _, _ = webhooks.send(endpoint, "msg_x", b"{}")
    assert status == 307  # a failure to retry, never a request to the Location


def test_private_targets_are_refused_unless_allowed() -> None:
    (endpoint,) = webhooks.endpoints([{"url": "http://127.0.0.1:9/x", "secret": SECRET}])
    status, _, error = webhooks.send(endpoint, "msg_x", b"{}")
    assert status is None and "non-public address" in error
    for url in ("http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest"):
        assert webhooks.address_problem(url, False) is not None
    for bad in (
        {"url": "ftp://x/", "secret": SECRET},
        {"url": "http://x/", "secret": "nope"},
        {"url": "http://x/"},
        {"url": "http://x/", "secret-env": "NOT_SET_ANYWHERE"},
    ):
        with pytest.raises(webhooks.WebhookError):
            webhooks.endpoints([bad], env={})


def test_the_server_shows_deliveries_and_sends_tests_to_admins_only(receiver: Receiver) -> None:
    from starlette.testclient import TestClient

    from configgen.server import ServerConfig, Token, create_app
    from configgen.server._auth import new_token

    admin, admin_hash = new_token()
    editor_token, editor_hash = new_token()
    config = ServerConfig(
        session_secret="s",
        tokens=(Token("ops", "admin", admin_hash), Token("dev", "editor", editor_hash)),
        webhooks=({"url": receiver.url, "secret": SECRET, "allow-private": True},),
    )
    store, outbox = audit.MemoryEditor(), webhooks.MemoryOutbox()
    app = create_app(DATA / "everything_flags.toml", store, config, outbox=outbox)
    try:
        with TestClient(app) as client:
            as_admin = {"authorization": f"Bearer {admin}"}
            as_editor = {"authorization": f"Bearer {editor_token}"}
            assert client.get("/api/v1/webhooks/deliveries", headers=as_editor).status_code == 403
            assert client.post("/api/v1/webhooks/test", headers=as_admin).status_code == 202
            deadline = time.monotonic() + 30
            while not receiver.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.messages[0][1]["type"] == "webhook.test"
            tag = client.get("/api/v1/flags/max_items", headers=as_admin).headers["etag"]
            client.put(
                "/api/v1/flags/max_items", json={"value": 9}, headers={**as_admin, "if-match": tag}
            )
            while len(receiver.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.messages[1][1]["data"]["new"] == 9

            def statuses() -> tuple[set[str], Any]:
                found = client.get("/api/v1/webhooks/deliveries", headers=as_admin).json()
                return {d["status"] for d in found["deliveries"]}, found

            # the receiver may see the message before the dispatcher has marked it delivered
            seen, listing = statuses()
            while seen != {"delivered"} and time.monotonic() < deadline:
                time.sleep(0.05)
                seen, listing = statuses()
            assert seen == {"delivered"}
            delivery = listing["deliveries"][0]["id"]
            redo = client.post(
                f"/api/v1/webhooks/deliveries/{delivery}/redeliver", headers=as_admin
            )
            assert redo.status_code == 202
            while len(receiver.messages) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.messages[2][0] == receiver.messages[0][0] or len(receiver.messages) == 3
    finally:
        app.state.webhooks.stop()


def test_credentials_in_a_url_are_refused_and_queries_are_not_shown() -> None:
    with pytest.raises(webhooks.WebhookError, match="no user or password"):
        webhooks.endpoints([{"url": "http://user:pw@hooks.example/x", "secret": SECRET}])
    (endpoint,) = webhooks.endpoints(
        [{"url": "https://hooks.example/x?apikey=SECRETQ", "secret": SECRET}]
    )
    assert endpoint.shown == "https://hooks.example/x?…" and "SECRETQ" not in repr(endpoint)


def test_a_delivery_connects_to_the_address_that_was_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolves to a public address when checked and to another
    when connecting must not reach the other one."""
    import socket

    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]])
    real = socket.getaddrinfo

    def rebinding(host: str, *args: object, **kwargs: object) -> object:
        if host == "rebind.example":
            return next(answers)  # a second lookup would raise StopIteration
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    (endpoint,) = webhooks.endpoints(
        [
            {
                "url": f"http://rebind.example:{receiver.port}/hook",
                "secret": SECRET,
                "allow-private": True,
            }
        ]
    )
    status, _, error = webhooks.send(endpoint, "msg_pin", webhooks.payload("webhook.test", None))
    assert (status, error) == (204, "")  # one lookup, and the connection went to its answer
