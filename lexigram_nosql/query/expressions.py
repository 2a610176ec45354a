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

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.dates import (
    format_date,
    parse_timezone,
    validate_date_format,
)
from lexigram_nosql.query.operators import (
    OPERATORS,
    Evaluator,
    bson_type_name,
    compare,
    is_truthy,
    make_cond,
    nullish,
    type_error,
    values_equal,
)
from lexigram_nosql.query.paths import MISSING
from lexigram_nosql.query.values import check_nesting

__all__ = [
    "FORBIDDEN_OPERATORS",
    "CompiledExpression",
    "bind_variables",
    "bson_type_name",
    "compare",
    "current_variables",
    "pop_variables",
    "push_variables",
    "evaluate",
    "is_truthy",
    "parse_expression",
    "resolve_field_path",
    "valid_variable_name",
    "values_equal",
]

FORBIDDEN_OPERATORS: Final = frozenset({"$where", "$function", "$accumulator"})
"""Operators that run JavaScript on the server; refused everywhere."""

_NO_VARIABLES: Final[Mapping[str, Any]] = MappingProxyType({})
_BOUND: ContextVar[Mapping[str, Any]] = ContextVar(
    "lexigram_nosql_variables", default=_NO_VARIABLES
)
_VARIABLE_NAME = re.compile(r"^[a-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*$")
_SYSTEM_VARIABLES: Final = frozenset({"ROOT", "CURRENT", "REMOVE"})


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
    check_nesting(expression, where="the expression")
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


def push_variables(variables: Mapping[str, Any]) -> Token[Mapping[str, Any]]:
    """``bind_variables`` without its block, for a caller that spans an ``async with``:
    hand the token to ``pop_variables`` in the same context."""
    return _BOUND.set(MappingProxyType({**_BOUND.get(), **variables}))


def pop_variables(token: Token[Mapping[str, Any]]) -> None:
    _BOUND.reset(token)


def current_variables() -> Mapping[str, Any]:
    """The variables bound by the innermost ``bind_variables`` (empty outside any)."""
    return _BOUND.get()


def valid_variable_name(name: str) -> bool:
    """Whether ``name`` can be bound by ``let`` (starts lowercase; letters, digits, ``_``)."""
    return bool(_VARIABLE_NAME.match(name))


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
    spec = OPERATORS.get(name)
    if spec is None:
        raise _error(f"Unknown expression operator {name!r}.", operator=name)
    low, high, build = spec
    raw_args = list(operand) if isinstance(operand, (list, tuple)) else [operand]
    if len(raw_args) < low or (high is not None and len(raw_args) > high):
        expected = str(low) if low == high else f"{low} to {high if high is not None else 'any'}"
        raise _error(f"{name} takes {expected} argument(s), got {len(raw_args)}.", operator=name)
    return build(name, [_compile(arg) for arg in raw_args])


# -- operators with named arguments ------------------------------------------------------


def _named_arguments(
    name: str, operand: Any, required: set[str], optional: set[str]
) -> dict[str, Any]:
    if not isinstance(operand, Mapping):
        raise _error(f"{name} takes a document of named arguments, got {operand!r}.", name)
    unknown = set(operand) - required - optional
    if unknown:
        raise _error(f"{name} does not accept argument(s) {sorted(unknown, key=str)!r}.", name)
    absent = required - set(operand)
    if absent:
        raise _error(f"{name} requires argument(s) {sorted(absent)!r}.", name)
    return dict(operand)


def _cond(operand: Any) -> Evaluator:
    if isinstance(operand, (list, tuple)):
        if len(operand) != 3:
            raise _error(f"$cond takes 3 arguments, got {len(operand)}.", "$cond")
        return make_cond(*(_compile(arg) for arg in operand))
    args = _named_arguments("$cond", operand, {"if", "then", "else"}, set())
    return make_cond(_compile(args["if"]), _compile(args["then"]), _compile(args["else"]))


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
        if nullish(date):
            return on_null(doc, variables) if on_null is not None else None
        if not isinstance(date, datetime):
            raise type_error(name, date, "dates")
        fmt = format_arg(doc, variables)
        if not isinstance(fmt, str):
            raise type_error(name, fmt, "a string format")
        zone = None
        if timezone_arg is not None:
            zone_name = timezone_arg(doc, variables)
            if nullish(zone_name):
                return None
            if not isinstance(zone_name, str):
                raise type_error(name, zone_name, "a string timezone")
            zone = parse_timezone(zone_name)
        return format_date(date, fmt, zone)

    return date_to_string


# -- field-name operators ($getField, $setField, $unsetField) ----------------------------


def _field_name(name: str, raw: Any) -> str:
    """The ``field`` argument: a string constant (``{"$literal": ...}`` for one starting
    with ``$``), never a path: ``"a.b"`` names the field called ``a.b``."""
    if isinstance(raw, Mapping) and list(raw) == ["$literal"]:
        raw = raw["$literal"]
    elif isinstance(raw, str) and raw.startswith("$"):
        raise _error(
            f"{name}: the field {raw!r} would be a field path; write "
            f"{{'$literal': {raw!r}}} to name a field starting with '$'.",
            operator=name,
        )
    if not isinstance(raw, str):
        raise _error(f"{name} requires 'field' to be a string constant, got {raw!r}.", name)
    return raw


def _object_input(name: str, value: Any) -> dict[str, Any] | None:
    """``input`` as an object, or None when it is null or missing (the result is then null)."""
    if nullish(value):
        return None
    if not isinstance(value, dict):
        raise type_error(name, value, "an object as 'input'")
    return value


def _get_field(operand: Any) -> Evaluator:
    name = "$getField"
    if isinstance(operand, Mapping) and "field" in operand:
        args = _named_arguments(name, operand, {"field"}, {"input"})
    else:  # the short form: {$getField: "name"} reads the current document
        args = {"field": operand}
    field = _field_name(name, args["field"])
    source = _compile(args.get("input", "$$CURRENT"))

    def get_field(doc: Any, variables: Mapping[str, Any]) -> Any:
        found = _object_input(name, source(doc, variables))
        return None if found is None else found.get(field, MISSING)

    return get_field


def _set_field(operand: Any, *, unset: bool = False) -> Evaluator:
    name = "$unsetField" if unset else "$setField"
    args = _named_arguments(
        name, operand, {"field", "input"} | (set() if unset else {"value"}), set()
    )
    field = _field_name(name, args["field"])
    source = _compile(args["input"])
    value = _constant(MISSING) if unset else _compile(args["value"])

    def set_field(doc: Any, variables: Mapping[str, Any]) -> Any:
        found = _object_input(name, source(doc, variables))
        if found is None:
            return None
        new = value(doc, variables)
        out = dict(found)
        if new is MISSING:  # $$REMOVE, or $unsetField
            out.pop(field, None)
        else:
            out[field] = new
        return out

    return set_field


_SPECIAL: Final[dict[str, Callable[[Any], Evaluator]]] = {
    "$cond": _cond,
    "$dateToString": _date_to_string,
    "$getField": _get_field,
    "$setField": _set_field,
    "$unsetField": lambda operand: _set_field(operand, unset=True),
}
