"""Aggregation expressions: ``"$field"`` paths, literals, operators (``$add``, ``$cond``...).

An expression is validated and compiled once by ``parse_expression`` into a
``CompiledExpression`` (a closure tree), then evaluated per document. Aggregation semantics
differ from query semantics on purpose, as in MongoDB: ``"$a.b"`` maps over arrays (``a: [{b: 1},
{b: 2}]`` gives ``[1, 2]``) and numeric segments are field names, never array indexes; a path
that leads nowhere evaluates to ``MISSING`` (distinct from ``None``), so ``$project`` and
``$addFields`` can leave the field out.

Variables: ``$$ROOT``, ``$$CURRENT``, ``$$REMOVE`` and any bound through ``variables`` or
``bind_variables`` (``$lookup``'s ``let``). Runtime type errors (``$add`` of a string) raise
``InvalidQueryError`` naming the operator, as MongoDB fails the whole command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.dates import (
    format_date,
    parse_timezone,
    to_utc,
    validate_date_format,
)
from lexigram_nosql.query.ordering import compare_values
from lexigram_nosql.query.paths import MISSING

__all__ = [
    "FORBIDDEN_OPERATORS",
    "CompiledExpression",
    "bind_variables",
    "bson_type_name",
    "compare",
    "current_variables",
    "evaluate",
    "is_truthy",
    "parse_expression",
    "resolve_field_path",
    "valid_variable_name",
    "values_equal",
]

Evaluator = Callable[[Any, Mapping[str, Any]], Any]
"""A compiled expression: ``(current document, variables) -> value``."""

FORBIDDEN_OPERATORS: Final = frozenset({"$where", "$function", "$accumulator"})
"""Operators that run JavaScript on the server; refused everywhere."""

_NO_VARIABLES: Final[Mapping[str, Any]] = MappingProxyType({})
_BOUND: ContextVar[Mapping[str, Any]] = ContextVar(
    "lexigram_nosql_variables", default=_NO_VARIABLES
)
_VARIABLE_NAME = re.compile(r"^[a-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*$")
_SYSTEM_VARIABLES: Final = frozenset({"ROOT", "CURRENT", "REMOVE"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class CompiledExpression:
    """A validated expression. Equal when compiled from equal documents."""

    __slots__ = ("function", "raw")

    def __init__(self, raw: Any, function: Evaluator) -> None:
        self.raw = raw
        self.function = function
        """The compiled closure; hot loops call it directly, skipping ``__call__``."""

    def __call__(self, document: Any, variables: Mapping[str, Any] = _NO_VARIABLES) -> Any:
        return self.function(document, variables)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledExpression) and _same(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash(repr(_canonical(self.raw)))

    def __repr__(self) -> str:
        return f"CompiledExpression({self.raw!r})"


def _same(a: Any, b: Any) -> bool:
    # Document field order matters in MongoDB; dict == ignores it.
    return type(a) is type(b) and _canonical(a) == _canonical(b)


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return ("d", tuple((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(_canonical(v) for v in value))
    return (type(value).__name__, value)


# -- public API --------------------------------------------------------------------------


def parse_expression(expression: Any) -> CompiledExpression:
    """Validate an expression; returns the engine's compiled form.

    Raises ``InvalidQueryError`` for unknown operators, wrong arity, malformed field paths or
    variables, and JavaScript operators (``$function``, ``$where``, ``$accumulator``).
    """
    if isinstance(expression, CompiledExpression):
        return expression
    return CompiledExpression(expression, _compile(expression))


def evaluate(expression: Any, document: Any, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a parsed expression against ``document`` (``$$ROOT``, ``$$CURRENT`` and
    ``variables`` are available). A raw expression is parsed first. Returns ``MISSING`` when
    the expression refers to a field that does not exist."""
    compiled = parse_expression(expression)
    return compiled(document, _BOUND.get() if variables is None else variables)


