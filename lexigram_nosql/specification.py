"""Specifications: reusable, composable query predicates.

A specification compiles into the query language (``spec.to_filter()``) and evaluates a
document with the same engine the backends fall back on (``spec.is_satisfied_by(doc)``), so
what a repository finds and what ``is_satisfied_by`` accepts never disagree::

    active_admins = FieldEq("status", "active") & FieldEq("role", "admin")
    banned_or_old = FieldEq("status", "banned") | FieldLt("age", 18)
    others = ~active_admins          # {"$nor": [...]}: correct for compound specs too

``&`` and ``|`` flatten (``a & b & c`` is one ``AndExpr`` of three), ``~~spec`` is ``spec``,
and negating a comparison keeps MongoDB's semantics exactly: ``~FieldEq`` is ``FieldNe``
(which, like ``$ne``, also matches documents without the field) and ``~FieldGt`` is *not*
``FieldLte`` but ``{"$nor": [...]}``, since ``$lte`` would miss documents lacking the field.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.filter import matches, parse_filter

__all__ = [
    "AndExpr",
    "FieldContains",
    "FieldEq",
    "FieldExists",
    "FieldGt",
    "FieldGte",
    "FieldIn",
    "FieldLt",
    "FieldLte",
    "FieldNe",
    "FieldNotIn",
    "FieldRegex",
    "NotExpr",
    "OrExpr",
    "Specification",
]


class Specification(abc.ABC):
    """A predicate on documents that compiles into a filter document."""

    __slots__ = ()

    @abc.abstractmethod
    def to_filter(self) -> dict[str, Any]:
        """The filter document of this specification, in the query language."""

    def is_satisfied_by(self, document: Any) -> bool:
        """Whether ``document`` matches, decided by the query engine on ``to_filter()``."""
        return matches(parse_filter(self.to_filter()), document)

    def negate(self) -> Specification:
        """The exact negation; subclasses return a simpler equivalent where one exists."""
        return NotExpr(self)

    def __and__(self, other: Specification) -> AndExpr:
        if not isinstance(other, Specification):
            return NotImplemented
        return AndExpr(*_flatten(AndExpr, (self, other)))

    def __or__(self, other: Specification) -> OrExpr:
        if not isinstance(other, Specification):
            return NotImplemented
        return OrExpr(*_flatten(OrExpr, (self, other)))

    def __invert__(self) -> Specification:
        return self.negate()


def _flatten(kind: type[AndExpr | OrExpr], specs: Iterable[Specification]) -> list[Specification]:
    flat: list[Specification] = []
    for spec in specs:
        if type(spec) is kind:
            flat.extend(spec.clauses)
        else:
            flat.append(spec)
    return flat


def _check_field(spec: str, field: Any) -> str:
    if not isinstance(field, str) or not field or field.startswith("$"):
        raise InvalidQueryError(
            f"{spec} needs a field path (a non-empty string not starting with '$'), got {field!r}",
            path=str(field),
        )
    return field


# -- one field ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldSpec(Specification):
    field: str

    def __post_init__(self) -> None:
        _check_field(type(self).__name__, self.field)


@dataclass(frozen=True, slots=True)
class _Comparison(_FieldSpec):
    value: Any
    operator: ClassVar[str]

    def to_filter(self) -> dict[str, Any]:
        return {self.field: {self.operator: self.value}}


@dataclass(frozen=True, slots=True)
class FieldEq(_Comparison):
    """``field == value`` (for an array field: some element equals ``value``, or the array
    equals it), as ``$eq``."""

    operator: ClassVar[str] = "$eq"

    def negate(self) -> Specification:
        return FieldNe(self.field, self.value)


@dataclass(frozen=True, slots=True)
class FieldNe(_Comparison):
    """``field != value``, as ``$ne``: also true when the field is missing."""

    operator: ClassVar[str] = "$ne"

    def negate(self) -> Specification:
        return FieldEq(self.field, self.value)


@dataclass(frozen=True, slots=True)
class FieldGt(_Comparison):
    """``field > value`` (``$gt``, within MongoDB's type brackets)."""

    operator: ClassVar[str] = "$gt"


@dataclass(frozen=True, slots=True)
class FieldGte(_Comparison):
    """``field >= value`` (``$gte``)."""

    operator: ClassVar[str] = "$gte"


@dataclass(frozen=True, slots=True)
class FieldLt(_Comparison):
    """``field < value`` (``$lt``)."""

    operator: ClassVar[str] = "$lt"


@dataclass(frozen=True, slots=True)
class FieldLte(_Comparison):
    """``field <= value`` (``$lte``)."""

    operator: ClassVar[str] = "$lte"


def _values(spec: str, field: str, values: Iterable[Any]) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise InvalidQueryError(
            f"{spec}({field!r}, ...) needs a list of values, got {type(values).__name__}",
            path=field,
        )
    return tuple(values)


@dataclass(frozen=True, slots=True)
class FieldIn(_FieldSpec):
    """``field`` equals one of ``values`` (``$in``)."""

    values: Iterable[Any]

    def __post_init__(self) -> None:
        _check_field("FieldIn", self.field)
        object.__setattr__(self, "values", _values("FieldIn", self.field, self.values))

    def to_filter(self) -> dict[str, Any]:
        return {self.field: {"$in": list(self.values)}}

    def negate(self) -> Specification:
        return FieldNotIn(self.field, self.values)


@dataclass(frozen=True, slots=True)
class FieldNotIn(_FieldSpec):
    """``field`` equals none of ``values`` (``$nin``; true when the field is missing)."""

    values: Iterable[Any]

    def __post_init__(self) -> None:
        _check_field("FieldNotIn", self.field)
        object.__setattr__(self, "values", _values("FieldNotIn", self.field, self.values))

    def to_filter(self) -> dict[str, Any]:
        return {self.field: {"$nin": list(self.values)}}

    def negate(self) -> Specification:
        return FieldIn(self.field, self.values)


@dataclass(frozen=True, slots=True)
class FieldExists(_FieldSpec):
    """The field is present (``exists=True``, the default) or absent (``$exists``)."""

    exists: bool = True

    def to_filter(self) -> dict[str, Any]:
        return {self.field: {"$exists": self.exists}}

    def negate(self) -> Specification:
        return FieldExists(self.field, not self.exists)


@dataclass(frozen=True, slots=True)
class FieldContains(_FieldSpec):
    """The field is an array with an element equal to ``value`` or, when ``value`` is a
    string, also a string containing ``value`` (case-sensitive substring).

    A string element of an array must equal ``value``; substrings count only in a string
    field, so ``FieldContains("tags", "admin")`` does not match ``["superadmin"]``.
    """

    value: Any

    def to_filter(self) -> dict[str, Any]:
        element = {self.field: {"$elemMatch": {"$eq": self.value}}}
        if not isinstance(self.value, str):
            return element
        substring = {
            "$and": [
                {self.field: {"$regex": re.escape(self.value)}},
                {self.field: {"$not": {"$type": "array"}}},
            ]
        }
        return {"$or": [element, substring]}


_REGEX_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


@dataclass(frozen=True, slots=True, init=False)
class FieldRegex(_FieldSpec):
    """The string field matches ``pattern`` (``$regex``); ``options`` are MongoDB's
    ``imsx``. A compiled ``re.Pattern`` brings its flags along."""

    pattern: str
    options: str

    def __init__(self, field: str, pattern: str | re.Pattern[str], options: str = "") -> None:
        if isinstance(pattern, re.Pattern):
            options = options + "".join(
                letter for flag, letter in _REGEX_FLAGS if pattern.flags & flag
            )
            pattern = pattern.pattern
        if not isinstance(pattern, str):
            raise InvalidQueryError(
                f"FieldRegex({field!r}, ...) needs a pattern string, got {type(pattern).__name__}",
                path=str(field),
                operator="$regex",
            )
        unknown = set(options) - {"i", "m", "s", "x"}
        if unknown:
            raise InvalidQueryError(
                f"FieldRegex({field!r}, ...) has unknown regex options "
                f"{''.join(sorted(unknown))!r}; use any of 'imsx'",
                path=str(field),
                operator="$options",
            )
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "options", "".join(sorted(set(options))))
        self.__post_init__()

    def to_filter(self) -> dict[str, Any]:
        if self.options:
            return {self.field: {"$regex": self.pattern, "$options": self.options}}
        return {self.field: {"$regex": self.pattern}}


