"""Compile a parsed filter into the cheapest DynamoDB read that cannot miss a match.

The plan is GetItem/BatchGetItem (key equality), Query (partition key equality, on the table
or a global secondary index, with a sort-key condition), or Scan. Every condition DynamoDB can
express goes into the KeyConditionExpression/FilterExpression, always through placeholders.
What is pushed down is a *necessary* condition of the filter (MongoDB's array semantics
included: ``{"a": 5}`` also matches ``a: [5]``); when it is not also sufficient the plan is
marked inexact and the engine's ``matches`` decides on every item read, so a result is never
silently wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from lexigram_nosql.backends.dynamodb.codec import (
    AttributeValue,
    encode_key,
    encode_scalar,
    format_datetime,
    is_datetime_text,
    normalize_value,
)
from lexigram_nosql.backends.dynamodb.tables import ARRAY_SENTINEL, GsiInfo, TableInfo
from lexigram_nosql.errors import NoSQLError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    FieldOp,
    FilterNode,
    MatchAll,
    Nor,
    Not,
    Or,
)

__all__ = ["Plan", "PlanStats", "Placeholders", "plan_read", "normalize_filter", "query_shape"]

Operation = Literal["GetItem", "BatchGetItem", "Query", "Scan", "None"]

_RANGE_OPS = {FieldOp.GT: ">", FieldOp.GTE: ">=", FieldOp.LT: "<", FieldOp.LTE: "<="}
_MAX_IN = 50
_MAX_EXPRESSION = 3500  # DynamoDB refuses expressions over 4 KB
_PREFIX_REGEX = re.compile(r"\^([A-Za-z0-9 _\-@/:,]+)$")


@dataclass(frozen=True, slots=True)
class Plan:
    """How a filter is read: the operation, its requests (without the table and paging), and
    whether the server's answer is already exact and in the requested order."""

    operation: Operation
    index: str | None = None
    requests: tuple[dict[str, Any], ...] = ()
    keys: tuple[dict[str, AttributeValue], ...] = ()
    exact: bool = False
    native_order: bool = False
    filter_expression: str | None = None

    @property
    def key_condition(self) -> str | None:
        if not self.requests:
            return None
        expression: str | None = self.requests[0].get("KeyConditionExpression")
        return expression


@dataclass(slots=True)
class PlanStats:
    """What one read did: its plan, how many requests it sent, how many items DynamoDB read
    (and billed), and how many it returned."""

    plan: Plan
    requests: int = 0
    items_read: int = 0
    items_returned: int = 0


