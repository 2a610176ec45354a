"""MongoDB rows of the overhead benchmark: our collection (PyMongo Async client, and Motor)
against the raw client of the same driver, built with the same options, on the same server
in the same run (a real MongoDB from ``LEXIGRAM_NOSQL_TEST_MONGODB_URI``, else CongoDB from
``scripts/services.sh up congodb``).

Operations: ``insert_many`` of n_insert documents, ``find`` reading n_find documents,
n_get ``find_one`` by ``_id`` (ours given the hex string, raw given the ObjectId) and
n_update ``update_one`` by ``_id`` with ``$inc``, over a collection of 100 documents. The
bulk rows are measured in alternating rounds (ours then raw, then raw then ours...), the
single-document rows call by call; the ratio is the median of the paired ratios, so that
load from other processes on the machine does not decide it (``_timing``). The raw
``find_one`` timed against itself (A/A) shows the harness's noise.

    python benchmarks/overhead.py mongodb
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from typing import Any
from urllib.parse import urlsplit

from ._timing import A_A, Timing, alternate, interleave

ROUNDS = 60
"""Rounds of the ``insert_many`` and ``find`` rows: a round writes or reads 10,000 documents
in ~60 ms, and in 20 rounds a burst of a neighbour's load moved a row above 1.10 in one run
(``find`` from 1.01-1.07 to 1.13, Motor's ``insert_many`` from 1.01 to 1.17); 60 rounds take
~8 s a row and client. Each insert round's collections are dropped, untimed, after it."""
CALLS = 10_000
"""Single-document calls per side (``overhead.py``'s default is 2,000), interleaved with the
raw driver's call by call (``_timing.interleave``). A call to a local server takes ~0.5 ms:
ten thousand take ~5 s a side."""
KEYED = 100  # documents in the collection that lookups and updates by _id address


def server_uri() -> str | None:
    return os.environ.get("LEXIGRAM_NOSQL_TEST_MONGODB_URI") or os.environ.get(
        "LEXIGRAM_NOSQL_TEST_CONGODB_URI"
    )


async def _reachable(uri: str) -> bool:
    host = urlsplit(uri).netloc.rpartition("@")[2].split(",")[0]
    name, _, port = host.partition(":")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(name or "127.0.0.1", int(port or 27017)), 1.0
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


_alternate = functools.partial(alternate, rounds=ROUNDS)
Row = tuple[str, Timing, str]


class _Commands:
    """Counts the commands sent to each database (fed by a PyMongo command listener)."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}

    def counter(self, database: str) -> Any:
        return lambda: self.sent.get(database, 0)


_COMMANDS: _Commands | None = None


def _commands() -> _Commands:
    """The one listener, registered before any client is created (PyMongo applies it to
    clients created afterwards, Motor's included)."""
    global _COMMANDS
    if _COMMANDS is None:
        from pymongo import monitoring

        commands = _COMMANDS = _Commands()

        class Listener(monitoring.CommandListener):
            def started(self, event: Any) -> None:
                name = event.database_name
                commands.sent[name] = commands.sent.get(name, 0) + 1

            def succeeded(self, event: Any) -> None:
                pass

            def failed(self, event: Any) -> None:
                pass

        monitoring.register(Listener())
    return _COMMANDS


async def _rows_for(
    client_name: str, uri: str, n_insert: int, n_find: int, n_get: int, n_update: int
) -> list[Row]:
    from bson import ObjectId

    from lexigram_nosql import create_store
    from lexigram_nosql.backends.mongodb.client import client_options

    tag = uuid.uuid4().hex[:8]
    commands = _commands()
    store: Any = create_store(
        {
            "name": "bench",
            "operation_timeout_s": 600,  # a whole benchmark batch on a loaded machine
            "driver": "mongodb",
            "mongodb": {"uri": uri, "database": f"bench_ours_{tag}", "client": client_name},
        }
    )
    await store.connect()
    section = store.settings.mongodb
    raw_client = store._driver.create_client(uri, client_options(section))
    raw_db = raw_client[f"bench_raw_{tag}"]
    rows: list[Row] = []
    label = f"({client_name})"
    counters = (commands.counter(f"bench_ours_{tag}"), commands.counter(f"bench_raw_{tag}"))
    counted = functools.partial(_alternate, counters=counters)
    try:
        docs = [
            {"n": i, "name": f"user {i}", "tags": ["a", "b"], "score": i * 0.5}
            for i in range(max(n_insert, n_find))
        ]

        async def ours_insert(r: int) -> None:
            await store.collection(f"ins{r}").insert_many(docs[:n_insert])

        async def raw_insert(r: int) -> None:
            await raw_db[f"ins{r}"].insert_many([dict(d) for d in docs[:n_insert]])

        # The raw side copies the documents because PyMongo writes _id into them; the copy is
        # what our layer does too (it never mutates the caller's documents).
        async def drop_inserted(r: int) -> None:
            await store.collection(f"ins{r}").drop()
            await raw_db.drop_collection(f"ins{r}")

        timed = await counted(ours_insert, raw_insert, operations=1, untimed=drop_inserted)
        rows.append((f"insert_many {n_insert} {label}", timed, ""))

        await store.collection("data").insert_many(docs[:n_find])
        await raw_db["data"].insert_many([dict(d) for d in docs[:n_find]])

        async def ours_find(r: int) -> None:
            async for _ in store.collection("data").find({}):
                pass

        async def raw_find(r: int) -> None:
            async for _ in raw_db["data"].find({}):
                pass

        timed = await counted(ours_find, raw_find, operations=1)
        rows.append((f"find {n_find} docs {label}", timed, ""))

        # Lookups by _id go to a small collection: CongoDB scans a collection for every _id
        # lookup, and over 10k documents its scan would hide the client side being measured.
        ours_ids = (await store.collection("small").insert_many(docs[:KEYED])).inserted_ids
        raw_ids = (await raw_db["small"].insert_many([dict(d) for d in docs[:KEYED]])).inserted_ids

        ours_small, raw_small = store.collection("small"), raw_db["small"]
        calls = functools.partial(interleave, counters=counters)

        async def ours_get(i: int) -> None:
            await ours_small.find_one({"_id": ours_ids[i % KEYED]})

        async def raw_get(i: int) -> None:
            await raw_small.find_one({"_id": raw_ids[i % KEYED]})

        timed = await calls(ours_get, raw_get, calls=n_get)
        rows.append((f"find_one by _id x{n_get} {label}", timed, ""))
        if client_name == "pymongo":  # the harness's noise, once
            timed = await interleave(raw_get, raw_get, calls=n_get)
            rows.append((f"find_one by _id x{n_get} {label}, raw vs raw", timed, A_A))

        async def ours_update(i: int) -> None:
            await ours_small.update_one({"_id": ours_ids[i % KEYED]}, {"$inc": {"n": 1}})

        async def raw_update(i: int) -> None:
            await raw_small.update_one({"_id": raw_ids[i % KEYED]}, {"$inc": {"n": 1}})

        timed = await calls(ours_update, raw_update, calls=n_update)
        rows.append((f"update_one $inc x{n_update} {label}", timed, ""))
        assert isinstance(raw_ids[0], ObjectId)
    finally:
        await raw_client.drop_database(f"bench_raw_{tag}")
        await store.client.drop_database(f"bench_ours_{tag}")
        await store._driver.close(raw_client)
        await store.disconnect()
    return rows


async def run(n_insert: int, n_find: int, n_get: int, n_update: int) -> list[Row] | None:
    uri = server_uri()
    if uri is None or not await _reachable(uri):
        return None
    rows = []
    for client_name in ("pymongo", "motor"):
        rows += await _rows_for(client_name, uri, n_insert, n_find, n_get, n_update)
    return rows


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.overhead import load_services_env

    load_services_env()
    for row in asyncio.run(run(10_000, 10_000, 2_000, 2_000)) or []:
        print(row)
