"""The per-operation wrapper (``backends/guard.py``) on the memory store, with its primitives
made slow or failing by hand: deadline, circuit breaker, observers, nesting. The same
behaviour against real servers that stop is in ``tests/faults/test_chaos.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import (
    InsertOne,
    NoSQLConnectionError,
    NoSQLError,
    Operation,
    OperationTimeoutError,
    StoreUnavailableError,
    UpdateOne,
    add_operation_observer,
    create_store,
)
from lexigram_nosql.backends.base import BaseDocumentStore
from lexigram_nosql.backends.breaker import BreakerState, CircuitBreaker


def memory(**settings: Any) -> BaseDocumentStore[Any]:
    return create_store({"name": "mem", "driver": "memory", **settings})


class Outage:
    """Makes a collection's ``_count`` fail like an unreachable server, or hang, on demand."""

    def __init__(self, store: BaseDocumentStore[Any], collection: str = "c") -> None:
        self.coll = store.collection(collection)
        self.mode = "ok"
        self.calls = 0
        original = self.coll._count

        async def count(query: Any) -> int:
            self.calls += 1
            if self.mode == "down":
                raise ConnectionRefusedError(111, "Connection refused")
            if self.mode == "hang":
                await asyncio.sleep(60)
            if self.mode == "lose a cancellation":
                # As asyncio.wait_for does on Python 3.11 when the cancellation arrives
                # as its inner call ends (PyMongo's connect, seen in test_chaos.py).
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(60)
                await asyncio.sleep(60)
            return await original(query)

        self.coll._count = count  # type: ignore[method-assign]

    async def time_out(self) -> OperationTimeoutError:
        """One call in the current task (not a task of its own, so that the cancel requests
        left on it can be read): it must end in ``OperationTimeoutError`` within 2 s, the
        task then carrying no cancel request."""
        started = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            async with asyncio.timeout(5):
                await self.coll.count_documents({})
        assert time.monotonic() - started < 2
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        return info.value

    async def fail(self, times: int) -> None:
        """``times`` calls failing like an unreachable server (the breaker counts them)."""
        self.mode = "down"
        for _ in range(times):
            with pytest.raises(NoSQLConnectionError) as info:
                await self.coll.count_documents({})
            assert not isinstance(info.value, StoreUnavailableError)


@pytest.fixture
async def store() -> AsyncIterator[BaseDocumentStore[Any]]:
    instance = memory(operation_timeout_s=0.2, circuit_breaker={"failures": 3, "reset_s": 0.3})
    async with instance:
        yield instance


async def test_a_call_over_operation_timeout_s_names_store_collection_and_operation(
    store: BaseDocumentStore[Any],
) -> None:
    outage = Outage(store)
    outage.mode = "hang"
    error = await outage.time_out()
    assert isinstance(error, NoSQLConnectionError)
    assert (error.store, error.collection, error.operation, error.timeout_s) == (
        "mem",
        "c",
        "count_documents",
        0.2,
    )
    assert "count_documents on collection 'c' of store 'mem'" in str(error)
    assert "operation_timeout_s=0.2s" in str(error)
    outage.mode = "ok"
    assert await outage.coll.count_documents({}) == 0  # the task is not left cancelled


async def test_a_driver_that_loses_the_cancellation_is_cancelled_again(
    store: BaseDocumentStore[Any],
) -> None:
    outage = Outage(store)
    outage.mode = "lose a cancellation"
    await outage.time_out()  # both cancel requests withdrawn
    outage.mode = "ok"
    assert await outage.coll.count_documents({}) == 0


async def test_the_callers_own_cancellation_is_not_a_timeout_and_not_a_failure(
    store: BaseDocumentStore[Any],
) -> None:
    outage = Outage(store)
    outage.mode = "hang"
    for _ in range(5):
        with pytest.raises(TimeoutError) as info:
            async with asyncio.timeout(0.01):
                await outage.coll.count_documents({})
        assert not isinstance(info.value, NoSQLError)
    assert store.breaker is not None and store.breaker.state is BreakerState.CLOSED


