"""Compiling filter nodes into Python closures that decide MongoDB's matching rules.

A node is compiled once and remembered by identity (nodes are frozen, so a node's closure is
valid for as long as the node lives). The rules, per value a path reaches:

- a value that is an array is tested as a whole and element by element (``{"a": 1}``
  matches ``{"a": [1, 2]}``); ``$size``, ``$elemMatch`` and ``$type: "array"`` look at the
  array itself; inside ``$elemMatch`` conditions on the element (path ``""``) see it as is;
- equality to ``None`` also matches a missing field;
- ``$gt``/``$gte``/``$lt``/``$lte`` only compare values of the operand's type bracket
  (``{"$gt": 5}`` never matches a string), with NaN equal only to NaN;
- ``$ne``, ``$nin`` and ``$not`` hold when the positive test fails for every value.
"""

from __future__ import annotations

import operator as _operator
import re
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

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
from lexigram_nosql.query.expressions import evaluate
from lexigram_nosql.query.ordering import NULL, NUMBER, is_nan_key, sort_key
from lexigram_nosql.query.paths import MISSING, path_getter
from lexigram_nosql.query.patterns import regex_test
from lexigram_nosql.query.values import is_nan, is_number, to_python_number, type_name

__all__ = ["compile_filter", "tests_element_itself"]

Matcher = Callable[[Any], bool]
ValueTest = Callable[[Any], bool]

_CACHE_SIZE: Final = 4096
_cache: dict[int, tuple[FilterNode, Matcher]] = {}
_cache_lock = threading.Lock()


def compile_filter(node: FilterNode) -> Matcher:
    """The matcher of ``node``: a function from a document to whether it matches."""
    entry = _cache.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    matcher = _compile(node)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            # Evict the oldest entry; the node keeps working, it is just compiled again.
            _cache.pop(next(iter(_cache)), None)
        _cache[id(node)] = (node, matcher)
    return matcher


def _compile(node: FilterNode) -> Matcher:
    if isinstance(node, Condition):
        return _compile_condition(node)
    if isinstance(node, MatchAll):
        return lambda document: True
    if isinstance(node, And):
        return _all_of([_compile(clause) for clause in node.clauses])
    if isinstance(node, Or):
        return _any_of([_compile(clause) for clause in node.clauses])
    if isinstance(node, Nor):
        any_of = _any_of([_compile(clause) for clause in node.clauses])
        return lambda document: not any_of(document)
    if isinstance(node, Not):
        inner = _compile(node.clause)
        return lambda document: not inner(document)
    if isinstance(node, ElemMatch):
        return _compile_elem_match(node)
    if isinstance(node, Expr):
        return _compile_expr(node)
    raise TypeError(f"not a filter node: {node!r}")


