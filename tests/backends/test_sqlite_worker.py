"""The SQLite store's job threads: one thread per connection, jobs in order, one hop each."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any

import pytest

from lexigram_nosql import create_store
from lexigram_nosql.backends.sqlite.worker import Worker


async def test_jobs_run_in_order_on_one_thread_and_return_results() -> None:
    worker = Worker("test-worker")
    try:
        seen: list[int] = []
        threads: set[int] = set()

        def job(i: int) -> int:
            seen.append(i)
            threads.add(threading.get_ident())
            return i * 2

        results = await asyncio.gather(*(worker.run(functools.partial(job, i)) for i in range(20)))
        assert results == [i * 2 for i in range(20)]
        assert seen == list(range(20))
        assert len(threads) == 1 and threading.get_ident() not in threads
    finally:
        worker.stop()


async def test_errors_reach_the_awaiting_task() -> None:
    worker = Worker("test-worker")
    try:

        def boom() -> None:
            raise KeyError("nope")

        with pytest.raises(KeyError, match="nope"):
            await worker.run(boom)

        def stop() -> None:
            raise StopIteration

        with pytest.raises(RuntimeError, match="StopIteration"):
            await worker.run(stop)
        assert await worker.run(lambda: "still serving") == "still serving"
    finally:
        worker.stop()


async def test_a_job_cancelled_before_it_starts_does_not_run() -> None:
    worker = Worker("test-worker")
    try:
        gate = threading.Event()
        ran: list[str] = []
        first = worker.run(gate.wait)
        second = worker.run(lambda: ran.append("second"))
        second.cancel()
        gate.set()
        await first
        await worker.run(lambda: None)  # the queue has drained
        assert ran == []
    finally:
        worker.stop()


async def test_a_read_abandoned_inside_its_snapshot_does_not_leak_into_the_next_read(
    tmp_path: Any,
) -> None:
    """A read cancelled while its job holds a snapshot open: the next read on the same
    connection must see the writes made since, not the abandoned snapshot."""
    store: Any = create_store(
        {
            "name": "s",
            "driver": "sqlite",
            "sqlite": {"path": str(tmp_path / "a.db"), "max_readers": 1},
        }
    )
    await store.connect()
    try:
        users = store.collection("users")
        await users.insert_one({"_id": 1})
        database = store.database
        reader = await database.reader()
        gate, started = threading.Event(), threading.Event()

        def stuck(connection: Any) -> None:
            connection.execute("BEGIN")
            connection.execute("SELECT COUNT(*) FROM lexigram_collections").fetchone()
            started.set()
            gate.wait()

        job = reader.run(stuck)
        await asyncio.to_thread(started.wait)
        job.cancel()
        reader.released = True  # as if its task ended without releasing: hand it back
        database._give_back(reader)
        await users.insert_one({"_id": 2})
        gate.set()
        assert await users.count_documents({}) == 2
        assert [d["_id"] async for d in users.find({})] == [1, 2]
    finally:
        await store.disconnect()
