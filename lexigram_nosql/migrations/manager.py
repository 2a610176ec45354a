"""``MigrationManager``: ordered, recorded, locked schema and data migrations.

State lives in the store itself, one document per migration in ``_migrations``::

    {"_id": "2", "kind": "migration", "name": "add field avatar_url = '' to users",
     "checksum": "<sha256>", "state": "applied", "started_at": ..., "applied_at": ...,
     "duration_s": 0.012, "error": None}

plus a catalog of the recorded ids, ``{"_id": "__catalog__", "kind": "catalog", "ids": [...]}``,
and the lease lock ``{"_id": "__lock__", ...}``. Every read of that state is a key lookup
(the registered ids and the catalog's), never a scan of the collection.

``apply()`` takes the lease lock (``lock.py``), re-reads that state, refuses to go on if an
applied migration was edited since (its checksum changed) unless ``force=True``, then runs
each pending migration in order: recorded ``applying`` first, ``applied`` after, or
``failed`` with the error, in which case later migrations are not run and the next
``apply()`` resumes with the failed one. N processes calling ``apply()`` together apply each
migration exactly once: the others wait for the lock, then find nothing left to do.

Ids order migrations numerically where they are numbers (``"9"`` before ``"10"``, and
``"2_users"`` before ``"10_orders"``); a migration added without an id gets its position in
add order (1, 2, 3...).
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from lexigram_nosql.contracts import CollectionProtocol, DocumentStoreProtocol
from lexigram_nosql.errors import ConfigurationError, MigrationError
from lexigram_nosql.migrations.lock import LOCK_ID, LeaseLock, default_owner
from lexigram_nosql.migrations.lookup import find_store
from lexigram_nosql.migrations.operations import (
    FunctionMigration,
    Migration,
    MigrationContext,
    MigrationStep,
    Operation,
    ProgressCallback,
)

__all__ = [
    "MigrationManager",
    "MigrationResult",
    "MigrationStatus",
    "RegisteredMigration",
    "migration_order",
]

logger = logging.getLogger("lexigram_nosql")

CATALOG_ID = "__catalog__"
"""The state document listing every recorded migration id (ids starting ``__`` are reserved)."""

State = Literal["pending", "applying", "applied", "failed"]


@dataclass(frozen=True, slots=True)
class RegisteredMigration:
    """A migration as the manager knows it: its id, name and operation."""

    id: str
    name: str
    operation: Operation

    @property
    def checksum(self) -> str:
        return self.operation.checksum()

    @property
    def order(self) -> tuple[tuple[int, Any], ...]:
        return migration_order(self.id)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """One migration's state. ``registered`` is False for a migration recorded in the
    store but no longer added to the manager; ``checksum_changed`` is True when an applied
    migration's code differs from what was applied."""

    id: str
    name: str
    state: State
    applied_at: datetime | None = None
    duration_s: float | None = None
    checksum_changed: bool = False
    registered: bool = True
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What ``apply()``/``rollback()`` did (or, in a dry run, would do) to one migration."""

    id: str
    name: str
    action: Literal["applied", "rolled_back", "would_apply", "would_roll_back"]
    duration_s: float = 0.0


def migration_order(migration_id: str) -> tuple[tuple[int, Any], ...]:
    """The sort key of an id: digit runs compare as numbers, other text as text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", migration_id)
        if part
    )


