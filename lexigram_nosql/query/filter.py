"""Parsing filter documents into ``FilterNode`` trees, and matching documents against them.

Parsing validates everything once (operators, operand types, paths) and raises
``InvalidQueryError`` naming the path and the operator; matching never re-reads the user's
document. ``matches`` compiles each node into a closure the first time it sees it
(``matching.py``), so a filter used for a scan costs one compilation, not one per document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    Expr,
    FieldOp,
    FilterNode,
    MatchAll,
    Nor,
    Not,
    Or,
)
from lexigram_nosql.query.expressions import parse_expression
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.paths import PLAIN_PATHS, check_path
from lexigram_nosql.query.values import (
    bson_class,
    canonical_type_name,
    check_document,
    check_nesting,
    is_number,
    to_python_number,
)
from lexigram_nosql.records import builder
from lexigram_nosql.types import FilterDocument

__all__ = [
    "compile_regex",
    "matches",
    "parse_element_filter",
    "parse_equalities",
    "parse_filter",
]

_JAVASCRIPT: Final = frozenset({"$where", "$function", "$accumulator"})
_LOGICAL: Final = {"$and": And, "$or": Or, "$nor": Nor}
_FIELD_OPS: Final = {op.value: op for op in FieldOp}
_COMPARISONS: Final = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
_REGEX_FLAGS: Final = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
# Values compared as they are (``_as_stored`` returns them unchanged, nothing nests in them).
_PLAIN_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_EQ: Final = FieldOp.EQ  # a module global: reading an enum member off its class is slow
_condition: Final = builder(Condition)


def parse_filter(filter: FilterDocument | None) -> FilterNode:
    """Validate a filter document. Raises ``InvalidQueryError`` naming the path and operator."""
    if filter is None:
        return MatchAll()
    check_nesting(filter, where="the filter")
    return _parse_document(filter, prefix="")


def parse_equalities(filter: Any) -> FilterNode | None:
    """The parse of the commonest filters, field equalities with plain scalar values
    (``{"_id": 7}``, ``{"email": e, "active": True}``), without the general walk; None for
    any other filter. Whatever it returns, ``parse_filter`` returns too (a test compares
    them), and such a filter has nothing ``query_limits`` bounds."""
    if type(filter) is not dict:
        return None
    if len(filter) == 1:  # the commonest: no list of clauses to build
        for key in filter:
            value = filter[key]
            if type(value) not in _PLAIN_SCALARS or (
                key not in PLAIN_PATHS and not _equality_path(key)
            ):
                return None
            return _condition(key, _EQ, value)
    clauses: list[FilterNode] = []
    for key in filter:  # keys, then the value: cheaper than items() and its pairs
        value = filter[key]
        if type(value) not in _PLAIN_SCALARS or (
            key not in PLAIN_PATHS and not _equality_path(key)
        ):
            return None
        clauses.append(_condition(key, _EQ, value))
    return _conjunction(clauses)


def _equality_path(key: Any) -> bool:
    """Whether ``parse_equalities`` takes ``key`` as a field path: not an operator (``$and``)
    nor anything but a string; a field path ``check_path`` refuses raises here, as it would
    in the general walk."""
    if type(key) is not str or key[:1] in ("$", ""):
        return False
    check_path(key, where="A filter field path")
    return True


def matches(node: FilterNode, document: Any) -> bool:
    """Whether ``document`` satisfies ``node``, exactly as MongoDB decides it."""
    return compile_filter(node)(document)


def parse_element_filter(path: str, operand: Any) -> FilterNode | None:
    """The condition a ``$pull`` operand puts on array elements, or ``None`` for a plain value.

    Operators (``{"$gte": 6}``) and regexes test the element itself (path ``""``); a document
    of fields (``{"score": 8}``) is a filter that element documents must match.
    """
    if isinstance(operand, re.Pattern):
        return Condition("", FieldOp.REGEX, operand)
    if _is_operator_document(path, operand):
        return _conjunction(_parse_operators("", operand))
    if isinstance(operand, Mapping) and operand:
        return _parse_document(operand, prefix=path, operator="$pull")
    return None


# -- documents and logical operators -----------------------------------------------------


def _parse_document(filter: Any, *, prefix: str, operator: str | None = None) -> FilterNode:
    if not isinstance(filter, Mapping):
        where = f"the {operator} clauses" if operator else "a filter"
        raise InvalidQueryError(
            f"Entries of {where} must be documents, got {type(filter).__name__} {filter!r}",
            path=prefix or None,
            operator=operator,
        )
    clauses: list[FilterNode] = []
    for key, value in filter.items():
        if not isinstance(key, str):
            raise InvalidQueryError(
                f"Filter keys must be strings, got {key!r}", path=str(key), operator=operator
            )
        if key.startswith("$"):
            node = _parse_top_level(key, value, prefix=prefix)
            if node is not None:
                clauses.append(node)
            continue
        path = check_path(key, where="A filter field path")
        clauses.extend(_parse_field(path, value))
    return _conjunction(clauses)


def _conjunction(clauses: list[FilterNode]) -> FilterNode:
    if not clauses:
        return MatchAll()
    if len(clauses) == 1:
        return clauses[0]
    return And(tuple(clauses))


def _parse_top_level(key: str, value: Any, *, prefix: str) -> FilterNode | None:
    if key in _LOGICAL:
        if not isinstance(value, (list, tuple)) or not value:
            raise InvalidQueryError(
                f"{key} needs a non-empty list of filter documents, got {value!r}",
                path=prefix or None,
                operator=key,
            )
        nodes = tuple(_parse_document(item, prefix=prefix, operator=key) for item in value)
        return _LOGICAL[key](nodes)
    if key == "$expr":
        return Expr(parse_expression(value))
    if key == "$comment":
        return None
    if key in _JAVASCRIPT:
        raise InvalidQueryError(
            f"{key} runs JavaScript, which lexigram-nosql refuses everywhere",
            path=prefix or None,
            operator=key,
        )
    raise InvalidQueryError(
        f"Unknown top-level filter operator {key!r}; a field name cannot start with '$'",
        path=prefix or None,
        operator=key,
    )


# -- one field -----------------------------------------------------------------------------


def _is_operator_document(path: str, value: Any) -> bool:
    """Whether ``value`` (the value of a field in a filter) is a document of operators."""
    if not isinstance(value, Mapping) or not value:
        return False
    keys = list(value)
    dollar = [isinstance(k, str) and k.startswith("$") for k in keys]
    if all(dollar):
        return True
    if any(dollar):
        raise InvalidQueryError(
            f"The condition on {path!r} mixes operators and field names ({keys!r}); use either "
            "operators or a whole document to compare with",
            path=path,
            operator=next(k for k, d in zip(keys, dollar, strict=True) if d),
        )
    return False


def _parse_field(path: str, value: Any) -> list[FilterNode]:
    if isinstance(value, re.Pattern):
        return [Condition(path, FieldOp.REGEX, value)]
    if _is_operator_document(path, value):
        return _parse_operators(path, value)
    _check_literal(value, path, "$eq")
    return [Condition(path, FieldOp.EQ, _as_stored(value, path, "$eq"))]


def _as_stored(value: Any, path: str, operator: str) -> Any:
    """A value compared with stored ones, held to the value model (what MongoDB cannot
    store, it cannot compare: ``InvalidQueryError`` naming the path) and in stored form
    (datetimes in UTC at milliseconds, as BSON sends them), so it compares as in MongoDB."""
    cls = type(value)
    if cls is str or cls is float or cls is bool or value is None:
        return value
    if cls is int or cls is Decimal:
        return value  # compared exactly by the engine (a Decimal is Decimal128 unwrapped)
    if path == "_id" and bson_class(value) == "ObjectId":
        return str(value)  # the id policy: stored ids hold ObjectIds as their hex strings
    return check_document(value, where=f"the {operator} value of {path!r}", path=path)


def _check_literal(value: Any, path: str, operator: str) -> None:
    """Refuse operators and empty keys hidden inside a value compared as a whole."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key or key.startswith("$"):
                raise InvalidQueryError(
                    f"The value compared by {operator} on {path!r} has the key {key!r}: "
                    "operators and empty keys are not allowed in field position",
                    path=path,
                    operator=operator,
                )
            _check_literal(item, path, operator)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_literal(item, path, operator)


