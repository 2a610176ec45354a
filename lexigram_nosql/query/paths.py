"""Reading and writing dotted paths in documents, with MongoDB's array traversal.

Reading follows MongoDB's query matching: a path that meets an array continues into every
element that is a document, and a numeric segment (``"a.0"``) also indexes the array. Writing
follows MongoDB's update rules: numeric segments index arrays, missing documents are created,
and a path that would go through a scalar is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final, TypeGuard

from lexigram_nosql.errors import InvalidQueryError, UpdateMismatchError

__all__ = [
    "MISSING",
    "PLAIN_PATHS",
    "check_path",
    "get_path",
    "get_values",
    "is_index",
    "is_plain_path",
    "path_getter",
    "set_path",
    "split_path",
    "unset_path",
]


class _Missing:
    """A path that leads nowhere (distinct from a stored ``None``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Missing:
        return self


MISSING: Final = _Missing()


def is_index(segment: str) -> bool:
    """Whether a path segment reads as an array index (ASCII digits only)."""
    return segment.isascii() and segment.isdigit()


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """The segments of a dotted path (``""`` is the value itself: no segments)."""
    return tuple(path.split(".")) if path else ()


PLAIN_PATHS: Final[set[str]] = set()
"""Paths ``is_plain_path`` accepted. The same few field names come with every call, so the
parsers on the path of every single-document call test membership here first: one set
lookup instead of the checks. Bounded: short paths only, emptied when full."""
_MAX_PLAIN_PATHS: Final = 4096
_MAX_REMEMBERED_LENGTH: Final = 128


def is_plain_path(path: Any) -> TypeGuard[str]:
    """Whether ``check_path`` accepts ``path`` at a glance: a string without ``$``, null
    characters or empty segments. Callers test this before building an error's wording."""
    if (
        type(path) is str
        and path != ""
        and "$" not in path
        and "\x00" not in path
        and ".." not in path
        and path[0] != "."
        and path[-1] != "."
    ):
        if len(path) <= _MAX_REMEMBERED_LENGTH:
            if len(PLAIN_PATHS) >= _MAX_PLAIN_PATHS:
                PLAIN_PATHS.clear()
            PLAIN_PATHS.add(path)
        return True
    return False


def check_path(path: Any, *, operator: str | None = None, where: str = "a path") -> str:
    """Refuse a path that is not a string of non-empty segments, none starting with ``$``
    and none holding a null character (BSON cannot send such a name, so no backend may
    store one)."""
    if is_plain_path(path):
        return path
    if not isinstance(path, str):
        raise InvalidQueryError(
            f"{where} must be a string, got {type(path).__name__} {path!r}",
            path=str(path),
            operator=operator,
        )
    if not path:
        raise InvalidQueryError(f"{where} must not be empty", path=path, operator=operator)
    if "\x00" in path:
        raise InvalidQueryError(
            f"{where} {path!r} holds the null character", path=path, operator=operator
        )
    for segment in path.split("."):
        if not segment:
            raise InvalidQueryError(
                f"{where} {path!r} has an empty segment", path=path, operator=operator
            )
        if segment[0] == "$":
            raise InvalidQueryError(
                f"{where} {path!r} has the segment {segment!r}: operators are not allowed in "
                "field position",
                path=path,
                operator=operator or segment,
            )
    return path


def _collect(value: Any, parts: tuple[str, ...], start: int, out: list[Any]) -> None:
    n = len(parts)
    i = start
    while True:
        if isinstance(value, dict):
            value = value.get(parts[i], MISSING)
            i += 1
            if value is MISSING or i == n:
                out.append(value)
                return
            continue
        if isinstance(value, list):
            segment = parts[i]
            numeric = is_index(segment)
            for element in value:
                # Documents inside the array continue the path under the same segment; under
                # a numeric segment only those that really have such a field (so "a.0.b" never
                # reports a spurious missing value for an element without a "0" field).
                if isinstance(element, dict) and (not numeric or segment in element):
                    _collect(element, parts, i, out)
            if numeric:
                index = int(segment)
                if index < len(value):
                    element = value[index]
                    if i + 1 == n:
                        out.append(element)
                    elif isinstance(element, (dict, list)):
                        _collect(element, parts, i + 1, out)
            return
        # A scalar (or a missing value) cannot be descended into.
        out.append(MISSING)
        return


def get_values(document: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches, descending into arrays as MongoDB's query matching does.

    Arrays at the end of the path are returned whole (callers test their elements as
    MongoDB does). ``MISSING`` is returned for each document along the way that lacks the
    field, so ``{"a.b": None}`` matches ``{"a": [{"c": 1}]}``; elements that are not
    documents are skipped, so ``{"a": [1, 2]}`` yields nothing for ``"a.b"``.
    """
    parts = split_path(path)
    if not parts:
        return [document]
    out: list[Any] = []
    _collect(document, parts, 0, out)
    return out


def path_getter(path: str) -> Callable[[Any], list[Any]]:
    """A fast ``get_values`` for one fixed path (what compiled filters and sorts use)."""
    parts = split_path(path)
    if not parts:
        return lambda document: [document]
    if len(parts) == 1:
        key = parts[0]

        def get_one(document: Any) -> list[Any]:
            if isinstance(document, dict):
                return [document.get(key, MISSING)]
            out: list[Any] = []
            _collect(document, parts, 0, out)
            return out

        return get_one

    def get_many(document: Any) -> list[Any]:
        out: list[Any] = []
        _collect(document, parts, 0, out)
        return out

    return get_many


def get_path(document: Any, path: str) -> Any:
    """The single value at ``path`` (numeric segments index arrays), or ``MISSING``."""
    value = document
    for segment in split_path(path):
        if isinstance(value, dict):
            value = value.get(segment, MISSING)
            if value is MISSING:
                return MISSING
        elif isinstance(value, list) and is_index(segment):
            index = int(segment)
            if index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def _not_viable(path: str, segment: str, container: Any, operator: str | None) -> InvalidQueryError:
    kind = "array" if isinstance(container, list) else type(container).__name__
    return UpdateMismatchError(
        f"Cannot create field {segment!r} of path {path!r}: the value there is a {kind} "
        f"({container!r})",
        path=path,
        operator=operator,
    )


def set_path(
    document: dict[str, Any], path: str, value: Any, *, operator: str | None = None
) -> None:
    """Set ``path`` in place, creating intermediate documents as MongoDB's ``$set`` does.

    Numeric segments index arrays (padding with ``None``, as MongoDB does); a segment that
    would have to go through a scalar, or name a field of an array, is refused.
    """
    parts = split_path(path)
    container: Any = document
    last = len(parts) - 1
    for position, segment in enumerate(parts):
        final = position == last
        if isinstance(container, dict):
            if final:
                container[segment] = value
                return
            child = container.get(segment, MISSING)
            if child is MISSING:
                child = {}
                container[segment] = child
            container = child
        elif isinstance(container, list):
            if not is_index(segment):
                raise _not_viable(path, segment, container, operator)
            index = int(segment)
            padded = index >= len(container)
            if padded:
                container.extend([None] * (index + 1 - len(container)))
            if final:
                container[index] = value
                return
            if padded:
                container[index] = {}
            container = container[index]
        else:
            raise _not_viable(path, segment, container, operator)


def unset_path(document: dict[str, Any], path: str) -> bool:
    """Remove ``path`` in place; returns whether anything was removed.

    As in MongoDB, unsetting an array element (``"a.1"``) sets it to ``None`` rather than
    shifting the elements after it.
    """
    parts = split_path(path)
    container: Any = document
    for segment in parts[:-1]:
        container = get_path(container, segment)
        if not isinstance(container, (dict, list)):
            return False
    segment = parts[-1]
    if isinstance(container, dict):
        if segment in container:
            del container[segment]
            return True
        return False
    if isinstance(container, list) and is_index(segment):
        index = int(segment)
        if index < len(container):
            container[index] = None
            return True
    return False
