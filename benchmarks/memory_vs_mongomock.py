"""The memory store against mongomock on the same data, measured in the same run.

Usage: .venv/bin/python benchmarks/memory_vs_mongomock.py [--n 100000] [--lookups 2000]

Operations: indexed equality lookups (``find_one`` on a field with an index), an indexed range
scan, a scan with an unindexed filter, and a ``$group``. Each line prints the time per
operation for us and for mongomock, and how many times faster we are. mongomock scans for
every lookup, so it runs fewer lookups (the figure compared is per lookup).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import record

TARGETS = {
    "indexed equality": 10.0,
    "indexed range scan": 2.0,
    "unindexed scan": 2.0,
    "$group": 2.0,
}
CITIES = [f"city-{i:02d}" for i in range(50)]


def make_documents(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {
            "_id": f"u{i:07d}",
            "email": f"user{i}@example.com",
            "age": rng.randrange(18, 90),
            "city": CITIES[i % len(CITIES)],
            "score": round(rng.random() * 100, 2),
            "tags": ["a", "b"] if i % 3 == 0 else ["c"],
        }
        for i in range(n)
    ]


def best_of(repeat: int, function: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


async def best_of_async(repeat: int, function: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await function()
        times.append(time.perf_counter() - started)
    return min(times)


async def run(n: int, lookups: int) -> list[tuple[str, float, float]]:
    import mongomock

    from lexigram_nosql import create_store

    documents = make_documents(n)
    rng = random.Random(11)
    emails = [f"user{rng.randrange(n)}@example.com" for _ in range(lookups)]
    mock_lookups = max(5, lookups // 100)
    low, high = 40, 45
    range_filter = {"age": {"$gte": low, "$lt": high}}
    scan_filter = {"score": {"$gte": 90.0}, "tags": "a"}
    group = [{"$group": {"_id": "$city", "n": {"$sum": 1}, "avg": {"$avg": "$score"}}}]

    store = create_store({"name": "bench", "driver": "memory"})
    await store.connect()
    ours = store.collection("users")
    await ours.insert_many(documents)
    await ours.create_index("email", unique=True)
    await ours.create_index("age")

    mock = mongomock.MongoClient().bench.users
    mock.insert_many([dict(d) for d in documents])
    mock.create_index("email", unique=True)
    mock.create_index("age")

    async def our_lookups() -> None:
        for email in emails:
            await ours.find_one({"email": email})

    def mock_lookup_run() -> None:
        for email in emails[:mock_lookups]:
            mock.find_one({"email": email})

    async def our_range() -> int:
        return len([d async for d in ours.find(range_filter)])

    async def our_scan() -> int:
        return len([d async for d in ours.find(scan_filter)])

    async def our_group() -> int:
        return len([d async for d in ours.aggregate(group)])

    # Same answers first: a fast wrong result is worth nothing.
    assert await our_range() == len(list(mock.find(range_filter)))
    assert await our_scan() == len(list(mock.find(scan_filter)))
    assert sorted((d["_id"], d["n"]) for d in [x async for x in ours.aggregate(group)]) == sorted(
        (d["_id"], d["n"]) for d in mock.aggregate(group)
    )
    assert await ours.find_one({"email": emails[0]}) == mock.find_one({"email": emails[0]})

    rows = [
        (
            "indexed equality",
            await best_of_async(3, our_lookups) / lookups,
            best_of(1, mock_lookup_run) / mock_lookups,
        ),
        (
            "indexed range scan",
            await best_of_async(3, our_range),
            best_of(2, lambda: list(mock.find(range_filter))),
        ),
        (
            "unindexed scan",
            await best_of_async(3, our_scan),
            best_of(2, lambda: list(mock.find(scan_filter))),
        ),
        (
            "$group",
            await best_of_async(3, our_group),
            best_of(2, lambda: list(mock.aggregate(group))),
        ),
    ]
    await store.disconnect()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--lookups", type=int, default=2000, help="equality lookups (default 2000)")
    args = parser.parse_args()
    rows = asyncio.run(run(args.n, args.lookups))
    print(f"memory store vs mongomock, {args.n} documents (seconds per operation)")
    print(f"{'operation':<22}{'ours':>12}{'mongomock':>12}{'speedup':>10}{'target':>9}")
    ratios = []
    for name, our_seconds, mock_seconds in rows:
        ratio = mock_seconds / our_seconds
        ratios.append(ratio)
        mark = "ok" if ratio >= TARGETS[name] else "MISSED"
        record(
            "memory vs mongomock",
            f"{name}, {args.n} docs",
            round(ratio, 1),
            "x faster",
            baseline=mock_seconds,
            target=f">= {TARGETS[name]:g}x",
            met=ratio >= TARGETS[name],
            note=f"ours {our_seconds:.6f} s, mongomock {mock_seconds:.6f} s per operation",
        )
        print(
            f"{name:<22}{our_seconds:>12.6f}{mock_seconds:>12.6f}{ratio:>9.1f}x"
            f"{TARGETS[name]:>7.0f}x {mark}"
        )
    print(f"geometric mean speedup: {statistics.geometric_mean(ratios):.1f}x")


if __name__ == "__main__":
    main()
