"""Benchmark (not a test): booting a container with five stores takes about as long as the
slowest store's connect, not the sum of them (eager stores connect concurrently).

In the same run: each store's connect on its own (their sum and their maximum), then
``Application.boot`` of all five. The stores are real: memory, MongoDB (the wire-protocol test
server, both clients), DynamoDB Local and the Firestore emulator, as started by
``scripts/services.sh up``; a backend whose server is not up is replaced by a memory store and
said so.

Run: ``.venv/bin/python benchmarks/boot.py [--rounds 5]``
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
from lexigram_nosql import Application, create_store
from tests.support import (
    backend_dynamodb,
    backend_firestore,
    backend_memory,
    backend_mongodb_motor,
    backend_mongodb_pymongo,
)
from tests.support.backends import load_services_env

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


async def connect_alone(entry: dict[str, Any]) -> float:
    store = create_store(entry)
    started = time.perf_counter()
    await store.connect()
    elapsed = time.perf_counter() - started
    await store.disconnect()
    return elapsed


async def boot_all(stores: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    async with Application.boot(config={"nosql": {"backends": stores}}):
        elapsed = time.perf_counter() - started
    return elapsed


async def main(rounds: int) -> int:
    load_services_env()
    stores, notes = entries()
    alone: dict[str, float] = {}
    boots: list[float] = []
    for _ in range(rounds):  # alternate, keep the best of each, to damp noise
        for entry in stores:
            elapsed = await connect_alone(entry)
            alone[entry["name"]] = min(alone.get(entry["name"], float("inf")), elapsed)
        boots.append(await boot_all(stores))
    slowest, total, boot = max(alone.values()), sum(alone.values()), min(boots)
    for name, elapsed in alone.items():
        print(f"connect {name:<28} {elapsed * 1000:8.1f} ms")
    print(f"sum of connects {total * 1000:8.1f} ms; slowest {slowest * 1000:8.1f} ms")
    print(
        f"boot of all five {boot * 1000:8.1f} ms = {boot / slowest:.2f}x the slowest, "
        f"{boot / total:.2f}x the sum"
    )
    for note in notes:
        print(f"note: {note}")
    met = boot < total and boot <= slowest * 1.5 + 0.005
    record(
        "container boot",
        "boot with 5 stores / slowest connect",
        round(boot / slowest, 2),
        "x",
        baseline=round(total / slowest, 2),
        target="close to 1x (the slowest), well under the sum",
        met=met,
        note=f"boot {boot * 1000:.0f} ms, slowest {slowest * 1000:.0f} ms, "
        f"sum {total * 1000:.0f} ms" + (f"; {'; '.join(notes)}" if notes else ""),
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    raise SystemExit(asyncio.run(main(parser.parse_args().rounds)))
