"""Type aliases shared across the package."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

__all__ = [
    "Document",
    "FilterDocument",
    "IndexKeys",
    "Pipeline",
    "ProjectionSpec",
    "SortSpec",
    "UpdateDocument",
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