def _all_of(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        first, second = matchers
        return lambda document: first(document) and second(document)

    def all_of(document: Any) -> bool:
        for matcher in matchers:  # noqa: SIM110 - a plain loop is faster than all(genexpr)
            if not matcher(document):
                return False
        return True

    return all_of


def _any_of(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]

    def any_of(document: Any) -> bool:
        for matcher in matchers:  # noqa: SIM110 - a plain loop is faster than any(genexpr)
            if matcher(document):
                return True
        return False

    return any_of


def _compile_elem_match(node: ElemMatch) -> Matcher:
    getter = path_getter(node.path)
    inner = _compile(node.clause)
    documents_only = not tests_element_itself(node.clause)

    def elem_match(document: Any) -> bool:
        for value in getter(document):
            if isinstance(value, list):
                for element in value:
                    if documents_only and not isinstance(element, dict):
                        continue
                    if inner(element):
                        return True
        return False

    return elem_match


def tests_element_itself(node: FilterNode) -> bool:
    """Whether an ``$elemMatch`` clause is the operator form (conditions on path ``""``)."""
    if isinstance(node, (Condition, ElemMatch)):
        return node.path == ""
    if isinstance(node, (And, Or, Nor)):
        return any(tests_element_itself(clause) for clause in node.clauses)
    if isinstance(node, Not):
        return tests_element_itself(node.clause)
    return False


def _compile_expr(node: Expr) -> Matcher:
    expression = node.expression

    def expr(document: Any) -> bool:
        return _truthy(evaluate(expression, document))

    return expr


def _truthy(value: Any) -> bool:
    """Aggregation truthiness: false, null, missing and zero are false; all else is true."""
    if value is None or value is MISSING or value is False:
        return False
    if is_number(value):
        return bool(to_python_number(value))
    return True


# -- conditions ------------------------------------------------------------------------------


def _compile_condition(node: Condition) -> Matcher:
    getter = path_getter(node.path)
    op, operand = node.op, node.operand
    expand = node.path != ""  # inside $elemMatch the element is tested as it is
    key = node.path if expand and "." not in node.path else None
    if op is FieldOp.EXISTS:
        if operand:
            return lambda document: any(value is not MISSING for value in getter(document))
        return lambda document: all(value is MISSING for value in getter(document))
    if op is FieldOp.SIZE:
        return lambda document: any(
            isinstance(value, list) and len(value) == operand for value in getter(document)
        )
    if op is FieldOp.NE:
        positive = _leaf_matcher(getter, _equals(operand), expand, key)
        return lambda document: not positive(document)
    if op is FieldOp.NIN:
        positive = _leaf_matcher(getter, _in(operand), expand, key)
        return lambda document: not positive(document)
    if op is FieldOp.ALL:
        return _compile_all(getter, operand, expand)
    if op is FieldOp.TYPE:
        return _compile_type(getter, operand, expand)
    return _leaf_matcher(getter, _value_test(op, operand), expand, key)


def _leaf_matcher(
    getter: Callable[[Any], list[Any]], test: ValueTest, expand: bool, key: str | None = None
) -> Matcher:
    """Any value at the path, or (for arrays) any of its elements, passes ``test``.

    ``key`` is set for a one-segment path: the common case reads the field directly.
    """
    if not expand:
        return lambda document: any(test(value) for value in getter(document))
    if key is not None:

        def leaf_field(document: Any) -> bool:
            if type(document) is not dict:
                return any_leaf(document)
            value = document.get(key, MISSING)
            if test(value):
                return True
            if type(value) is list:
                for element in value:
                    if test(element):
                        return True
            return False

        any_leaf = _leaf_matcher(getter, test, expand)
        return leaf_field

    def leaf(document: Any) -> bool:
        for value in getter(document):
            if test(value):
                return True
            if type(value) is list:
                for element in value:
                    if test(element):
                        return True
        return False

    return leaf


def _value_test(op: FieldOp, operand: Any) -> ValueTest:
    if op is FieldOp.EQ:
        return _equals(operand)
    if op is FieldOp.IN:
        return _in(operand)
    if op is FieldOp.REGEX:
        search = regex_test(operand)
        return lambda value: isinstance(value, str) and search(value)
    if op is FieldOp.MOD:
        return _mod(*operand)
    if op in _ORDERINGS:
        return _ordering(op, operand)
    raise TypeError(f"no value test for {op}")  # pragma: no cover - parse refuses others


def _equals(operand: Any) -> ValueTest:
    """The test of one value against an ``$eq`` operand (compiled regexes compare as values)."""
    if operand is None:
        return lambda value: value is None or value is MISSING
    cls = type(operand)
    if cls is str:
        return lambda value: type(value) is str and value == operand
    if cls is bool:
        return lambda value: value is operand
    if (cls is int or cls is float or cls is Decimal) and not is_nan(operand):

        def number_equals(value: Any) -> bool:
            value_cls = type(value)
            if value_cls is int or value_cls is float:
                return bool(value == operand)
            if value_cls is bool or not is_number(value):
                return False
            return bool(to_python_number(value) == operand)

        return number_equals
    key = sort_key(operand)
    return lambda value: value is not MISSING and sort_key(value) == key


def _in(operand: tuple[Any, ...]) -> ValueTest:
    patterns = [regex_test(item) for item in operand if isinstance(item, re.Pattern)]
    keys = {sort_key(item) for item in operand if not isinstance(item, re.Pattern)}
    strings = {item for item in operand if type(item) is str}
    if len(strings) == len(keys) and not patterns:
        return lambda value: type(value) is str and value in strings
    numbers = {item for item in operand if type(item) in (int, float, Decimal) and not is_nan(item)}
    nan_listed = any(is_number(item) and is_nan(item) for item in operand)
    matches_missing = sort_key(None) in keys

    def test(value: Any) -> bool:
        cls = type(value)
        if cls is str:
            if value in strings:
                return True
            for pattern in patterns:  # noqa: SIM110 - hot path
                if pattern(value):
                    return True
            return False
        if cls is int or cls is float:
            # Plain numbers hash like the equal ints, floats and Decimals: one set lookup.
            return value in numbers if value == value else nan_listed
        if value is MISSING:
            return matches_missing
        return sort_key(value) in keys

    return test


_ORDERINGS: Final = {
    FieldOp.GT: _operator.gt,
    FieldOp.GTE: _operator.ge,
    FieldOp.LT: _operator.lt,
    FieldOp.LTE: _operator.le,
}


def _ordering(op: FieldOp, operand: Any) -> ValueTest:
    compare = _ORDERINGS[op]
    inclusive = op in (FieldOp.GTE, FieldOp.LTE)
    key = sort_key(operand)
    bracket = key[0]
    if bracket == NULL:
        # null only equals null (or missing): $gte/$lte null match those, $gt/$lt nothing.
        return _equals(None) if inclusive else (lambda value: False)
    if is_nan_key(key):
        return _equals(operand) if inclusive else (lambda value: False)
    if bracket == NUMBER:
        if type(operand) in (int, float):

            def number_test(value: Any) -> bool:
                cls = type(value)
                if cls is int or cls is float:
                    return bool(compare(value, operand))  # NaN compares false, as in MongoDB
                if cls is bool or not is_number(value):
                    return False
                number = to_python_number(value)
                if isinstance(number, Decimal) and number.is_nan():
                    return False
                return bool(compare(number, operand))

            return number_test

        def decimal_test(value: Any) -> bool:
            if not is_number(value):
                return False
            value_key = sort_key(value)
            return not is_nan_key(value_key) and bool(compare(value_key, key))

        return decimal_test
    if type(operand) is str:
        return lambda value: type(value) is str and bool(compare(value, operand))
    if bracket in (1, 13):  # MinKey / MaxKey operands compare with every type
        return lambda value: bool(compare(sort_key(value), key))

    def bracket_test(value: Any) -> bool:
        if value is MISSING:
            return False
        value_key = sort_key(value)
        return value_key[0] == bracket and bool(compare(value_key, key))

    return bracket_test


def _mod(divisor: int, remainder: int) -> ValueTest:
    def test(value: Any) -> bool:
        if not is_number(value):
            return False
        number = to_python_number(value)
        if isinstance(number, float):
            if number != number or number in (float("inf"), float("-inf")):
                return False
        elif isinstance(number, Decimal) and not number.is_finite():
            return False
        truncated = int(number)
        # MongoDB's remainder has the sign of the dividend (C semantics), unlike Python's %.
        result = abs(truncated) % abs(divisor)
        return (result if truncated >= 0 else -result) == remainder

    return test


def _compile_all(
    getter: Callable[[Any], list[Any]], operand: tuple[Any, ...], expand: bool
) -> Matcher:
    if not operand:
        return lambda document: False  # MongoDB: {"$all": []} matches nothing
    matchers = [
        _leaf_matcher(getter, _value_test(FieldOp.REGEX, item), expand)
        if isinstance(item, re.Pattern)
        else _leaf_matcher(getter, _equals(item), expand)
        for item in operand
    ]
    return _all_of(matchers)


def _compile_type(
    getter: Callable[[Any], list[Any]], names: tuple[str, ...], expand: bool
) -> Matcher:
    wanted = frozenset(names)
    number = "number" in wanted
    array = "array" in wanted

    def test(value: Any) -> bool:
        name = type_name(value)
        if name is None:
            return False
        return name in wanted or (number and name in ("int", "long", "double", "decimal"))

    def type_matcher(document: Any) -> bool:
        for value in getter(document):
            if type(value) is list:
                if array:
                    return True
                if expand:
                    for element in value:
                        if test(element):
                            return True
            elif test(value):
                return True
        return False

    return type_matcher
