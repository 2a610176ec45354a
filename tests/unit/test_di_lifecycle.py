"""Startup and shutdown of the stores: concurrent bounded connects, undo on failure, lazy
stores with their server down, and shutdown in reverse order, once, whatever happens."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from lexigram_nosql import (
    Application,
    HealthService,
    NoSQLConnectionError,
    NoSQLModule,
    StoreStateError,
)
from lexigram_nosql.backends.memory import MemoryDocumentStore
from lexigram_nosql.config.drivers import DRIVERS
from lexigram_nosql.contracts import DocumentStoreProtocol

EVENTS: list[str] = []


class ScriptedStore(MemoryDocumentStore):
    """A memory store whose connect does what its name says: ``slow-*`` takes 0.3 s,
    ``hang-*`` never finishes, ``broken-*`` is refused."""

    async def _connect(self) -> None:
        EVENTS.append(f"connect {self.name}")
        if self.name.startswith("slow"):
            await asyncio.sleep(0.3)
        elif self.name.startswith("hang"):
            await asyncio.sleep(60)
        elif self.name.startswith("broken"):
            raise ConnectionRefusedError("connection refused by 127.0.0.1")
        await super()._connect()

    async def _close(self) -> None:
        EVENTS.append(f"close {self.name}")
        await super()._close()


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Memory entries build ``ScriptedStore``s; yields the connect/close log."""
    scripted_memory = replace(DRIVERS["memory"], store=f"{__name__}:ScriptedStore")
    monkeypatch.setitem(DRIVERS, "memory", scripted_memory)
    EVENTS.clear()
    yield EVENTS
    EVENTS.clear()


def stores(*names: str, **extra: Any) -> dict[str, Any]:
    entries = [{"name": n, "driver": "memory", **extra} for n in names]
    entries[0]["primary"] = True
    return {"nosql": {"backends": entries}}


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_mongodb(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "driver": "mongodb",
        "connect_timeout_s": 1,
        "health_timeout_s": 1,
        "mongodb": {
            "uri": f"mongodb://app:hunter22@127.0.0.1:{closed_port()}",
            "database": "app",
            "server_selection_timeout_ms": 5000,
        },
        **extra,
    }


# -- startup ---------------------------------------------------------------------------------


async def test_eager_stores_connect_concurrently(scripted: list[str]) -> None:
    started = time.perf_counter()
    async with Application.boot(config=stores("slow-a", "slow-b", "slow-c"), environ={}):
        elapsed = time.perf_counter() - started
    assert elapsed < 0.8, f"three 0.3 s connects took {elapsed:.2f} s: not concurrent"


async def test_a_store_that_cannot_connect_fails_startup_naming_it() -> None:
    config = {
        "nosql": {
            "backends": [
                {"name": "primary", "driver": "memory", "primary": True},
                unreachable_mongodb("archive"),
            ]
        }
    }
    module = NoSQLModule.from_config(config, environ={})
    started = time.perf_counter()
    with pytest.raises(NoSQLConnectionError) as caught:
        await module.startup()
    assert time.perf_counter() - started < 3, "bounded by connect_timeout_s"
    error = caught.value
    assert (error.store, error.driver) == ("archive", "mongodb")
    assert error.address is not None and "127.0.0.1" in error.address
    assert "hunter22" not in str(error) and "hunter22" not in error.address
    assert "Could not connect store 'archive' (mongodb)" in str(error)
    primary = module.stores["primary"]
    assert not primary.is_connected, "the store already connected was disconnected"
    with pytest.raises(StoreStateError):
        await primary.connect()


async def test_failed_startup_through_application_never_runs_the_body(
    scripted: list[str],
) -> None:
    ran = False
    with pytest.raises(NoSQLConnectionError, match="store 'broken-b'"):
        async with Application.boot(config=stores("a", "broken-b"), environ={}):
            ran = True
    assert not ran
    assert "close a" in scripted


async def test_failure_cancels_connects_still_running_and_closes_them(
    scripted: list[str],
) -> None:
    module = NoSQLModule.from_config(stores("hang-a", "broken-b"), environ={})
    started = time.perf_counter()
    with pytest.raises(NoSQLConnectionError, match="broken-b"):
        await module.startup()
    assert time.perf_counter() - started < 5, "did not wait for the hanging connect"
    assert "close hang-a" in scripted
    assert not module.stores["hang-a"].is_connected


async def test_cancelling_startup_closes_every_store(scripted: list[str]) -> None:
    module = NoSQLModule.from_config(stores("a", "hang-b"), environ={})
    task = asyncio.create_task(module.startup())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert {"close a", "close hang-b"} <= set(scripted)
    assert not any(s.is_connected for s in module.stores.values())


async def test_lazy_store_boots_with_its_server_down_and_health_reports_it() -> None:
    config = {
        "nosql": {
            "backends": [
                {"name": "primary", "driver": "memory", "primary": True},
                unreachable_mongodb("archive", lazy=True, critical=False),
            ]
        }
    }
    async with Application.boot(config=config, environ={}) as app:
        health = await app.container.resolve(HealthService)
        report = await health.check()
    assert report.status == "warn", "a non-critical store failing is a warning"
    archive = report.check("archive")
    assert archive.status == "fail"
    assert archive.error is not None and "hunter22" not in archive.error
    assert report.check("primary").status == "pass"


async def test_starting_twice_is_an_error() -> None:
    module = NoSQLModule.from_config(stores("a"), environ={})
    async with module.lifespan():
        with pytest.raises(StoreStateError, match="already started"):
            await module.startup()


# -- shutdown --------------------------------------------------------------------------------


async def test_shutdown_is_in_reverse_order_and_once(scripted: list[str]) -> None:
    module = NoSQLModule.from_config(stores("a", "b", "c"), environ={})
    await module.startup()
    await module.shutdown()
    await module.shutdown()
    closes = [e for e in scripted if e.startswith("close")]
    assert closes == ["close c", "close b", "close a"]


async def test_a_body_that_raises_still_disconnects(scripted: list[str]) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with Application.boot(config=stores("a", "b"), environ={}) as app:
            store = await app.container.resolve(DocumentStoreProtocol, name="b")
            assert store.is_connected
            raise RuntimeError("boom")
    assert [e for e in scripted if e.startswith("close")] == ["close b", "close a"]


async def test_a_cancelled_body_still_disconnects(scripted: list[str]) -> None:
    entered = asyncio.Event()

    async def serve() -> None:
        async with Application.boot(config=stores("a", "b"), environ={}):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(serve())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e for e in scripted if e.startswith("close")] == ["close b", "close a"]


async def test_lazy_stores_used_during_the_run_are_closed_at_the_end(
    scripted: list[str],
) -> None:
    async with Application.boot(config=stores("a", "b", lazy=True), environ={}) as app:
        assert scripted == [], "lazy stores do not connect at startup"
        health = await app.container.resolve(HealthService)
        await health.check()
        assert {"connect a", "connect b"} <= set(scripted)
    assert {"close a", "close b"} <= set(scripted)
