"""`configgen.openfeature.ConfigGenProvider`, used through the OpenFeature client API.

Values agree with the generated getters for random stored values and contexts; reasons,
variants and error codes are OpenFeature's; events follow a MemoryStore and real etcd and
Redis servers through an outage.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from configgen import values
from configgen.openfeature import ConfigGenProvider
from tests.conftest import DATA, REPO

FLAGS_TOML = DATA / "everything_flags.toml"
_domains = itertools.count()


def _flags_module(flags_package: Path) -> ModuleType:
    return importlib.import_module("ffapp.configgen_flags")


def _getter(flags: Any, key: str) -> Any:
    target = flags
    *categories, name = key.split(".")
    for category in categories:
        target = getattr(target, category)
    return getattr(target, name.replace("-", "_"))


class Events:
    """Every event a client's handlers saw, in order, and a way to wait for one."""

    def __init__(self, client: OpenFeatureClient) -> None:
        self.seen: list[tuple[ProviderEvent, EventDetails]] = []
        self._lock = threading.Lock()
        for event in ProviderEvent:
            client.add_handler(event, self._handler(event))

    def _handler(self, event: ProviderEvent) -> Callable[[EventDetails], None]:
        def handle(details: EventDetails) -> None:
            if details.provider_name != "ConfigGen":
                return  # the client's provider before set_provider, announced at once
            with self._lock:
                self.seen.append((event, details))

        return handle

    def wait_for(
        self,
        event: ProviderEvent,
        after: int = 0,
        check: Callable[[EventDetails], bool] = lambda details: True,
        timeout: float = 60,
    ) -> int:
        """The index of the first *event* after index *after* that passes *check*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for index, (seen, details) in enumerate(self.seen):
                    if index >= after and seen == event and check(details):
                        return index
            time.sleep(0.02)
        raise AssertionError(f"no {event.value} after #{after} in {self.seen}")


def _eventually(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)


@pytest.fixture
def openfeature() -> Iterator[None]:
    yield
    api.clear_providers()


def _client(provider: ConfigGenProvider, *, wait: bool = True) -> OpenFeatureClient:
    domain = f"configgen-{next(_domains)}"
    if wait:
        api.set_provider_and_wait(provider, domain)
    else:
        api.set_provider(provider, domain)
    return api.get_client(domain)


# -- the same values as the generated getters ----------------------------------------------

STORED = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 120),
    st.floats(-1, 150, allow_nan=False),
    st.sampled_from(["true", "no", "7", "12.5", "dark", "x", "", "1e400", "nan", "compact"]),
)
KEYS = st.one_of(st.none(), st.sampled_from(["alice", "bob", "carol", "dave"]), st.text(max_size=6))
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["country", "plan"]), st.sampled_from(["DE", "US", "pro", 1, True]), max_size=2
)
PROVIDER = ConfigGenProvider(FLAGS_TOML)
FLAG_KEYS = sorted(PROVIDER.flags)


def _details(client: OpenFeatureClient, kind: str, key: str, context: EvaluationContext) -> Any:
    if kind in ("bool", "percent"):
        return client.get_boolean_details(key, False, context)
    if kind == "int":
        return client.get_integer_details(key, -1, context)
    if kind == "float":
        return client.get_float_details(key, -1.5, context)
    return client.get_string_details(key, "?", context)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(key="max_items", stored=2**70, targeting_key=None, attributes={})
@example(key="discount", stored="nan", targeting_key="x", attributes={})
@example(key="new_checkout", stored=None, targeting_key="x", attributes={"country": True})
@given(
    key=st.sampled_from(FLAG_KEYS),
    stored=STORED,
    targeting_key=KEYS,
    attributes=ATTRIBUTES,
)
def test_every_flag_agrees_with_the_generated_getters(
    flags_package: Path,
    openfeature: None,
    key: str,
    stored: object,
    targeting_key: str | None,
    attributes: dict[str, Any],
) -> None:
    module = _flags_module(flags_package)
    store = module.MemoryStore({} if stored is None else {key: stored})
    provider = ConfigGenProvider(FLAGS_TOML, store)
    client = _client(provider)
    try:
        _agrees(module, store, provider, client, key, stored, targeting_key, attributes)
    finally:
        api.clear_providers()


def _agrees(
    module: ModuleType,
    store: Any,
    provider: ConfigGenProvider,
    client: OpenFeatureClient,
    key: str,
    stored: object,
    targeting_key: str | None,
    attributes: dict[str, Any],
) -> None:
    flag = provider.flags[key]
    context = EvaluationContext(targeting_key, attributes)
    # OpenFeature merges contexts: an empty targeting key is no targeting key
    expected = _getter(module.Flags(store), key)(
        module.EvaluationContext(targeting_key or None, attributes)
    )
    details = _details(client, flag.kind, key, context)
    try:
        valid = stored is None or values.from_stored(flag, stored) is not None
    except ValueError:
        valid = False
    today = datetime.datetime.now(datetime.timezone.utc).date()
    if not valid and (flag.expires is None or flag.expires >= today):
        assert (details.error_code, details.reason) == (ErrorCode.PARSE_ERROR, Reason.ERROR)
        resolve = {
            "bool": provider.resolve_boolean_details,
            "percent": provider.resolve_boolean_details,
            "int": provider.resolve_integer_details,
            "float": provider.resolve_float_details,
        }.get(flag.kind, provider.resolve_string_details)
        # the provider resolves what the getter gives; the client answers the caller's default
        resolved = resolve(key, details.value, context)
        assert resolved.value == expected and type(resolved.value) is type(expected)
        return
    assert details.error_code is None, details
    assert details.value == expected, details
    assert type(details.value) is type(expected)
    assert details.reason in {
        Reason.STATIC,
        Reason.DEFAULT,
        Reason.TARGETING_MATCH,
        Reason.SPLIT,
        Reason.DISABLED,
    }
    assert details.variant == (expected if isinstance(expected, str) else json.dumps(expected))
    assert details.flag_metadata["type"] == flag.kind


# -- reasons, variants, errors ----------------------------------------------------------------


def _in_rollout(flag_key: str) -> str:
    """A targeting key that the new_checkout rollout lets in, found as the getters would."""
    from configgen.evaluation import explain

    flag = PROVIDER.flags[flag_key]
    for number in range(10_000):
        key = f"user-{number}"
        if explain(flag, PROVIDER.segments, None, key).source == "rollout":
            return key
    raise AssertionError("no key in the rollout")


def test_reasons_and_variants(flags_package: Path, openfeature: None) -> None:
    store = _flags_module(flags_package).MemoryStore()
    client = _client(ConfigGenProvider(FLAGS_TOML, store))
    alice, germany = EvaluationContext("alice"), EvaluationContext("zed", {"country": "DE"})

    switch = client.get_boolean_details("kill_switch", False)
    assert (switch.value, switch.reason, switch.variant) == (True, Reason.DEFAULT, "true")
    assert client.get_boolean_details("new_checkout", False, alice).reason == (
        Reason.TARGETING_MATCH
    )
    assert client.get_boolean_details("new_checkout", False, germany).reason == (
        Reason.TARGETING_MATCH
    )
    lucky = EvaluationContext(_in_rollout("new_checkout"))
    assert client.get_boolean_details("new_checkout", False, lucky).reason == Reason.SPLIT
    expired = client.get_boolean_details("old_banner", True)
    assert (expired.value, expired.reason) == (False, Reason.DISABLED)
    assert client.get_boolean_details("search.new_ranker", True).reason == Reason.DEFAULT
    assert client.get_boolean_details("search.new_ranker", True, alice).reason == Reason.SPLIT
    theme = client.get_string_details("ui.theme", "?")
    assert (theme.value, theme.reason, theme.variant) == ("light", Reason.DEFAULT, "light")
    assert client.get_integer_details("max_items", 0).variant == "50"
    assert client.get_float_details("discount", 0.0).variant == "0.15"

    store.set("new_checkout", "false")
    stored = client.get_boolean_details("new_checkout", True, alice)
    assert (stored.value, stored.reason, stored.variant) == (False, Reason.STATIC, "false")
    assert stored.flag_metadata == {
        "explanation": "the stored value, served to everyone",
        "type": "bool",
    }
    store.set("ui.theme", "dark")
    assert client.get_string_details("ui.theme", "?").reason == Reason.STATIC
    assert client.get_string_value("ui.theme", "?") == "dark"


def test_error_codes(flags_package: Path, openfeature: None) -> None:
    store = _flags_module(flags_package).MemoryStore({"max_items": "lots", "ui.theme": "pink"})
    provider = ConfigGenProvider(FLAGS_TOML, store)
    client = _client(provider)

    missing = client.get_boolean_details("no.such.flag", True)
    assert (missing.value, missing.error_code, missing.reason) == (
        True,
        ErrorCode.FLAG_NOT_FOUND,
        Reason.ERROR,
    )
    assert "no.such.flag" in (missing.error_message or "")
    assert client.get_object_details("no.such.flag", {}).error_code == ErrorCode.FLAG_NOT_FOUND

    mismatches = [
        client.get_integer_details("kill_switch", 3),  # a bool is an int in Python, not here
        client.get_float_details("max_items", 1.5),  # as flagd: an int flag is no float
        client.get_integer_details("discount", 1),
        client.get_string_details("max_items", "x"),
        client.get_boolean_details("ui.theme", False),
        client.get_integer_details("search.new_ranker", 1),
        client.get_object_details("greeting", {"a": 1}),
    ]
    for details in mismatches:
        assert (details.error_code, details.reason) == (ErrorCode.TYPE_MISMATCH, Reason.ERROR)
    assert [d.value for d in mismatches] == [3, 1.5, 1, "x", False, 1, {"a": 1}]

    bad = client.get_integer_details("max_items", 7)
    assert (bad.value, bad.error_code, bad.reason) == (7, ErrorCode.PARSE_ERROR, Reason.ERROR)
    assert "lots" in (bad.error_message or "")
    # the provider itself resolves the flag's default, as the getter does
    assert provider.resolve_integer_details("max_items", 7).value == 50
    assert provider.resolve_string_details("ui.theme", "?").value == "light"
    assert client.get_string_details("ui.theme", "?").error_code == ErrorCode.PARSE_ERROR
    store.set("max_items", "12")
    assert client.get_integer_details("max_items", 7).error_code is None
    assert client.get_integer_value("max_items", 7) == 12


def test_async_resolution(flags_package: Path, openfeature: None) -> None:
    store = _flags_module(flags_package).MemoryStore({"discount": "0.5"})
    client = _client(ConfigGenProvider(FLAGS_TOML, store))
    alice = EvaluationContext("alice")

    async def resolve() -> list[Any]:
        return [
            await client.get_boolean_details_async("new_checkout", False, alice),
            await client.get_string_details_async("ui.layout.density", "?"),
            await client.get_integer_details_async("max_items", 0),
            await client.get_float_details_async("discount", 0.0),
            await client.get_integer_details_async("kill_switch", 0),
        ]

    found = asyncio.run(resolve())
    assert [d.value for d in found] == [True, "comfortable", 50, 0.5, 0]
    assert [d.reason for d in found] == [
        Reason.TARGETING_MATCH,
        Reason.DEFAULT,
        Reason.DEFAULT,
        Reason.STATIC,
        Reason.ERROR,
    ]
    assert found[-1].error_code == ErrorCode.TYPE_MISMATCH


def test_without_a_store(openfeature: None) -> None:
    client = _client(ConfigGenProvider(FLAGS_TOML))
    assert client.get_provider_status() == ProviderStatus.READY
    assert api.get_provider_metadata(client.domain).name == "ConfigGen"
    assert client.get_string_value("greeting", "?") == 'Hello, "friend"'
    assert client.get_boolean_value("new_checkout", False, EvaluationContext("carol")) is True


def test_a_bad_flags_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.toml"
    path.write_text('[flags.x]\ntype = "bool"\ndefault = 3\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"flags\.toml:3"):
        ConfigGenProvider(path)


def test_the_extra_is_named_and_the_core_does_not_import_the_sdk() -> None:
    missing = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.modules['openfeature'] = None; import configgen.openfeature"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "pip install 'python-configgen[openfeature]'" in missing.stderr
    core = subprocess.run(
        [sys.executable, "-c",
         "import sys, configgen.cli, configgen.evaluation, configgen.stores, configgen.values\n"
         "assert 'openfeature' not in sys.modules, 'imported'"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert core.returncode == 0, core.stderr


# -- events ------------------------------------------------------------------------------------


def test_events_with_a_memory_store(flags_package: Path, openfeature: None) -> None:
    store = _flags_module(flags_package).MemoryStore()
    domain = f"configgen-{next(_domains)}"
    client = api.get_client(domain)
    events = Events(client)
    api.set_provider(ConfigGenProvider(FLAGS_TOML, store), domain)
    events.wait_for(ProviderEvent.PROVIDER_READY)

    store.set("ui.theme", "dark")
    first = events.wait_for(
        ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
        check=lambda details: details.flags_changed == ["ui.theme"],
    )
    store.set("unknown.key", "1")  # no flag: nothing to announce
    store.set("max_items", 3)
    store.delete("ui.theme")
    events.wait_for(
        ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
        after=first + 1,
        check=lambda details: details.flags_changed == ["ui.theme"],
    )
    changed = [
        details.flags_changed
        for event, details in events.seen
        if event == ProviderEvent.PROVIDER_CONFIGURATION_CHANGED
    ]
    assert sorted(map(tuple, changed)) == [("max_items",), ("ui.theme",), ("ui.theme",)]  # type: ignore[arg-type]
    assert client.get_integer_value("max_items", 0) == 3


class _Unsynced:
    """A store that has not read its values yet: it counts errors and resyncs."""

    def __init__(self) -> None:
        self.errors = 0
        self.resyncs = 0
        self._synced = threading.Event()
        self._watchers: list[Callable[[], object]] = []

    def get(self, key: str) -> object | None:
        return "7" if key == "max_items" and self._synced.is_set() else None

    def watch(self, callback: Callable[[], object]) -> None:
        self._watchers.append(callback)

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    def sync(self) -> None:
        self.resyncs += 1
        self._synced.set()
        for callback in self._watchers:
            callback()


def test_error_until_the_store_syncs(openfeature: None) -> None:
    store = _Unsynced()
    domain = f"configgen-{next(_domains)}"
    client = api.get_client(domain)
    events = Events(client)
    api.set_provider(ConfigGenProvider(FLAGS_TOML, store, timeout=0.1, poll_interval=0.05), domain)
    failed = events.wait_for(ProviderEvent.PROVIDER_ERROR)
    assert client.get_provider_status() == ProviderStatus.ERROR
    assert client.get_integer_value("max_items", 0) == 50  # the defaults meanwhile
    store.sync()
    events.wait_for(ProviderEvent.PROVIDER_READY, after=failed)
    assert client.get_provider_status() == ProviderStatus.READY
    assert client.get_integer_value("max_items", 0) == 7


def _outage(
    server: Any, store: Any, other: Any, *, stop: Callable[[], None], start: Callable[[], None]
) -> None:
    """READY after sync, CHANGED on another client's write, STALE while away, READY back."""
    domain = f"configgen-{next(_domains)}"
    client = api.get_client(domain)
    events = Events(client)
    api.set_provider(ConfigGenProvider(FLAGS_TOML, store, poll_interval=0.1), domain)
    ready = events.wait_for(ProviderEvent.PROVIDER_READY)

    other.set("max_items", 7)
    events.wait_for(
        ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
        after=ready,
        check=lambda details: details.flags_changed == ["max_items"],
    )
    assert client.get_integer_details("max_items", 0).value == 7

    stop()
    stale = events.wait_for(ProviderEvent.PROVIDER_STALE, after=ready)
    assert client.get_provider_status() == ProviderStatus.STALE
    assert client.get_integer_value("max_items", 0) == 7  # the last known values

    start()
    back = events.wait_for(ProviderEvent.PROVIDER_READY, after=stale)
    _eventually(lambda: client.get_provider_status() == ProviderStatus.READY)
    _eventually(lambda: _set(other, "discount", 0.25))
    events.wait_for(
        ProviderEvent.PROVIDER_CONFIGURATION_CHANGED,
        after=back,
        check=lambda details: "discount" in (details.flags_changed or []),
    )
    assert client.get_float_value("discount", 0.0) == 0.25


