"""Expression operators with positional arguments (``$add``, ``$eq``, ``$concat``...) and
the value semantics they share: MongoDB truthiness, comparison with ``MISSING`` below null,
BSON type names and ``$toString`` conversion.

Each builder receives the operator name and its compiled arguments and returns the compiled
operator. ``expressions.py`` validates arity from ``OPERATORS`` and compiles the arguments;
operators that take named arguments (``$cond``'s document form, ``$dateToString``) live there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.dates import format_date, to_utc
from lexigram_nosql.query.ordering import compare_values
from lexigram_nosql.query.paths import MISSING

__all__ = [
    "OPERATORS",
    "Builder",
    "Evaluator",
    "bson_type_name",
    "compare",
    "is_truthy",
    "make_cond",
    "nullish",
    "to_string",
    "type_error",
    "values_equal",
]

Evaluator = Callable[[Any, Mapping[str, Any]], Any]
"""A compiled expression: ``(current document, variables) -> value``."""

Builder = Callable[[str, list[Evaluator]], Evaluator]
"""Builds an operator from its name and compiled arguments."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _error(message: str, operator: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(message, operator=operator)


def is_truthy(value: Any) -> bool:
    """MongoDB's expression truthiness: false, null, missing and zero are false."""
    if value is MISSING or value is None or value is False:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    return True


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 in MongoDB's order, with ``MISSING`` below every value (even ``null``)."""
    if a is MISSING or b is MISSING:
        return (a is not MISSING) - (b is not MISSING)
    return compare_values(a, b)


def values_equal(a: Any, b: Any) -> bool:
    """Equality as ``$eq`` decides it (``1 == 1.0``, ``True != 1``, field order matters)."""
    return compare(a, b) == 0


