"""Benchmark (not a test): booting a container with five stores takes about as long as the
slowest store's connect, not the sum of them (eager stores connect concurrently).

In the same run: ``Application.boot`` of each store on its own (their sum and their maximum:
config, container and connect, as the five-store boot pays them), then of all five. The
stores are real: memory, MongoDB (the wire-protocol test server, both clients), DynamoDB
Local and the Firestore emulator, as started by ``scripts/services.sh up``; a backend whose
server is not up is replaced by a memory store and said so. Local servers answer within a
millisecond, so their connects are CPU work that one event loop cannot overlap; a second
measurement gives each of five memory stores a simulated 100 ms connect round trip, which is
what concurrent startup saves on a real network.

Run: ``.venv/bin/python benchmarks/boot.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import record
from lexigram_nosql import Application
from lexigram_nosql.backends.memory import MemoryDocumentStore
from lexigram_nosql.config.drivers import DRIVERS
from tests.support import (
    backend_dynamodb,
    backend_firestore,
    backend_memory,
    backend_mongodb_motor,
    backend_mongodb_pymongo,
)
from tests.support.backends import load_services_env

SIMULATED_RTT_S = 0.1
BACKENDS = (
    backend_memory,
    backend_mongodb_pymongo,
    backend_mongodb_motor,
    backend_dynamodb,
    backend_firestore,
)


def entries() -> tuple[list[dict[str, Any]], list[str]]:
    stores, notes = [], []
    for index, module in enumerate(BACKENDS):
        name = f"s{index}_{module.ID.replace('-', '_')}"
        reason = module.unavailable()
        if reason is not None:
            notes.append(f"{module.ID} replaced by memory ({reason})")
            stores.append({"name": name, "driver": "memory"})
        else:
            stores.append(module.settings(name) | {"name": name})
    stores[0]["primary"] = True
    return stores, notes


async def boot_alone(entry: dict[str, Any]) -> float:
    return await boot_all([entry | {"primary": True}])


async def boot_all(stores: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    async with Application.boot(config={"nosql": {"backends": stores}}):
        elapsed = time.perf_counter() - started
    return elapsed


async def measure(label: str, stores: list[dict[str, Any]], rounds: int, *, judged: bool) -> None:
    """Boot each store alone and all together, alternating, best of ``rounds``; print and
    record the ratio of the five-store boot to the slowest single-store boot."""
    alone: dict[str, float] = {}
    boots: list[float] = []
    for _ in range(rounds):
        for entry in stores:
            elapsed = await boot_alone(entry)
            alone[entry["name"]] = min(alone.get(entry["name"], float("inf")), elapsed)
        boots.append(await boot_all(stores))
    slowest, total, boot = max(alone.values()), sum(alone.values()), min(boots)
    print(f"-- {label}")
    for name, elapsed in alone.items():
        print(f"boot of {name:<28} {elapsed * 1000:8.1f} ms")
    print(f"sum of single boots {total * 1000:8.1f} ms; slowest {slowest * 1000:8.1f} ms")
    print(
        f"boot of all five {boot * 1000:8.1f} ms = {boot / slowest:.2f}x the slowest, "
        f"{boot / total:.2f}x the sum"
    )
    record(
        "container boot",
        f"{label}: 5 stores / slowest single boot",
        round(boot / slowest, 2),
        "x",
        baseline=round(total / slowest, 2),
        target="close to 1x (the slowest), well under the sum" if judged else "informational",
        met=(boot < total and boot <= slowest * 1.5) if judged else None,
        note=f"boot {boot * 1000:.0f} ms, slowest {slowest * 1000:.0f} ms, "
        f"sum {total * 1000:.0f} ms; baseline: the sum / the slowest",
    )


class LatencyMemoryStore(MemoryDocumentStore):
    """A memory store whose connect waits one simulated network round trip."""

    async def _connect(self) -> None:
        await asyncio.sleep(SIMULATED_RTT_S)
        await super()._connect()


async def main(rounds: int) -> int:
    load_services_env()
    stores, notes = entries()
    await measure("real servers", stores, rounds, judged=False)
    for note in notes:
        print(f"note: {note}")
    # The local servers answer in about a millisecond, so their connects are CPU work (client
    # construction, and threads of the gRPC client contending for the GIL) that one event loop
    # cannot overlap; the first row is informational. A network round trip is what concurrent
    # startup saves, and that is what the judged row measures.
    DRIVERS["memory"] = replace(DRIVERS["memory"], store=f"{__name__}:LatencyMemoryStore")
    latency = [{"name": f"rtt{i}", "driver": "memory"} for i in range(5)]
    latency[0]["primary"] = True
    await measure(
        f"{SIMULATED_RTT_S * 1000:.0f} ms connect round trip", latency, rounds, judged=True
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    raise SystemExit(asyncio.run(main(parser.parse_args().rounds)))