def _set(store: Any, key: str, value: object) -> bool:
    try:
        store.set(key, value)
    except Exception:
        return False
    return True


def test_events_with_etcd(etcd: Any, openfeature: None) -> None:
    from configgen.stores import EtcdStore

    store = EtcdStore("shop", port=etcd.port, known=PROVIDER.flags)
    other = EtcdStore("shop", port=etcd.port)
    try:
        _outage(etcd, store, other, stop=etcd.kill, start=etcd.start)
    finally:
        store.close()
        other.close()


def test_events_with_redis(redis_server: Any, openfeature: None) -> None:
    from configgen.stores import RedisStore

    store = RedisStore("shop", port=redis_server.port, known=PROVIDER.flags)
    other = RedisStore("shop", port=redis_server.port)
    try:
        _outage(redis_server, store, other, stop=redis_server.kill, start=redis_server.start)
    finally:
        store.close()
        other.close()


def test_error_then_ready_when_etcd_comes_up(etcd: Any, openfeature: None) -> None:
    from configgen.stores import EtcdStore

    etcd.kill()
    store = EtcdStore("shop", port=etcd.port, known=PROVIDER.flags)
    try:
        domain = f"configgen-{next(_domains)}"
        client = api.get_client(domain)
        events = Events(client)
        api.set_provider(
            ConfigGenProvider(FLAGS_TOML, store, timeout=0.2, poll_interval=0.1), domain
        )
        failed = events.wait_for(ProviderEvent.PROVIDER_ERROR)
        assert client.get_boolean_value("kill_switch", False) is True  # defaults meanwhile
        etcd.start()
        events.wait_for(ProviderEvent.PROVIDER_READY, after=failed)
        _eventually(lambda: client.get_provider_status() == ProviderStatus.READY)
    finally:
        store.close()


def test_the_bucketing_scheme_is_the_projects(openfeature: None) -> None:
    from configgen.evaluation import explain

    v2 = _client(ConfigGenProvider(FLAGS_TOML, bucketing="flagd-v2"))
    v3 = _client(ConfigGenProvider(FLAGS_TOML))
    flag = PROVIDER.flags["search.new_ranker"]
    differ = 0
    for number in range(500):
        key = f"user-{number}"
        want = {
            scheme: explain(flag, PROVIDER.segments, None, key, scheme=scheme).value
            for scheme in ("flagd-v2", "flagd-v3")
        }
        context = EvaluationContext(key)
        assert v2.get_boolean_value("search.new_ranker", False, context) is want["flagd-v2"]
        assert v3.get_boolean_value("search.new_ranker", False, context) is want["flagd-v3"]
        differ += want["flagd-v2"] != want["flagd-v3"]
    assert differ  # the two schemes put some users on different sides