def bson_type_name(value: Any) -> str:
    """The BSON type name ``$type`` reports for ``value``."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    # BSON classes first: bson.Int64 is an int subclass but always a "long".
    other = _OTHER_TYPE_NAMES.get(type(value).__name__)
    if other is not None:
        return other
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, (bytes, bytearray)):
        return "binData"
    if isinstance(value, re.Pattern):
        return "regex"
    return type(value).__name__


_OTHER_TYPE_NAMES: Final = {
    "ObjectId": "objectId",
    "Decimal": "decimal",
    "Decimal128": "decimal",
    "Int64": "long",
    "Binary": "binData",
    "Regex": "regex",
    "Timestamp": "timestamp",
    "MinKey": "minKey",
    "MaxKey": "maxKey",
}


# -- operators ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fit(value: Any) -> Any:
    # MongoDB promotes a long that overflows to a double.
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


def type_error(name: str, value: Any, expected: str) -> InvalidQueryError:
    """The error for an operand of the wrong type, naming the operator and the type."""
    return _error(
        f"{name} only supports {expected}, not {bson_type_name(value)} ({value!r}).",
        operator=name,
    )


def nullish(value: Any) -> bool:
    """Null or missing: what most operators answer with null."""
    return value is None or value is MISSING


def _add(name: str, args: list[Evaluator]) -> Evaluator:
    def add(doc: Any, variables: Mapping[str, Any]) -> Any:
        total: Any = 0
        date: datetime | None = None
        for arg in args:
            value = arg(doc, variables)
            if nullish(value):
                return None
            if isinstance(value, datetime):
                if date is not None:
                    raise _error("$add can only add one date.", operator=name)
                date = value
            elif _is_number(value):
                total += value
            else:
                raise type_error(name, value, "numeric or date types")
        if date is not None:
            return date + timedelta(milliseconds=total)
        return _fit(total)

    return add


def _subtract(name: str, args: list[Evaluator]) -> Evaluator:
    left, right = args

    def subtract(doc: Any, variables: Mapping[str, Any]) -> Any:
        a, b = left(doc, variables), right(doc, variables)
        if nullish(a) or nullish(b):
            return None
        if isinstance(a, datetime) and isinstance(b, datetime):
            return (to_utc(a) - to_utc(b)) // timedelta(milliseconds=1)
        if isinstance(a, datetime) and _is_number(b):
            return a - timedelta(milliseconds=b)
        if _is_number(a) and _is_number(b):
            return _fit(a - b)
        raise type_error(name, a if not _is_number(a) else b, "numeric or date types")

    return subtract


def _numbers(name: str, args: list[Evaluator], doc: Any, variables: Mapping[str, Any]) -> Any:
    values = []
    for arg in args:
        value = arg(doc, variables)
        if nullish(value):
            return None
        if not _is_number(value):
            raise type_error(name, value, "numeric types")
        values.append(value)
    return values


def _multiply(name: str, args: list[Evaluator]) -> Evaluator:
    def multiply(doc: Any, variables: Mapping[str, Any]) -> Any:
        values = _numbers(name, args, doc, variables)
        if values is None:
            return None
        product: Any = 1
        for value in values:
            product *= value
        return _fit(product)

    return multiply


def _divide(name: str, args: list[Evaluator]) -> Evaluator:
    def divide(doc: Any, variables: Mapping[str, Any]) -> Any:
        values = _numbers(name, args, doc, variables)
        if values is None:
            return None
        if values[1] == 0:
            raise _error("$divide cannot divide by zero.", operator=name)
        return values[0] / values[1]

    return divide


def _mod(name: str, args: list[Evaluator]) -> Evaluator:
    def mod(doc: Any, variables: Mapping[str, Any]) -> Any:
        values = _numbers(name, args, doc, variables)
        if values is None:
            return None
        a, b = values
        if b == 0:
            raise _error("$mod cannot divide by zero.", operator=name)
        if isinstance(a, int) and isinstance(b, int):
            # The remainder takes the dividend's sign (C semantics), unlike Python's %.
            remainder = abs(a) % abs(b)
            return remainder if a >= 0 else -remainder
        return math.fmod(a, b)

    return mod


def _unary_number(function: Callable[[Any], Any]) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        (arg,) = args

        def unary(doc: Any, variables: Mapping[str, Any]) -> Any:
            value = arg(doc, variables)
            if nullish(value):
                return None
            if not _is_number(value):
                raise type_error(name, value, "numeric types")
            return function(value)

        return unary

    return build


def _ceil_or_floor(function: Callable[[float], int]) -> Callable[[Any], Any]:
    return lambda value: value if isinstance(value, int) else float(function(value))


def _round(name: str, args: list[Evaluator]) -> Evaluator:
    number = args[0]
    place = args[1] if len(args) > 1 else (lambda _doc, _variables: 0)

    def round_(doc: Any, variables: Mapping[str, Any]) -> Any:
        value, digits = number(doc, variables), place(doc, variables)
        if nullish(value) or nullish(digits):
            return None
        if not _is_number(value):
            raise type_error(name, value, "numeric types")
        if not isinstance(digits, int) or isinstance(digits, bool) or not -20 < digits < 100:
            raise _error(f"$round place must be an integer in (-20, 100), got {digits!r}.", name)
        # Python's round() rounds half to even, as MongoDB's $round does.
        if isinstance(value, int):
            return value if digits >= 0 else round(value, digits)
        return float(round(value, digits))

    return round_


def _comparison(test: Callable[[int], bool]) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        left, right = args
        return lambda doc, variables: test(compare(left(doc, variables), right(doc, variables)))

    return build


def _cmp(name: str, args: list[Evaluator]) -> Evaluator:
    left, right = args
    return lambda doc, variables: compare(left(doc, variables), right(doc, variables))


def _and(name: str, args: list[Evaluator]) -> Evaluator:
    return lambda doc, variables: all(is_truthy(arg(doc, variables)) for arg in args)


def _or(name: str, args: list[Evaluator]) -> Evaluator:
    return lambda doc, variables: any(is_truthy(arg(doc, variables)) for arg in args)


def _not(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args
    return lambda doc, variables: not is_truthy(arg(doc, variables))


def _cond_positional(name: str, args: list[Evaluator]) -> Evaluator:
    return make_cond(*args)


def make_cond(test: Evaluator, then: Evaluator, otherwise: Evaluator) -> Evaluator:
    """``$cond``: evaluates only the branch it takes."""

    def cond(doc: Any, variables: Mapping[str, Any]) -> Any:
        branch = then if is_truthy(test(doc, variables)) else otherwise
        return branch(doc, variables)

    return cond


def _if_null(name: str, args: list[Evaluator]) -> Evaluator:
    *candidates, replacement = args

    def if_null(doc: Any, variables: Mapping[str, Any]) -> Any:
        for candidate in candidates:
            value = candidate(doc, variables)
            if not nullish(value):
                return value
        return replacement(doc, variables)

    return if_null


def _concat(name: str, args: list[Evaluator]) -> Evaluator:
    def concat(doc: Any, variables: Mapping[str, Any]) -> Any:
        parts = []
        for arg in args:
            value = arg(doc, variables)
            if nullish(value):
                return None
            if not isinstance(value, str):
                raise type_error(name, value, "strings")
            parts.append(value)
        return "".join(parts)

    return concat


def _change_case(upper: bool) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        (arg,) = args

        def change_case(doc: Any, variables: Mapping[str, Any]) -> Any:
            value = arg(doc, variables)
            if nullish(value):
                return ""
            text = value if isinstance(value, str) else to_string(name, value)
            return text.upper() if upper else text.lower()

        return change_case

    return build


def to_string(name: str, value: Any) -> Any:
    """``$toString``: null for null or missing; refuses documents and arrays."""
    if nullish(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}.get(repr(value), repr(value))
    if isinstance(value, datetime):
        return format_date(value, "%Y-%m-%dT%H:%M:%S.%LZ", None)
    if type(value).__name__ == "ObjectId":
        return str(value)
    raise _error(f"{name} cannot convert {bson_type_name(value)} to a string.", operator=name)


def _to_string_op(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args
    return lambda doc, variables: to_string(name, arg(doc, variables))


def _type(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args
    return lambda doc, variables: bson_type_name(arg(doc, variables))


def _size(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args

    def size(doc: Any, variables: Mapping[str, Any]) -> Any:
        value = arg(doc, variables)
        if not isinstance(value, list):
            raise type_error(name, value, "arrays")
        return len(value)

    return size


def _array_elem_at(name: str, args: list[Evaluator]) -> Evaluator:
    array_arg, index_arg = args

    def array_elem_at(doc: Any, variables: Mapping[str, Any]) -> Any:
        array, index = array_arg(doc, variables), index_arg(doc, variables)
        if nullish(array) or nullish(index):
            return None
        if not isinstance(array, list):
            raise type_error(name, array, "an array as first argument")
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise type_error(name, index, "an integer index")
        if -len(array) <= index < len(array):
            return array[index]
        return MISSING

    return array_elem_at


def _in(name: str, args: list[Evaluator]) -> Evaluator:
    needle_arg, array_arg = args

    def in_(doc: Any, variables: Mapping[str, Any]) -> Any:
        needle, array = needle_arg(doc, variables), array_arg(doc, variables)
        if not isinstance(array, list):
            raise type_error(name, array, "an array as second argument")
        return any(values_equal(needle, item) for item in array)

    return in_


def _substring(by_bytes: bool) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        text_arg, start_arg, length_arg = args

        def substring(doc: Any, variables: Mapping[str, Any]) -> Any:
            text = text_arg(doc, variables)
            start, length = start_arg(doc, variables), length_arg(doc, variables)
            if nullish(text):
                return ""
            if not isinstance(text, str):
                text = to_string(name, text)
            for value in (start, length):
                if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
                    raise type_error(name, value, "integer start and length")
            first, count = int(start), int(length)
            if first < 0:
                raise _error(f"{name} start must be non-negative, got {first}.", operator=name)
            if not by_bytes:
                return text[first:] if count < 0 else text[first : first + count]
            data = text.encode("utf-8")
            chunk = data[first:] if count < 0 else data[first : first + count]
            try:
                return chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise _error(
                    f"{name} would split a UTF-8 character; use $substrCP.", operator=name
                ) from None

        return substring

    return build


def _array_reducer(function: Callable[[list[Any]], Any], numeric: bool) -> Builder:
    """``$sum``/``$avg``/``$min``/``$max`` used as expressions: one array, or several values."""

    def build(name: str, args: list[Evaluator]) -> Evaluator:
        def reduce(doc: Any, variables: Mapping[str, Any]) -> Any:
            values = [arg(doc, variables) for arg in args]
            if len(values) == 1 and isinstance(values[0], list):
                values = values[0]
            if numeric:
                values = [v for v in values if _is_number(v)]
            else:
                values = [v for v in values if not nullish(v)]
            return function(values)

        return reduce

    return build


def _sum_values(values: list[Any]) -> Any:
    return _fit(sum(values)) if values else 0


def _avg_values(values: list[Any]) -> Any:
    return sum(values) / len(values) if values else None


def _extreme(sign: int) -> Callable[[list[Any]], Any]:
    def pick(values: list[Any]) -> Any:
        best: Any = None
        for value in values:
            if best is None or compare(value, best) * sign > 0:
                best = value
        return best

    return pick


OPERATORS: Final[dict[str, tuple[int, int | None, Builder]]] = {
    "$add": (0, None, _add),
    "$subtract": (2, 2, _subtract),
    "$multiply": (0, None, _multiply),
    "$divide": (2, 2, _divide),
    "$mod": (2, 2, _mod),
    "$abs": (1, 1, _unary_number(abs)),
    "$ceil": (1, 1, _unary_number(_ceil_or_floor(math.ceil))),
    "$floor": (1, 1, _unary_number(_ceil_or_floor(math.floor))),
    "$round": (1, 2, _round),
    "$eq": (2, 2, _comparison(lambda c: c == 0)),
    "$ne": (2, 2, _comparison(lambda c: c != 0)),
    "$gt": (2, 2, _comparison(lambda c: c > 0)),
    "$gte": (2, 2, _comparison(lambda c: c >= 0)),
    "$lt": (2, 2, _comparison(lambda c: c < 0)),
    "$lte": (2, 2, _comparison(lambda c: c <= 0)),
    "$cmp": (2, 2, _cmp),
    "$and": (0, None, _and),
    "$or": (0, None, _or),
    "$not": (1, 1, _not),
    "$cond": (3, 3, _cond_positional),
    "$ifNull": (2, None, _if_null),
    "$concat": (0, None, _concat),
    "$toLower": (1, 1, _change_case(upper=False)),
    "$toUpper": (1, 1, _change_case(upper=True)),
    "$toString": (1, 1, _to_string_op),
    "$type": (1, 1, _type),
    "$size": (1, 1, _size),
    "$arrayElemAt": (2, 2, _array_elem_at),
    "$in": (2, 2, _in),
    "$substr": (3, 3, _substring(by_bytes=True)),
    "$substrBytes": (3, 3, _substring(by_bytes=True)),
    "$substrCP": (3, 3, _substring(by_bytes=False)),
    "$sum": (1, None, _array_reducer(_sum_values, numeric=True)),
    "$avg": (1, None, _array_reducer(_avg_values, numeric=True)),
    "$min": (1, None, _array_reducer(_extreme(-1), numeric=False)),
    "$max": (1, None, _array_reducer(_extreme(1), numeric=False)),
}
