"""Firestore rows of the overhead benchmark: our collection against the raw
``google.cloud.firestore.AsyncClient`` on the same emulator, in the same run
(``scripts/services.sh up firestore``; ``LEXIGRAM_NOSQL_TEST_FIRESTORE_EMULATOR_HOST``).

Operations: ``insert_many`` of n_insert documents (raw: batches of 500 ``set``), ``find``
streaming n_find documents, n_get ``find_one`` by ``_id`` (raw: ``document(id).get()``),
n_update ``update_one`` by ``_id`` with ``$inc`` (raw: ``update({"n": Increment(1)})``) and
as many with ``$set`` of a top-level field (raw: ``update({"name": ...})``). The bulk rows
alternate rounds, the single-document rows calls; the ratio is the median of the paired
ratios (``_timing``). The raw ``find_one`` timed against itself (A/A) shows the harness's
noise.

``update_one`` with ``$inc`` reads the document before writing it (MongoDB semantics: a
``$inc`` on a string is an error, where Firestore's ``Increment`` overwrites it), so it costs
two round trips where the raw blind increment costs one; the row shows that price and says
why. ``$set`` by ``_id`` is one commit like the raw ``update()`` (``modified_count`` comes from
the write result). Requests per operation are counted on each client's API methods.

    python benchmarks/overhead.py firestore
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from typing import Any

from ._timing import A_A, Timing, alternate, firestore_counter, interleave

ROUNDS = 9
"""Rounds of the bulk rows. ``find`` had 25 while it sat at the target (one round's paired
ratio ranged 0.64-1.97 on the shared 2-core host); since reads are decoded from the wire
messages it reads ~0.4, far from where that noise could carry it."""
CALLS = 6_000
"""Single-document calls per side (``overhead.py``'s default is 2,000), interleaved with the
raw client's call by call (``_timing.interleave``): a call to the Firestore emulator takes
~0.7-1.5 ms, 6,000 take ~4-9 s a side."""
EMULATOR_ENV = "LEXIGRAM_NOSQL_TEST_FIRESTORE_EMULATOR_HOST"


async def _reachable(host: str) -> bool:
    name, _, port = host.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(name, int(port)), 1.0)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


_alternate = functools.partial(alternate, rounds=ROUNDS)
Row = tuple[str, Timing, str]
UPDATE_REASON = (
    "MongoDB's type rule needs the read: $inc on a non-number is an error, Firestore's "
    "Increment would overwrite it"
)


async def run(n_insert: int, n_find: int, n_get: int, n_update: int) -> list[Row] | None:
    host = os.environ.get(EMULATOR_ENV)
    if not host or not await _reachable(host):
        return None
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    from lexigram_nosql import create_store

    tag = uuid.uuid4().hex[:8]
    store: Any = create_store(
        {
            "name": "bench",
            "operation_timeout_s": 600,  # a whole benchmark batch on a loaded machine
            "driver": "firestore",
            "firestore": {"project": f"bench-ours-{tag}", "emulator_host": host},
        }
    )
    await store.connect()
    raw = firestore.AsyncClient(project=f"bench-raw-{tag}", credentials=AnonymousCredentials())
    raw._emulator_host = host  # the same channel setup as ours, without touching os.environ
    rows: list[Row] = []
    counters = (firestore_counter(store.client), firestore_counter(raw))
    counted = functools.partial(_alternate, counters=counters)
    try:
        docs = [
            {"n": i, "name": f"user {i}", "tags": ["a", "b"], "score": i * 0.5}
            for i in range(max(n_insert, n_find))
        ]

        async def ours_insert(r: int) -> None:
            await store.collection(f"ins{r}").insert_many(docs[:n_insert])

        async def raw_insert(r: int) -> None:
            collection = raw.collection(f"ins{r}")
            for start in range(0, n_insert, 500):
                batch = raw.batch()
                for doc in docs[start : min(start + 500, n_insert)]:
                    batch.set(collection.document(), doc)
                await batch.commit()

        timed = await counted(ours_insert, raw_insert, operations=1)
        rows.append((f"insert_many {n_insert}", timed, ""))

        ours_ids = (await store.collection("data").insert_many(docs[:n_find])).inserted_ids
        raw_ids = [f"{i:06}" for i in range(n_find)]
        for start in range(0, n_find, 500):
            batch = raw.batch()
            for i in range(start, min(start + 500, n_find)):
                batch.set(raw.collection("data").document(raw_ids[i]), docs[i])
            await batch.commit()

        async def ours_find(r: int) -> None:
            async for _ in store.collection("data").find({}):
                pass

        async def raw_find(r: int) -> None:
            async for snapshot in raw.collection("data").stream():
                snapshot.to_dict()

        timed = await counted(ours_find, raw_find, operations=1)
        rows.append((f"find {n_find} docs", timed, ""))

        ours_data, raw_data = store.collection("data"), raw.collection("data")
        calls = functools.partial(interleave, counters=counters)

        async def ours_get(i: int) -> None:
            await ours_data.find_one({"_id": ours_ids[i % len(ours_ids)]})

        async def raw_get(i: int) -> None:
            (await raw_data.document(raw_ids[i % len(raw_ids)]).get()).to_dict()

        rows.append((f"find_one by _id x{n_get}", await calls(ours_get, raw_get, calls=n_get), ""))
        timed = await interleave(raw_get, raw_get, calls=n_get)
        rows.append((f"find_one by _id x{n_get}, raw vs raw", timed, A_A))

        async def ours_update(i: int) -> None:
            await ours_data.update_one({"_id": ours_ids[i % len(ours_ids)]}, {"$inc": {"n": 1}})

        async def raw_update(i: int) -> None:
            await raw_data.document(raw_ids[i % len(raw_ids)]).update({"n": firestore.Increment(1)})

        timed = await calls(ours_update, raw_update, calls=n_update)
        rows.append((f"update_one $inc x{n_update}", timed, UPDATE_REASON))

        async def ours_set(i: int) -> None:
            await ours_data.update_one(
                {"_id": ours_ids[i % len(ours_ids)]}, {"$set": {"name": f"user {i}"}}
            )

        async def raw_set(i: int) -> None:
            await raw_data.document(raw_ids[i % len(raw_ids)]).update({"name": f"user {i}"})

        rows.append(
            (f"update_one $set x{n_update}", await calls(ours_set, raw_set, calls=n_update), "")
        )
    finally:
        for project in (f"bench-ours-{tag}", f"bench-raw-{tag}"):
            await asyncio.to_thread(_clear, host, project)
        raw.close()
        await store.disconnect()
    return rows


def _clear(host: str, project: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents",
        method="DELETE",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.overhead import load_services_env

    load_services_env()
    for row in asyncio.run(run(2_000, 2_000, 500, 500)) or []:
        print(row)
