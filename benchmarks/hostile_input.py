"""Benchmark (not a test): what the guards against hostile input cost, and what they buy.

On the memory store with ``--n`` documents:

- ``$regex`` scans: the engine's evaluation (``re`` for patterns without repetition, the
  ``regex`` package under its time budget otherwise) against the same scan with plain ``re``
  swapped in, measured alternately in the same run (median of ``--rounds``);
- a catastrophic pattern (``(a|aa)+$`` over 5,000 characters): the time until it is refused
  (plain ``re`` would run for longer than the universe has existed);
- the event loop's worst lag during a ``$group`` over all documents, in this thread's CPU time
  (target < 100 ms) and in wall time (which also counts time the OS gave the process no CPU).

Run: ``.venv/bin/python benchmarks/hostile_input.py [--n 200000]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import record
from lexigram_nosql import RegexTimeoutError, create_store
from lexigram_nosql.query import patterns

TARGET_LAG_MS = 100.0


def _plain_re(source: str, flags: int) -> Callable[[str], bool]:
    search = re.compile(source, flags).search
    return lambda text: search(text) is not None


async def _timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def _lag(work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Worst lateness of a 2 ms ticker while ``work`` runs: (CPU time, wall time), seconds."""
    worst_cpu = worst_wall = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst_cpu, worst_wall
        while not done.is_set():
            cpu, wall = time.thread_time(), time.perf_counter()
            await asyncio.sleep(0.002)
            worst_cpu = max(worst_cpu, time.thread_time() - cpu - 0.002)
            worst_wall = max(worst_wall, time.perf_counter() - wall - 0.002)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.002)
    try:
        await work()
    finally:
        done.set()
        await task
    return worst_cpu, worst_wall


async def main(n: int, rounds: int) -> int:
    settings = {"name": "bench", "driver": "memory", "operation_timeout_s": 3600}
    async with create_store(settings) as store:
        docs = store.collection("docs")
        for start in range(0, n, 20_000):
            await docs.insert_many(
                [
                    {"_id": i, "k": i % 1000, "v": i, "s": f"value {i}"}
                    for i in range(start, min(n, start + 20_000))
                ]
            )
        gc.collect()
        gc.freeze()  # the setup's objects: a full collection over them is not the engine's

        async def scan(pattern: str) -> None:
            async for _ in docs.find({"s": {"$regex": pattern}}, projection={"_id": 1}):
                pass

        for label, pattern in (("no repetition", "^value 9"), ("repetition", "^value 9.*9$")):
            ours: list[float] = []
            plain: list[float] = []
            for _ in range(rounds):
                ours.append(await _timed(lambda p=pattern: scan(p)))
                patterns._compiled.cache_clear()
                engine = patterns._compiled
                patterns._compiled = _plain_re  # type: ignore[assignment]
                try:
                    plain.append(await _timed(lambda p=pattern: scan(p)))
                finally:
                    patterns._compiled = engine
            ratio = statistics.median(ours) / statistics.median(plain)
            print(
                f"$regex scan of {n} docs, {label} ({pattern!r}): "
                f"{statistics.median(ours) * 1000:.0f} ms vs plain re "
                f"{statistics.median(plain) * 1000:.0f} ms ({ratio:.2f}x)"
            )
            record(
                "hostile input",
                f"$regex scan, {label}, {n} docs",
                round(statistics.median(ours) * 1000, 1),
                "ms",
                baseline=round(statistics.median(plain) * 1000, 1),
                note=f"{ratio:.2f}x plain re (no time budget)",
            )

        hostile = store.collection("hostile")
        await hostile.insert_one({"s": "a" * 5_000 + "b"})
        started = time.perf_counter()
        try:
            await hostile.count_documents({"s": {"$regex": "(a|aa)+$"}})
            refused = False
        except RegexTimeoutError:
            refused = True
        refused_ms = (time.perf_counter() - started) * 1000
        print(f"catastrophic $regex refused: {refused}, after {refused_ms:.0f} ms")
        record(
            "hostile input",
            "catastrophic $regex refused after",
            round(refused_ms, 1),
            "ms",
            target="refused",
            met=refused,
            note="(a|aa)+$ over 5,000 characters; plain re never returns",
        )

        pipeline = [{"$group": {"_id": "$k", "n": {"$sum": 1}, "total": {"$sum": "$v"}}}]
        cpu, wall = await _lag(lambda: _drain(docs.aggregate(pipeline)))
        met = cpu * 1000 < TARGET_LAG_MS
        print(
            f"worst event-loop lag during $group over {n} docs: {cpu * 1000:.0f} ms of CPU "
            f"(target < {TARGET_LAG_MS:g} ms), {wall * 1000:.0f} ms wall"
        )
        record(
            "hostile input",
            f"worst loop lag, $group over {n} docs",
            round(cpu * 1000, 1),
            "ms CPU",
            target=f"< {TARGET_LAG_MS:g} ms",
            met=met,
            note=f"{wall * 1000:.0f} ms wall (includes time without CPU on a shared machine)",
        )
        gc.unfreeze()
        return 0 if met and refused else 1


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.n, args.rounds)))
