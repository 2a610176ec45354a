"""The migration lease lock on every backend: N migrators apply each migration exactly once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from lexigram_nosql import DocumentStoreProtocol, MigrationError
from lexigram_nosql.migrations import MigrationContext, MigrationManager
from lexigram_nosql.migrations.lock import LOCK_ID


def _manager(store: DocumentStoreProtocol, runs: Counter[str], **options: Any) -> MigrationManager:
    """Three migrations that count their runs and take a little time."""
    manager = MigrationManager(store=store, **options)

    async def one(ctx: MigrationContext) -> None:
        runs["one"] += 1
        await asyncio.sleep(0.02)

    async def two(ctx: MigrationContext) -> None:
        runs["two"] += 1
        await ctx.collection("users").insert_one({"by": ctx.migration_id})
        await asyncio.sleep(0.02)

    async def three(ctx: MigrationContext) -> None:
        runs["three"] += 1

    return manager.add(one).add(two).add(three)


async def test_concurrent_migrators_apply_each_migration_once(
    store: DocumentStoreProtocol,
) -> None:
    runs: Counter[str] = Counter()
    managers = [_manager(store, runs, owner=f"instance-{i}") for i in range(5)]
    results = await asyncio.gather(*(m.apply() for m in managers))
    assert runs == Counter({"one": 1, "two": 1, "three": 1})
    applied = sorted(r.id for result in results for r in result)
    assert applied == ["1", "2", "3"], "one migrator applied them, the others found none"
    assert await store.collection("users").count_documents({}) == 1
    assert await store.collection("_migrations").find_one({"_id": LOCK_ID}) is None


async def test_an_expired_lock_is_taken_over(store: DocumentStoreProtocol) -> None:
    await store.collection("_migrations").insert_one(
        {"_id": LOCK_ID, "kind": "lock", "owner": "crashed", "expires_at": time.time() - 5}
    )
    runs: Counter[str] = Counter()
    assert len(await _manager(store, runs).apply()) == 3
    assert await store.collection("_migrations").find_one({"_id": LOCK_ID}) is None


async def test_a_held_lock_makes_others_wait_then_give_up(store: DocumentStoreProtocol) -> None:
    await store.collection("_migrations").insert_one(
        {"_id": LOCK_ID, "kind": "lock", "owner": "busy", "expires_at": time.time() + 60}
    )
    runs: Counter[str] = Counter()
    started = time.monotonic()
    with pytest.raises(MigrationError, match="'busy'"):
        await _manager(store, runs, lock_timeout=0.3).apply()
    assert time.monotonic() - started >= 0.3
    assert not runs
    assert (await _manager(store, runs).status())[0].state == "pending"


async def test_the_lease_is_renewed_while_a_long_migration_runs(
    store: DocumentStoreProtocol,
) -> None:
    """With a 1.5 s lease and a 4 s migration, a second migrator must still wait: without
    renewal it would take the lock over and run the migration a second time. (A renewal is
    due every third of the lease: the 1 s lease this test had left ~0.66 s for a renewal's
    round trip, and a busy Firestore emulator once took longer.)"""
    runs: Counter[str] = Counter()

    async def slow(ctx: MigrationContext) -> None:
        runs["slow"] += 1
        await asyncio.sleep(4.0)

    def build(owner: str) -> MigrationManager:
        return MigrationManager(store=store, lock_ttl=1.5, owner=owner).add(slow, id=1)

    first = asyncio.create_task(build("first").apply())
    await asyncio.sleep(0.1)
    second = await build("second").apply()
    assert [r.id for r in await first] == ["1"]
    assert second == []
    assert runs == Counter({"slow": 1})


async def test_a_migrator_that_lost_its_lease_stops(store: DocumentStoreProtocol) -> None:
    runs: Counter[str] = Counter()
    state = store.collection("_migrations")

    async def first(ctx: MigrationContext) -> None:
        runs["first"] += 1
        await state.update_one({"_id": LOCK_ID}, {"$set": {"owner": "thief"}})
        await asyncio.sleep(2.0)  # the renewer (every 0.1 s) notices the lock is not ours

    async def second(ctx: MigrationContext) -> None:
        runs["second"] += 1

    manager = MigrationManager(store=store, lock_ttl=0.3).add(first).add(second)
    with pytest.raises(MigrationError, match="Lost the migration lock"):
        await manager.apply()
    assert runs == Counter({"first": 1})
    lock = await state.find_one({"_id": LOCK_ID})
    assert lock is not None and lock["owner"] == "thief", "never deletes a lock it lost"
