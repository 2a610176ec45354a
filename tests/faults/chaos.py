"""One outage, measured: concurrent writers and readers plus a health prober on a store whose
private server is stopped, kept down, and started again.

Used by ``test_chaos.py`` (which asserts generous bounds) and ``benchmarks/faults.py`` (which
prints the figures for ``benchmarks/RESULTS.md``). The store keeps its driver's own default
timeouts: the operation deadline and the circuit breaker are what bound the calls. The heal
is timed from when the restarted server answers promptly again (``warm_up``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from lexigram_nosql import (
    HealthService,
    NoSQLConnectionError,
    StoreUnavailableError,
    create_store,
)
from lexigram_nosql.backends.base import BaseDocumentStore
from lexigram_nosql.backends.breaker import BreakerState
from tests.faults.servers import PrivateServer

OPERATION_TIMEOUT_S = 3.0
BREAKER = {"failures": 3, "reset_s": 2.0}
HEALTH_TIMEOUT_S = 1.0
HEALTH_TTL_S = 0.5
WORKERS = 10
DOWN_S = 6.0  # long enough for two failed trials while the server is down


def chaos_settings(backend: str, port: int, name: str) -> dict[str, Any]:
    """A store on the private server with the driver's default timeouts and retries."""
    common: dict[str, Any] = {
        "name": name,
        "driver": backend,
        "connect_timeout_s": 5.0,
        "health_timeout_s": HEALTH_TIMEOUT_S,
        "operation_timeout_s": OPERATION_TIMEOUT_S,
        "circuit_breaker": BREAKER,
    }
    if backend == "mongodb":
        section: dict[str, Any] = {
            "uri": f"mongodb://127.0.0.1:{port}",
            "database": f"chaos_{uuid.uuid4().hex[:8]}",
        }
    elif backend == "dynamodb":
        section = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "access_key_id": "lexigramchaos",
            "secret_access_key": "lexigramchaossecret",
            "table_prefix": f"c{uuid.uuid4().hex[:8]}_",
        }
    else:
        section = {"project": f"chaos-{uuid.uuid4().hex[:8]}", "emulator_host": f"127.0.0.1:{port}"}
    return {**common, backend: section}


@dataclass
class Call:
    started: float
    ended: float
    outcome: str  # "ok", "unavailable" (breaker open), "connection" (other connection error)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Outage:
    """What one outage looked like; times are ``time.monotonic()`` seconds."""

    backend: str
    calls: list[Call] = field(default_factory=list)
    probes: list[tuple[float, float, str]] = field(default_factory=list)  # started, s, status
    other_errors: list[BaseException] = field(default_factory=list)
    acked: list[Any] = field(default_factory=list)
    stopped_at: float = 0.0
    opened_at: float | None = None
    restarted_at: float = 0.0
    healed_at: float | None = None
    health_passed_at: float | None = None
    lost: int | None = None
    serving_at: float = 0.0  # when the restarted server first answered promptly

    def failures_before_open(self) -> list[Call]:
        """Calls that failed while the breaker was still letting calls through."""
        return [c for c in self.calls if c.outcome == "connection"]

    def fast_failures(self) -> list[Call]:
        return [c for c in self.calls if c.outcome == "unavailable"]

    def probe_seconds(self) -> list[float]:
        return [seconds for _, seconds, _ in self.probes]

    def figures(self) -> dict[str, float | None]:
        slow = [c.seconds for c in self.failures_before_open()]
        fast = [c.seconds for c in self.fast_failures()]
        probes = self.probe_seconds()
        return {
            "calls": len(self.calls),
            "acknowledged writes": len(self.acked),
            "lost writes": self.lost,
            "slowest failing call (s)": max(slow) if slow else None,
            "stop -> breaker open (s)": (
                None if self.opened_at is None else self.opened_at - self.stopped_at
            ),
            "fail-fast p50 (ms)": _percentile(fast, 50) * 1000 if fast else None,
            "fail-fast p99 (ms)": _percentile(fast, 99) * 1000 if fast else None,
            "fail-fast calls": len(fast),
            "health probe p50 (ms)": _percentile(probes, 50) * 1000 if probes else None,
            "health probe p99 (ms)": _percentile(probes, 99) * 1000 if probes else None,
            "health probe max (ms)": max(probes) * 1000 if probes else None,
            "restart -> server serving (s)": self.serving_at - self.restarted_at,
            "restart -> first success (s)": (
                None if self.healed_at is None else self.healed_at - self.restarted_at
            ),
            "server serving -> first success (s)": (
                None if self.healed_at is None else self.healed_at - self.serving_at
            ),
            "restart -> health pass (s)": (
                None if self.health_passed_at is None else self.health_passed_at - self.restarted_at
            ),
        }


