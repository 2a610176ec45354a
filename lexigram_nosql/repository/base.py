"""``DocumentRepository``: entity-centric access to one collection, with soft delete and
optimistic concurrency, written against the contracts only so it runs on every backend.

The repository owns three kinds of fields in the stored document:

- ``_id``: the key. ``save()`` of an entity without one assigns ``new_id()`` (an
  ObjectId-shaped 24-hex string by default) *before* writing, so the id handed back is
  exactly the stored one and ``get(id)`` finds it on every backend.
- the soft-delete markers (``_deleted: true`` and ``_deleted_at``, names configurable): set
  by ``delete()``, removed by ``restore()``, and stripped from documents before
  ``_document_to_entity`` sees them, so entities never have to declare them.
- the version (``_version``, when versioned): kept in the document handed to
  ``_document_to_entity`` because the entity must carry it back to ``save()``; each save
  writes ``version + 1`` with a filter on the old version, so a stale write matches nothing
  and raises ``ConcurrencyError`` (the check is the backend's atomic conditional write, never
  a read followed by a write).

``save()`` of an entity whose stored copy is soft-deleted raises ``DocumentDeletedError``
rather than resurrecting it or writing a document no read can see: call ``restore(id)``
first if bringing it back is what you mean.
"""

from __future__ import annotations

import abc
import copy
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from lexigram_nosql.contracts import CollectionProtocol, DocumentStoreProtocol
from lexigram_nosql.errors import (
    ConcurrencyError,
    ConfigurationError,
    DocumentDeletedError,
    DuplicateKeyError,
)
from lexigram_nosql.specification import Specification
from lexigram_nosql.types import Document, FilterDocument, SortSpec

__all__ = ["DocumentRepository"]

logger = logging.getLogger("lexigram_nosql")

TEntity = TypeVar("TEntity")
TKey = TypeVar("TKey")

Scope = Literal["live", "all", "deleted"]

# Ids per request in get_many/delete_many: small enough for every backend's batch limits.
_ID_CHUNK = 100