class Placeholders:
    """ExpressionAttributeNames/Values, so no name or value is ever inside an expression."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.names: dict[str, str] = {}
        self._name_of: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}

    def name(self, attribute: str) -> str:
        placeholder = self._name_of.get(attribute)
        if placeholder is None:
            placeholder = f"#{self._prefix}n{len(self._name_of)}"
            self._name_of[attribute] = placeholder
            self.names[placeholder] = attribute
        return placeholder

    def value(self, value: AttributeValue) -> str:
        placeholder = f":{self._prefix}v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def arguments(self, *expressions: str | None) -> dict[str, Any]:
        """The names and values the ``expressions`` use (DynamoDB refuses unused ones)."""
        text = " ".join(e for e in expressions if e)
        used = set(re.findall(r"[#:][A-Za-z0-9_]+", text))
        arguments: dict[str, Any] = {}
        names = {k: v for k, v in self.names.items() if k in used}
        values = {k: v for k, v in self.values.items() if k in used}
        if names:
            arguments["ExpressionAttributeNames"] = names
        if values:
            arguments["ExpressionAttributeValues"] = values
        return arguments


# -- filter normalisation ----------------------------------------------------------------


def normalize_filter(node: FilterNode) -> FilterNode:
    """The filter with operands as DynamoDB stores them (datetimes as ISO strings), so the
    engine compares like with like on the items read."""
    if isinstance(node, Condition):
        operand = node.operand
        if node.op in (FieldOp.IN, FieldOp.NIN, FieldOp.ALL):
            operand = tuple(v if isinstance(v, re.Pattern) else normalize_value(v) for v in operand)
        elif node.op not in (FieldOp.REGEX, FieldOp.TYPE, FieldOp.MOD, FieldOp.SIZE):
            operand = normalize_value(operand)
        return node if operand == node.operand else Condition(node.path, node.op, operand)
    if isinstance(node, (And, Or, Nor)):
        return type(node)(tuple(normalize_filter(c) for c in node.clauses))
    if isinstance(node, Not):
        return Not(normalize_filter(node.clause))
    if isinstance(node, ElemMatch):
        return ElemMatch(node.path, normalize_filter(node.clause))
    return node


def query_shape(node: FilterNode) -> str:
    """The filter without its values: one scan warning per shape, not per query."""
    if isinstance(node, Condition):
        return f"{node.path}:{node.op.value}"
    if isinstance(node, (And, Or, Nor)):
        inner = ",".join(sorted(query_shape(c) for c in node.clauses))
        return f"{type(node).__name__.lower()}({inner})"
    if isinstance(node, Not):
        return f"not({query_shape(node.clause)})"
    if isinstance(node, ElemMatch):
        return f"{node.path}:$elemMatch({query_shape(node.clause)})"
    if isinstance(node, MatchAll):
        return "{}"
    return type(node).__name__


# -- filter expressions ------------------------------------------------------------------


def _filter_operand(value: Any) -> AttributeValue | None:
    """A scalar operand DynamoDB compares as MongoDB does, or None."""
    if value is None or isinstance(value, (dict, list, tuple, re.Pattern)):
        return None
    if is_datetime_text(value):
        return None  # stored datetimes have this text, but read back as datetimes
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    try:
        encoded = encode_scalar(value)
    except NoSQLError:
        return None
    if encoded is None or "NULL" in encoded:
        return None
    return encoded


def compile_filter(
    node: FilterNode,
    names: Placeholders,
    skip: frozenset[str] = frozenset(),
    key_types: Mapping[str, str] | None = None,
) -> tuple[str | None, bool]:
    """(expression or None when nothing is pushed, whether it is exactly the filter).
    Conditions on the attributes in ``skip`` (the key of a Query) are left to the caller;
    ``key_types`` names the table's key attributes, whose values are stored as keys."""
    key_types = key_types or {}
    if isinstance(node, MatchAll):
        return None, True
    if isinstance(node, And):
        parts, exact = [], True
        for clause in node.clauses:
            expression, clause_exact = compile_filter(clause, names, skip, key_types)
            exact = exact and clause_exact
            if expression is not None:
                parts.append(expression)
        if not parts:
            return None, exact
        return (parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)), exact
    if isinstance(node, Or):
        parts, exact = [], True
        for clause in node.clauses:
            expression, clause_exact = compile_filter(clause, names, skip, key_types)
            if expression is None:
                return None, False  # one clause may match anything: nothing to push
            parts.append(expression)
            exact = exact and clause_exact
        return " OR ".join(f"({p})" for p in parts), exact
    if isinstance(node, Condition) and node.path in skip:
        return None, True  # a key condition: the caller checks that the key covers it
    if isinstance(node, Condition) and node.path in key_types:
        return _compile_key_condition(node, names, key_types[node.path])
    if isinstance(node, Condition) and "." not in node.path:
        return _compile_condition(node, names)
    return None, False


def _compile_key_condition(
    node: Condition, names: Placeholders, key_type: str
) -> tuple[str | None, bool]:
    """A condition on a key attribute, whose values are stored by ``encode_key`` (scalars
    only, non-strings as tagged text in ``S`` keys)."""
    path = names.name(node.path)
    if node.op in (FieldOp.EQ, FieldOp.IN):
        values = [node.operand] if node.op is FieldOp.EQ else list(node.operand)
        if any(isinstance(v, re.Pattern) for v in values):
            return None, False
        keys = []
        for value in values:
            try:
                keys.append(encode_key(value, key_type, node.path))
            except NoSQLError:
                continue  # no stored key can equal it
        if not keys:
            return None, False
        placeholders = ", ".join(names.value(k) for k in keys)
        return f"{path} IN ({placeholders})", True
    if node.op in _RANGE_OPS and _native(node.operand, key_type):
        operand = names.value(encode_key(node.operand, key_type, node.path))
        return f"{path} {_RANGE_OPS[node.op]} {operand}", False
    if node.op is FieldOp.EXISTS:
        return ("attribute_exists" if node.operand else "attribute_not_exists") + f"({path})", True
    return None, False