@contextmanager
def bind_variables(variables: Mapping[str, Any]) -> Iterator[None]:
    """Make ``variables`` visible to evaluations that receive none (``$expr`` inside a
    ``$lookup`` sub-pipeline). Nested bindings see the outer ones."""
    merged = {**_BOUND.get(), **variables}
    token = _BOUND.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _BOUND.reset(token)


def current_variables() -> Mapping[str, Any]:
    """The variables bound by the innermost ``bind_variables`` (empty outside any)."""
    return _BOUND.get()


def valid_variable_name(name: str) -> bool:
    """Whether ``name`` can be bound by ``let`` (starts lowercase; letters, digits, ``_``)."""
    return bool(_VARIABLE_NAME.match(name))


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
    name = type(value).__name__
    return {"ObjectId": "objectId", "Decimal": "decimal", "Decimal128": "decimal"}.get(name, name)


def resolve_field_path(value: Any, parts: Sequence[str]) -> Any:
    """Follow ``parts`` with aggregation semantics: arrays map over their elements."""
    for index, part in enumerate(parts):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
            if value is MISSING:
                return MISSING
        elif isinstance(value, list):
            return _resolve_in_array(value, parts[index:])
        else:
            return MISSING
    return value


def _resolve_in_array(array: list[Any], parts: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for element in array:
        if isinstance(element, dict):
            found = resolve_field_path(element, parts)
            if found is not MISSING:
                out.append(found)
        elif isinstance(element, list):
            out.append(_resolve_in_array(element, parts))
    return out


# -- compilation -------------------------------------------------------------------------


def _error(message: str, operator: str | None = None, path: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(message, operator=operator, path=path)


def _compile(expression: Any) -> Evaluator:
    if isinstance(expression, str):
        if expression.startswith("$$"):
            return _compile_variable(expression)
        if expression.startswith("$"):
            return _compile_field_path(expression)
        return _constant(expression)
    if isinstance(expression, Mapping):
        return _compile_mapping(expression)
    if isinstance(expression, (list, tuple)):
        items = [_compile(item) for item in expression]
        return _compile_array(items)
    return _constant(expression)


def _constant(value: Any) -> Evaluator:
    return lambda _doc, _vars: value


def _compile_array(items: list[Evaluator]) -> Evaluator:
    def array(doc: Any, variables: Mapping[str, Any]) -> Any:
        # A missing element becomes null inside an array, as in MongoDB.
        out = []
        for item in items:
            value = item(doc, variables)
            out.append(None if value is MISSING else value)
        return out

    return array


def _check_field_path(path: str, text: str) -> list[str]:
    parts = path.split(".")
    for part in parts:
        if not part:
            raise _error(f"Field path {text!r} has an empty segment.", path=text)
        if part.startswith("$"):
            raise _error(f"Field path {text!r} has a segment starting with '$'.", path=text)
    return parts


def _compile_field_path(text: str) -> Evaluator:
    if text == "$":
        raise _error("'$' by itself is not a valid field path.", path=text)
    parts = _check_field_path(text[1:], text)
    if len(parts) == 1:
        key = parts[0]

        def top_level_field(doc: Any, variables: Mapping[str, Any]) -> Any:
            # The common case ("$status" on a document) without the general walk.
            current = variables.get("CURRENT", doc) if variables else doc
            if type(current) is dict:
                return current.get(key, MISSING)
            return resolve_field_path(current, parts)

        return top_level_field

    def field(doc: Any, variables: Mapping[str, Any]) -> Any:
        current = variables.get("CURRENT", doc)
        return resolve_field_path(current, parts)

    return field


def _compile_variable(text: str) -> Evaluator:
    name, _, rest = text[2:].partition(".")
    if not name or not (name in _SYSTEM_VARIABLES or _VARIABLE_NAME.match(name)):
        raise _error(f"Variable {text!r} is not a valid variable name.", path=text)
    parts = _check_field_path(rest, text) if rest else []
    if name == "REMOVE":
        return _constant(MISSING)

    def variable(doc: Any, variables: Mapping[str, Any]) -> Any:
        if name in variables:
            value = variables[name]
        elif name in ("ROOT", "CURRENT"):
            value = doc
        else:
            bound = _BOUND.get()
            if name not in bound:
                raise _error(f"Use of undefined variable {text!r}.", path=text)
            value = bound[name]
        return resolve_field_path(value, parts) if parts else value

    return variable


def _compile_mapping(expression: Mapping[str, Any]) -> Evaluator:
    keys = list(expression)
    operators = [k for k in keys if isinstance(k, str) and k.startswith("$")]
    if operators:
        if len(keys) != 1:
            raise _error(
                f"An expression object with an operator must have exactly one key, got {keys!r}.",
                operator=operators[0],
            )
        name = operators[0]
        return _compile_operator(name, expression[name])
    fields: list[tuple[str, Evaluator]] = []
    for key, value in expression.items():
        if not isinstance(key, str) or not key:
            raise _error(f"Expression object field names must be non-empty strings: {key!r}.")
        if "." in key:
            raise _error(f"Expression object field {key!r} cannot contain '.'.", path=key)
        fields.append((key, _compile(value)))

    def document(doc: Any, variables: Mapping[str, Any]) -> Any:
        out = {}
        for key, item in fields:
            value = item(doc, variables)
            if value is not MISSING:
                out[key] = value
        return out

    return document


def _compile_operator(name: str, operand: Any) -> Evaluator:
    if name in FORBIDDEN_OPERATORS:
        raise _error(
            f"{name} runs JavaScript and is refused by lexigram-nosql; use expression operators.",
            operator=name,
        )
    if name == "$literal":
        return _constant(operand)
    special = _SPECIAL.get(name)
    if special is not None:
        return special(operand)
    spec = _OPERATORS.get(name)
    if spec is None:
        raise _error(f"Unknown expression operator {name!r}.", operator=name)
    low, high, build = spec
    raw_args = list(operand) if isinstance(operand, (list, tuple)) else [operand]
    if len(raw_args) < low or (high is not None and len(raw_args) > high):
        expected = str(low) if low == high else f"{low} to {high if high is not None else 'any'}"
        raise _error(f"{name} takes {expected} argument(s), got {len(raw_args)}.", operator=name)
    return build(name, [_compile(arg) for arg in raw_args])


# -- operators with positional arguments -------------------------------------------------

Builder = Callable[[str, list[Evaluator]], Evaluator]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fit(value: Any) -> Any:
    # MongoDB promotes a long that overflows to a double.
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    return value


def _type_error(name: str, value: Any, expected: str) -> InvalidQueryError:
    return _error(
        f"{name} only supports {expected}, not {bson_type_name(value)} ({value!r}).",
        operator=name,
    )


def _nullish(value: Any) -> bool:
    return value is None or value is MISSING


def _add(name: str, args: list[Evaluator]) -> Evaluator:
    def add(doc: Any, variables: Mapping[str, Any]) -> Any:
        total: Any = 0
        date: datetime | None = None
        for arg in args:
            value = arg(doc, variables)
            if _nullish(value):
                return None
            if isinstance(value, datetime):
                if date is not None:
                    raise _error("$add can only add one date.", operator=name)
                date = value
            elif _is_number(value):
                total += value
            else:
                raise _type_error(name, value, "numeric or date types")
        if date is not None:
            return date + timedelta(milliseconds=total)
        return _fit(total)

    return add


def _subtract(name: str, args: list[Evaluator]) -> Evaluator:
    left, right = args

    def subtract(doc: Any, variables: Mapping[str, Any]) -> Any:
        a, b = left(doc, variables), right(doc, variables)
        if _nullish(a) or _nullish(b):
            return None
        if isinstance(a, datetime) and isinstance(b, datetime):
            return (to_utc(a) - to_utc(b)) // timedelta(milliseconds=1)
        if isinstance(a, datetime) and _is_number(b):
            return a - timedelta(milliseconds=b)
        if _is_number(a) and _is_number(b):
            return _fit(a - b)
        raise _type_error(name, a if not _is_number(a) else b, "numeric or date types")

    return subtract


def _numbers(name: str, args: list[Evaluator], doc: Any, variables: Mapping[str, Any]) -> Any:
    values = []
    for arg in args:
        value = arg(doc, variables)
        if _nullish(value):
            return None
        if not _is_number(value):
            raise _type_error(name, value, "numeric types")
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
            if _nullish(value):
                return None
            if not _is_number(value):
                raise _type_error(name, value, "numeric types")
            return function(value)

        return unary

    return build


def _ceil_or_floor(function: Callable[[float], int]) -> Callable[[Any], Any]:
    return lambda value: value if isinstance(value, int) else float(function(value))


def _round(name: str, args: list[Evaluator]) -> Evaluator:
    number = args[0]
    place = args[1] if len(args) > 1 else _constant(0)

    def round_(doc: Any, variables: Mapping[str, Any]) -> Any:
        value, digits = number(doc, variables), place(doc, variables)
        if _nullish(value) or _nullish(digits):
            return None
        if not _is_number(value):
            raise _type_error(name, value, "numeric types")
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
    return _make_cond(*args)


def _make_cond(test: Evaluator, then: Evaluator, otherwise: Evaluator) -> Evaluator:
    def cond(doc: Any, variables: Mapping[str, Any]) -> Any:
        branch = then if is_truthy(test(doc, variables)) else otherwise
        return branch(doc, variables)

    return cond


def _if_null(name: str, args: list[Evaluator]) -> Evaluator:
    *candidates, replacement = args

    def if_null(doc: Any, variables: Mapping[str, Any]) -> Any:
        for candidate in candidates:
            value = candidate(doc, variables)
            if not _nullish(value):
                return value
        return replacement(doc, variables)

    return if_null


def _concat(name: str, args: list[Evaluator]) -> Evaluator:
    def concat(doc: Any, variables: Mapping[str, Any]) -> Any:
        parts = []
        for arg in args:
            value = arg(doc, variables)
            if _nullish(value):
                return None
            if not isinstance(value, str):
                raise _type_error(name, value, "strings")
            parts.append(value)
        return "".join(parts)

    return concat


def _change_case(upper: bool) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        (arg,) = args

        def change_case(doc: Any, variables: Mapping[str, Any]) -> Any:
            value = arg(doc, variables)
            if _nullish(value):
                return ""
            text = value if isinstance(value, str) else _to_string(name, value)
            return text.upper() if upper else text.lower()

        return change_case

    return build


def _to_string(name: str, value: Any) -> Any:
    if _nullish(value):
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
    return lambda doc, variables: _to_string(name, arg(doc, variables))


def _type(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args
    return lambda doc, variables: bson_type_name(arg(doc, variables))


def _size(name: str, args: list[Evaluator]) -> Evaluator:
    (arg,) = args

    def size(doc: Any, variables: Mapping[str, Any]) -> Any:
        value = arg(doc, variables)
        if not isinstance(value, list):
            raise _type_error(name, value, "arrays")
        return len(value)

    return size


def _array_elem_at(name: str, args: list[Evaluator]) -> Evaluator:
    array_arg, index_arg = args

    def array_elem_at(doc: Any, variables: Mapping[str, Any]) -> Any:
        array, index = array_arg(doc, variables), index_arg(doc, variables)
        if _nullish(array) or _nullish(index):
            return None
        if not isinstance(array, list):
            raise _type_error(name, array, "an array as first argument")
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise _type_error(name, index, "an integer index")
        if -len(array) <= index < len(array):
            return array[index]
        return MISSING

    return array_elem_at


def _in(name: str, args: list[Evaluator]) -> Evaluator:
    needle_arg, array_arg = args

    def in_(doc: Any, variables: Mapping[str, Any]) -> Any:
        needle, array = needle_arg(doc, variables), array_arg(doc, variables)
        if not isinstance(array, list):
            raise _type_error(name, array, "an array as second argument")
        return any(values_equal(needle, item) for item in array)

    return in_


def _substring(by_bytes: bool) -> Builder:
    def build(name: str, args: list[Evaluator]) -> Evaluator:
        text_arg, start_arg, length_arg = args

        def substring(doc: Any, variables: Mapping[str, Any]) -> Any:
            text = text_arg(doc, variables)
            start, length = start_arg(doc, variables), length_arg(doc, variables)
            if _nullish(text):
                return ""
            if not isinstance(text, str):
                text = _to_string(name, text)
            for value in (start, length):
                if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
                    raise _type_error(name, value, "integer start and length")
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
                values = [v for v in values if not _nullish(v)]
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


_OPERATORS: Final[dict[str, tuple[int, int | None, Builder]]] = {
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


# -- operators with named arguments ------------------------------------------------------


def _named_arguments(
    name: str, operand: Any, required: set[str], optional: set[str]
) -> dict[str, Any]:
    if not isinstance(operand, Mapping):
        raise _error(f"{name} takes a document of named arguments, got {operand!r}.", name)
    unknown = set(operand) - required - optional
    if unknown:
        raise _error(f"{name} does not accept argument(s) {sorted(unknown)!r}.", name)
    absent = required - set(operand)
    if absent:
        raise _error(f"{name} requires argument(s) {sorted(absent)!r}.", name)
    return dict(operand)


def _cond(operand: Any) -> Evaluator:
    if isinstance(operand, (list, tuple)):
        if len(operand) != 3:
            raise _error(f"$cond takes 3 arguments, got {len(operand)}.", "$cond")
        return _make_cond(*(_compile(arg) for arg in operand))
    args = _named_arguments("$cond", operand, {"if", "then", "else"}, set())
    return _make_cond(_compile(args["if"]), _compile(args["then"]), _compile(args["else"]))


def _date_to_string(operand: Any) -> Evaluator:
    name = "$dateToString"
    args = _named_arguments(name, operand, {"date"}, {"format", "timezone", "onNull"})
    date_arg = _compile(args["date"])
    format_raw = args.get("format", "%Y-%m-%dT%H:%M:%S.%LZ")
    if isinstance(format_raw, str) and not format_raw.startswith("$"):
        validate_date_format(format_raw)
    format_arg = _compile(format_raw)
    timezone_raw = args.get("timezone")
    if isinstance(timezone_raw, str) and not timezone_raw.startswith("$"):
        parse_timezone(timezone_raw)
    timezone_arg = _compile(timezone_raw) if timezone_raw is not None else None
    on_null = _compile(args["onNull"]) if "onNull" in args else None

    def date_to_string(doc: Any, variables: Mapping[str, Any]) -> Any:
        date = date_arg(doc, variables)
        if _nullish(date):
            return on_null(doc, variables) if on_null is not None else None
        if not isinstance(date, datetime):
            raise _type_error(name, date, "dates")
        fmt = format_arg(doc, variables)
        if not isinstance(fmt, str):
            raise _type_error(name, fmt, "a string format")
        zone = None
        if timezone_arg is not None:
            zone_name = timezone_arg(doc, variables)
            if _nullish(zone_name):
                return None
            if not isinstance(zone_name, str):
                raise _type_error(name, zone_name, "a string timezone")
            zone = parse_timezone(zone_name)
        return format_date(date, fmt, zone)

    return date_to_string


_SPECIAL: Final[dict[str, Callable[[Any], Evaluator]]] = {
    "$cond": _cond,
    "$dateToString": _date_to_string,
}