def _parse_operators(path: str, spec: Mapping[str, Any]) -> list[FilterNode]:
    nodes: list[FilterNode] = []
    if "$options" in spec and "$regex" not in spec:
        raise InvalidQueryError(
            f"$options on {path!r} needs a $regex next to it", path=path, operator="$options"
        )
    for operator, operand in spec.items():
        if operator == "$options":
            continue
        if operator == "$regex":
            pattern = compile_regex(operand, spec.get("$options"), path=path)
            nodes.append(Condition(path, FieldOp.REGEX, pattern))
        elif operator == "$not":
            nodes.append(Not(_parse_not(path, operand)))
        elif operator == "$elemMatch":
            nodes.append(_parse_elem_match(path, operand))
        elif operator == "$all":
            nodes.append(_parse_all(path, operand))
        elif operator in _FIELD_OPS:
            op = _FIELD_OPS[operator]
            nodes.append(Condition(path, op, _operand(path, op, operand)))
        elif operator in _JAVASCRIPT:
            raise InvalidQueryError(
                f"{operator} on {path!r} runs JavaScript, which lexigram-nosql refuses everywhere",
                path=path,
                operator=operator,
            )
        elif operator in _LOGICAL or operator == "$expr":
            raise InvalidQueryError(
                f"{operator} cannot be used as a condition on the field {path!r}; it belongs at "
                "the top level of a filter",
                path=path,
                operator=operator,
            )
        else:
            raise InvalidQueryError(
                f"Unknown operator {operator!r} in the condition on {path!r}",
                path=path,
                operator=operator,
            )
    return nodes


