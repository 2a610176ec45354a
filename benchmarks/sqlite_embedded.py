"""The SQLite store against MontyDB (on its SQLite engine) and raw sqlite3 with JSON columns,
on the same documents in the same run; then the memory held while streaming from the file.

Usage: .venv/bin/python benchmarks/sqlite_embedded.py [--n 100000] [--lookups 1000]
       [--stream-n 200000]      (MontyDB comes with: pip install 'lexigram-nosql[bench]')

Rows (seconds per operation, best of several runs): ``insert_many`` of every document into a
collection with its indexes, indexed equality (``find_one`` by a unique email), indexed
equality returning many (``find`` by city, ~2% of the documents), an indexed range (``age``
in [40, 45), ~7%), an unindexed scan and a ``$group`` (MontyDB has no ``aggregate``: its
row is ``find`` plus grouping by hand, what its users write). Targets: at least 5x faster than
MontyDB on every row; at most 1.5x raw sqlite3 on the indexed rows. Raw sqlite3 is the floor
of doing it by hand: one table ``(id TEXT PRIMARY KEY, doc TEXT)`` in WAL mode, expression
indexes on ``json_extract``, ``json.loads`` on every row, called synchronously.

The indexed rows alternate the two sides they compare (ours, raw sqlite3 off the loop) round
by round, and their ratio is the median of the rounds' paired ratios (``_timing.alternate``,
as the overhead rows). Each side's fastest of 9 runs in a block of its own let the machine's
load decide the row: ``make bench`` runs this while the servers it just started warm up, and
on a shared 2-core host a busy neighbour slows this process's own CPU time up to 2x (no wait
for a core, no GC: measured per run with /proc schedstat and gc callbacks), in phases about
as long as a side's block. Measured 8 times in one process with a neighbour busy 0.2-1.5 s at
a time, the indexed range gave 0.58x-2.25x the old way and 1.04x-1.28x paired; without it,
1.10x-1.22x and 1.17x-1.28x. (The reads do not walk a WAL: the bulk load's is checkpointed
by then on both sides, and a ``wal_checkpoint(TRUNCATE)`` before the reads changed nothing.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._report import record
from benchmarks.memory_vs_mongomock import CITIES, best_of, best_of_async, make_documents
from benchmarks.overhead_backends._timing import alternate

MONTY_TARGET = 5.0
RAW_TARGET = 1.5
STREAM_TARGET_MB = 20.0
INDEXED = {"indexed equality", "indexed equality, many", "indexed range"}
INDEXED_ROUNDS = 15
"""Paired rounds of the rows held to ``RAW_TARGET`` (each side's run is under 0.1 s): their
ratio is the median of the rounds' ours/raw-off ratios, so a busy moment on the machine moves
both sides of a round alike (see the module docstring)."""

Row = tuple[str, float, float | None, float, float, float]
"""name, then seconds per operation: ours, MontyDB, raw sqlite3 on the loop, raw off it;
then ours/raw off (an indexed row's paired median, else the quotient of the two)."""


class Raw:
    """The hand-written baseline: sqlite3 with JSON text and json_extract indexes."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("CREATE TABLE users (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def create_indexes(self, *, drop: bool = False) -> None:
        for field in ("email", "age", "city"):
            if drop:
                self.db.execute(f"DROP INDEX IF EXISTS users_{field}")
            unique = "UNIQUE " if field == "email" else ""
            self.db.execute(
                f"CREATE {unique}INDEX users_{field} ON users (json_extract(doc, '$.{field}'))"
            )

    def insert_many(self, documents: list[dict[str, Any]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO users VALUES (?, ?)", [(d["_id"], json.dumps(d)) for d in documents]
        )
        self.db.execute("COMMIT")

    def where(self, clause: str, *params: Any) -> list[dict[str, Any]]:
        rows = self.db.execute(f"SELECT doc FROM users WHERE {clause}", params)
        return [json.loads(text) for (text,) in rows]


async def run(n: int, lookups: int) -> list[Row]:
    from lexigram_nosql import create_store

    documents = make_documents(n)
    emails = [f"user{(i * 7919) % n}@example.com" for i in range(lookups)]
    group = [{"$group": {"_id": "$city", "n": {"$sum": 1}, "avg": {"$avg": "$score"}}}]
    range_filter = {"age": {"$gte": 40, "$lt": 45}}
    scan_filter = {"score": {"$gte": 90.0}, "tags": "a"}
    directory = tempfile.mkdtemp(prefix="lexigram-bench-")

    store = create_store(
        {"name": "bench", "driver": "sqlite", "sqlite": {"path": f"{directory}/ours.db"}}
    )
    await store.connect()
    ours = store.collection("users")

    async def our_insert() -> None:
        await store.drop_collection("users")
        await ours.insert_many(documents)

    async def our_indexes() -> None:
        for index in await ours.list_indexes():
            if index.name != "_id_":
                await ours.drop_index(index.name)
        await ours.create_index("email", unique=True)
        await ours.create_index("age")
        await ours.create_index("city")

    raw_paths = iter(range(100))

    def raw_insert() -> Raw:
        raw = Raw(f"{directory}/raw{next(raw_paths)}.db")
        raw.insert_many(documents)
        return raw

    def raw_indexes() -> None:
        raw.create_indexes(drop=True)

    insert_ours = await best_of_async(2, our_insert)
    insert_raw = best_of(2, raw_insert)
    raw = raw_insert()
    indexes_ours = await best_of_async(2, our_indexes)
    indexes_raw = best_of(2, raw_indexes)
    monty, insert_monty = _montydb(directory, documents)
    thread = ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()

    async def off_loop(function: Callable[[], Any]) -> Any:
        """Raw sqlite3 as an asyncio service must call it: off the event loop."""
        return await loop.run_in_executor(thread, function)

    async def many(stream: Any) -> int:
        return len([d async for d in stream])

    async def our_lookups() -> None:
        for email in emails:
            await ours.find_one({"email": email})

    def raw_lookups() -> None:
        for email in emails:
            raw.where("json_extract(doc, '$.email') = ?", email)

    async def raw_lookups_off_loop() -> None:
        for email in emails:
            await off_loop(partial(raw.where, "json_extract(doc, '$.email') = ?", email))

    cities = CITIES[:10]

    async def our_city() -> None:
        for city in cities:
            await many(ours.find({"city": city}))

    def raw_city() -> None:
        for city in cities:
            raw.where("json_extract(doc, '$.city') = ?", city)

    async def raw_city_off_loop() -> None:
        for city in cities:
            await off_loop(partial(raw.where, "json_extract(doc, '$.city') = ?", city))

    range_sql = "json_extract(doc, '$.age') >= 40 AND json_extract(doc, '$.age') < 45"

    def raw_scan() -> list[dict[str, Any]]:
        return [d for d in raw.where("json_extract(doc, '$.score') >= 90.0") if "a" in d["tags"]]

    def raw_group() -> list[Any]:
        return raw.db.execute(
            "SELECT json_extract(doc, '$.city'), COUNT(*), "
            "AVG(json_extract(doc, '$.score')) FROM users GROUP BY 1"
        ).fetchall()

    # Same answers first: a fast wrong result is worth nothing.
    assert (
        await ours.find_one({"email": emails[0]})
        == raw.where("json_extract(doc, '$.email') = ?", emails[0])[0]
    )
    assert await many(ours.find(range_filter)) == len(raw.where(range_sql))
    assert await many(ours.find(scan_filter)) == len(raw_scan())
    ours_group = sorted([(d["_id"], d["n"]) async for d in ours.aggregate(group)])
    if monty is not None:
        assert ours_group == sorted((city, n) for city, (n, _) in _monty_group(monty).items())
        assert await many(ours.find(scan_filter)) == len(list(monty.find(scan_filter)))

    def monty_time(repeat: int, function: Callable[[Any], Any], per: int = 1) -> float | None:
        if monty is None:
            return None
        return best_of(repeat, lambda: function(monty)) / per

    async def paired(
        ours: Callable[[], Awaitable[Any]], raw_off: Callable[[], Awaitable[Any]], per: int
    ) -> tuple[float, float, float]:
        """Ours and raw off the loop in alternating rounds: each side's fastest round per
        operation, and the median of the rounds' paired ratios."""

        async def our_round(_: int) -> None:
            await ours()

        async def raw_round(_: int) -> None:
            await raw_off()

        timing = await alternate(our_round, raw_round, rounds=INDEXED_ROUNDS)
        return timing.ours_s / per, timing.raw_s / per, timing.ratio

    def indexed(
        name: str,
        timing: tuple[float, float, float],
        monty_s: float | None,
        raw_on_loop: Callable[[], Any],
        per: int,
    ) -> Row:
        our_s, raw_off_s, ratio = timing
        return (name, our_s, monty_s, best_of(INDEXED_ROUNDS, raw_on_loop) / per, raw_off_s, ratio)

    def informational(
        name: str, our_s: float, monty_s: float | None, raw_s: float, raw_off_s: float
    ) -> Row:
        return (name, our_s, monty_s, raw_s, raw_off_s, our_s / raw_off_s)

    monty_lookups = max(5, lookups // 50)
    rows: list[Row] = [
        informational("insert_many", insert_ours, insert_monty, insert_raw, insert_raw),
        informational("create 3 indexes", indexes_ours, None, indexes_raw, indexes_raw),
        indexed(
            "indexed equality",
            await paired(our_lookups, raw_lookups_off_loop, lookups),
            monty_time(
                1,
                lambda m: [m.find_one({"email": e}) for e in emails[:monty_lookups]],
                monty_lookups,
            ),
            raw_lookups,
            lookups,
        ),
        indexed(
            "indexed equality, many",
            await paired(our_city, raw_city_off_loop, len(cities)),
            monty_time(1, lambda m: list(m.find({"city": cities[0]}))),
            raw_city,
            len(cities),
        ),
        indexed(
            "indexed range",
            await paired(
                lambda: many(ours.find(range_filter)),
                lambda: off_loop(partial(raw.where, range_sql)),
                1,
            ),
            monty_time(1, lambda m: list(m.find(range_filter))),
            lambda: raw.where(range_sql),
            1,
        ),
        informational(
            "unindexed scan",
            await best_of_async(3, lambda: many(ours.find(scan_filter))),
            monty_time(1, lambda m: list(m.find(scan_filter))),
            best_of(3, raw_scan),
            await best_of_async(3, lambda: off_loop(raw_scan)),
        ),
        informational(
            "$group",
            await best_of_async(3, lambda: many(ours.aggregate(group))),
            monty_time(1, _monty_group),
            best_of(3, raw_group),
            await best_of_async(3, lambda: off_loop(raw_group)),
        ),
    ]
    thread.shutdown()
    await store.disconnect()
    return rows


def _monty_group(collection: Any) -> dict[str, tuple[int, float]]:
    """MontyDB has no ``aggregate``: a user groups what ``find`` returns, by hand."""
    sums: dict[str, list[float]] = {}
    for doc in collection.find({}, {"city": 1, "score": 1}):
        entry = sums.setdefault(doc["city"], [0, 0.0])
        entry[0] += 1
        entry[1] += doc["score"]
    return {city: (int(n), total / n) for city, (n, total) in sums.items()}


def _montydb(directory: str, documents: list[dict[str, Any]]) -> tuple[Any, float | None]:
    try:
        from montydb import MontyClient, set_storage
    except ImportError:
        print("MontyDB is not installed (pip install 'lexigram-nosql[bench]'): its column is empty")
        return None, None
    repository = f"{directory}/monty"
    set_storage(repository, storage="sqlite")
    collection = MontyClient(repository).bench.users
    started = time.perf_counter()
    collection.insert_many([dict(d) for d in documents])
    return collection, time.perf_counter() - started


async def stream(n: int) -> tuple[float, float, int]:
    """RSS growth while streaming ``n`` documents from the file, and loading them in a list."""
    from lexigram_nosql import create_store

    directory = tempfile.mkdtemp(prefix="lexigram-bench-")
    entry = {"name": "stream", "driver": "sqlite", "sqlite": {"path": f"{directory}/s.db"}}
    async with create_store(entry) as store:
        docs = store.collection("docs")
        for start in range(0, n, 10_000):
            await docs.insert_many(
                [
                    {"_id": f"{i:08d}", "n": i, "group": i % 97, "text": f"document {i}" * 4}
                    for i in range(start, min(n, start + 10_000))
                ]
            )
        gc.collect()
        settled = peak = _rss_mb()
        seen = 0
        async for _ in docs.find({}):
            seen += 1
            if seen % 5_000 == 0:
                peak = max(peak, _rss_mb())
        growth = peak - settled
        gc.collect()
        before = _rss_mb()
        loaded = [doc async for doc in docs.find({})]
        list_growth = _rss_mb() - before
        del loaded
    return growth, list_growth, seen


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def report(n: int, rows: list[Row]) -> bool:
    print(f"sqlite store vs MontyDB (SQLite engine) and raw sqlite3, {n} documents")
    print("(raw: on the event loop / off it through one worker thread, as an asyncio service")
    print(" must call it; the target compares with the latter: on the indexed rows, the median")
    print(" of paired ratios over alternating rounds, the seconds being each side's best round)")
    header = f"{'operation':<24}{'ours s':>11}{'montydb s':>11}{'raw s':>10}{'raw off s':>11}"
    print(f"{header}{'vs monty':>10}{'vs raw off':>11}{'vs raw':>8}")
    ok = True
    for name, our_s, monty_s, raw_s, raw_off_s, versus_off in rows:
        versus_raw = our_s / raw_s
        monty_ratio = monty_s / our_s if monty_s is not None else None
        shown = f"{monty_ratio:>9.1f}x" if monty_ratio is not None else f"{'-':>10}"
        print(
            f"{name:<24}{our_s:>11.6f}{monty_s or 0:>11.6f}{raw_s:>10.6f}{raw_off_s:>11.6f}"
            f"{shown}{versus_off:>10.2f}x{versus_raw:>7.2f}x"
        )
        if monty_ratio is not None:
            met = monty_ratio >= MONTY_TARGET
            ok &= met
            record(
                "sqlite vs MontyDB",
                f"{name}, {n} docs",
                round(monty_ratio, 1),
                "x faster",
                baseline=monty_s,
                target=f">= {MONTY_TARGET:g}x",
                met=met,
                note=f"ours {our_s:.6f} s, MontyDB (sqlite) {monty_s:.6f} s per operation",
            )
        met_raw = versus_off <= RAW_TARGET if name in INDEXED else None
        ok &= met_raw is not False
        record(
            "sqlite vs raw sqlite3",
            f"{name}, {n} docs",
            round(versus_off, 2),
            "x raw",
            baseline=raw_off_s,
            target=f"<= {RAW_TARGET:g}x" if name in INDEXED else "informational",
            met=met_raw,
            note=(
                f"ours {our_s:.6f} s; raw sqlite3 + json off the loop {raw_off_s:.6f} s, "
                f"on the loop {raw_s:.6f} s ({versus_raw:.2f}x) per operation"
                + (
                    f" (best rounds; ratio: median of {INDEXED_ROUNDS} paired rounds)"
                    if name in INDEXED
                    else ""
                )
            ),
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--stream-n", type=int, default=200_000)
    args = parser.parse_args()
    # Streaming first, in a fresh interpreter's memory (later runs would reuse freed arenas).
    growth, list_growth, seen = asyncio.run(stream(args.stream_n))
    ok = report(args.n, asyncio.run(run(args.n, args.lookups)))
    met = growth < STREAM_TARGET_MB
    print(f"RSS growth streaming {seen} documents from the file: {growth:.1f} MB")
    print(f"RSS growth loading them into a list: {list_growth:.1f} MB")
    record(
        "sqlite streaming",
        f"RSS growth streaming {seen} docs",
        round(growth, 1),
        "MB",
        baseline=round(list_growth, 1),
        target=f"< {STREAM_TARGET_MB:g} MB",
        met=met,
        note="baseline: the same documents loaded into a list",
    )
    return 0 if ok and met else 1


if __name__ == "__main__":
    sys.exit(main())
