"""The migration lease lock: one migrator at a time per store, across processes.

The lock is a document with a fixed ``_id`` in the migrations collection. Taking it is an
``insert_one`` (atomic on every backend: a second insert is a ``DuplicateKeyError``). The
lease carries an expiry timestamp; the holder renews it in the background, and a lease left
behind by a crashed process is taken over with a conditional ``update_one`` whose filter
requires the old expiry to have passed, so two takers cannot both win. The holder also keeps a
monotonic deadline of its own: if renewing fails for longer than the lease, it knows it lost
the lock and stops before starting another migration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from typing import Any

from lexigram_nosql.contracts import CollectionProtocol
from lexigram_nosql.errors import DuplicateKeyError, MigrationError, NoSQLError

__all__ = ["LOCK_ID", "LeaseLock", "default_owner"]

logger = logging.getLogger("lexigram_nosql")

LOCK_ID = "__lock__"


def default_owner() -> str:
    """``host:pid:random``: unique per migrator, readable in the lock document."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLock:
    """``async with LeaseLock(collection, owner=..., ttl=30, timeout=300):`` holds the lock
    for the block, renewing it every ``ttl / 3`` seconds."""

    def __init__(
        self,
        collection: CollectionProtocol,
        *,
        owner: str,
        ttl: float,
        timeout: float,
        poll_interval: float = 0.05,
    ) -> None:
        if ttl <= 0 or timeout < 0:
            raise MigrationError(f"Lock ttl must be > 0 and timeout >= 0, got {ttl}, {timeout}")
        self._collection = collection
        self.owner = owner
        self.ttl = ttl
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._deadline = 0.0  # monotonic: past it, the lease may belong to someone else
        self._lost: str | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LeaseLock:
        await self.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()

    async def acquire(self) -> None:
        give_up = time.monotonic() + self.timeout
        delay = self.poll_interval
        vanished = 0
        while True:
            started = time.monotonic()
            now = time.time()
            lease = {"owner": self.owner, "expires_at": now + self.ttl, "acquired_at": now}
            try:
                await self._collection.insert_one({"_id": LOCK_ID, "kind": "lock", **lease})
                break
            except DuplicateKeyError:
                pass
            expired = {"_id": LOCK_ID, "expires_at": {"$lt": now}}
            result = await self._collection.update_one(expired, {"$set": lease})
            if result.matched_count:
                logger.warning(
                    "Took over an expired migration lock on %s (owner %s)",
                    self._collection.name,
                    self.owner,
                )
                break
            holder = await self._collection.find_one({"_id": LOCK_ID})
            vanished = vanished + 1 if holder is None else 0
            if vanished >= 3:
                # A duplicate key three times over with no lock document: the store is
                # refusing the document itself, and waiting would never end.
                raise MigrationError(
                    f"The store refuses the migration lock document {LOCK_ID!r} in "
                    f"{self._collection.name!r} (inserting it fails as a duplicate, yet it "
                    "does not exist); check that the backend accepts string ids.",
                    collection=self._collection.name,
                )
            if time.monotonic() >= give_up:
                raise MigrationError(
                    f"Could not take the migration lock in {self.timeout:g}s: "
                    f"{_describe(holder)} holds it. Wait for it to finish, or remove the "
                    f"document {LOCK_ID!r} from {self._collection.name!r} if that process "
                    "is gone and you cannot wait for its lease to expire.",
                    collection=self._collection.name,
                )
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
        self._deadline = started + self.ttl
        self._lost = None
        self._renewer = asyncio.create_task(self._renew_forever())
        logger.info("Took the migration lock on %s (owner %s)", self._collection.name, self.owner)

    def check(self) -> None:
        """Raise if the lease is (or may be) lost; called before each migration."""
        if self._lost is None and time.monotonic() >= self._deadline:
            self._lost = "its lease expired before it could be renewed"
        if self._lost is not None:
            raise MigrationError(
                f"Lost the migration lock on {self._collection.name!r} ({self._lost}); "
                "stopping before the next migration. Run apply() again to continue.",
                collection=self._collection.name,
            )

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            # gather: our own cancellation still propagates; the renewer's outcome does not.
            [outcome] = await asyncio.gather(self._renewer, return_exceptions=True)
            if isinstance(outcome, Exception):
                logger.warning("The migration lock renewer failed: %r", outcome)
            self._renewer = None
        try:
            await self._collection.delete_one({"_id": LOCK_ID, "owner": self.owner})
        except NoSQLError as exc:  # the lease expires on its own
            logger.warning("Could not release the migration lock: %s", exc)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            started = time.monotonic()
            try:
                result = await self._collection.update_one(
                    {"_id": LOCK_ID, "owner": self.owner},
                    {"$set": {"expires_at": time.time() + self.ttl}},
                )
            except NoSQLError as exc:
                logger.warning("Renewing the migration lock failed (will retry): %s", exc)
                continue
            if not result.matched_count:
                self._lost = "another migrator took it over"
                return
            self._deadline = started + self.ttl


def _describe(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another migrator (it has just released it)"
    left = float(holder.get("expires_at", 0)) - time.time()
    return f"{holder.get('owner')!r} (lease ends in {max(left, 0):.0f}s)"