def _parse_not(path: str, operand: Any) -> FilterNode:
    if isinstance(operand, re.Pattern):
        return Condition(path, FieldOp.REGEX, operand)
    if not isinstance(operand, Mapping) or not operand:
        raise InvalidQueryError(
            f"$not on {path!r} needs a regular expression or a non-empty document of "
            f"operators, got {operand!r}",
            path=path,
            operator="$not",
        )
    if not all(isinstance(k, str) and k.startswith("$") for k in operand):
        raise InvalidQueryError(
            f"$not on {path!r} takes operators, not field names ({list(operand)!r})",
            path=path,
            operator="$not",
        )
    return _conjunction(_parse_operators(path, operand))


def _parse_elem_match(path: str, operand: Any) -> FilterNode:
    if not isinstance(operand, Mapping):
        raise InvalidQueryError(
            f"$elemMatch on {path!r} needs a document, got {operand!r}",
            path=path,
            operator="$elemMatch",
        )
    keys = [k for k in operand if isinstance(k, str)]
    value_form = bool(keys) and all(
        k.startswith("$") and k not in _LOGICAL and k != "$expr" for k in keys
    )
    if value_form:
        # Operators on the elements themselves: {"$elemMatch": {"$gt": 1, "$lt": 5}}.
        return ElemMatch(path, _conjunction(_parse_operators("", operand)))
    return ElemMatch(path, _parse_document(operand, prefix=path, operator="$elemMatch"))


def _parse_all(path: str, operand: Any) -> FilterNode:
    if not isinstance(operand, (list, tuple)):
        raise InvalidQueryError(
            f"$all on {path!r} needs a list, got {operand!r}", path=path, operator="$all"
        )
    elem_matches = [
        isinstance(item, Mapping) and len(item) == 1 and "$elemMatch" in item for item in operand
    ]
    if operand and all(elem_matches):
        return _conjunction([_parse_elem_match(path, item["$elemMatch"]) for item in operand])
    if any(elem_matches):
        raise InvalidQueryError(
            f"$all on {path!r} cannot mix $elemMatch documents with plain values",
            path=path,
            operator="$all",
        )
    for item in operand:
        if not isinstance(item, re.Pattern):
            _check_literal(item, path, "$all")
    return Condition(path, FieldOp.ALL, tuple(operand))


