"""The contracts every backend implements and every user codes against.

``CollectionProtocol`` is shaped like pymongo's ``Collection`` so it needs no introduction;
the result and bulk-operation types are this package's own (no driver type leaks out; the
bulk models live in ``write_models.py`` and are re-exported here).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, Unpack, runtime_checkable

from lexigram_nosql.cursor import DocumentCursor
from lexigram_nosql.records import fast_init
from lexigram_nosql.write_models import (
    DeleteMany,
    DeleteOne,
    InsertOne,
    ReplaceOne,
    UpdateMany,
    UpdateOne,
    WriteOperation,
)

if TYPE_CHECKING:
    from lexigram_nosql.errors import NoSQLError

from lexigram_nosql.types import (
    BulkOptions,
    Document,
    FilterDocument,
    FindOptions,
    IndexKeys,
    InsertOptions,
    Pipeline,
    ProjectionSpec,
    ReadOptions,
    SortSpec,
    TimedOptions,
    UpdateDocument,
    UpdateOptions,
    WriteOptions,
)

__all__ = [
    "ASCENDING",
    "DESCENDING",
    "Capabilities",
    "CollectionGroupProtocol",
    "CollectionProtocol",
    "DeleteMany",
    "DeleteOne",
    "DeleteResult",
    "DocumentStoreProtocol",
    "BulkWriteFailure",
    "BulkWriteResult",
    "IndexInfo",
    "IndexList",
    "InsertManyResult",
    "InsertOne",
    "InsertOneResult",
    "ReadableCollectionProtocol",
    "ReplaceOne",
    "ReturnDocument",
    "StoreHealth",
    "UpdateMany",
    "UpdateOne",
    "UpdateResult",
    "WriteOperation",
]


# -- results -----------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class InsertOneResult:
    """What ``insert_one`` wrote: the ``_id`` as callers use it (ObjectIds as 24-hex strings)."""

    inserted_id: Any

    @property
    def acknowledged(self) -> bool:
        """Always True: every write here is acknowledged (PyMongo's attribute, kept for ports)."""
        return True


@fast_init
@dataclass(frozen=True, slots=True)
class InsertManyResult:
    """The ``_id`` of each inserted document, in input order."""

    inserted_ids: list[Any]

    @property
    def acknowledged(self) -> bool:
        """Always True: every write here is acknowledged (PyMongo's attribute, kept for ports)."""
        return True


@fast_init
@dataclass(frozen=True, slots=True)
class UpdateResult:
    """Counts of an update or replace; ``upserted_id`` is set when an upsert inserted."""

    matched_count: int
    modified_count: int
    upserted_id: Any = None

    @property
    def did_upsert(self) -> bool:
        """Whether the upsert inserted a document (PyMongo's ``UpdateResult.did_upsert``)."""
        return self.upserted_id is not None

    @property
    def acknowledged(self) -> bool:
        """Always True: every write here is acknowledged (PyMongo's attribute, kept for ports)."""
        return True

    @property
    def raw_result(self) -> dict[str, Any]:
        """The counts as MongoDB's update command reports them (PyMongo's ``raw_result``)."""
        raw: dict[str, Any] = {"n": self.matched_count + (1 if self.did_upsert else 0)}
        if self.did_upsert:
            raw["upserted"] = self.upserted_id
        raw.update(nModified=self.modified_count, ok=1.0, updatedExisting=self.matched_count > 0)
        return raw


@fast_init
@dataclass(frozen=True, slots=True)
class DeleteResult:
    """How many documents a delete removed."""

    deleted_count: int

    @property
    def acknowledged(self) -> bool:
        """Always True: every write here is acknowledged (PyMongo's attribute, kept for ports)."""
        return True

    @property
    def raw_result(self) -> dict[str, Any]:
        """The count as MongoDB's delete command reports it (PyMongo's ``raw_result``)."""
        return {"n": self.deleted_count, "ok": 1.0}


@dataclass(frozen=True, slots=True)
class BulkWriteResult:
    """Totals of a ``bulk_write`` (or of the part of an ``insert_many`` that was written);
    ``upserted_ids`` maps the index of each upserting request to the new ``_id``."""

    inserted_count: int = 0
    matched_count: int = 0
    modified_count: int = 0
    deleted_count: int = 0
    upserted_ids: dict[int, Any] = field(default_factory=dict)

    @property
    def upserted_count(self) -> int:
        return len(self.upserted_ids)

    @property
    def bulk_api_result(self) -> dict[str, Any]:
        """The totals as PyMongo's ``BulkWriteResult.bulk_api_result`` spells them."""
        return {
            "writeErrors": [],
            "writeConcernErrors": [],
            "nInserted": self.inserted_count,
            "nUpserted": self.upserted_count,
            "nMatched": self.matched_count,
            "nModified": self.modified_count,
            "nRemoved": self.deleted_count,
            "upserted": [{"index": i, "_id": v} for i, v in self.upserted_ids.items()],
        }

    @property
    def acknowledged(self) -> bool:
        """Always True: every write here is acknowledged (PyMongo's attribute, kept for ports)."""
        return True


@dataclass(frozen=True, slots=True)
class BulkWriteFailure:
    """One failed request of a ``bulk_write`` or ``insert_many`` (in ``BulkWriteError.errors``):
    its position in the caller's list, the error, and the request itself."""

    index: int
    error: NoSQLError
    operation: Any = None

    @property
    def code(self) -> int | str | None:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.message


class ReturnDocument(enum.Enum):
    """Which version of the document the ``find_one_and_*`` methods return. PyMongo's
    ``ReturnDocument.BEFORE``/``AFTER`` are ``False``/``True``: ``ReturnDocument(True)`` is
    ``AFTER`` here too, so code written for PyMongo keeps its meaning."""

    BEFORE = "before"
    AFTER = "after"

    @classmethod
    def _missing_(cls, value: object) -> ReturnDocument | None:
        if value is True:
            return cls.AFTER
        if value is False:
            return cls.BEFORE
        return None


ASCENDING: Final = 1
"""An ascending index key or sort (PyMongo's ``pymongo.ASCENDING``)."""

DESCENDING: Final = -1
"""A descending index key or sort (PyMongo's ``pymongo.DESCENDING``)."""


class IndexList(list["IndexInfo"]):
    """What ``list_indexes`` returns: a list, which also iterates with ``async for`` and has
    ``to_list()``, as the cursor PyMongo's async ``list_indexes`` gives, so ported code runs."""

    async def __aiter__(self) -> AsyncIterator[IndexInfo]:
        for info in list(self):
            yield info

    async def to_list(self, length: int | None = None) -> list[IndexInfo]:
        return list(self) if length is None else list(self)[:length]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """An index as ``list_indexes`` reports it; ``keys`` is a list of ``(field, 1 | -1)``;
    ``partial_filter_expression`` is a partial index's filter as it was given.

    It also reads as the document MongoDB's ``listIndexes`` returns, so PyMongo code ports
    as is: ``info["name"]``, ``info["key"]`` (``{field: direction}``), ``info.get("unique")``.
    """

    name: str
    keys: list[tuple[str, int]]
    unique: bool = False
    sparse: bool = False
    expire_after_seconds: int | None = None
    partial_filter_expression: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The index as PyMongo's ``index_information()`` gives it: ``key``, then the options
        that are set (``_id_`` is unique without saying so, as in MongoDB)."""
        found: dict[str, Any] = {"key": list(self.keys)}
        if self.unique and self.name != "_id_":
            found["unique"] = True
        if self.sparse:
            found["sparse"] = True
        if self.expire_after_seconds is not None:
            found["expireAfterSeconds"] = self.expire_after_seconds
        if self.partial_filter_expression is not None:
            found["partialFilterExpression"] = self.partial_filter_expression
        return found

    def _listed(self) -> dict[str, Any]:
        """The ``listIndexes`` document: ``key`` as a mapping, and ``name``."""
        found = self.document()
        return {**found, "key": dict(self.keys), "name": self.name}

    def __getitem__(self, field: str) -> Any:
        return self._listed()[field]

    def __contains__(self, field: object) -> bool:
        return field in self._listed()

    def get(self, field: str, default: Any = None) -> Any:
        return self._listed().get(field, default)


# -- capabilities and health -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend runs on the server, and what it refuses instead of guessing.

    ``pushdown`` and ``refused`` hold query-language operator names (``"$regex"``,
    ``"$lookup"``...). Anything in neither set is evaluated exactly by the shared engine.
    ``refused`` also names the values a backend cannot store (``UnsupportedQueryError``
    before anything is written): ``"nested arrays"`` (an array directly inside an array),
    ``"BSON-only values"`` (UUIDs, ObjectIds and regular expressions in fields, Decimal128,
    binary subtypes, Code, Timestamp, MinKey/MaxKey, DBRef) and ``"NaN and infinity"``.
    """

    driver: str
    pushdown: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()
    transactions: bool = True
    unique_indexes: bool = True
    native_sort: bool = True


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """One store's answer to a health check; ``error`` is already redacted."""

    store: str
    driver: str
    status: Literal["pass", "fail"]
    latency_ms: float
    checked_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


# -- protocols ---------------------------------------------------------------------------


@runtime_checkable
class ReadableCollectionProtocol(Protocol):
    """The reads a collection and a collection group share."""

    @property
    def name(self) -> str: ...

    async def find_one(
        self,
        filter: FilterDocument | Any = None,
        projection: ProjectionSpec | None = None,
        skip: int = 0,
        *,
        sort: SortSpec | None = None,
        **options: Unpack[FindOptions],
    ) -> Document | None: ...

    def find(
        self,
        filter: FilterDocument | None = None,
        projection: ProjectionSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        *,
        sort: SortSpec | None = None,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        **options: Unpack[FindOptions],
    ) -> DocumentCursor: ...

    async def count_documents(
        self,
        filter: FilterDocument | None = None,
        *,
        skip: int = 0,
        limit: int = 0,
        **options: Unpack[ReadOptions],
    ) -> int: ...

    async def estimated_document_count(self, **options: Unpack[TimedOptions]) -> int: ...

    async def distinct(
        self,
        key: str,
        filter: FilterDocument | None = None,
        **options: Unpack[ReadOptions],
    ) -> list[Any]: ...

    def aggregate(
        self,
        pipeline: Pipeline,
        *,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        batchSize: int | None = None,  # PyMongo's spelling
        allowDiskUse: bool | None = None,  # PyMongo's spelling
        **options: Unpack[ReadOptions],
    ) -> DocumentCursor: ...


@runtime_checkable
class CollectionProtocol(ReadableCollectionProtocol, Protocol):
    """CRUD, indexing and aggregation on one collection (a MongoDB collection, a DynamoDB
    table, a Firestore collection)."""

    async def insert_one(
        self, document: Document, **options: Unpack[InsertOptions]
    ) -> InsertOneResult: ...

    async def insert_many(
        self,
        documents: Iterable[Document],
        ordered: bool = True,
        **options: Unpack[InsertOptions],
    ) -> InsertManyResult: ...

    async def update_one(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        upsert: bool = False,
        *,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        sort: SortSpec | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult: ...

    async def update_many(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        upsert: bool = False,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult: ...

    async def replace_one(
        self,
        filter: FilterDocument,
        replacement: Document,
        upsert: bool = False,
        *,
        sort: SortSpec | None = None,
        **options: Unpack[UpdateOptions],
    ) -> UpdateResult: ...

    async def delete_one(
        self,
        filter: FilterDocument,
        **options: Unpack[WriteOptions],
    ) -> DeleteResult: ...

    async def delete_many(
        self,
        filter: FilterDocument,
        **options: Unpack[WriteOptions],
    ) -> DeleteResult: ...

    async def find_one_and_update(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument | bool = ReturnDocument.BEFORE,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        **options: Unpack[ReadOptions],
    ) -> Document | None: ...

    async def find_one_and_replace(
        self,
        filter: FilterDocument,
        replacement: Document,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument | bool = ReturnDocument.BEFORE,
        **options: Unpack[ReadOptions],
    ) -> Document | None: ...

    async def find_one_and_delete(
        self,
        filter: FilterDocument,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        **options: Unpack[ReadOptions],
    ) -> Document | None: ...

    async def create_index(
        self, keys: IndexKeys, session: Any = None, comment: Any = None, **kwargs: Any
    ) -> str: ...

    async def create_indexes(
        self, indexes: Sequence[Any], session: Any = None, comment: Any = None
    ) -> list[str]: ...

    async def list_indexes(self, session: Any = None, comment: Any = None) -> IndexList: ...

    async def index_information(
        self, session: Any = None, comment: Any = None
    ) -> dict[str, dict[str, Any]]: ...

    async def drop_index(
        self, index_or_name: str | IndexKeys, session: Any = None, comment: Any = None
    ) -> None: ...

    async def drop_indexes(self, session: Any = None, comment: Any = None) -> None: ...

    async def drop(self, session: Any = None, comment: Any = None) -> None: ...

    async def bulk_write(
        self,
        operations: Sequence[WriteOperation],
        ordered: bool = True,
        **options: Unpack[BulkOptions],
    ) -> BulkWriteResult: ...


@runtime_checkable
class CollectionGroupProtocol(ReadableCollectionProtocol, Protocol):
    """A read-only view over every collection whose last path segment is ``name``
    (``orders``, ``users/u1/orders``...): a Firestore collection group, the union of those
    collections elsewhere. Writes raise ``InvalidQueryError``; write through
    ``store.collection(path)``."""

    @property
    def path_field(self) -> str | None: ...

    def collection_of(self, document: Mapping[str, Any]) -> CollectionProtocol:
        """The collection a document read through a view with ``path_field`` lives in."""
        ...


@runtime_checkable
class DocumentStoreProtocol(Protocol):
    """A connected handle on one database: lifecycle, collections, transactions, health."""

    @property
    def name(self) -> str: ...

    @property
    def driver(self) -> str: ...

    @property
    def is_connected(self) -> bool: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    def collection(self, name: str) -> CollectionProtocol: ...

    def collection_group(
        self, name: str, *, path_field: str | None = None
    ) -> CollectionGroupProtocol: ...

    async def list_collections(self, session: Any = None, comment: Any = None) -> list[str]: ...

    async def drop_collection(
        self, name: str, session: Any = None, comment: Any = None
    ) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    async def health_check(self) -> StoreHealth: ...