def _compile_condition(node: Condition, names: Placeholders) -> tuple[str | None, bool]:
    path = names.name(node.path)
    is_list = f"attribute_type({path}, {names.value({'S': 'L'})})"
    if node.op is FieldOp.EQ:
        operand = _filter_operand(node.operand)
        if operand is None:
            return None, False
        value = names.value(operand)
        return f"{path} = {value} OR ({is_list} AND contains({path}, {value}))", True
    if node.op in _RANGE_OPS:
        operand = _filter_operand(node.operand)
        if operand is None or not ("S" in operand or "N" in operand):
            return None, False
        return f"{path} {_RANGE_OPS[node.op]} {names.value(operand)} OR {is_list}", False
    if node.op is FieldOp.IN:
        operands = [_filter_operand(v) for v in node.operand]
        if not operands or len(operands) > _MAX_IN or any(o is None for o in operands):
            return None, False
        values = [names.value(o) for o in operands if o is not None]
        elements = " OR ".join(f"contains({path}, {v})" for v in values)
        return f"{path} IN ({', '.join(values)}) OR ({is_list} AND ({elements}))", True
    if node.op is FieldOp.EXISTS:
        function = "attribute_exists" if node.operand else "attribute_not_exists"
        return f"{function}({path})", True
    if node.op is FieldOp.SIZE:
        return f"{is_list} AND size({path}) = {names.value({'N': str(node.operand)})}", True
    if node.op is FieldOp.REGEX and isinstance(node.operand, re.Pattern):
        match = _PREFIX_REGEX.match(node.operand.pattern)
        if match is None or node.operand.flags & ~re.UNICODE:
            return None, False
        return f"begins_with({path}, {names.value({'S': match.group(1)})}) OR {is_list}", False
    return None, False


# -- key planning ------------------------------------------------------------------------


def _conjuncts(node: FilterNode) -> list[FilterNode]:
    if isinstance(node, And):
        clauses: list[FilterNode] = []
        for clause in node.clauses:
            clauses.extend(_conjuncts(clause))
        return clauses
    return [node]


def _native(value: Any, key_type: str | None) -> bool:
    if key_type == "S":
        return isinstance(value, str) and bool(value) and not value.startswith("\x00")
    if key_type == "N":
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    return key_type == "B" and isinstance(value, bytes)