async def test_after_failures_consecutive_failures_calls_fail_at_once(
    store: BaseDocumentStore[Any], caplog: pytest.LogCaptureFixture
) -> None:
    outage = Outage(store)
    outage.mode = "down"
    caplog.set_level(logging.DEBUG, "lexigram_nosql")
    for _ in range(3):
        with pytest.raises(NoSQLConnectionError) as info:
            await outage.coll.count_documents({})
        assert not isinstance(info.value, StoreUnavailableError)
    assert info.value.retry_after == pytest.approx(0.3, abs=0.05)  # the one that opened it
    assert outage.calls == 3
    durations = []
    for _ in range(50):
        started = time.perf_counter()
        with pytest.raises(StoreUnavailableError) as refused:
            await outage.coll.count_documents({})
        durations.append(time.perf_counter() - started)
    assert outage.calls == 3, "an open breaker does not call the server"
    # fail at once: no round trip, no timeout (bounds generous for a loaded machine)
    assert statistics.median(durations) < 0.01 and max(durations) < 0.25
    error = refused.value
    assert isinstance(error, NoSQLConnectionError)
    assert str(error).startswith("store 'mem' unavailable since ")
    assert "next attempt in" in str(error) and "connection refused" in str(error)
    assert error.retry_after is not None and 0 < error.retry_after <= 0.3
    assert (error.store, error.collection, error.operation) == ("mem", "c", "count_documents")
    opened = [r for r in caplog.records if "unavailable after" in r.getMessage()]
    assert len(opened) == 1 and opened[0].levelno == logging.WARNING


async def test_after_reset_s_one_trial_call_decides(
    store: BaseDocumentStore[Any], caplog: pytest.LogCaptureFixture
) -> None:
    outage = Outage(store)
    await outage.fail(3)
    await asyncio.sleep(0.35)
    # The trial fails: open again for reset_s, without another call reaching the server.
    with pytest.raises(NoSQLConnectionError) as trial:
        await outage.coll.count_documents({})
    assert not isinstance(trial.value, StoreUnavailableError)
    assert outage.calls == 4
    with pytest.raises(StoreUnavailableError):
        await outage.coll.count_documents({})
    await asyncio.sleep(0.35)

    # The server is back: while the one trial runs, other calls still fail at once.
    outage.mode = "hang"
    caplog.set_level(logging.INFO, "lexigram_nosql")
    trial_task = asyncio.create_task(outage.coll.count_documents({}))
    await asyncio.sleep(0.01)
    with pytest.raises(StoreUnavailableError):
        await outage.coll.count_documents({})
    outage.mode = "ok"
    with pytest.raises(OperationTimeoutError):
        await trial_task  # a deadline expiry is a failure too
    await asyncio.sleep(0.35)
    assert await outage.coll.count_documents({}) == 0
    assert store.breaker is not None and store.breaker.state is BreakerState.CLOSED
    assert await outage.coll.count_documents({}) == 0
    back = [r for r in caplog.records if "available again" in r.getMessage()]
    assert len(back) == 1 and back[0].levelno == logging.INFO


async def test_a_cancelled_trial_lets_the_next_call_try(store: BaseDocumentStore[Any]) -> None:
    outage = Outage(store)
    await outage.fail(3)
    await asyncio.sleep(0.35)
    outage.mode = "hang"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.02):
            await outage.coll.count_documents({})
    outage.mode = "ok"
    assert await outage.coll.count_documents({}) == 0


async def test_a_success_resets_the_count_of_consecutive_failures(
    store: BaseDocumentStore[Any],
) -> None:
    outage = Outage(store)
    for _ in range(3):
        outage.mode = "down"
        for _ in range(2):
            with pytest.raises(NoSQLConnectionError):
                await outage.coll.count_documents({})
        outage.mode = "ok"
        await outage.coll.count_documents({})
    assert store.breaker is not None and store.breaker.state is BreakerState.CLOSED


async def test_health_reads_the_breaker_and_answers_at_once(
    store: BaseDocumentStore[Any],
) -> None:
    outage = Outage(store)
    await outage.fail(3)
    started = time.perf_counter()
    health = await store.health_check()
    assert time.perf_counter() - started < 0.25  # no ping: the breaker answers
    assert health.status == "fail"
    assert health.error is not None
    assert health.error.startswith("connection refused")
    assert "unavailable since" in health.error and "next attempt in" in health.error


