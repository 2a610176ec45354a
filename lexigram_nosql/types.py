"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypedDict

__all__ = [
    "BulkOptions",
    "Document",
    "FilterDocument",
    "FindOptions",
    "IndexKeys",
    "InsertOptions",
    "Pipeline",
    "ProjectionSpec",
    "ReadOptions",
    "SessionOptions",
    "SortSpec",
    "TimedOptions",
    "UpdateDocument",
    "UpdateOptions",
    "WriteOptions",
]

Document: TypeAlias = dict[str, Any]
"""A JSON-like document as users read and write it."""

FilterDocument: TypeAlias = Mapping[str, Any]
"""A MongoDB-style filter document, e.g. ``{"age": {"$gte": 25}}``."""

UpdateDocument: TypeAlias = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""A MongoDB-style update: operators (``{"$set": {...}}``) or a pipeline of ``$set``/
``$unset``/``$project``/``$replaceWith``... stages."""

Pipeline: TypeAlias = Sequence[Mapping[str, Any]]
"""A MongoDB-style aggregation pipeline: a list of one-key stage documents."""

SortSpec: TypeAlias = Sequence[tuple[str, int] | str] | Mapping[str, int] | str
"""A sort order, in any form PyMongo takes: ``[("field", 1), ("other", -1)]``,
``{"field": 1, "other": -1}``, or a field name (ascending) alone or in the list."""

IndexKeys: TypeAlias = SortSpec

ProjectionSpec: TypeAlias = Mapping[str, Any] | Sequence[str]
"""A projection: ``{field: 1 | 0 | operator}``, or PyMongo's list of field names to include."""
"""An index's keys, in the forms a sort takes (as PyMongo takes them): ``"email"``,
``[("org", 1), ("age", -1)]``, ``["org", "age"]`` or ``{"org": 1, "age": -1}``."""


# PyMongo's per-command options, by the calls that take them (see
# ``backends/command_options.py`` for what each does on each backend).


class SessionOptions(TypedDict, total=False):
    """What every call takes: ``insert_one``, ``insert_many``, ``bulk_write``."""

    comment: Any
    session: Any


class InsertOptions(SessionOptions, total=False):
    """``insert_one``'s and ``insert_many``'s: MongoDB's document validation may be skipped."""

    bypass_document_validation: bool


class BulkOptions(InsertOptions, total=False):
    """``bulk_write``'s: variables besides (for ``$expr`` and pipeline updates)."""

    let: Mapping[str, Any] | None


class TimedOptions(SessionOptions, total=False):
    """``estimated_document_count``'s: a time bound besides."""

    max_time_ms: int | None
    maxTimeMS: int | None  # PyMongo's spelling in counts, distinct and aggregate


class WriteOptions(SessionOptions, total=False):
    """Updates' and deletes' options (PyMongo's ``update_one``, ``delete_many``...)."""

    hint: Any
    collation: Mapping[str, Any] | None
    let: Mapping[str, Any] | None


class UpdateOptions(WriteOptions, total=False):
    """Updates' and replacements' options (deletes have no document to validate)."""

    bypass_document_validation: bool


class ReadOptions(WriteOptions, TimedOptions, total=False):
    """Reads' and ``find_one_and_*``'s options."""


class FindOptions(ReadOptions, total=False):
    """``find``'s besides: PyMongo's cursor flags and its index-bound query modifiers."""

    no_cursor_timeout: bool
    cursor_type: int
    allow_partial_results: bool
    oplog_replay: bool
    max_scan: int | None
    max: Any
    min: Any
    return_key: bool | None
    show_record_id: bool | None
    snapshot: bool | None