# -- composition -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class AndExpr(Specification):
    """Every clause holds (``$and``). ``AndExpr(a, b)`` is ``a & b``."""

    clauses: tuple[Specification, ...]

    def __init__(self, *clauses: Specification) -> None:
        object.__setattr__(self, "clauses", _clauses("AndExpr", clauses))

    def to_filter(self) -> dict[str, Any]:
        if len(self.clauses) == 1:
            return self.clauses[0].to_filter()
        return {"$and": [clause.to_filter() for clause in self.clauses]}


@dataclass(frozen=True, slots=True, init=False)
class OrExpr(Specification):
    """At least one clause holds (``$or``). ``OrExpr(a, b)`` is ``a | b``."""

    clauses: tuple[Specification, ...]

    def __init__(self, *clauses: Specification) -> None:
        object.__setattr__(self, "clauses", _clauses("OrExpr", clauses))

    def to_filter(self) -> dict[str, Any]:
        if len(self.clauses) == 1:
            return self.clauses[0].to_filter()
        return {"$or": [clause.to_filter() for clause in self.clauses]}


@dataclass(frozen=True, slots=True)
class NotExpr(Specification):
    """``clause`` does not hold, compiled as ``{"$nor": [clause]}``: exact for any clause,
    compound ones included (a document lacking the field satisfies ``NotExpr(FieldGt(...))``).
    """

    clause: Specification

    def __post_init__(self) -> None:
        if not isinstance(self.clause, Specification):
            raise InvalidQueryError(
                f"NotExpr needs a specification, got {type(self.clause).__name__}"
            )

    def to_filter(self) -> dict[str, Any]:
        return {"$nor": [self.clause.to_filter()]}

    def negate(self) -> Specification:
        return self.clause


def _clauses(kind: str, clauses: tuple[Any, ...]) -> tuple[Specification, ...]:
    if not clauses:
        raise InvalidQueryError(f"{kind} needs at least one specification")
    for clause in clauses:
        if not isinstance(clause, Specification):
            raise InvalidQueryError(
                f"{kind} combines specifications, got {type(clause).__name__}: {clause!r}"
            )
    return tuple(clauses)
