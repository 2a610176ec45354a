"""Benchmark (not a test): what OpenTelemetry costs, and that it costs nothing when off.

One workload on a memory store (an ``insert_one``, a ``find_one`` by ``_id`` and a ``find`` of
ten documents per step; each round on a fresh collection, so every round does the same work),
timed:

1. never instrumented, in a process that has not imported ``opentelemetry``;
2. instrumented (SDK tracer and meter providers, spans and metrics recorded, nothing exported),
   alternating with uninstrumented rounds of the same process after ``uninstrument()``.

Row "uninstrumented / never instrumented" is the zero-cost claim (~1.00x); row "instrumented /
uninstrumented" is what tracing every call costs on the fastest backend (on a networked backend
the same absolute cost is a far smaller fraction).

Run: ``.venv/bin/python benchmarks/otel.py [--steps 2000] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import record
from lexigram_nosql import create_store


async def workload(collection: Any, steps: int, offset: int) -> None:
    for i in range(steps):
        key = offset + i
        await collection.insert_one({"_id": key, "group": key % 100, "n": i})
        await collection.find_one({"_id": key})
        async for _ in collection.find({"group": 7}, limit=10):
            pass


async def timed(store: Any, steps: int, round_: int) -> float:
    """One round on a fresh collection, so every round does the same work."""
    name = f"items{round_}"
    collection = store.collection(name)
    await collection.create_index([("group", 1)])
    started = time.perf_counter()
    await workload(collection, steps, 0)
    elapsed = time.perf_counter() - started
    await store.drop_collection(name)
    return elapsed


async def main(steps: int, rounds: int) -> None:
    async with create_store({"name": "bench", "driver": "memory"}) as store:
        counter = 0
        never: list[float] = []
        for _ in range(rounds):
            never.append(await timed(store, steps, counter))
            counter += 1
        assert not [m for m in sys.modules if m.startswith("opentelemetry")]

        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        from lexigram_nosql.integrations import opentelemetry as otel

        tracer_provider, meter_provider = TracerProvider(), MeterProvider()
        off: list[float] = []
        on: list[float] = []
        for round_ in range(rounds):
            for instrumented in (round_ % 2 == 0, round_ % 2 != 0):
                if instrumented:
                    otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
                else:
                    otel.uninstrument()
                (on if instrumented else off).append(await timed(store, steps, counter))
                counter += 1
        otel.uninstrument()

    per_step = 1e6 / steps
    best_never, best_off, best_on = min(never) * per_step, min(off) * per_step, min(on) * per_step
    print(f"steps of insert_one + find_one + find(10), {steps} per round, best of {rounds}")
    print(f"  never instrumented:   {best_never:8.1f} us/step")
    print(f"  uninstrumented:       {best_off:8.1f} us/step ({best_off / best_never:.2f}x)")
    print(f"  instrumented (SDK):   {best_on:8.1f} us/step ({best_on / best_off:.2f}x)")
    record(
        "opentelemetry",
        "uninstrumented / never instrumented (memory store)",
        round(best_off / best_never, 2),
        "x",
        baseline=1.0,
        target="~1x: no cost when not instrumented",
        met=best_off <= best_never * 1.10,
        note=f"{best_never:.1f} us/step never instrumented, {best_off:.1f} after uninstrument()",
    )
    record(
        "opentelemetry",
        "instrumented / uninstrumented (memory store, 3 spans per step)",
        round(best_on / best_off, 2),
        "x",
        baseline=1.0,
        target="informational",
        note=f"{(best_on - best_off) / 3:.1f} us per traced operation (SDK, no exporter)",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.steps, args.rounds))
