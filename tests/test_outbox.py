"""The webhook outbox against a real etcd, a real Redis and a folder: lease, cursor, deliveries."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configgen.stores import OutboxError, open_outbox
from tests.servers import Etcd, Redis, free_port

REPO = Path(__file__).resolve().parent.parent


class Place:
    """One kind of store: its URL, and a way to put bytes there behind the outbox's back."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.server: Etcd | Redis | None = None
        self.overrides = tmp_path / "overrides.toml"
        if kind == "etcd":
            self.server = Etcd(tmp_path)
        elif kind == "redis":
            self.server = Redis(tmp_path)
        if self.server is not None:
            self.server.start()
        self.opened: list[Any] = []

    @property
    def url(self) -> str:
        if self.kind == "file":
            return f"file://{self.overrides}"
        assert self.server is not None
        path = "svc" if self.kind == "etcd" else "0"
        return f"{self.kind}://127.0.0.1:{self.server.port}/{path}"

    def outbox(self, retention: int | None = None) -> Any:
        options = {} if retention is None else {"retention": retention}
        opened = open_outbox(self.url, service="svc", **options)
        self.opened.append(opened)
        return opened

    def put_garbage(self) -> None:
        """Delivery records that are none, listed as pending and recent, a bad cursor, and a
        leader record that would never expire."""
        if self.kind == "file":
            folder = self.overrides.with_name("overrides.webhooks")
            (folder / "deliveries").mkdir(parents=True, exist_ok=True)
            (folder / "deliveries" / "bad.json").write_bytes(b"\xff\xfe not json")
            (folder / "deliveries" / "half.json").write_bytes(b'{"id": "half", "status"')
            (folder / "deliveries" / "other.json").write_text('{"id": "other"}')
            (folder / "cursor.json").write_text("[1, 2")
            (folder / "leader.json").write_bytes(b"\xff")
        elif self.kind == "etcd":
            import etcd3gw

            assert self.server is not None
            admin = etcd3gw.client(host="127.0.0.1", port=self.server.port)
            for key, value in [
                (b"/svc/webhooks/deliveries/bad", b"\xff\xfe"),
                (b"/svc/webhooks/deliveries/other", b'{"id": "other"}'),
                (b"/svc/webhooks/due/bad", b"0"),
                (b"/svc/webhooks/due/gone", b"0"),
                (b"/svc/webhooks/due/what", b"not a number"),
                (b"/svc/webhooks/cursor", b"\xff"),
                (b"/svc/webhooks/leader", b"someone, without a lease"),
            ]:
                admin.post(admin.get_url("/kv/put"), json={"key": _b64(key), "value": _b64(value)})
            admin.session.close()
        else:
            import redis

            assert self.server is not None
            with redis.Redis(port=self.server.port) as admin:
                admin.hset(b"svc:webhooks:deliveries", b"bad", b"\xff\xfe")
                admin.hset(b"svc:webhooks:deliveries", b"other", b'{"id": "other"}')
                admin.zadd(b"svc:webhooks:due", {b"bad": 0, b"gone": 0})
                admin.zadd(b"svc:webhooks:recent", {b"bad": 9e9, b"gone": 9e9})
                admin.set(b"svc:webhooks:cursor", b"\xff")
                admin.set(b"svc:webhooks:leader", b"someone, without an expiry")

    def close(self) -> None:
        for opened in self.opened:
            opened.close()
        if self.server is not None:
            self.server.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(
    params=[
        "file",
        pytest.param("etcd", marks=pytest.mark.servers),
        pytest.param("redis", marks=pytest.mark.servers),
    ]
)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    found = Place(request.param, tmp_path)
    try:
        yield found
    finally:
        found.close()


def delivery(
    number: int,
    status: str = "pending",
    *,
    next_at: float = 0.0,
    created: float | None = None,
    updated: float | None = None,
    endpoint: str = "ep1",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"msg_{number:04d}",
        "status": status,
        "next_at": next_at,
        "created": float(number) if created is None else created,
        "endpoint": endpoint,
        "attempts": 0,
        "event": {"type": "flag.changed", "data": {"flag": "ui.theme", "new": "dark"}},
    }
    if updated is not None:
        record["updated"] = updated
    return record


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records]


