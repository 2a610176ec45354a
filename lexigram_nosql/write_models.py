"""The bulk-write models ``bulk_write`` takes, shaped like PyMongo's (``pymongo.operations``):
``InsertOne``, ``UpdateOne``, ``UpdateMany``, ``ReplaceOne``, ``DeleteOne``, ``DeleteMany``.

Their fields are in PyMongo's positional order, so ``UpdateOne(filter, update, True,
collation)`` means here what it means to PyMongo. ``namespace`` is the target of PyMongo's
client-level ``MongoClient.bulk_write``; a collection's ``bulk_write`` refuses it by name
(PyMongo's ignores it, writing into the collection at hand rather than the one named)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lexigram_nosql.types import Document, FilterDocument, SortSpec, UpdateDocument

__all__ = [
    "DeleteMany",
    "DeleteOne",
    "InsertOne",
    "ReplaceOne",
    "UpdateMany",
    "UpdateOne",
    "WriteOperation",
]


@dataclass(frozen=True, slots=True)
class InsertOne:
    """Bulk operation: insert one document."""

    document: Document
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateOne:
    """Bulk operation: update the first matching document (the first in ``sort`` order when
    given, as MongoDB 8.0 does). ``upsert`` None is False, as in PyMongo."""

    filter: FilterDocument
    update: UpdateDocument
    upsert: bool | None = False
    collation: Mapping[str, Any] | None = None
    array_filters: Sequence[Mapping[str, Any]] | None = None
    hint: Any = None
    namespace: str | None = None
    sort: SortSpec | None = None


@dataclass(frozen=True, slots=True)
class UpdateMany:
    """Bulk operation: update every matching document."""

    filter: FilterDocument
    update: UpdateDocument
    upsert: bool | None = False
    collation: Mapping[str, Any] | None = None
    array_filters: Sequence[Mapping[str, Any]] | None = None
    hint: Any = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class ReplaceOne:
    """Bulk operation: replace the first matching document (the first in ``sort`` order when
    given)."""

    filter: FilterDocument
    replacement: Document
    upsert: bool | None = False
    collation: Mapping[str, Any] | None = None
    hint: Any = None
    namespace: str | None = None
    sort: SortSpec | None = None


@dataclass(frozen=True, slots=True)
class DeleteOne:
    """Bulk operation: delete the first matching document."""

    filter: FilterDocument
    collation: Mapping[str, Any] | None = None
    hint: Any = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteMany:
    """Bulk operation: delete every matching document."""

    filter: FilterDocument
    collation: Mapping[str, Any] | None = None
    hint: Any = None
    namespace: str | None = None


WriteOperation = InsertOne | UpdateOne | UpdateMany | ReplaceOne | DeleteOne | DeleteMany