def _percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def warm_up(backend: str, port: int) -> float:
    """Wait until the (re)started server answers promptly (4 concurrent inserts within 1 s),
    through a store of its own: a JVM-based emulator accepts connections long before it
    serves at speed, and the figures are about our store healing, not about the emulator's
    warm-up. Returns when it first did (``time.monotonic()``)."""
    started = time.monotonic()
    served_at = 0.0
    settings = chaos_settings(backend, port, "warmup")
    settings.update(
        circuit_breaker=None,
        operation_timeout_s=30.0,
        connect_timeout_s=30.0,
        health_timeout_s=10.0,
        lazy=True,  # connects on first use, and again on the next after a failure
    )
    store = create_store(settings)
    try:
        coll = store.collection("warmup")
        while not served_at and time.monotonic() - started < 60:
            call_started = time.monotonic()
            try:
                await asyncio.gather(*(coll.insert_one({"w": i}) for i in range(4)))
            except NoSQLConnectionError:
                await asyncio.sleep(0.2)
                continue
            if time.monotonic() - call_started < 1.0:
                served_at = time.monotonic()
    finally:
        await store.disconnect()
    return served_at or time.monotonic()


async def run_outage(
    backend: str,
    server: PrivateServer,
    *,
    restart: Callable[[], PrivateServer] | None = None,
    check_writes: bool = False,
) -> Outage:
    """Start ``server``, load the store, stop the server for ``DOWN_S``, start it again (or
    ``restart()``, e.g. a server that lost its tables), and watch the store heal."""
    outage = Outage(backend)
    await asyncio.to_thread(server.start)
    await warm_up(backend, server.port)
    store = cast(
        BaseDocumentStore[Any],
        create_store(chaos_settings(backend, server.port, f"chaos_{backend}")),
    )
    await asyncio.wait_for(store.connect(), 15)
    health = HealthService(
        [store], timeouts={store.name: HEALTH_TIMEOUT_S}, cache_ttl_s=HEALTH_TTL_S
    )
    await health.check()  # the one check that may wait, before the load starts
    coll = store.collection("events")
    stop = asyncio.Event()

    async def call(action: Awaitable[Any]) -> Any:
        started = time.monotonic()
        try:
            result = await action
        except StoreUnavailableError:
            outage.calls.append(Call(started, time.monotonic(), "unavailable"))
            return None
        except NoSQLConnectionError:
            outage.calls.append(Call(started, time.monotonic(), "connection"))
            return None
        outage.calls.append(Call(started, time.monotonic(), "ok"))
        if outage.restarted_at and outage.healed_at is None:
            outage.healed_at = time.monotonic()
        return result

    async def worker(number: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                inserted = await call(coll.insert_one({"w": number, "n": n}))
                if inserted is not None:
                    outage.acked.append(inserted.inserted_id)
                    await call(coll.find_one({"_id": inserted.inserted_id}))
            except Exception as exc:  # anything but a connection error is a finding
                outage.other_errors.append(exc)
            await asyncio.sleep(0.01)

    async def prober() -> None:
        while not stop.is_set():
            started = time.monotonic()
            report = await health.check()
            outage.probes.append((started, time.monotonic() - started, report.status))
            if outage.restarted_at and report.status == "pass" and not outage.health_passed_at:
                outage.health_passed_at = time.monotonic()
            await asyncio.sleep(0.025)

    tasks = [asyncio.create_task(worker(i)) for i in range(WORKERS)]
    tasks.append(asyncio.create_task(prober()))
    try:
        await _until(lambda: len(outage.acked) >= 100, 30)
        outage.stopped_at = time.monotonic()
        await asyncio.to_thread(server.stop)
        breaker = store.breaker
        assert breaker is not None
        await _until(lambda: breaker.state is not BreakerState.CLOSED, 3 * OPERATION_TIMEOUT_S + 5)
        if breaker.state is not BreakerState.CLOSED:
            outage.opened_at = time.monotonic()
        await asyncio.sleep(DOWN_S)

        server = restart() if restart is not None else server
        await asyncio.to_thread(server.start)
        outage.restarted_at = time.monotonic()
        outage.serving_at = await warm_up(backend, server.port)
        await _until(lambda: outage.healed_at is not None, 60)
        await _until(lambda: outage.health_passed_at is not None, 30)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    try:
        if check_writes:
            deadline = time.monotonic() + 60
            while True:  # a loaded emulator may still trip the breaker now and then
                try:
                    stored = {d["_id"] async for d in coll.find({}, projection={"_id": 1})}
                    break
                except NoSQLConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            outage.lost = len([i for i in outage.acked if i not in stored])
    finally:
        await store.disconnect()
        await asyncio.to_thread(server.stop)
    return outage