def _operand(path: str, op: FieldOp, operand: Any) -> Any:
    name = op.value
    if name in _COMPARISONS:
        if isinstance(operand, re.Pattern) and op is not FieldOp.EQ:
            raise InvalidQueryError(
                f"{name} on {path!r} cannot take a regular expression; use $regex, or $not "
                "with a regular expression",
                path=path,
                operator=name,
            )
        _check_literal(operand, path, name)
        return _as_stored(operand, path, name)
    if op in (FieldOp.IN, FieldOp.NIN):
        if not isinstance(operand, (list, tuple)):
            raise InvalidQueryError(
                f"{name} on {path!r} needs a list of values, got {type(operand).__name__} "
                f"{operand!r}",
                path=path,
                operator=name,
            )
        for item in operand:
            if isinstance(item, Mapping) and any(
                isinstance(k, str) and k.startswith("$") for k in item
            ):
                raise InvalidQueryError(
                    f"{name} on {path!r} lists values, not operators ({item!r})",
                    path=path,
                    operator=name,
                )
            if not isinstance(item, re.Pattern):
                _check_literal(item, path, name)
        return tuple(
            item if isinstance(item, re.Pattern) else _as_stored(item, path, name)
            for item in operand
        )
    if op is FieldOp.EXISTS:
        # MongoDB reads the operand's truthiness: {"$exists": 0} means "does not exist".
        if operand is None:
            return False
        if is_number(operand):
            return bool(to_python_number(operand))
        return bool(operand) if isinstance(operand, bool) else True
    if op is FieldOp.TYPE:
        specs = operand if isinstance(operand, (list, tuple)) else [operand]
        if not specs:
            raise InvalidQueryError(
                f"$type on {path!r} needs at least one type", path=path, operator=name
            )
        return tuple(dict.fromkeys(canonical_type_name(spec, path=path) for spec in specs))
    if op is FieldOp.SIZE:
        return _size_operand(path, operand)
    if op is FieldOp.MOD:
        return _mod_operand(path, operand)
    raise InvalidQueryError(  # pragma: no cover - every FieldOp is handled above
        f"Unknown operator {name!r} on {path!r}", path=path, operator=name
    )


def _size_operand(path: str, operand: Any) -> int:
    if isinstance(operand, bool) or not is_number(operand):
        raise InvalidQueryError(
            f"$size on {path!r} needs a non-negative integer, got {operand!r}",
            path=path,
            operator="$size",
        )
    number = to_python_number(operand)
    if (isinstance(number, (float, Decimal)) and number != int(number)) or number < 0:
        raise InvalidQueryError(
            f"$size on {path!r} needs a non-negative integer, got {operand!r}",
            path=path,
            operator="$size",
        )
    return int(number)


def _mod_operand(path: str, operand: Any) -> tuple[int, int]:
    if not isinstance(operand, (list, tuple)) or len(operand) != 2:
        raise InvalidQueryError(
            f"$mod on {path!r} needs [divisor, remainder], got {operand!r}",
            path=path,
            operator="$mod",
        )
    numbers: list[int] = []
    for item in operand:
        if not is_number(item):
            raise InvalidQueryError(
                f"$mod on {path!r} needs numbers [divisor, remainder], got {operand!r}",
                path=path,
                operator="$mod",
            )
        number = to_python_number(item)
        if isinstance(number, float) and not math.isfinite(number):
            raise InvalidQueryError(
                f"$mod on {path!r} needs finite numbers, got {operand!r}",
                path=path,
                operator="$mod",
            )
        if isinstance(number, Decimal) and not number.is_finite():
            raise InvalidQueryError(
                f"$mod on {path!r} needs finite numbers, got {operand!r}",
                path=path,
                operator="$mod",
            )
        numbers.append(int(number))  # MongoDB truncates both towards zero
    divisor, remainder = numbers
    if divisor == 0:
        raise InvalidQueryError(f"$mod on {path!r} has a divisor of 0", path=path, operator="$mod")
    return divisor, remainder


def compile_regex(pattern: Any, options: Any, *, path: str) -> re.Pattern[str]:
    """A ``$regex`` operand (text or compiled pattern) with its ``$options`` applied."""
    if options is not None and not isinstance(options, str):
        raise InvalidQueryError(
            f"$options on {path!r} must be a string of flags (i, m, s, x), got {options!r}",
            path=path,
            operator="$options",
        )
    flags = 0
    for letter in options or "":
        if letter == "u":  # Python patterns are always Unicode-aware
            continue
        if letter not in _REGEX_FLAGS:
            raise InvalidQueryError(
                f"$options on {path!r} has the unknown flag {letter!r}; use i, m, s or x",
                path=path,
                operator="$options",
            )
        flags |= _REGEX_FLAGS[letter]
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, str):
            raise InvalidQueryError(
                f"$regex on {path!r} needs a text pattern, got bytes",
                path=path,
                operator="$regex",
            )
        if not flags:
            return pattern
        return re.compile(pattern.pattern, pattern.flags | flags)
    if not isinstance(pattern, str):
        raise InvalidQueryError(
            f"$regex on {path!r} needs a string or compiled pattern, got {pattern!r}",
            path=path,
            operator="$regex",
        )
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise InvalidQueryError(
            f"$regex on {path!r} is not a valid regular expression ({exc})",
            path=path,
            operator="$regex",
        ) from exc
