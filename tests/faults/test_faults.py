"""Faults against real servers: each test runs its own private server (``servers.py``) and
stops and restarts its process group, so the shared test servers are never touched.

The claims: an operation on a stopped server fails with ``NoSQLConnectionError`` within the
configured client timeouts (every await here is bounded, so a hang fails the test); the same
store works again once the server is back, with no reconnect by hand; health goes fail ->
pass; an eager store refuses to boot with its server down, naming the store; a lazy one boots
and heals; DynamoDB Local on disk keeps every acknowledged write across a restart.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from lexigram_nosql import create_store
from lexigram_nosql.errors import NoSQLConnectionError
from lexigram_nosql.providers import Application, NoSQLModule
from tests.faults.chaos import warm_up
from tests.faults.conftest import CONNECT_TIMEOUT_S, HEALTH_TIMEOUT_S, backend_of, store_settings
from tests.faults.servers import PrivateServer

T = TypeVar("T")

# The longest one operation may take against a dead server. The client timeouts of
# ``store_settings`` are 1-3 s, retries included (MongoDB server selection 1 s, botocore 2
# attempts of connect 3 s / read 2 s, Firestore retries 2 s); the rest is room for a busy
# machine. Beyond it, the operation counts as hung and the test fails.
OP_BOUND_S = 6.0
# How long a restarted server plus the store's reconnect backoff may take to serve again.
HEAL_BOUND_S = 40.0


async def bounded(awaitable: Awaitable[T], seconds: float) -> T:
    async with asyncio.timeout(seconds):
        return await awaitable


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:g}s")
        await asyncio.sleep(0.05)


def assert_connection_errors(errors: list[BaseException], store: str) -> None:
    for exc in errors:
        assert isinstance(exc, NoSQLConnectionError), repr(exc)
        assert exc.store == store, repr(exc)


async def test_a_stopped_server_fails_fast_and_the_same_store_heals(
    server: PrivateServer,
) -> None:
    backend = backend_of(server)
    await asyncio.to_thread(server.start)
    await warm_up(backend, server.port)  # a cold JVM emulator may miss the connect bound
    store = create_store(store_settings(backend, server.port, name=f"faults_{backend}"))
    await bounded(store.connect(), CONNECT_TIMEOUT_S + 1)
    try:
        coll = store.collection("events")
        acked: list[Any] = []
        errors: list[BaseException] = []
        stop = asyncio.Event()

        async def workload() -> None:
            """Insert and read back until told to stop; anything but NoSQLConnectionError
            (or an operation hanging beyond OP_BOUND_S) ends it and fails the test."""
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    async with asyncio.timeout(OP_BOUND_S):
                        result = await coll.insert_one({"n": n})
                    acked.append(result.inserted_id)
                    async with asyncio.timeout(OP_BOUND_S):
                        found = await coll.find_one({"_id": result.inserted_id})
                    assert found is not None and found["n"] == n, found
                except NoSQLConnectionError as exc:
                    errors.append(exc)
                    await asyncio.sleep(0.05)

        task = asyncio.create_task(workload())
        await wait_until(lambda: len(acked) >= 20 or task.done(), 30, "20 inserts")

        await asyncio.to_thread(server.stop)
        acked_before_stop = len(acked)
        await wait_until(lambda: bool(errors) or task.done(), OP_BOUND_S + 2, "a failed insert")
        if task.done():
            await task  # re-raise whatever ended the workload
        health = await bounded(store.health_check(), HEALTH_TIMEOUT_S + 1)
        assert health.status == "fail", health
        assert health.error

        await asyncio.to_thread(server.start)
        failed_while_down = len(errors)
        await wait_until(
            lambda: len(acked) >= acked_before_stop + 20 or task.done(),
            HEAL_BOUND_S,
            "20 inserts after the restart",
        )
        stop.set()
        await bounded(task, OP_BOUND_S + 1)
        assert failed_while_down >= 1
        assert_connection_errors(errors, store.name)
        health = await bounded(store.health_check(), HEALTH_TIMEOUT_S + 1)
        assert health.status == "pass", health

        if backend == "dynamodb":  # -dbPath: nothing acknowledged may be lost
            async with asyncio.timeout(OP_BOUND_S):
                stored = {doc["_id"] async for doc in coll.find({}, projection={"_id": 1})}
            missing = [i for i in acked if i not in stored]
            assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost"
    finally:
        await bounded(store.disconnect(), 10)


async def test_an_eager_store_with_its_server_down_fails_the_boot_naming_it(
    server: PrivateServer,
) -> None:
    backend = backend_of(server)  # not started: nothing listens on its port
    config = {"nosql": {"backends": [store_settings(backend, server.port, name="orders")]}}
    started = time.monotonic()
    with pytest.raises(NoSQLConnectionError) as info:
        async with asyncio.timeout(CONNECT_TIMEOUT_S + 5):
            async with Application.boot(config=config, modules=[NoSQLModule], environ={}):
                pass
    elapsed = time.monotonic() - started
    assert elapsed < CONNECT_TIMEOUT_S + 1, f"boot failed after {elapsed:.1f}s"
    assert info.value.store == "orders"
    assert "'orders'" in str(info.value)


async def test_a_lazy_store_boots_with_its_server_down_and_heals(server: PrivateServer) -> None:
    backend = backend_of(server)
    entry = store_settings(backend, server.port, name="orders", lazy=True)
    module = NoSQLModule.from_config({"nosql": {"backends": [entry]}}, environ={})
    # Each step below is bounded on its own; this bounds boot and shutdown as well.
    async with asyncio.timeout(HEAL_BOUND_S + 3 * OP_BOUND_S):
        async with Application.boot(modules=[module], environ={}):
            store = module.stores["orders"]
            health = await bounded(store.health_check(), HEALTH_TIMEOUT_S + 1)
            assert health.status == "fail", health
            with pytest.raises(NoSQLConnectionError) as info:
                await bounded(store.collection("c").insert_one({"a": 1}), OP_BOUND_S)
            assert info.value.store == "orders"

            await asyncio.to_thread(server.start)
            await warm_up(backend, server.port)  # a cold JVM emulator's first table is slow
            deadline = time.monotonic() + HEAL_BOUND_S
            while (await bounded(store.health_check(), HEALTH_TIMEOUT_S + 1)).status != "pass":
                if time.monotonic() > deadline:
                    pytest.fail(f"the lazy store did not heal within {HEAL_BOUND_S:g}s")
                await asyncio.sleep(0.2)
            marker = uuid.uuid4().hex
            await bounded(store.collection("c").insert_one({"a": marker}), OP_BOUND_S)
            found = await bounded(store.collection("c").find_one({"a": marker}), OP_BOUND_S)
            assert found is not None and found["a"] == marker