class MigrationManager:
    """Register migrations with ``add()``, then ``apply()``, ``rollback()`` or ``status()``.

    Args:
        store: the store to migrate (the explicit form).
        db_name: instead of ``store``, the database (or store name) of a store of a booted
            application, e.g. ``MigrationManager(db_name="myapp")``; found through that
            application's container each time it is used (``migrations/lookup.py``).

    Resolved by the container (``await app.container.resolve(MigrationManager)``), it gets
    the primary store.
        collection: where migration state and the lock live.
        batch_size: documents per batch in data migrations.
        progress: called with a ``MigrationProgress`` after each batch.
        lock_ttl: seconds a lease lasts without renewal (renewed every ttl/3).
        lock_timeout: seconds to wait for another migrator before giving up.
    """

    def __init__(
        self,
        store: DocumentStoreProtocol | None = None,
        *,
        db_name: str | None = None,
        collection: str = "_migrations",
        batch_size: int = 500,
        progress: ProgressCallback | None = None,
        lock_ttl: float = 30.0,
        lock_timeout: float = 300.0,
        owner: str | None = None,
    ) -> None:
        if (store is None) == (db_name is None):
            raise ConfigurationError(
                "MigrationManager needs exactly one of store=... or db_name=...",
                path="db_name",
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(
                f"batch_size must be a positive integer, got {batch_size!r}", path="batch_size"
            )
        self._store = store
        self.db_name = db_name
        self.collection_name = collection
        self.batch_size = batch_size
        self.progress = progress
        self.lock_ttl = lock_ttl
        self.lock_timeout = lock_timeout
        self.owner = owner or default_owner()
        self._migrations: dict[str, RegisteredMigration] = {}

    # -- registration --------------------------------------------------------------------

    def add(
        self,
        migration: Operation | type[Migration] | MigrationStep,
        *,
        id: str | int | None = None,
        name: str | None = None,
        down: MigrationStep | None = None,
    ) -> MigrationManager:
        """Register a migration: an operation (``CreateIndex(...)``), a ``Migration``
        subclass or instance, or an async function ``up(ctx)`` (with ``down=``).
        Returns the manager, so calls chain."""
        operation = _as_operation(migration, down)
        if id is None and isinstance(operation, Migration):
            id = operation.id
        migration_id = str(len(self._migrations) + 1) if id is None else _check_id(id)
        if migration_id in self._migrations:
            raise ConfigurationError(
                f"Two migrations have the id {migration_id!r}; ids must be unique.",
                path="id",
            )
        label = name or operation.describe()
        self._migrations[migration_id] = RegisteredMigration(migration_id, label, operation)
        return self

    @property
    def migrations(self) -> list[RegisteredMigration]:
        """The registered migrations, in the order they apply."""
        return sorted(self._migrations.values(), key=lambda m: m.order)

    # -- store ---------------------------------------------------------------------------

    @property
    def store(self) -> DocumentStoreProtocol:
        """The store migrated: the one given, or the booted store named by ``db_name``."""
        if self._store is not None:
            return self._store
        return find_store(self.db_name or "")

    def _state(self, store: DocumentStoreProtocol) -> CollectionProtocol:
        return store.collection(self.collection_name)

    # -- status --------------------------------------------------------------------------

    async def status(self) -> list[MigrationStatus]:
        """Every registered migration's state, then recorded ones no longer registered."""
        records = await self._records(self._state(self.store))
        statuses = []
        for migration in self.migrations:
            record = records.pop(migration.id, None)
            if record is None:
                statuses.append(MigrationStatus(migration.id, migration.name, "pending"))
                continue
            statuses.append(_status(record, migration))
        for record_id in sorted(records, key=migration_order):
            statuses.append(_status(records[record_id], None))
        return statuses

    # -- apply ---------------------------------------------------------------------------

    async def apply(
        self, *, to: str | int | None = None, dry_run: bool = False, force: bool = False
    ) -> list[MigrationResult]:
        """Apply pending migrations in order (up to and including ``to``).

        Args:
            to: the last migration to apply; all when None.
            dry_run: report what would be applied, change nothing (and take no lock).
            force: apply even though an applied migration's checksum changed (the record
                then takes the new checksum).

        Raises:
            MigrationError: a migration failed (recorded as failed; later ones were not
                run), an applied migration changed, or the lock could not be taken.
        """
        store = self.store
        state = self._state(store)
        limit = None if to is None else migration_order(_check_id(to))
        if dry_run:
            records = await self._records(state)
            self._verify(records, force)
            return [
                MigrationResult(m.id, m.name, "would_apply") for m in self._pending(records, limit)
            ]
        results: list[MigrationResult] = []
        async with self._lock(state) as lock:
            records = await self._records(state)
            self._verify(records, force)
            if force:
                await self._refresh_checksums(state, records)
            for migration in self._pending(records, limit):
                lock.check()
                results.append(await self._run_up(store, state, migration, records))
        return results

    def _pending(
        self, records: dict[str, dict[str, Any]], limit: tuple[tuple[int, Any], ...] | None
    ) -> list[RegisteredMigration]:
        return [
            m
            for m in self.migrations
            if records.get(m.id, {}).get("state") != "applied"
            and (limit is None or m.order <= limit)
        ]

    async def _run_up(
        self,
        store: DocumentStoreProtocol,
        state: CollectionProtocol,
        migration: RegisteredMigration,
        records: dict[str, dict[str, Any]],
    ) -> MigrationResult:
        previous = records.get(migration.id, {}).get("state")
        if previous == "applying":
            logger.warning(
                "Migration %s (%s) was interrupted while applying; running it again",
                migration.id,
                migration.name,
            )
        logger.info("Applying migration %s: %s", migration.id, migration.name)
        await self._record(
            state,
            migration,
            state="applying",
            started_at=datetime.now(UTC),
            applied_at=None,
            duration_s=None,
            error=None,
        )
        started = time.perf_counter()
        try:
            await migration.operation.up(self._context(store, migration))
        except Exception as exc:
            duration = time.perf_counter() - started
            await self._record(
                state, migration, state="failed", duration_s=duration, error=_error_text(exc)
            )
            raise MigrationError(
                f"Migration {migration.id} ({migration.name}) failed on store {store.name!r}: "
                f"{_sentence(exc)} It is recorded as failed and later migrations were not "
                "applied; fix the cause and run apply() again to resume from it.",
                migration_id=migration.id,
                store=store.name,
            ) from exc
        duration = time.perf_counter() - started
        await self._record(
            state,
            migration,
            state="applied",
            applied_at=datetime.now(UTC),
            duration_s=duration,
            error=None,
        )
        logger.info("Applied migration %s in %.3fs", migration.id, duration)
        return MigrationResult(migration.id, migration.name, "applied", duration)

    # -- rollback ------------------------------------------------------------------------

    async def rollback(
        self, to: str | int | None = None, *, dry_run: bool = False, force: bool = False
    ) -> list[MigrationResult]:
        """Undo migrations, newest first: those after ``to`` (``to=0`` undoes all), or
        only the most recent one when ``to`` is None. Each is recorded as pending again.

        Raises:
            MigrationError: a migration cannot be rolled back (no ``down`` step, or no
                longer registered), its ``down`` failed, or an applied one changed.
        """
        store = self.store
        state = self._state(store)
        if dry_run:
            records = await self._records(state)
            self._verify(records, force)
            return [
                MigrationResult(m.id, m.name, "would_roll_back")
                for m in self._to_roll_back(records, to)
            ]
        results: list[MigrationResult] = []
        async with self._lock(state) as lock:
            records = await self._records(state)
            self._verify(records, force)
            for migration in self._to_roll_back(records, to):
                lock.check()
                results.append(await self._run_down(store, state, migration))
        return results

    def _to_roll_back(
        self, records: dict[str, dict[str, Any]], to: str | int | None
    ) -> list[RegisteredMigration]:
        done = sorted(records, key=migration_order, reverse=True)
        if to is None:
            done = done[:1]
        else:
            limit = migration_order(_check_id(to))
            done = [record_id for record_id in done if migration_order(record_id) > limit]
        chosen = []
        for record_id in done:
            migration = self._migrations.get(record_id)
            if migration is None:
                raise MigrationError(
                    f"Migration {record_id} is recorded in {self.collection_name!r} but not "
                    "added to this manager, so it cannot be rolled back; add it (with its "
                    "down step) first.",
                    migration_id=record_id,
                )
            if not migration.operation.reversible:
                raise MigrationError(
                    f"Migration {record_id} ({migration.name}) cannot be rolled back: it has "
                    "no down step. Nothing was rolled back.",
                    migration_id=record_id,
                )
            chosen.append(migration)
        return chosen

    async def _run_down(
        self,
        store: DocumentStoreProtocol,
        state: CollectionProtocol,
        migration: RegisteredMigration,
    ) -> MigrationResult:
        logger.info("Rolling back migration %s: %s", migration.id, migration.name)
        started = time.perf_counter()
        try:
            await migration.operation.down(self._context(store, migration))
        except Exception as exc:
            await self._record(
                state,
                migration,
                state="failed",
                duration_s=time.perf_counter() - started,
                error=f"rollback failed: {_error_text(exc)}",
            )
            raise MigrationError(
                f"Rolling back migration {migration.id} ({migration.name}) failed on store "
                f"{store.name!r}: {_sentence(exc)} It is recorded as failed: apply() runs it "
                "again, rollback() retries its down step.",
                migration_id=migration.id,
                store=store.name,
            ) from exc
        await state.delete_one({"_id": migration.id, "kind": "migration"})
        await state.update_one({"_id": CATALOG_ID}, {"$pull": {"ids": migration.id}})
        duration = time.perf_counter() - started
        return MigrationResult(migration.id, migration.name, "rolled_back", duration)

    # -- internals -----------------------------------------------------------------------

    def _lock(self, state: CollectionProtocol) -> LeaseLock:
        return LeaseLock(state, owner=self.owner, ttl=self.lock_ttl, timeout=self.lock_timeout)

    def _context(
        self, store: DocumentStoreProtocol, migration: RegisteredMigration
    ) -> MigrationContext:
        return MigrationContext(
            store,
            migration_id=migration.id,
            name=migration.name,
            batch_size=self.batch_size,
            progress=self.progress,
        )

    async def _records(self, state: CollectionProtocol) -> dict[str, dict[str, Any]]:
        """The recorded migrations, registered or not, read by key (a batch get)."""
        catalog = await state.find_one({"_id": CATALOG_ID})
        recorded = list(catalog.get("ids", [])) if catalog is not None else []
        ids = list(dict.fromkeys([*(m.id for m in self.migrations), *recorded]))
        if not ids:
            return {}
        return {
            str(doc["_id"]): doc
            async for doc in state.find({"_id": {"$in": ids}})
            if doc.get("kind") == "migration"
        }

    def _verify(self, records: dict[str, dict[str, Any]], force: bool) -> None:
        changed = [
            m
            for m in self.migrations
            if records.get(m.id, {}).get("state") == "applied"
            and records[m.id].get("checksum") != m.checksum
        ]
        if not changed:
            return
        names = ", ".join(f"{m.id} ({m.name})" for m in changed)
        if force:
            logger.warning("Forcing past migrations changed after being applied: %s", names)
            return
        raise MigrationError(
            f"Migrations changed after being applied: {names}. Write a new migration for the "
            "change instead, or pass force=True to accept the new definition.",
            migration_id=changed[0].id,
        )

    async def _refresh_checksums(
        self, state: CollectionProtocol, records: dict[str, dict[str, Any]]
    ) -> None:
        for migration in self.migrations:
            record = records.get(migration.id)
            if record is not None and record.get("checksum") != migration.checksum:
                await state.update_one(
                    {"_id": migration.id, "kind": "migration"},
                    {"$set": {"checksum": migration.checksum}},
                )

    async def _record(
        self, coll: CollectionProtocol, migration: RegisteredMigration, /, **fields: Any
    ) -> None:
        # The catalog first: it lists at least every id that has a record.
        await coll.update_one(
            {"_id": CATALOG_ID},
            {"$set": {"kind": "catalog"}, "$addToSet": {"ids": migration.id}},
            upsert=True,
        )
        await coll.update_one(
            {"_id": migration.id, "kind": "migration"},
            {"$set": {"name": migration.name, "checksum": migration.checksum, **fields}},
            upsert=True,
        )


def _as_operation(migration: Any, down: MigrationStep | None) -> Operation:
    if isinstance(migration, type) and issubclass(migration, Migration):
        migration = migration()
    if isinstance(migration, Operation):
        if down is not None:
            raise ConfigurationError(
                "down= is for function migrations; an operation brings its own down step",
                path="down",
            )
        return migration
    if inspect.iscoroutinefunction(migration):
        return FunctionMigration(migration, down)
    raise ConfigurationError(
        "add() takes an operation (CreateIndex(...)...), a Migration subclass or an async "
        f"function up(ctx); got {migration!r}",
        path="migration",
    )


def _check_id(value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigurationError(
            f"A migration id is a string or an integer, got {value!r}", path="id"
        )
    text = str(value)
    if not text or text == LOCK_ID or text.startswith("__"):
        raise ConfigurationError(
            f"{text!r} is not a valid migration id (empty or reserved)", path="id"
        )
    return text


def _status(record: dict[str, Any], migration: RegisteredMigration | None) -> MigrationStatus:
    state = record.get("state", "pending")
    return MigrationStatus(
        id=str(record["_id"]),
        name=migration.name if migration else str(record.get("name", "")),
        state=state if state in ("applying", "applied", "failed") else "pending",
        applied_at=record.get("applied_at"),
        duration_s=record.get("duration_s"),
        checksum_changed=(
            migration is not None
            and state == "applied"
            and record.get("checksum") != migration.checksum
        ),
        registered=migration is not None,
        error=record.get("error"),
    )


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
