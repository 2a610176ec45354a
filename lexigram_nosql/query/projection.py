"""Parsing and applying ``find`` projections (inclusion, exclusion, ``_id`` handling).

A projection either lists the fields to keep or the fields to drop, never both, except that
``_id`` (kept by default) may always be dropped. Dotted paths reach into embedded documents
and through arrays into the documents they hold, as in MongoDB: keeping ``"a.b"`` of
``{"a": [{"b": 1, "c": 2}, 3]}`` gives ``{"a": [{"b": 1}]}``. Projection operators
(``$slice``, ``$elemMatch``, ``$meta``) and computed fields are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.paths import check_path, split_path
from lexigram_nosql.query.values import is_number, to_python_number
from lexigram_nosql.types import Document, ProjectionSpec

__all__ = ["Projection", "apply_projection", "parse_projection"]

# A projection tree: each field maps to ``True`` (the whole value) or to a subtree.
_Tree = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Projection:
    """A validated projection: ``include`` or exclude the listed paths; ``_id`` separately."""

    paths: tuple[str, ...]
    include: bool
    include_id: bool
    raw: Mapping[str, Any]


def parse_projection(projection: ProjectionSpec | None) -> Projection | None:
    """Validate a projection (a document, or PyMongo's list of field names to include);
    mixing inclusion and exclusion (but for ``_id``) is refused.

    Returns ``None`` for ``None`` or ``{}`` (the whole document).
    """
    if projection is None:
        return None
    if isinstance(projection, (list, tuple)) and all(type(f) is str for f in projection):
        projection = dict.fromkeys(projection, 1)  # PyMongo's list of field names to include
    if not isinstance(projection, Mapping):
        raise InvalidQueryError(
            f"A projection must be a document of field: 1 | 0, got {type(projection).__name__}",
            operator="projection",
        )
    if not projection:
        return None
    include_id = True
    included: list[str] = []
    excluded: list[str] = []
    for path, flag in projection.items():
        check_path(path, operator="projection", where="A projected field path")
        keep = _flag(path, flag)
        if path == "_id":
            include_id = keep
            continue
        (included if keep else excluded).append(path)
    if included and excluded:
        raise InvalidQueryError(
            f"A projection cannot mix inclusion ({included[0]!r}) and exclusion "
            f"({excluded[0]!r}); only '_id' may be excluded from an inclusion",
            path=excluded[0],
            operator="projection",
        )
    paths = included or excluded
    _check_collisions(paths)
    include = bool(included) or (not excluded and include_id)
    return Projection(tuple(paths), include, include_id, dict(projection))


def _flag(path: str, flag: Any) -> bool:
    if isinstance(flag, bool):
        return flag
    if is_number(flag):
        return bool(to_python_number(flag))
    if isinstance(flag, Mapping) and flag:
        operator = next(iter(flag))
        raise InvalidQueryError(
            f"The projection operator {operator!r} on {path!r} is not supported; project whole "
            "fields, or use aggregate() with $project for computed values",
            path=path,
            operator=str(operator),
        )
    raise InvalidQueryError(
        f"A projection maps {path!r} to {flag!r}; use 1 (keep) or 0 (drop). Computed fields "
        "belong in aggregate() with $project",
        path=path,
        operator="projection",
    )


def _check_collisions(paths: list[str]) -> None:
    for index, path in enumerate(paths):
        for other in paths[:index]:
            if other.startswith(path + ".") or path.startswith(other + ".") or other == path:
                raise InvalidQueryError(
                    f"The projection names both {other!r} and {path!r}: path collision",
                    path=path,
                    operator="projection",
                )


def _tree(paths: tuple[str, ...]) -> _Tree:
    tree: _Tree = {}
    for path in paths:
        node = tree
        parts = split_path(path)
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = True
    return tree


def apply_projection(projection: Projection | None, document: Document) -> Document:
    """Return the projected copy of ``document`` (``document`` itself when ``None``).

    The returned containers are new; values kept whole are shared with ``document``, so a
    caller that hands documents out copies them once, after projecting.
    """
    if projection is None:
        return document
    tree = _tree_for(projection.paths, projection.include and projection.include_id)
    if projection.include:
        return _include_document(document, tree)
    result = _exclude_document(document, tree)
    if not projection.include_id:
        result.pop("_id", None)
    return result


@lru_cache(maxsize=1024)
def _tree_for(paths: tuple[str, ...], with_id: bool) -> _Tree:
    """The tree of a projection, built once per distinct projection (never mutated)."""
    tree = _tree(paths)
    if with_id:
        tree.setdefault("_id", True)
    return tree


def _include_document(document: Mapping[str, Any], tree: _Tree) -> Document:
    result: Document = {}
    for key, value in document.items():
        sub = tree.get(key)
        if sub is None:
            continue
        if sub is True:
            result[key] = value
        elif isinstance(value, Mapping):
            result[key] = _include_document(value, sub)
        elif isinstance(value, list):
            result[key] = _include_array(value, sub)
    return result


def _include_array(array: list[Any], tree: _Tree) -> list[Any]:
    result: list[Any] = []
    for item in array:
        if isinstance(item, Mapping):
            result.append(_include_document(item, tree))
        elif isinstance(item, list):
            result.append(_include_array(item, tree))
    return result


def _exclude_document(document: Mapping[str, Any], tree: _Tree) -> Document:
    result: Document = {}
    for key, value in document.items():
        sub = tree.get(key)
        if sub is None:
            result[key] = value
        elif sub is True:
            continue
        elif isinstance(value, Mapping):
            result[key] = _exclude_document(value, sub)
        elif isinstance(value, list):
            result[key] = _exclude_array(value, sub)
        else:
            result[key] = value
    return result


def _exclude_array(array: list[Any], tree: _Tree) -> list[Any]:
    result: list[Any] = []
    for item in array:
        if isinstance(item, Mapping):
            result.append(_exclude_document(item, tree))
        elif isinstance(item, list):
            result.append(_exclude_array(item, tree))
        else:
            result.append(item)
    return result
