"""Workflows for tests/test_temporal.py, in their own module as the workflow sandbox needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ffapp.configgen_flags import (
    EvaluationContext,
    Flags,
    SearchFlags,
    UiFlags,
    UiLayoutFlags,
)
from ffother.configgen_flags import Flags as OtherFlags
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from configgen.temporal import FLAGS_CHANGED, workflow_flag, workflow_snapshot
    from tests.temporal_service import flags as worker_flags


@workflow.defn
class ReadTwice:
    """Reads ui.theme, waits for a signal, reads it again; takes a timer only while light."""

    def __init__(self) -> None:
        self.go = False
        self.first: str | None = None

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.query
    def first_read(self) -> str | None:
        return self.first

    @workflow.run
    async def run(self, ctx: EvaluationContext) -> dict[str, Any]:
        first = await workflow_flag(UiFlags.theme, ctx)
        self.first = first
        if first == "light":  # a replay that read "dark" here would skip the timer
            await workflow.sleep(timedelta(milliseconds=10))
        checkout = await workflow_flag(Flags.new_checkout, ctx)
        await workflow.wait_condition(lambda: self.go)
        second = await workflow_flag(UiFlags.theme, ctx)
        return {
            "first": first,
            "second": second,
            "new_checkout": checkout,
            "targeting_key": ctx.targeting_key,
            "attributes": dict(ctx.attributes),
        }


@workflow.defn(name="ReadTwice")
class ReadTwiceWithGetters:
    """ReadTwice edited wrongly: reads the worker's getters directly (for the Replayer)."""

    @workflow.signal
    def proceed(self) -> None:
        pass

    @workflow.run
    async def run(self, ctx: EvaluationContext) -> dict[str, Any]:
        first = worker_flags.ui.theme(ctx)
        if first == "light":
            await workflow.sleep(timedelta(milliseconds=10))
        return {"first": first}


@workflow.defn
class Snapshot:
    """Reads six flags of every kind in one recorded read."""

    @workflow.run
    async def run(self, ctx: EvaluationContext) -> dict[str, Any]:
        snapshot = await workflow_snapshot(
            Flags.max_items,
            Flags.discount,
            Flags.greeting,
            UiFlags.theme,
            UiLayoutFlags.density,
            SearchFlags.new_ranker,
            ctx=ctx,
        )
        assert snapshot.context == ctx
        return {
            "values": dict(snapshot.values),
            "max_items": snapshot[Flags.max_items],
            "discount": snapshot[Flags.discount],
            "density": snapshot[UiLayoutFlags.density],
        }


@workflow.defn
class ReadsGetterDirectly:
    """Wrong on purpose: reads the worker's flags with a plain getter inside the workflow."""

    @workflow.run
    async def run(self) -> bool:
        return worker_flags.kill_switch()


@workflow.defn
class BuildsItsOwnFlags:
    """Wrong on purpose: makes a Flags inside the workflow and reads it."""

    @workflow.run
    async def run(self) -> bool:
        return Flags().kill_switch()


@workflow.defn
class Follow:
    """A long-running workflow that follows ui.theme through FLAGS_CHANGED signals."""

    def __init__(self) -> None:
        self.changes = 0
        self.handled = 0
        self.seen: list[str] = []

    @workflow.signal(name=FLAGS_CHANGED)
    def flags_changed(self) -> None:
        self.changes += 1

    @workflow.query
    def themes(self) -> list[str]:
        return self.seen

    @workflow.run
    async def run(self, until: str) -> list[str]:
        while True:
            theme = await workflow_flag(UiFlags.theme)
            if not self.seen or self.seen[-1] != theme:
                self.seen.append(theme)
            if theme == until:
                return self.seen
            await workflow.wait_condition(lambda: self.changes > self.handled)
            self.handled = self.changes


@workflow.defn
class ReadOnce:
    """Reads two flags once (the store-down test)."""

    @workflow.run
    async def run(self) -> list[Any]:
        return [await workflow_flag(Flags.max_items), await workflow_flag(UiFlags.theme)]


@workflow.defn
class ReadsWhatTheWorkerCannot:
    """Reads what the worker's Flags cannot answer; *what* says which read."""

    @workflow.run
    async def run(self, what: str) -> Any:
        if what == "not a getter":
            return await workflow_flag(Flags.refresh)  # type: ignore[arg-type]
        if what == "another module":
            return await workflow_flag(OtherFlags.max_items)  # a str there, an int here
        return await workflow_flag(Flags.max_items, activity=what)  # an activity that fails