@dataclass(slots=True)
class _KeyTerms:
    """The equality, ``$in`` and range conditions on top-level paths of a conjunction."""

    equal: dict[str, list[Any]] = field(default_factory=dict)
    ranges: dict[str, list[tuple[FieldOp, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, node: FilterNode) -> _KeyTerms:
        terms = cls()
        for clause in _conjuncts(node):
            if not isinstance(clause, Condition) or "." in clause.path:
                continue
            if clause.op is FieldOp.EQ and terms.equal.get(clause.path) is None:
                terms.equal[clause.path] = [clause.operand]
            elif clause.op is FieldOp.IN and clause.path not in terms.equal:
                if not any(isinstance(v, re.Pattern) for v in clause.operand):
                    terms.equal[clause.path] = list(clause.operand)
            elif clause.op in _RANGE_OPS:
                terms.ranges.setdefault(clause.path, []).append((clause.op, clause.operand))
        return terms


def plan_read(node: FilterNode, info: TableInfo, sort: tuple[tuple[str, int], ...] = ()) -> Plan:
    """The read for ``node`` (already normalised) on ``info``'s table."""
    if (
        type(node) is Condition
        and node.op is FieldOp.EQ
        and node.path == info.partition_key
        and info.sort_key is None
    ):
        # ``{"_id": value}``, the most common filter of all: what the general way below
        # plans for it, without its walk over the filter.
        try:
            key = encode_key(node.operand, info.partition_type, info.partition_key)
        except NoSQLError:
            return Plan("None", exact=True, native_order=True)  # no item can have that key
        return Plan("GetItem", keys=({info.partition_key: key},), exact=True, native_order=True)
    terms = _KeyTerms.of(node)
    table_plan = _plan_table_key(node, info, terms, sort)
    if table_plan is not None:
        return table_plan
    for index in info.indexes:
        index_plan = _plan_index(node, index, terms, sort, info.key_types)
        if index_plan is not None:
            return index_plan
    names = Placeholders()
    expression, exact = compile_filter(node, names, key_types=info.key_types)
    if expression is not None and len(expression) > _MAX_EXPRESSION:
        expression, exact, names = None, False, Placeholders()
    request: dict[str, Any] = {}
    if expression is not None:
        request = {"FilterExpression": expression, **names.arguments(expression)}
    return Plan("Scan", requests=(request,), exact=exact, filter_expression=expression)


def _encoded_keys(values: list[Any], key_type: str, attribute: str) -> list[AttributeValue]:
    """The distinct key values among ``values``; values that cannot be keys match nothing."""
    keys: list[AttributeValue] = []
    for value in values:
        try:
            encoded = encode_key(value, key_type, attribute)
        except NoSQLError:
            continue
        if encoded not in keys:
            keys.append(encoded)
    return keys


def _plan_table_key(
    node: FilterNode, info: TableInfo, terms: _KeyTerms, sort: tuple[tuple[str, int], ...]
) -> Plan | None:
    pk_values = terms.equal.get(info.partition_key)
    if pk_values is None:
        return None
    partitions = _encoded_keys(pk_values, info.partition_type, info.partition_key)
    if not partitions:
        return Plan("None", exact=True, native_order=True)
    sk, sk_type = info.sort_key, info.sort_type
    if sk is None or sk_type is None or sk in terms.equal:
        sorts = (
            [None] if sk is None or sk_type is None else _encoded_keys(terms.equal[sk], sk_type, sk)
        )
        keys: tuple[dict[str, AttributeValue], ...] = tuple(
            {info.partition_key: p} if s is None or sk is None else {info.partition_key: p, sk: s}
            for p in partitions
            for s in sorts
        )
        if not keys:
            return Plan("None", exact=True, native_order=True)
        # Key equality is exact; the rest of the filter is checked by the engine.
        exact = _only_key_terms(node, info.key_names)
        if len(keys) == 1:
            return Plan("GetItem", keys=keys, exact=exact, native_order=True)
        return Plan("BatchGetItem", keys=keys, exact=exact)
    return _query_plan(
        node, info.key_types, None, info.partition_key, partitions, sk, sk_type, terms, sort, False
    )


def _plan_index(
    node: FilterNode,
    index: GsiInfo,
    terms: _KeyTerms,
    sort: tuple[tuple[str, int], ...],
    key_types: Mapping[str, str],
) -> Plan | None:
    values = terms.equal.get(index.field)
    if values is None:
        return None
    if index.is_shadow:
        usable = [
            v
            for v in values
            if v is not None
            and not isinstance(v, (dict, list, tuple))
            and not (isinstance(v, str) and (not v or v.startswith("\x00")))
        ]
        if len(usable) != len(values):
            return None  # null, empty strings and documents are not in the index
        partitions = _encoded_keys(usable, "S", index.partition_key)
        # Versions before the tagged key text indexed a datetime by its stored ISO text.
        partitions.extend({"S": format_datetime(v)} for v in usable if isinstance(v, datetime))
        partitions.append({"S": ARRAY_SENTINEL})
        return _query_plan(
            node, key_types, index.name, index.partition_key, partitions, None, None, terms, sort,
            True,
        )  # fmt: skip
    if not all(_native(v, index.partition_type) for v in values):
        return None
    partitions = _encoded_keys(values, index.partition_type, index.partition_key)
    return _query_plan(
        node, key_types, index.name, index.partition_key, partitions, index.sort_key,
        index.sort_type, terms, sort, False,
    )  # fmt: skip


def _query_plan(
    node: FilterNode,
    key_types: Mapping[str, str],
    index: str | None,
    partition_key: str,
    partitions: list[AttributeValue],
    sort_key: str | None,
    sort_type: str | None,
    terms: _KeyTerms,
    sort: tuple[tuple[str, int], ...],
    shadow: bool,
) -> Plan:
    skip = frozenset({partition_key} | ({sort_key} if sort_key else set()))
    names = Placeholders()
    filter_expression, exact = compile_filter(node, names, skip, key_types)
    if filter_expression is not None and len(filter_expression) > _MAX_EXPRESSION:
        filter_expression, exact = None, False
    pk_name = names.name(partition_key)
    range_expression, range_exact = _sort_key_condition(terms, sort_key, sort_type, names)
    # Conditions on key attributes left out of the FilterExpression are exact only when the
    # key condition covered them (the partition equality; a numeric sort-key range).
    covered = not shadow and _only_key_terms_covered(node, partition_key, sort_key, range_exact)
    exact = exact and covered
    requests = []
    for partition in partitions:
        key_expression = f"{pk_name} = {names.value(partition)}"
        if range_expression is not None:
            key_expression += f" AND {range_expression}"
        request: dict[str, Any] = {"KeyConditionExpression": key_expression}
        if index is not None:
            request["IndexName"] = index
        if filter_expression is not None:
            request["FilterExpression"] = filter_expression
        requests.append(request)
    for request in requests:
        request.update(
            names.arguments(request["KeyConditionExpression"], request.get("FilterExpression"))
        )
    native_order = False
    if len(requests) == 1 and sort_key is not None and len(sort) == 1 and sort[0][0] == sort_key:
        # N orders as MongoDB orders numbers; S as it orders strings (UTF-8 bytes), but a
        # table's S key may hold tagged non-strings, so only index keys qualify.
        native_order = sort_type == "N" or (sort_type == "S" and index is not None)
        if native_order:
            requests[0]["ScanIndexForward"] = sort[0][1] == 1
    return Plan(
        "Query",
        index=index,
        requests=tuple(requests),
        exact=exact,
        native_order=native_order,
        filter_expression=filter_expression,
    )


def _sort_key_condition(
    terms: _KeyTerms, sort_key: str | None, sort_type: str | None, names: Placeholders
) -> tuple[str | None, bool]:
    """A sort-key range for the KeyConditionExpression and whether it is exact."""
    if sort_key is None or sort_type is None:
        return None, True
    ranges = [(op, v) for op, v in terms.ranges.get(sort_key, []) if _native(v, sort_type)]
    if not ranges:
        return None, not terms.ranges.get(sort_key)
    lower = [(op, v) for op, v in ranges if op in (FieldOp.GT, FieldOp.GTE)]
    upper = [(op, v) for op, v in ranges if op in (FieldOp.LT, FieldOp.LTE)]
    name = names.name(sort_key)
    exact = sort_type == "N" and len(ranges) == len(terms.ranges.get(sort_key, []))
    if lower and upper and lower[0][0] is FieldOp.GTE and upper[0][0] is FieldOp.LTE:
        low = names.value(encode_key(lower[0][1], sort_type, sort_key))
        high = names.value(encode_key(upper[0][1], sort_type, sort_key))
        return f"{name} BETWEEN {low} AND {high}", exact and len(ranges) == 2
    op, value = (lower or upper)[0]
    placeholder = names.value(encode_key(value, sort_type, sort_key))
    return f"{name} {_RANGE_OPS[op]} {placeholder}", exact and len(ranges) == 1


def _only_key_terms(node: FilterNode, key_names: frozenset[str]) -> bool:
    """Whether the filter is nothing but one equality (or ``$in``) per key attribute."""
    clauses = _conjuncts(node)
    paths = [c.path for c in clauses if isinstance(c, Condition)]
    return len(set(paths)) == len(clauses) and all(
        isinstance(c, Condition) and c.path in key_names and c.op in (FieldOp.EQ, FieldOp.IN)
        for c in clauses
    )


def _only_key_terms_covered(
    node: FilterNode, partition_key: str, sort_key: str | None, range_exact: bool
) -> bool:
    """Whether the key condition decides every clause on the key attributes exactly: one
    equality on the partition key, and only ranges the key condition holds on the sort key."""
    partition_clauses = 0
    for clause in _conjuncts(node):
        if not isinstance(clause, Condition):
            continue
        if clause.path == partition_key:
            partition_clauses += 1
            if clause.op not in (FieldOp.EQ, FieldOp.IN) or partition_clauses > 1:
                return False
        if clause.path == sort_key and (clause.op not in _RANGE_OPS or not range_exact):
            return False
    return True