class DocumentRepository(abc.ABC, Generic[TEntity, TKey]):
    """Base class of a repository per entity: subclass it, name the collection, and map
    documents to entities both ways::

        class UserRepository(DocumentRepository[User, str]):
            collection_name = "users"

            async def _document_to_entity(self, doc: dict) -> User:
                return User(**doc)

            async def _entity_to_document(self, entity: User) -> dict:
                return entity.to_dict()

    Class attributes (each may also be given to the constructor): ``collection_name``
    (required), ``store_name`` (which configured store the container injects; the primary
    when None), ``soft_delete``, ``versioned``, ``deleted_field``, ``deleted_at_field``,
    ``version_field``.
    """

    collection_name: str
    store_name: str | None = None
    soft_delete: bool = False
    versioned: bool = False
    deleted_field: str = "_deleted"
    deleted_at_field: str = "_deleted_at"
    version_field: str = "_version"

    @classmethod
    def qualifier_for(cls, dependency: Any) -> str | None:
        """The ``Named`` qualifier the container injects for ``dependency``: ``store_name``
        for the store, so a repository reads the store it names."""
        if dependency is DocumentStoreProtocol and cls.store_name:
            return cls.store_name
        return None

    def __init__(
        self,
        store: DocumentStoreProtocol,
        *,
        soft_delete: bool | None = None,
        versioned: bool | None = None,
        collection_name: str | None = None,
        deleted_field: str | None = None,
        deleted_at_field: str | None = None,
        version_field: str | None = None,
    ) -> None:
        name = collection_name or getattr(type(self), "collection_name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"{type(self).__name__} has no collection: set the class attribute "
                '`collection_name = "..."` or pass collection_name=...',
                path="collection_name",
            )
        self.collection_name = name
        self.soft_delete = self.soft_delete if soft_delete is None else bool(soft_delete)
        self.versioned = self.versioned if versioned is None else bool(versioned)
        self.deleted_field = deleted_field or self.deleted_field
        self.deleted_at_field = deleted_at_field or self.deleted_at_field
        self.version_field = version_field or self.version_field
        reserved = {"_id", self.deleted_field, self.deleted_at_field, self.version_field}
        if len(reserved) != 4:
            raise ConfigurationError(
                f"{type(self).__name__}: '_id', deleted_field, deleted_at_field and "
                "version_field must be four different field names",
                path="deleted_field",
            )
        self._store = store
        self._collection: CollectionProtocol = store.collection(name)
        self._scope: Scope = "live"

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} collection={self.collection_name!r} "
            f"store={self._store.name!r} soft_delete={self.soft_delete} "
            f"versioned={self.versioned} scope={self._scope}>"
        )

    # -- mapping (subclasses) ------------------------------------------------------------

    @abc.abstractmethod
    async def _document_to_entity(self, doc: Document) -> TEntity:
        """Build an entity from a stored document (soft-delete markers already removed)."""

    @abc.abstractmethod
    async def _entity_to_document(self, entity: TEntity) -> Document:
        """The document to store for ``entity``; ``_id`` may be absent for a new entity."""

    def new_id(self) -> Any:
        """The key given to an entity saved without one: a 24-hex string laid out like a
        MongoDB ObjectId (creation second, random, counter), so ids sort by creation time
        and are valid ObjectIds where the backend uses them. Override for another scheme."""
        return _object_id_hex()

    # -- handles and views ---------------------------------------------------------------

    @property
    def store(self) -> DocumentStoreProtocol:
        return self._store

    @property
    def collection(self) -> CollectionProtocol:
        return self._collection

    def with_deleted(self) -> DocumentRepository[TEntity, TKey]:
        """A view of this repository whose reads include soft-deleted documents."""
        return self._view("all", "with_deleted")

    def only_deleted(self) -> DocumentRepository[TEntity, TKey]:
        """A view of this repository whose reads return only soft-deleted documents."""
        return self._view("deleted", "only_deleted")

    def _view(self, scope: Scope, method: str) -> DocumentRepository[TEntity, TKey]:
        self._require_soft_delete(method)
        view = copy.copy(self)
        view._scope = scope
        return view

    # -- reads ---------------------------------------------------------------------------

    async def get(self, id: TKey) -> TEntity | None:
        """The entity with key ``id``, or None (also when it is soft-deleted)."""
        doc = await self._collection.find_one(self._scoped({"_id": id}))
        return None if doc is None else await self._to_entity(doc)

    async def get_many(self, ids: Iterable[TKey]) -> list[TEntity]:
        """The entities found for ``ids``, in the order of ``ids`` (missing ones left out)."""
        wanted = list(ids)
        found: dict[Any, Document] = {}
        for chunk in _chunks(_unique(wanted), _ID_CHUNK):
            async for doc in self._collection.find(self._scoped({"_id": {"$in": chunk}})):
                found[_id_key(doc.get("_id"))] = doc
        entities = []
        for key in wanted:
            stored = found.get(_id_key(key))
            if stored is not None:
                entities.append(await self._to_entity(dict(stored)))
        return entities

    async def find_by_filter(
        self,
        filter: FilterDocument | None = None,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> list[TEntity]:
        """Every entity matching ``filter`` (a query-language document)."""
        return [entity async for entity in self.stream(filter, sort=sort, skip=skip, limit=limit)]

    async def find_one_by_filter(
        self, filter: FilterDocument | None = None, *, sort: SortSpec | None = None
    ) -> TEntity | None:
        """The first entity matching ``filter`` (in ``sort`` order), or None."""
        doc = await self._collection.find_one(self._scoped(filter), sort=sort)
        return None if doc is None else await self._to_entity(doc)

    async def find_by_spec(
        self,
        spec: Specification,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
    ) -> list[TEntity]:
        """Every entity satisfying the specification (``FieldEq(...) & FieldGt(...)``)."""
        return await self.find_by_filter(_spec_filter(spec), sort=sort, skip=skip, limit=limit)

    async def find_one_by_spec(
        self, spec: Specification, *, sort: SortSpec | None = None
    ) -> TEntity | None:
        """The first entity satisfying the specification, or None."""
        return await self.find_one_by_filter(_spec_filter(spec), sort=sort)

    async def stream(
        self,
        filter: FilterDocument | Specification | None = None,
        *,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        batch_size: int | None = None,
    ) -> AsyncIterator[TEntity]:
        """Yield matching entities one at a time, in constant memory."""
        if isinstance(filter, Specification):
            filter = filter.to_filter()
        documents = self._collection.find(
            self._scoped(filter), sort=sort, skip=skip, limit=limit, batch_size=batch_size
        )
        async for doc in documents:
            yield await self._to_entity(doc)

    async def count(self, filter: FilterDocument | Specification | None = None) -> int:
        """How many entities match ``filter`` (all of them when None)."""
        if isinstance(filter, Specification):
            filter = filter.to_filter()
        return await self._collection.count_documents(self._scoped(filter))

    async def exists(self, id: TKey) -> bool:
        """Whether an entity with key ``id`` exists (soft-deleted ones do not)."""
        doc = await self._collection.find_one(self._scoped({"_id": id}), projection={"_id": 1})
        return doc is not None

    def aggregate(self, pipeline: Any) -> AsyncIterator[Document]:
        """Run an aggregation over this repository's documents only (soft-deleted ones
        excluded): the scope is merged into a leading ``$match``, or prepended as one.

        ``pipeline`` is a list of stages or an ``AggregationPipeline``. Stages that read
        other collections (``$lookup``, ``$unionWith``) see those collections unscoped.
        """
        stages = list(pipeline.build() if hasattr(pipeline, "build") else pipeline)
        scope = self._scope_filter()
        if scope is not None:
            first = stages[0] if stages else None
            if isinstance(first, Mapping) and list(first) == ["$match"]:
                stages[0] = {"$match": {"$and": [scope, first["$match"]]}}
            else:
                stages.insert(0, {"$match": scope})
        return self._collection.aggregate(stages)

    # -- writes --------------------------------------------------------------------------

    async def save(self, entity: TEntity) -> TEntity:
        """Insert ``entity`` when new, replace the stored copy otherwise; return the saved
        entity, with its id (and version) set as stored.

        Raises:
            ConcurrencyError: versioned, and the stored copy changed since it was read.
            DocumentDeletedError: the stored copy is soft-deleted (``restore()`` it first).
            DuplicateKeyError: a unique index refused the document.
        """
        doc = await self._document_of(entity)
        key = doc.get("_id")
        if key is None:
            key = self.new_id()
            # First, as MongoDB stores it (and reads it back on every backend).
            doc = {"_id": key, **{name: value for name, value in doc.items() if name != "_id"}}
            if self.versioned:
                doc[self.version_field] = 1
            await self._collection.insert_one(doc)
        elif self.versioned:
            await self._save_versioned(key, doc)
        elif self.soft_delete:
            await self._save_live(key, doc)
        else:
            await self._collection.replace_one({"_id": key}, doc, upsert=True)
        return await self._to_entity(doc)

    async def save_many(self, entities: Iterable[TEntity]) -> list[TEntity]:
        """``save()`` each entity in turn; returns them as saved."""
        return [await self.save(entity) for entity in entities]

    async def delete(self, id: TKey) -> bool:
        """Delete the entity (soft delete when enabled); False when there was none."""
        if not self.soft_delete:
            return (await self._collection.delete_one({"_id": id})).deleted_count > 0
        result = await self._collection.update_one(
            {"_id": id, self.deleted_field: {"$ne": True}}, self._mark_deleted()
        )
        return result.matched_count > 0

    async def delete_many(self, ids: Iterable[TKey]) -> int:
        """Delete the entities (soft delete when enabled); returns how many were deleted."""
        total = 0
        for chunk in _chunks(_unique(list(ids)), _ID_CHUNK):
            if self.soft_delete:
                result = await self._collection.update_many(
                    {"_id": {"$in": chunk}, self.deleted_field: {"$ne": True}},
                    self._mark_deleted(),
                )
                total += result.matched_count
            else:
                deleted = await self._collection.delete_many({"_id": {"$in": chunk}})
                total += deleted.deleted_count
        return total

    async def restore(self, id: TKey) -> bool:
        """Bring a soft-deleted entity back; False when it is not soft-deleted."""
        self._require_soft_delete("restore")
        update: dict[str, Any] = {"$unset": {self.deleted_field: "", self.deleted_at_field: ""}}
        if self.versioned:
            update["$inc"] = {self.version_field: 1}
        result = await self._collection.update_one({"_id": id, self.deleted_field: True}, update)
        return result.matched_count > 0

    async def hard_delete(self, id: TKey) -> bool:
        """Remove the document for good, soft-deleted or not; False when there was none."""
        return (await self._collection.delete_one({"_id": id})).deleted_count > 0

    async def purge_deleted(self, older_than: timedelta | datetime | None = None) -> int:
        """Remove soft-deleted documents for good: all of them, or those deleted more than
        ``older_than`` ago (a ``timedelta``) or before it (an aware ``datetime``)."""
        self._require_soft_delete("purge_deleted")
        filter: dict[str, Any] = {self.deleted_field: True}
        if older_than is not None:
            cutoff = (
                datetime.now(UTC) - older_than if isinstance(older_than, timedelta) else older_than
            )
            filter[self.deleted_at_field] = {"$lt": cutoff}
        purged = (await self._collection.delete_many(filter)).deleted_count
        logger.info(
            "Purged %d soft-deleted documents from %s on store %s",
            purged,
            self.collection_name,
            self._store.name,
        )
        return purged

    # -- internals -----------------------------------------------------------------------

    async def _document_of(self, entity: TEntity) -> Document:
        doc = await self._entity_to_document(entity)
        if not isinstance(doc, Mapping):
            raise TypeError(
                f"{type(self).__name__}._entity_to_document must return a mapping, "
                f"got {type(doc).__name__}"
            )
        # A copy, so the caller's dict is never changed, without the markers we own.
        doc = dict(doc)
        doc.pop(self.deleted_field, None)
        doc.pop(self.deleted_at_field, None)
        return doc

    async def _save_versioned(self, key: Any, doc: Document) -> None:
        version = doc.get(self.version_field)
        live = self._live_filter()
        if version is None:
            # New with a chosen id, or a document written before versioning was enabled.
            doc[self.version_field] = 1
            try:
                await self._collection.insert_one(doc)
                return
            except DuplicateKeyError:
                unversioned = {"_id": key, self.version_field: {"$exists": False}, **live}
                if (await self._collection.replace_one(unversioned, doc)).matched_count:
                    return
            raise await self._conflict(key, None)
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError(
                f"{type(self).__name__}: the version field {self.version_field!r} of "
                f"{key!r} must be an integer, got {version!r}"
            )
        doc[self.version_field] = version + 1
        current = {"_id": key, self.version_field: version, **live}
        if (await self._collection.replace_one(current, doc)).matched_count:
            return
        raise await self._conflict(key, version)

    async def _save_live(self, key: Any, doc: Document) -> None:
        """Replace the live copy, or insert; never touch (or shadow) a soft-deleted one."""
        live = {"_id": key, **self._live_filter()}
        for _ in range(2):
            if (await self._collection.replace_one(live, doc)).matched_count:
                return
            try:
                await self._collection.insert_one(doc)
                return
            except DuplicateKeyError:
                stored = await self._collection.find_one({"_id": key})
                if stored is not None and stored.get(self.deleted_field) is True:
                    raise self._deleted_error(key) from None
                if stored is None:
                    raise  # another unique index refused it
                # Inserted concurrently by another writer: replace it now.
        raise ConcurrencyError(
            f"Saving {key!r} in {self.collection_name!r} raced with concurrent writers; "
            "retry the save.",
            key=key,
            store=self._store.name,
            collection=self.collection_name,
        )

    async def _conflict(self, key: Any, expected: int | None) -> Exception:
        stored = await self._collection.find_one({"_id": key})
        if stored is not None and self.soft_delete and stored.get(self.deleted_field) is True:
            return self._deleted_error(key)
        if stored is None:
            state = "no longer exists"
        else:
            state = f"is at version {stored.get(self.version_field)!r}"
        return ConcurrencyError(
            f"Stale save of {key!r} in {self.collection_name!r} on store "
            f"{self._store.name!r}: the entity has version {expected!r} but the stored copy "
            f"{state}; reload it and apply the change again.",
            key=key,
            expected_version=expected,
            store=self._store.name,
            collection=self.collection_name,
        )

    def _deleted_error(self, key: Any) -> DocumentDeletedError:
        return DocumentDeletedError(
            f"Cannot save {key!r} in {self.collection_name!r} on store {self._store.name!r}: "
            f"its stored copy is soft-deleted; call restore({key!r}) first to bring it back.",
            key=key,
            store=self._store.name,
            collection=self.collection_name,
        )

    def _mark_deleted(self) -> dict[str, Any]:
        update: dict[str, Any] = {
            "$set": {self.deleted_field: True, self.deleted_at_field: datetime.now(UTC)}
        }
        if self.versioned:
            update["$inc"] = {self.version_field: 1}
        return update

    def _live_filter(self) -> dict[str, Any]:
        return {self.deleted_field: {"$ne": True}} if self.soft_delete else {}

    def _scope_filter(self) -> dict[str, Any] | None:
        if not self.soft_delete or self._scope == "all":
            return None
        if self._scope == "deleted":
            return {self.deleted_field: {"$eq": True}}
        return {self.deleted_field: {"$ne": True}}

    def _scoped(self, filter: FilterDocument | None) -> FilterDocument:
        scope = self._scope_filter()
        if scope is None:
            return filter or {}
        if not filter:
            return scope
        if self.deleted_field not in filter:
            # One flat document (``{"_id": x, "_deleted": {...}}``): backends plan it best.
            return {**filter, **scope}
        return {"$and": [scope, filter]}

    async def _to_entity(self, doc: Document) -> TEntity:
        doc.pop(self.deleted_field, None)
        doc.pop(self.deleted_at_field, None)
        return await self._document_to_entity(doc)

    def _require_soft_delete(self, method: str) -> None:
        if not self.soft_delete:
            raise ConfigurationError(
                f"{type(self).__name__}.{method}() needs soft delete; construct the "
                "repository with soft_delete=True (or set `soft_delete = True` on the class).",
                path="soft_delete",
            )


_id_counter = itertools.count(int.from_bytes(os.urandom(3), "big"))
_id_process = os.urandom(5)


def _object_id_hex() -> str:
    seconds = int(time.time()) & 0xFFFFFFFF
    counter = next(_id_counter) & 0xFFFFFF
    return (seconds.to_bytes(4, "big") + _id_process + counter.to_bytes(3, "big")).hex()


def _spec_filter(spec: Specification) -> dict[str, Any]:
    if not isinstance(spec, Specification):
        raise TypeError(
            f"find_by_spec needs a specification (FieldEq, AndExpr...), got "
            f"{type(spec).__name__}; use find_by_filter for filter documents"
        )
    return spec.to_filter()


def _id_key(value: Any) -> Any:
    """A dict key for an id that keeps ``1`` and ``True`` (and ``1.0``) apart."""
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return (type(value).__name__, value)


def _unique(ids: Sequence[Any]) -> list[Any]:
    seen: set[Any] = set()
    unique = []
    for value in ids:
        key = _id_key(value)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def _chunks(values: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
