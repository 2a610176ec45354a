"""Benchmark (not a test): the cost of ``container.resolve`` and the health endpoint's polling.

1. ``await container.resolve(Service)`` of a service with three dependencies (two named
   stores and a repository built with its store), against constructing it by hand.
2. Health polling: many tasks call ``HealthService.check()`` as fast as they can for a few
   seconds; we count polls answered and backend pings (which the TTL cache and single flight
   keep at about one per store per TTL).

Run: ``.venv/bin/python benchmarks/di_and_health.py``
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated, Any

from lexigram_nosql import (
    Application,
    DocumentRepository,
    HealthService,
    Named,
)
from lexigram_nosql.contracts import DocumentStoreProtocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import record

CONFIG = {
    "nosql": {
        "backends": [
            {"name": "primary", "driver": "memory", "primary": True},
            {"name": "analytics", "driver": "memory"},
        ],
        "health": {"cache_ttl_s": 0.5},
    }
}


class Users(DocumentRepository[dict[str, Any], str]):
    collection_name = "users"

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


class Dashboard:
    def __init__(
        self,
        primary: DocumentStoreProtocol,
        analytics: Annotated[DocumentStoreProtocol, Named("analytics")],
        users: Users,
    ) -> None:
        self.primary = primary
        self.analytics = analytics
        self.users = users


async def bench_resolve(app: Application, n: int = 50_000) -> None:
    container = app.container
    await container.resolve(Dashboard)  # first call computes and caches the plan
    started = time.perf_counter()
    for _ in range(n):
        await container.resolve(Dashboard)
    resolved = (time.perf_counter() - started) / n

    primary = await container.resolve(DocumentStoreProtocol)
    analytics = await container.resolve(DocumentStoreProtocol, name="analytics")
    started = time.perf_counter()
    for _ in range(n):
        Dashboard(primary, analytics, Users(primary))
    by_hand = (time.perf_counter() - started) / n

    cold = []
    for _ in range(200):
        container._plans.clear()  # measure planning too
        started = time.perf_counter()
        await container.resolve(Dashboard)
        cold.append(time.perf_counter() - started)
    print("resolve(Dashboard) - three dependencies: two named stores and a repository")
    print(f"  cached plan : {resolved * 1e6:7.2f} us per resolve ({n:,} resolves)")
    print(f"  by hand     : {by_hand * 1e6:7.2f} us per construction")
    print(f"  first (plan): {sorted(cold)[len(cold) // 2] * 1e6:7.2f} us median, plan included")
    record(
        "container",
        "resolve() of a service with 3 deps",
        round(resolved * 1e6, 2),
        "us",
        baseline=round(by_hand * 1e6, 2),
        target=None,
        note="baseline: constructing it by hand",
    )


async def bench_health(app: Application, seconds: float = 3.0, pollers: int = 50) -> None:
    health = await app.container.resolve(HealthService)
    module = app.modules[0]
    pings = {name: 0 for name in module.stores}  # type: ignore[attr-defined]
    for name, store in module.stores.items():  # type: ignore[attr-defined]
        original = store.health_check

        async def counted(name: str = name, original: Any = original) -> Any:
            pings[name] += 1
            return await original()

        store.health_check = counted
    polls = 0
    deadline = time.monotonic() + seconds

    async def poll() -> None:
        nonlocal polls
        while time.monotonic() < deadline:
            await health.check()
            polls += 1
            await asyncio.sleep(0)  # let the other pollers in, as a server would

    await asyncio.gather(*(poll() for _ in range(pollers)))
    ttl = CONFIG["nosql"]["health"]["cache_ttl_s"]  # type: ignore[index]
    print(f"health polling - {pollers} concurrent pollers for {seconds:g} s, TTL {ttl} s")
    print(f"  polls answered: {polls:,} ({polls / seconds:,.0f} per second)")
    allowed = int(seconds / ttl) + 1
    record(
        "health polling",
        f"{pollers} pollers for {seconds:g} s, TTL {ttl} s",
        round(polls / seconds),
        "polls/s",
        target=f"<= {allowed} pings per store",
        met=all(count <= allowed for count in pings.values()),
        note="backend pings: " + ", ".join(f"{n} {c}" for n, c in pings.items()),
    )
    for name, count in pings.items():
        print(f"  backend pings of {name!r}: {count} (at most {int(seconds / ttl) + 1} allowed)")


async def main() -> None:
    async with Application.boot(config=CONFIG, environ={}) as app:
        await bench_resolve(app)
        print()
        await bench_health(app)


if __name__ == "__main__":
    asyncio.run(main())