async def test_circuit_breaker_null_turns_it_off() -> None:
    async with memory(circuit_breaker=None) as store:
        assert store.breaker is None
        outage = Outage(store)
        outage.mode = "down"
        for _ in range(10):
            with pytest.raises(NoSQLConnectionError) as info:
                await outage.coll.count_documents({})
            assert not isinstance(info.value, StoreUnavailableError)
            assert info.value.retry_after is None
        assert outage.calls == 10


async def test_a_streamed_find_bounds_each_batch_fetch_not_the_consumer(
    store: BaseDocumentStore[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = store.collection("s")
    await coll.insert_many([{"n": n} for n in range(4)])
    # The consumer takes 4 x 0.1 s, twice operation_timeout_s: not a timeout.
    seen = []
    async for document in coll.find({}, sort=[("n", 1)]):
        seen.append(document["n"])
        await asyncio.sleep(0.1)
    assert seen == [0, 1, 2, 3]

    original = coll._find

    async def slow_batches(query: Any) -> AsyncIterator[dict[str, Any]]:
        async for document in original(query):
            if document["n"] == 2:
                await asyncio.sleep(60)  # the third "batch" never comes
            yield document

    monkeypatch.setattr(coll, "_find", slow_batches)
    got = []
    with pytest.raises(OperationTimeoutError) as info:
        async with asyncio.timeout(5):
            async for document in coll.find({}, sort=[("n", 1)]):
                got.append(document["n"])
    assert got == [0, 1]
    assert (info.value.operation, info.value.collection) == ("find", "s")


async def test_observers_see_each_public_call_once_with_its_outcome(
    store: BaseDocumentStore[Any],
) -> None:
    seen: list[tuple[Operation, str | None]] = []

    def observer(operation: Operation) -> Any:
        def end(error: BaseException | None) -> None:
            seen.append((operation, None if error is None else type(error).__name__))

        return end

    def broken(operation: Operation) -> Any:
        raise RuntimeError("observers must not break calls")

    remove = add_operation_observer(observer)
    remove_broken = add_operation_observer(broken)
    try:
        coll = store.collection("o")
        await coll.insert_one({"_id": 1})
        with pytest.raises(Exception, match="Duplicate"):
            await coll.insert_one({"_id": 1})
        await coll.bulk_write([InsertOne({"_id": 2}), UpdateOne({"_id": 2}, {"$set": {"a": 1}})])
        assert [d["_id"] async for d in coll.find({}, sort=[("_id", 1)])] == [1, 2]
        await store.list_collections()
    finally:
        remove()
        remove_broken()
    await store.list_collections()  # removed: not seen
    assert [(op.name, op.collection, op.streaming, error) for op, error in seen] == [
        ("insert_one", "o", False, None),
        ("insert_one", "o", False, "DuplicateKeyError"),
        ("bulk_write", "o", False, None),  # its inner calls are not separate operations
        ("find", "o", True, None),
        ("list_collections", None, False, None),
    ]
    assert {(op.store, op.driver) for op, _ in seen} == {("mem", "memory")}


def test_the_breaker_settings_are_validated() -> None:
    from lexigram_nosql import ConfigurationError

    for bad in ({"failures": 0}, {"reset_s": 0}, {"failure": 3}):
        with pytest.raises(ConfigurationError, match="circuit_breaker"):
            memory(circuit_breaker=bad)
    with pytest.raises(ConfigurationError, match="operation_timeout_s"):
        memory(operation_timeout_s=0)
    default = memory()
    assert default.settings.operation_timeout_s == 10.0
    assert default.breaker is not None
    assert (default.breaker.failures, default.breaker.reset_s) == (3, 5.0)


async def test_calls_nested_in_an_operation_still_raise_our_errors(
    store: BaseDocumentStore[Any],
) -> None:
    """bulk_write's default runs insert_one inside its own operation: an unordered bulk must
    see the inner DuplicateKeyError (ours) to go on with the next operation."""
    from lexigram_nosql import DuplicateKeyError

    coll = store.collection("nested")
    await coll.insert_one({"_id": "a"})
    with pytest.raises(DuplicateKeyError):
        await coll.bulk_write(
            [InsertOne({"_id": "b"}), InsertOne({"_id": "a"}), InsertOne({"_id": "c"})],
            ordered=False,
        )
    assert sorted([d["_id"] async for d in coll.find({})]) == ["a", "b", "c"]


async def test_a_task_started_inside_an_operation_runs_operations_of_its_own(
    store: BaseDocumentStore[Any],
) -> None:
    """Nesting is per task: a task an operation starts (the SQLite store's TTL sweeper,
    started by ``create_index``) is not inside that operation, and its calls are guarded,
    bounded and observed. A context variable, copied into the new task, made them nested
    forever."""
    coll = store.collection("spawner")
    original = coll._count
    spawned: list[asyncio.Task[int]] = []

    async def count(query: Any) -> int:
        if not spawned:
            spawned.append(asyncio.create_task(coll.count_documents({})))
        return await original(query)

    coll._count = count  # type: ignore[method-assign]
    seen: list[tuple[str, str | None]] = []
    remove = add_operation_observer(lambda op: seen.append((op.name, op.collection)))
    try:
        assert await coll.count_documents({}) == 0
        assert await spawned[0] == 0
    finally:
        remove()
    assert seen == [("count_documents", "spawner"), ("count_documents", "spawner")]


async def test_a_failed_lazy_connect_leaves_the_next_call_guarded() -> None:
    """The lazy connect runs inside the operation: when it fails, the operation is over and
    the next call in the same context is an operation of its own, not a nested one."""
    store = memory(lazy=True)
    coll = store.collection("lazy")
    connect = store._connect
    failures = [ConnectionRefusedError(111, "Connection refused")]

    async def flaky_connect() -> None:
        if failures:
            raise failures.pop()
        await connect()

    store._connect = flaky_connect  # type: ignore[method-assign]
    seen: list[str] = []
    remove = add_operation_observer(lambda operation: seen.append(operation.name))
    try:
        with pytest.raises(NoSQLConnectionError):
            await coll.count_documents({})
        assert await coll.count_documents({}) == 0
    finally:
        remove()
        await store.disconnect()
    assert seen == ["count_documents", "count_documents"]
    assert store.breaker is not None and store.breaker.consecutive_failures == 0


class _ShiftedClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is not ``time.monotonic`` (as uvloop's is its own)."""

    def time(self) -> float:
        return super().time() + 1000.0


def test_deadlines_are_measured_on_the_event_loops_own_clock() -> None:
    async def main() -> float:
        store = memory(operation_timeout_s=0.2)
        async with store:
            await store.collection("c").insert_one({"_id": 1})
            outage = Outage(store)
            outage.mode = "hang"
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(OperationTimeoutError):
                await outage.coll.count_documents({})
            return loop.time() - started

    with asyncio.Runner(loop_factory=_ShiftedClockLoop) as runner:
        assert runner.run(main()) >= 0.2  # not at once, as a deadline on another clock would


def test_the_breaker_is_closed_field_follows_its_state() -> None:
    now = [0.0]
    breaker = CircuitBreaker("s", failures=2, reset_s=1.0, clock=lambda: now[0])
    assert breaker.is_closed and breaker.admit() is False
    breaker.failed(False, "refused")
    assert breaker.is_closed and breaker.consecutive_failures == 1
    breaker.failed(False, "refused")
    assert breaker.state is BreakerState.OPEN and not breaker.is_closed
    now[0] = 1.5
    assert breaker.admit() is True
    assert breaker.state is BreakerState.HALF_OPEN and not breaker.is_closed
    breaker.succeeded(True)
    assert breaker.state is BreakerState.CLOSED and breaker.is_closed
    assert breaker.consecutive_failures == 0


def test_the_deadlines_task_lookup_is_asyncios_current_task() -> None:
    """``deadlines.current_task`` (on Python 3.11 a direct read of asyncio's running tasks) is
    the task a timeout cancels: the one running the operation, and none in a loop callback."""
    from lexigram_nosql.backends.deadlines import current_task

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert current_task(loop) is asyncio.current_task() is not None
        seen: list[object] = []
        loop.call_soon(lambda: seen.append(current_task(loop)))
        await asyncio.sleep(0)
        assert seen == [None]

        async def child() -> object:
            return current_task(loop)

        spawned = asyncio.ensure_future(child())
        assert await spawned is spawned

    asyncio.run(main())
