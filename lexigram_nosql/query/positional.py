"""Positional update paths: ``$``, ``$[]`` and ``$[<identifier>]`` with ``array_filters``.

MongoDB resolves these against the stored document before applying anything: ``$`` is the
first element of the array that the update's filter matched, ``$[]`` every element,
``$[x]`` the elements matching the array filter named ``x``. ``concrete_updates`` turns each
positional path into the plain paths (``a.0.b``, ``a.2.b``...) the update engine applies; the
errors are MongoDB's, worded for people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    FieldUpdate,
    FilterNode,
    Nor,
    Not,
    OperatorUpdate,
    Or,
)
from lexigram_nosql.query.filter import matches, parse_filter
from lexigram_nosql.query.paths import MISSING, check_path, is_index, is_plain_path

__all__ = [
    "check_update_path",
    "concrete_updates",
    "parse_array_filters",
    "check_identifiers",
]

ALL: Final = "$[]"
FIRST_MATCH: Final = "$"
_IDENTIFIER: Final = re.compile(r"[a-z][a-zA-Z0-9]*")
_LOGICAL: Final = frozenset({"$and", "$or", "$nor"})
_NO_MATCH: Final = "The positional operator '$' did not find the match it needs in the query"


def identifier(segment: str) -> str | None:
    """``x`` for ``$[x]``; ``""`` for ``$[]``; None for a segment that is not ``$[...]``."""
    if segment.startswith("$[") and segment.endswith("]"):
        return segment[2:-1]
    return None


def check_update_path(path: Any, operator: str) -> bool:
    """Validate an update path; returns whether it holds a positional segment.

    Other segments follow ``check_path``, except that a ``$``-prefixed field name is allowed
    (``address.$street``), as MongoDB 5.0+ allows: at the top level only in the document an
    upsert inserts, which ``apply_update`` checks."""
    if is_plain_path(path):
        return False
    if not isinstance(path, str) or "$" not in path:
        check_path(path, operator=operator, where=f"The {operator} field path")
        return False
    segments = path.split(".")
    plain: list[str] = []
    firsts = 0
    positional = False
    for position, segment in enumerate(segments):
        if segment == FIRST_MATCH or identifier(segment) is not None:
            if position == 0:
                raise InvalidQueryError(
                    f"{operator} on {path!r}: a positional segment ({segment!r}) cannot be the "
                    "first part of a path; name the array field before it",
                    path=path,
                    operator=operator,
                )
            name = identifier(segment)
            if name and not _IDENTIFIER.fullmatch(name):
                raise InvalidQueryError(
                    f"{operator} on {path!r}: the array filter identifier {name!r} must be "
                    "alphanumeric and begin with a lowercase letter",
                    path=path,
                    operator=operator,
                )
            firsts += segment == FIRST_MATCH
            positional = True
            plain.append("x")
        elif segment.startswith("$") and len(segment) > 1:
            plain.append("x")  # a $-prefixed field name
        else:
            plain.append(segment)
    if firsts > 1:
        raise InvalidQueryError(
            f"{operator} on {path!r}: a path may hold the positional operator '$' only once",
            path=path,
            operator=operator,
        )
    check_path(".".join(plain), operator=operator, where=f"The {operator} field path {path!r}:")
    return positional


# -- array filters -----------------------------------------------------------------------


def parse_array_filters(array_filters: Any) -> tuple[tuple[str, FilterNode], ...]:
    """Validate ``array_filters``: each a filter whose fields all start with one identifier."""
    if array_filters is None:
        return ()
    if isinstance(array_filters, (str, bytes, Mapping)) or not isinstance(array_filters, Sequence):
        raise InvalidQueryError(
            f"array_filters must be a list of filter documents, got {type(array_filters).__name__}",
            operator="arrayFilters",
        )
    parsed: list[tuple[str, FilterNode]] = []
    seen: set[str] = set()
    for index, spec in enumerate(array_filters):
        if not isinstance(spec, Mapping) or not spec:
            raise InvalidQueryError(
                f"array_filters[{index}] must be a non-empty filter document, got {spec!r}",
                operator="arrayFilters",
            )
        names = _identifiers(spec)
        if len(names) != 1:
            raise InvalidQueryError(
                f"array_filters[{index}] must name one identifier in all its fields (as in "
                f"{{'x.score': {{'$gte': 8}}}}), found {sorted(names)!r}",
                operator="arrayFilters",
            )
        (name,) = names
        if not _IDENTIFIER.fullmatch(name):
            raise InvalidQueryError(
                f"array_filters[{index}]: the identifier {name!r} must be alphanumeric and "
                "begin with a lowercase letter",
                operator="arrayFilters",
                path=name,
            )
        if name in seen:
            raise InvalidQueryError(
                f"array_filters has more than one filter for the identifier {name!r}",
                operator="arrayFilters",
                path=name,
            )
        seen.add(name)
        parsed.append((name, parse_filter(spec)))
    return tuple(parsed)


def _identifiers(spec: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for key, value in spec.items():
        if key in _LOGICAL and isinstance(value, Sequence) and not isinstance(value, str):
            for clause in value:
                if isinstance(clause, Mapping):
                    names |= _identifiers(clause)
        else:
            names.add(str(key).split(".", 1)[0])
    return names


def check_identifiers(update: OperatorUpdate, raw: Any) -> None:
    """Every ``$[x]`` needs a filter for ``x``, and every filter must be used (MongoDB's rule)."""
    used: set[str] = set()
    for field in update.fields:
        for segment in field.path.split("."):
            name = identifier(segment)
            if name:
                used.add(name)
                if all(name != known for known, _ in update.array_filters):
                    raise InvalidQueryError(
                        f"No array filter found for the identifier {name!r} in the path "
                        f"{field.path!r}; pass array_filters=[{{{name!r}: ...}}]",
                        path=field.path,
                        operator=field.op.value,
                    )
    for name, _ in update.array_filters:
        if name not in used:
            raise InvalidQueryError(
                f"The array filter for the identifier {name!r} is not used in the update "
                f"{raw!r}; remove it or use $[{name}] in a path",
                operator="arrayFilters",
                path=name,
            )


# -- resolving paths ---------------------------------------------------------------------


def concrete_updates(
    update: OperatorUpdate, document: Mapping[str, Any], *, inserting: bool
) -> list[FieldUpdate]:
    """The update's fields with every positional path replaced by the concrete paths it
    designates in ``document`` (none when no element qualifies)."""
    filters = dict(update.array_filters)
    out: list[FieldUpdate] = []
    for field in update.fields:
        if "$" not in field.path:
            out.append(field)
            continue
        resolver = _Resolver(field, filters, update.query, inserting)
        for path in resolver.paths(document):
            out.append(FieldUpdate(field.op, path, field.operand))
    return out


class _Resolver:
    def __init__(
        self,
        field: FieldUpdate,
        filters: Mapping[str, FilterNode],
        query: FilterNode | None,
        inserting: bool,
    ) -> None:
        self.field = field
        self.parts = field.path.split(".")
        self.filters = filters
        self.query = query
        self.inserting = inserting
        self.found: list[str] = []

    def paths(self, document: Mapping[str, Any]) -> list[str]:
        self._walk(document, document, 0, ())
        return self.found

    def _error(self, message: str) -> InvalidQueryError:
        return InvalidQueryError(
            f"{self.field.op.value} on {self.field.path!r}: {message}",
            path=self.field.path,
            operator=self.field.op.value,
        )

    def _walk(self, root: Any, value: Any, position: int, prefix: tuple[str, ...]) -> None:
        parts = self.parts
        if not any(s == FIRST_MATCH or s.startswith("$[") for s in parts[position:]):
            self.found.append(".".join(prefix + tuple(parts[position:])))
            return
        segment = parts[position]
        if segment != FIRST_MATCH and not segment.startswith("$["):
            child: Any = MISSING
            if isinstance(value, Mapping):
                child = value.get(segment, MISSING)
            elif isinstance(value, list) and is_index(segment) and int(segment) < len(value):
                child = value[int(segment)]
            if child is MISSING:
                if segment == parts[position] and parts[position + 1] == FIRST_MATCH:
                    raise self._error(_NO_MATCH)
                raise self._error(
                    f"the path {'.'.join((*prefix, segment))!r} must exist in the document "
                    "to apply array updates"
                )
            self._walk(root, child, position + 1, (*prefix, segment))
            return
        where = ".".join(prefix)
        if segment == FIRST_MATCH:
            if self.inserting or not isinstance(value, list):
                raise self._error(_NO_MATCH)
            index = self._first_match(root, prefix, value)
            self._walk(root, value[index], position + 1, (*prefix, str(index)))
            return
        if not isinstance(value, list):
            raise self._error(
                f"cannot apply array updates to the non-array element {where!r} ({value!r})"
            )
        name = identifier(segment)
        node = self.filters.get(name) if name else None
        for index, element in enumerate(value):
            if node is None or matches(node, {name: element}):
                self._walk(root, element, position + 1, (*prefix, str(index)))

    def _first_match(self, root: Any, prefix: tuple[str, ...], array: list[Any]) -> int:
        """The first element whose presence alone satisfies the query's conditions on the
        array (what the positional ``$`` stands for)."""
        path = ".".join(prefix)
        relevant = _about(self.query, path) if self.query is not None else []
        if not relevant:
            raise self._error(_NO_MATCH)
        for index, element in enumerate(array):
            probe = _with_only(root, prefix, element)
            if all(matches(node, probe) for node in relevant):
                return index
        raise self._error(_NO_MATCH)


def _about(node: FilterNode, path: str) -> list[FilterNode]:
    """The conjuncts of ``node`` that test ``path`` or a field under it."""
    conjuncts = node.clauses if isinstance(node, And) else (node,)
    return [clause for clause in conjuncts if _mentions(clause, path)]


def _mentions(node: FilterNode, path: str) -> bool:
    if isinstance(node, (Condition, ElemMatch)):
        return node.path == path or node.path.startswith(path + ".")
    if isinstance(node, (And, Or, Nor)):
        return any(_mentions(clause, path) for clause in node.clauses)
    if isinstance(node, Not):
        return _mentions(node.clause, path)
    return False


def _with_only(value: Any, prefix: tuple[str, ...], element: Any) -> Any:
    """``value`` with the array at ``prefix`` holding just ``element`` (copies on the way)."""
    if not prefix:
        return [element]
    head, rest = prefix[0], prefix[1:]
    if isinstance(value, Mapping):
        copy = dict(value)
        copy[head] = _with_only(value.get(head), rest, element)
        return copy
    if isinstance(value, list) and is_index(head) and int(head) < len(value):
        items = list(value)
        items[int(head)] = _with_only(value[int(head)], rest, element)
        return items
    return value
