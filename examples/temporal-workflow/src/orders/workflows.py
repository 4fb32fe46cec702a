"""The order workflows: every flag they read is recorded in their history.

Workflow code never calls a getter: ``await workflow_flag(Flags.express_shipping, ctx)`` runs
the worker's flag activity once, and a replay takes the value from the history.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

from orders.configgen_flags import EvaluationContext, Flags, ShippingFlags

with workflow.unsafe.imports_passed_through():
    from configgen.temporal import FLAGS_CHANGED, workflow_flag, workflow_snapshot


@dataclass
class Order:
    """What a customer ordered, and who they are for the flags."""

    id: str
    items: int
    customer: EvaluationContext


@workflow.defn
class PlaceOrder:
    """Checks an order against the flags, read together in one recorded snapshot."""

    @workflow.run
    async def run(self, order: Order) -> str:
        flags = await workflow_snapshot(
            Flags.max_items, Flags.express_shipping, ShippingFlags.carrier, ctx=order.customer
        )
        if order.items > flags[Flags.max_items]:
            return f"order {order.id}: refused, more than {flags[Flags.max_items]} items"
        speed = "express" if flags[Flags.express_shipping] else "standard"
        return f"order {order.id}: {speed} shipping by {flags[ShippingFlags.carrier]}"


@workflow.defn
class Dispatch:
    """A long-running workflow that follows shipping.carrier until it is told to stop.

    `FlagChangeNotifier` signals FLAGS_CHANGED after the store changes; the workflow reads
    the flag again (a new recorded read) and keeps every carrier it used.
    """

    def __init__(self) -> None:
        self.changes = 0
        self.handled = 0
        self.stopping = False
        self.used: list[str] = []

    @workflow.signal(name=FLAGS_CHANGED)
    def flags_changed(self) -> None:
        self.changes += 1

    @workflow.signal
    def stop(self) -> None:
        self.stopping = True

    @workflow.query
    def carriers(self) -> list[str]:
        return self.used

    @workflow.run
    async def run(self) -> list[str]:
        self.used.append(await workflow_flag(ShippingFlags.carrier))
        while True:
            await workflow.wait_condition(lambda: self.changes > self.handled or self.stopping)
            if self.stopping:
                return self.used
            self.handled = self.changes
            carrier = await workflow_flag(ShippingFlags.carrier)
            if carrier != self.used[-1]:
                self.used.append(carrier)
