"""Migration operations: what one migration does (``up``) and undoes (``down``).

Every operation goes through the contracts, so it changes data the same way on every
backend. Data operations work in batches of ``batch_size`` documents, in ``_id`` order: each
batch selects the ids of the next documents needing the change (after the last ``_id`` of the
previous batch), then runs one ``update_many`` on them with the same condition, so the walk
ends whatever the update does, an interrupted migration resumes where it stopped, and a rerun
never applies a change twice. Progress is reported after every batch.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lexigram_nosql.backends.index_model import index_spec
from lexigram_nosql.contracts import CollectionProtocol, DocumentStoreProtocol
from lexigram_nosql.errors import MigrationError, QueryError
from lexigram_nosql.types import FilterDocument, IndexKeys, UpdateDocument

__all__ = [
    "AddField",
    "CreateIndex",
    "DropCollection",
    "DropIndex",
    "FunctionMigration",
    "Migration",
    "MigrationContext",
    "MigrationProgress",
    "Operation",
    "ProgressCallback",
    "RemoveField",
    "RenameField",
]


@dataclass(frozen=True, slots=True)
class MigrationProgress:
    """How far a data migration is: ``done`` of ``total`` documents in ``collection``
    (``total`` is the count taken when the operation started)."""

    migration_id: str
    name: str
    collection: str
    done: int
    total: int


ProgressCallback = Callable[[MigrationProgress], None]


class MigrationContext:
    """What an operation runs with: the store, the batch size and the progress reporter."""

    def __init__(
        self,
        store: DocumentStoreProtocol,
        *,
        migration_id: str,
        name: str,
        batch_size: int,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.migration_id = migration_id
        self.name = name
        self.batch_size = batch_size
        self._progress = progress

    def collection(self, name: str) -> CollectionProtocol:
        return self.store.collection(name)

    def report(self, collection: str, done: int, total: int) -> None:
        """Tell the progress callback (if any) how far the migration is."""
        if self._progress is not None:
            self._progress(MigrationProgress(self.migration_id, self.name, collection, done, total))

    async def update_in_batches(
        self, collection: str, select: FilterDocument, update: UpdateDocument
    ) -> int:
        """Apply ``update`` to every document matching ``select``, ``batch_size`` at a time,
        walking ``_id`` order: each batch resumes after the last ``_id`` of the previous one,
        so every matching document is visited once and the walk ends whatever the update
        does (even if the documents still match afterwards). Returns how many documents were
        modified."""
        coll = self.collection(collection)
        total = await coll.count_documents(select)
        done = modified = 0
        self.report(collection, 0, total)
        # `$gt` compares ids of one type only (numbers, strings, ObjectIds... sort apart), so
        # the walk goes type by type: a finished type is excluded by "not <= its last id",
        # which no id of another type fails.
        finished: list[FilterDocument] = []
        after: list[Any] = []  # the last _id of the previous batch, within the current type
        while True:
            conditions = [select, *finished]
            if after:
                conditions.append({"_id": {"$gt": after[0]}})
            ids = [
                doc["_id"]
                async for doc in coll.find(
                    {"$and": conditions},
                    projection={"_id": 1},
                    sort=[("_id", 1)],
                    limit=self.batch_size,
                )
            ]
            if ids:
                result = await coll.update_many({"$and": [{"_id": {"$in": ids}}, select]}, update)
                done += len(ids)
                modified += result.modified_count
                self.report(collection, done, max(total, done))
                after = [ids[-1]]
                await asyncio.sleep(0)  # a long walk shares the loop between batches
                if len(ids) == self.batch_size:
                    continue
            if not after:
                return modified  # nothing left in any type
            finished.append({"_id": {"$not": {"$lte": after[0]}}})
            after = []


class Operation(abc.ABC):
    """One migration step. ``checksum()`` fingerprints what it does, so a migration edited
    after being applied is detected."""

    #: Whether ``down`` can undo ``up``; ``rollback()`` refuses a migration that cannot.
    reversible: bool = True

    @abc.abstractmethod
    async def up(self, ctx: MigrationContext) -> None: ...

    async def down(self, ctx: MigrationContext) -> None:
        raise MigrationError(
            f"{self.describe()} cannot be rolled back (it has no down step).",
            migration_id=ctx.migration_id,
        )

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line description, shown by ``status()``, dry runs and the CLI."""

    def fingerprint(self) -> Any:
        """JSON-able data that changes whenever what the operation does changes."""
        return {"operation": type(self).__name__, "description": self.describe()}

    def checksum(self) -> str:
        data = json.dumps(self.fingerprint(), sort_keys=True, default=repr)
        return hashlib.sha256(data.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _check_name(operation: str, what: str, value: Any) -> str:
    if not isinstance(value, str) or not value or value.startswith("$"):
        raise MigrationError(f"{operation} needs a {what} name, got {value!r}")
    return value


class CreateIndex(Operation):
    """Create an index (``down`` drops it): ``CreateIndex("users", [("email", 1)],
    unique=True)``; keys and options as ``create_index`` takes them (PyMongo's spellings)."""

    def __init__(self, collection: str, keys: IndexKeys, **options: Any) -> None:
        self.collection = _check_name("CreateIndex", "collection", collection)
        try:
            spec = index_spec(keys, options)
        except QueryError as exc:
            raise MigrationError(f"CreateIndex on {collection!r}: {exc.message}") from exc
        self.keys = list(spec.keys)
        self.unique = spec.unique
        self.sparse = spec.sparse
        self.name = spec.name
        self.expire_after_seconds = spec.expire_after_seconds
        self.partial_filter_expression = (
            None if spec.partial_filter is None else dict(spec.partial_filter)
        )

    async def up(self, ctx: MigrationContext) -> None:
        await ctx.collection(self.collection).create_index(
            self.keys,
            unique=self.unique,
            sparse=self.sparse,
            name=self.name,
            expireAfterSeconds=self.expire_after_seconds,
            partialFilterExpression=self.partial_filter_expression,
        )

    async def down(self, ctx: MigrationContext) -> None:
        await DropIndex(self.collection, self.name).up(ctx)

    def describe(self) -> str:
        flags = "".join(
            f", {flag}" for flag, on in (("unique", self.unique), ("sparse", self.sparse)) if on
        )
        ttl = (
            f", expire_after_seconds={self.expire_after_seconds}"
            if self.expire_after_seconds is not None
            else ""
        )
        partial = (
            f", partial_filter_expression={self.partial_filter_expression!r}"
            if self.partial_filter_expression is not None
            else ""
        )
        return f"create index {self.name} on {self.collection} {self.keys}{flags}{ttl}{partial}"


class DropIndex(Operation):
    """Drop an index by name (nothing to do when it is already gone). Give ``keys`` (and
    the options) to make it reversible: ``down`` then recreates it."""

    def __init__(
        self,
        collection: str,
        name: str,
        *,
        keys: IndexKeys | None = None,
        unique: bool = False,
        sparse: bool = False,
        expire_after_seconds: int | None = None,
        partial_filter_expression: Mapping[str, Any] | None = None,
    ) -> None:
        self.collection = _check_name("DropIndex", "collection", collection)
        self.name = _check_name("DropIndex", "index", name)
        self.recreate = (
            None
            if keys is None
            else CreateIndex(
                collection,
                keys,
                unique=unique,
                sparse=sparse,
                name=name,
                expire_after_seconds=expire_after_seconds,
                partial_filter_expression=partial_filter_expression,
            )
        )
        self.reversible = self.recreate is not None

    async def up(self, ctx: MigrationContext) -> None:
        coll = ctx.collection(self.collection)
        if any(index.name == self.name for index in await coll.list_indexes()):
            await coll.drop_index(self.name)

    async def down(self, ctx: MigrationContext) -> None:
        if self.recreate is None:
            await super().down(ctx)
            return
        await self.recreate.up(ctx)

    def describe(self) -> str:
        return f"drop index {self.name} on {self.collection}"

    def fingerprint(self) -> Any:
        recreate = self.recreate.describe() if self.recreate else None
        return {"operation": "DropIndex", "description": self.describe(), "recreate": recreate}


class AddField(Operation):
    """Set ``field`` to ``default`` on every document that lacks it (``update_many`` with
    ``$exists: false``); documents that have it keep their value. ``down`` removes the
    field from every document."""

    def __init__(self, collection: str, field: str, default: Any = None) -> None:
        self.collection = _check_name("AddField", "collection", collection)
        self.field = _check_name("AddField", "field", field)
        self.default = default

    async def up(self, ctx: MigrationContext) -> None:
        await ctx.update_in_batches(
            self.collection, {self.field: {"$exists": False}}, {"$set": {self.field: self.default}}
        )

    async def down(self, ctx: MigrationContext) -> None:
        await RemoveField(self.collection, self.field).up(ctx)

    def describe(self) -> str:
        return f"add field {self.field} = {self.default!r} to {self.collection}"


class RemoveField(Operation):
    """Remove ``field`` from every document. The values are lost, so ``down`` can only
    restore the field with a ``default`` when one is given."""

    _NO_DEFAULT: Any = object()

    def __init__(self, collection: str, field: str, *, default: Any = _NO_DEFAULT) -> None:
        self.collection = _check_name("RemoveField", "collection", collection)
        self.field = _check_name("RemoveField", "field", field)
        self.default = default
        self.reversible = default is not self._NO_DEFAULT

    async def up(self, ctx: MigrationContext) -> None:
        await ctx.update_in_batches(
            self.collection, {self.field: {"$exists": True}}, {"$unset": {self.field: ""}}
        )

    async def down(self, ctx: MigrationContext) -> None:
        if not self.reversible:
            await super().down(ctx)
            return
        await AddField(self.collection, self.field, self.default).up(ctx)

    def describe(self) -> str:
        return f"remove field {self.field} from {self.collection}"

    def fingerprint(self) -> Any:
        default = repr(self.default) if self.reversible else None
        return {"operation": "RemoveField", "description": self.describe(), "default": default}


class RenameField(Operation):
    """Rename ``old`` to ``new`` in every document that has ``old`` (``$rename``);
    ``down`` renames it back."""

    def __init__(self, collection: str, old: str, new: str) -> None:
        self.collection = _check_name("RenameField", "collection", collection)
        self.old = _check_name("RenameField", "field", old)
        self.new = _check_name("RenameField", "field", new)
        if old == new:
            raise MigrationError(f"RenameField on {collection!r} renames {old!r} to itself")

    async def up(self, ctx: MigrationContext) -> None:
        await ctx.update_in_batches(
            self.collection, {self.old: {"$exists": True}}, {"$rename": {self.old: self.new}}
        )

    async def down(self, ctx: MigrationContext) -> None:
        await RenameField(self.collection, self.new, self.old).up(ctx)

    def describe(self) -> str:
        return f"rename field {self.old} to {self.new} in {self.collection}"


class DropCollection(Operation):
    """Drop a collection with all its documents; not reversible."""

    reversible = False

    def __init__(self, collection: str) -> None:
        self.collection = _check_name("DropCollection", "collection", collection)

    async def up(self, ctx: MigrationContext) -> None:
        await ctx.store.drop_collection(self.collection)

    def describe(self) -> str:
        return f"drop collection {self.collection}"


def _source(obj: Any) -> str:
    """The source of a class or function, for checksums (its qualified name if there is
    none); trailing whitespace is ignored."""
    try:
        text = inspect.getsource(obj)
    except (OSError, TypeError):
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


class Migration(Operation):
    """A hand-written migration: subclass it and define ``async def up(self, ctx)`` (and
    ``down`` to make it reversible). ``id``/``name`` class attributes are optional; the
    checksum is taken from the class source, so editing an applied migration is noticed."""

    id: str | int | None = None
    name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.reversible = cls.down is not Operation.down

    def describe(self) -> str:
        return self.name or (inspect.getdoc(self) or type(self).__name__).splitlines()[0]

    def fingerprint(self) -> Any:
        return {"operation": type(self).__qualname__, "source": _source(type(self))}


MigrationStep = Callable[[MigrationContext], Awaitable[None]]


class FunctionMigration(Operation):
    """A migration made of async functions ``up(ctx)`` and optionally ``down(ctx)``."""

    def __init__(
        self, up: MigrationStep, down: MigrationStep | None = None, *, name: str | None = None
    ) -> None:
        for label, step in (("up", up), ("down", down)):
            if step is not None and not inspect.iscoroutinefunction(step):
                raise MigrationError(
                    f"A migration's {label} step must be an async function taking the "
                    f"migration context, got {step!r}"
                )
        self._up = up
        self._down = down
        self.reversible = down is not None
        self.label: str = name or getattr(up, "__name__", None) or "migration"

    async def up(self, ctx: MigrationContext) -> None:
        await self._up(ctx)

    async def down(self, ctx: MigrationContext) -> None:
        if self._down is None:
            await super().down(ctx)
            return
        await self._down(ctx)

    def describe(self) -> str:
        return self.label

    def fingerprint(self) -> Any:
        down = _source(self._down) if self._down is not None else None
        return {"operation": "function", "up": _source(self._up), "down": down}
