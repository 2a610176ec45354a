"""The bulk-write models ``bulk_write`` takes, shaped like PyMongo's (``pymongo.operations``):
``InsertOne``, ``UpdateOne``, ``UpdateMany``, ``ReplaceOne``, ``DeleteOne``, ``DeleteMany``."""

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


@dataclass(frozen=True, slots=True)
class UpdateOne:
    """Bulk operation: update the first matching document (the first in ``sort`` order when
    given, as MongoDB 8.0 does)."""

    filter: FilterDocument
    update: UpdateDocument
    upsert: bool = False
    array_filters: Sequence[Mapping[str, Any]] | None = None
    sort: SortSpec | None = None
    hint: Any = None
    collation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class UpdateMany:
    """Bulk operation: update every matching document."""

    filter: FilterDocument
    update: UpdateDocument
    upsert: bool = False
    array_filters: Sequence[Mapping[str, Any]] | None = None
    hint: Any = None
    collation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ReplaceOne:
    """Bulk operation: replace the first matching document (the first in ``sort`` order when
    given)."""

    filter: FilterDocument
    replacement: Document
    upsert: bool = False
    sort: SortSpec | None = None
    hint: Any = None
    collation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DeleteOne:
    """Bulk operation: delete the first matching document."""

    filter: FilterDocument
    hint: Any = None
    collation: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DeleteMany:
    """Bulk operation: delete every matching document."""

    filter: FilterDocument
    hint: Any = None
    collation: Mapping[str, Any] | None = None


WriteOperation = InsertOne | UpdateOne | UpdateMany | ReplaceOne | DeleteOne | DeleteMany