def wait_until_taken(outbox: Any, owner: str, seconds: float, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not outbox.lease(owner, seconds):
        assert time.monotonic() < deadline, f"{owner} never got the lease"
        time.sleep(0.1)


# -- the lease ---------------------------------------------------------------------------------


def test_one_owner_at_a_time(place: Place) -> None:
    first, second = place.outbox(), place.outbox()
    assert first.lease("a", 30)
    assert not second.lease("b", 30)
    assert not first.lease("b", 30)  # the owner counts, not the object
    assert second.lease("a", 30)  # the same owner from another object renews
    assert first.lease("a", 30)
    assert not second.lease("b", 30)


def test_an_expired_lease_is_taken_over(place: Place) -> None:
    dead, alive = place.outbox(), place.outbox()
    assert dead.lease("dead", 1)
    wait_until_taken(alive, "alive", 30)  # "dead" stopped renewing: its lease runs out
    assert not dead.lease("dead", 30)
    assert alive.lease("alive", 30)


def test_renewing_keeps_the_lease(place: Place) -> None:
    holder, other = place.outbox(), place.outbox()
    assert holder.lease("holder", 2)
    end = time.monotonic() + 5  # well past the first lease's end
    while time.monotonic() < end:
        assert holder.lease("holder", 2)
        assert not other.lease("other", 2)
        time.sleep(0.1)


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from configgen.stores import open_outbox

    url, owner, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    outbox = open_outbox(url, service="svc")
    while not go.exists():
        time.sleep(0.01)
    results = [outbox.lease(owner, 60) for _ in range(40)]
    outbox.close()
    print(json.dumps(results))
    """
)


def test_two_processes_never_both_hold_the_lease(place: Place, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, place.url, owner, str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for owner in ("p1", "p2")
    ]
    time.sleep(0.5)  # let both import and connect, then start them together
    go.touch()
    results = {}
    for owner, worker in zip(("p1", "p2"), workers, strict=True):
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
        results[owner] = json.loads(out)
    winners = [owner for owner, got in results.items() if any(got)]
    assert len(winners) == 1, results
    assert all(results[winners[0]]), "the holder's renewals all succeed"
    assert not place.outbox().lease("p3", 60)


# -- the cursor --------------------------------------------------------------------------------


def test_a_large_cursor_round_trips(place: Place) -> None:
    outbox = place.outbox()
    assert outbox.cursor() == {}
    cursor = {
        "audit": "00000001700000000000-deadbeef",
        "values": {f"section{n // 50}.flag_{n}": "ü" * 40 + str(n) for n in range(1500)},
        "seen": [f"{n:020d}-{n:08x}" for n in range(1000)],
    }
    assert len(json.dumps(cursor)) > 100_000
    outbox.save_cursor(cursor)
    assert outbox.cursor() == cursor
    assert place.outbox().cursor() == cursor
    outbox.save_cursor({"audit": "x", "values": {}})
    assert place.outbox().cursor() == {"audit": "x", "values": {}}


# -- deliveries --------------------------------------------------------------------------------


def test_put_get_and_due_in_order(place: Place) -> None:
    outbox = place.outbox()
    assert outbox.get("msg_0001") is None
    assert outbox.due(1e12) == []
    outbox.put(delivery(1, next_at=300.0))
    outbox.put(delivery(2, next_at=100.0))
    outbox.put(delivery(3, next_at=200.0))
    outbox.put(delivery(4, next_at=900.0))
    outbox.put(delivery(5, "delivered", next_at=50.0))
    outbox.put(delivery(6, "failed", next_at=50.0))
    outbox.put(delivery(7, "disabled", next_at=50.0))
    assert outbox.get("msg_0003") == delivery(3, next_at=200.0)
    assert ids(outbox.due(250.0)) == ["msg_0002", "msg_0003"]
    assert ids(outbox.due(1000.0)) == ["msg_0002", "msg_0003", "msg_0001", "msg_0004"]
    assert ids(outbox.due(1000.0, limit=2)) == ["msg_0002", "msg_0003"]
    assert outbox.due(99.0) == []

    # an attempt failed: later; another succeeded: done
    outbox.put({**delivery(2, next_at=950.0), "attempts": 1, "updated": 10.0})
    outbox.put({**delivery(3, "delivered", next_at=200.0), "attempts": 1, "updated": 11.0})
    assert ids(outbox.due(1000.0)) == ["msg_0001", "msg_0004", "msg_0002"]
    assert outbox.get("msg_0002")["attempts"] == 1
    assert outbox.get("msg_0003")["status"] == "delivered"


def test_recent_newest_first_and_by_endpoint(place: Place) -> None:
    outbox = place.outbox()
    outbox.put(delivery(1, "delivered", created=10.0, updated=50.0, endpoint="ep1"))
    outbox.put(delivery(2, "failed", created=20.0, endpoint="ep2"))
    outbox.put(delivery(3, "pending", created=30.0, endpoint="ep1"))
    outbox.put(delivery(4, "delivered", created=40.0, updated=41.0, endpoint="ep2"))
    assert ids(outbox.recent()) == ["msg_0001", "msg_0004", "msg_0003", "msg_0002"]
    assert ids(outbox.recent("ep1")) == ["msg_0001", "msg_0003"]
    assert ids(outbox.recent("ep2", limit=1)) == ["msg_0004"]
    assert ids(outbox.recent(limit=2)) == ["msg_0001", "msg_0004"]
    assert outbox.recent("nowhere") == []
    outbox.put(delivery(2, "pending", created=20.0, updated=60.0, endpoint="ep2"))  # a retry
    assert ids(outbox.recent(limit=1)) == ["msg_0002"]


def test_retention_drops_the_oldest_finished_records_only(place: Place) -> None:
    outbox = place.outbox(retention=20)
    for number in range(1, 4):  # the oldest of all, and pending
        outbox.put(delivery(number, next_at=5.0, created=float(number)))
    outbox.put(delivery(0, "disabled"))  # an endpoint's marker: not finished, kept too
    for number in range(4, 50):
        outbox.put(delivery(number, "delivered" if number % 2 else "failed"))
    records = outbox.recent(limit=1000)
    finished = [r for r in records if r["status"] in ("delivered", "failed")]
    assert 18 <= len(finished) <= 20  # file and etcd trim in batches: a tenth fewer
    assert ids(finished) == [f"msg_{n:04d}" for n in range(49, 49 - len(finished), -1)]
    assert ids(outbox.due(10.0)) == ["msg_0001", "msg_0002", "msg_0003"]
    assert outbox.get("msg_0004") is None
    assert outbox.get("msg_0000") == delivery(0, "disabled")
    assert len(place.outbox(retention=20).recent(limit=1000)) == len(records)


def test_a_new_outbox_sees_everything(place: Place) -> None:
    """Restart safety: nothing lives only in the object."""
    outbox = place.outbox()
    assert outbox.lease("before", 60)
    outbox.save_cursor({"audit": "00000000000000000042-0000abcd"})
    outbox.put(delivery(1, next_at=5.0))
    outbox.put(delivery(2, "delivered", updated=99.0))
    outbox.close()

    again = place.outbox()
    assert not again.lease("after", 60)
    assert again.lease("before", 60)
    assert again.cursor() == {"audit": "00000000000000000042-0000abcd"}
    assert ids(again.due(10.0)) == ["msg_0001"]
    assert ids(again.recent()) == ["msg_0002", "msg_0001"]
    assert again.get("msg_0002") == delivery(2, "delivered", updated=99.0)


def test_garbage_in_the_store_is_skipped(place: Place) -> None:
    outbox = place.outbox()
    place.put_garbage()
    assert outbox.cursor() == {}
    assert outbox.lease("me", 30)
    assert not place.outbox().lease("other", 30)
    outbox.put(delivery(1, next_at=5.0))
    outbox.put(delivery(2, "delivered"))
    assert ids(outbox.due(10.0)) == ["msg_0001"]
    assert ids(outbox.due(10.0, limit=1)) == ["msg_0001"]
    assert ids(outbox.recent()) == ["msg_0002", "msg_0001"]
    assert outbox.get("bad") is None
    assert outbox.get("other") is None
    outbox.save_cursor({"audit": "a"})
    assert outbox.cursor() == {"audit": "a"}


def test_put_refuses_what_is_not_a_delivery(tmp_path: Path) -> None:
    outbox: Any = open_outbox(f"file://{tmp_path / 'flags.toml'}")
    for wrong in [
        {**delivery(1), "id": "../escape"},
        {**delivery(1), "id": ""},
        {**delivery(1), "id": "a/b"},
        {**delivery(1), "id": ".hidden"},
        {**delivery(1), "id": "ü" * 101},
        {**delivery(1), "id": 7},
        {**delivery(1), "status": "sent"},
        {**delivery(1), "next_at": "soon"},
        {**delivery(1), "next_at": float("nan")},
        {key: value for key, value in delivery(1).items() if key != "created"},
        {**delivery(1), "updated": True},
    ]:
        with pytest.raises(ValueError):
            outbox.put(wrong)
    assert outbox.recent() == []
    assert not (tmp_path / "escape.json").exists()


# -- the URL and the errors --------------------------------------------------------------------


def test_open_outbox_refuses_unclear_urls() -> None:
    with pytest.raises(ValueError, match="name the overrides file"):
        open_outbox("file://")
    with pytest.raises(ValueError, match="name the service"):
        open_outbox("etcd://127.0.0.1:2379")
    with pytest.raises(ValueError, match="service name"):
        open_outbox("redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="database number"):
        open_outbox("redis://127.0.0.1:6379/zero", service="svc")
    with pytest.raises(ValueError, match="starts with"):
        open_outbox("consul://127.0.0.1/svc")
    with pytest.raises(ValueError, match="at least one"):
        open_outbox("file://flags.toml", retention=0)


def test_the_file_outbox_lives_beside_the_overrides_file(tmp_path: Path) -> None:
    outbox: Any = open_outbox(f"file://{tmp_path / 'flags.toml'}")
    assert outbox.lease("me", 60)
    outbox.put(delivery(1))
    outbox.save_cursor({"audit": "a"})
    folder = tmp_path / "flags.webhooks"
    leader = json.loads((folder / "leader.json").read_text())
    assert leader["owner"] == "me" and isinstance(leader["until"], float)
    assert json.loads((folder / "deliveries" / "msg_0001.json").read_text()) == delivery(1)
    assert json.loads((folder / "cursor.json").read_text()) == {"audit": "a"}


@pytest.mark.servers
def test_stores_that_are_not_there_are_named(tmp_path: Path) -> None:
    etcd: Any = open_outbox(f"etcd://127.0.0.1:{free_port()}/svc", timeout=2)
    with pytest.raises(OutboxError, match=r"etcd at 127\.0\.0\.1:\d+"):
        etcd.lease("me", 5)
    with pytest.raises(OutboxError, match="etcd"):
        etcd.put(delivery(1))
    etcd.close()
    redis: Any = open_outbox(f"redis://127.0.0.1:{free_port()}/0", service="svc", timeout=2)
    with pytest.raises(OutboxError, match=r"Redis at 127\.0\.0\.1:\d+"):
        redis.cursor()
    with pytest.raises(OutboxError, match="Redis"):
        redis.due(0.0)
    redis.close()
    blocked = tmp_path / "file"
    blocked.write_text("")
    folder = open_outbox(f"file://{blocked / 'flags.toml'}")
    with pytest.raises(OutboxError, match=r"webhook outbox in .*flags\.webhooks"):
        folder.put(delivery(1))
    with pytest.raises(OutboxError, match=r"webhook outbox in .*flags\.webhooks"):
        folder.lease("me", 5)
