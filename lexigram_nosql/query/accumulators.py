"""``$group`` accumulators (``$sum $avg $min $max $first $last $push $addToSet $count``) and
the equality key that groups, ``$addToSet`` and ``$lookup`` use to decide "same value"
(``ordering.sort_key``, which is hashable and equal exactly for values MongoDB calls equal).

Each accumulator folds one group's values in constant memory (but ``$push``/``$addToSet``,
which keep what they collect). MongoDB's rules: ``$sum``/``$avg`` ignore non-numbers (booleans
and arrays included), ``$sum`` of nothing is 0 and ``$avg`` of nothing is null, ``$min``/``$max``
ignore null and missing, ``$first``/``$last`` report a missing value as null, ``$push`` and
``$addToSet`` skip missing values.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.expressions import CompiledExpression, compare, parse_expression
from lexigram_nosql.query.ordering import sort_key
from lexigram_nosql.query.paths import MISSING

__all__ = [
    "ACCUMULATORS",
    "Accumulator",
    "AccumulatorSpec",
    "parse_accumulator",
    "value_key",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def value_key(value: Any) -> Hashable:
    """A hashable key equal for values MongoDB considers equal: ``1`` and ``1.0`` match,
    ``True`` and ``1`` do not, documents compare field order, missing and null match."""
    key: Hashable = sort_key(value)
    return key


class Accumulator:
    """The running state of one accumulator for one group."""

    __slots__ = ()

    def add(self, value: Any) -> None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError


def _is_number(value: Any) -> bool:
    cls = type(value)
    if cls is int or cls is float:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Sum(Accumulator):
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total: Any = 0

    def add(self, value: Any) -> None:
        if _is_number(value):
            self.total += value

    def result(self) -> Any:
        total = self.total
        if isinstance(total, int) and not _INT64_MIN <= total <= _INT64_MAX:
            return float(total)
        return total


class _Avg(Accumulator):
    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.total: Any = 0
        self.count = 0

    def add(self, value: Any) -> None:
        if _is_number(value):
            self.total += value
            self.count += 1

    def result(self) -> Any:
        return self.total / self.count if self.count else None


class _Extreme(Accumulator):
    __slots__ = ("best", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.best: Any = MISSING

    def add(self, value: Any) -> None:
        if value is None or value is MISSING:
            return
        if self.best is MISSING or compare(value, self.best) * self.sign > 0:
            self.best = value

    def result(self) -> Any:
        return None if self.best is MISSING else self.best


class _First(Accumulator):
    __slots__ = ("seen", "value")

    def __init__(self) -> None:
        self.seen = False
        self.value: Any = None

    def add(self, value: Any) -> None:
        if not self.seen:
            self.seen = True
            self.value = None if value is MISSING else value

    def result(self) -> Any:
        return self.value


class _Last(Accumulator):
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def add(self, value: Any) -> None:
        self.value = None if value is MISSING else value

    def result(self) -> Any:
        return self.value


class _Push(Accumulator):
    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any) -> None:
        if value is not MISSING:
            self.values.append(value)

    def result(self) -> Any:
        return self.values


class _AddToSet(Accumulator):
    __slots__ = ("values",)

    def __init__(self) -> None:
        # First-seen order: MongoDB leaves it unspecified, we keep it deterministic.
        self.values: dict[Hashable, Any] = {}

    def add(self, value: Any) -> None:
        if value is not MISSING:
            self.values.setdefault(value_key(value), value)

    def result(self) -> Any:
        return list(self.values.values())


class _Count(Accumulator):
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def add(self, value: Any) -> None:
        self.count += 1

    def result(self) -> Any:
        return self.count


ACCUMULATORS: Final = {
    "$sum": _Sum,
    "$avg": _Avg,
    "$min": lambda: _Extreme(-1),
    "$max": lambda: _Extreme(1),
    "$first": _First,
    "$last": _Last,
    "$push": _Push,
    "$addToSet": _AddToSet,
    "$count": _Count,
}
"""Supported accumulators, by operator, to their state factories."""


@dataclass(frozen=True, slots=True)
class AccumulatorSpec:
    """One output field of ``$group``: ``field: {operator: expression}``."""

    field: str
    operator: str
    expression: CompiledExpression | None

    def new(self) -> Accumulator:
        """A fresh state for a new group."""
        factory: Any = ACCUMULATORS[self.operator]
        state: Accumulator = factory()
        return state


def parse_accumulator(field: Any, spec: Any) -> AccumulatorSpec:
    """Validate one ``$group`` output field."""
    if not isinstance(field, str) or not field or field.startswith("$") or "." in field:
        raise InvalidQueryError(
            f"$group output field {field!r} must be a non-empty name without '.' or a leading '$'.",
            operator="$group",
            path=str(field),
        )
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise InvalidQueryError(
            f"$group field {field!r} must be a document with exactly one accumulator, "
            f"got {spec!r}.",
            operator="$group",
            path=field,
        )
    ((operator, operand),) = spec.items()
    if operator not in ACCUMULATORS:
        raise InvalidQueryError(
            f"$group field {field!r} uses unknown accumulator {operator!r}; supported: "
            f"{', '.join(ACCUMULATORS)}.",
            operator=str(operator),
            path=field,
        )
    if operator == "$count":
        if not isinstance(operand, Mapping) or operand:
            raise InvalidQueryError(
                f"$group field {field!r}: $count takes an empty document, got {operand!r}.",
                operator=operator,
                path=field,
            )
        return AccumulatorSpec(field, operator, None)
    if isinstance(operand, list):
        raise InvalidQueryError(
            f"$group field {field!r}: {operator} is a unary operator and cannot take an array.",
            operator=operator,
            path=field,
        )
    try:
        expression = parse_expression(operand)
    except InvalidQueryError as exc:
        raise InvalidQueryError(
            f"$group field {field!r}: {exc.message}", operator=exc.operator or operator, path=field
        ) from exc
    return AccumulatorSpec(field, operator, expression)
