"""Compile a parsed filter and sort into one SQL read over the collection's tables.

The SQL narrows the documents through B-tree indexes on ordered keys (``codec.encode_key``):
``_id`` conditions probe the document table's ``id`` index, conditions on indexed paths probe
the index tables, ``$or`` unions its branches' probes. What SQL selects is always a
*superset* of the matches (an index keys array elements, a range keeps one bound on a
multikey path...), and the engine's compiled filter decides on every row read, so a plan
only ever changes speed, never results. A sort on ``_id`` or on an index's leading paths is
read in index order; any other sort happens in Python after the filter. A partial index
(``partial_filter_expression``) holds only the documents its filter matches, so no read uses
it: it enforces uniqueness only (MongoDB would use it for a query whose filter implies the
index's; deciding that implication is not worth a wrong answer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from lexigram_nosql.backends.sqlite.codec import (
    bracket_bounds,
    component,
    encode_key,
    next_prefix,
)
from lexigram_nosql.backends.sqlite.schema import CollectionInfo, IndexInfoRow
from lexigram_nosql.query.ast import And, Condition, FieldOp, FilterNode, MatchAll, Or
from lexigram_nosql.query.values import bson_class

__all__ = ["Plan", "key_range", "plan_read"]

Range = tuple[bytes, bytes]
"""Keys in ``[low, high)``."""

_RANGE_OPS: Final = {FieldOp.GT, FieldOp.GTE, FieldOp.LT, FieldOp.LTE}
_ID_INDEX: Final = "_id_"


@dataclass(frozen=True, slots=True)
class Probe:
    """Key ranges of one index (``_id_`` is the document table's ``id`` column)."""

    index: str
    table: str
    ranges: tuple[Range, ...]
    exact_keys: bool = False  # every range is one whole key: ``k = ?``

    def sql(self, params: list[Any]) -> str:
        column = "id" if self.index == _ID_INDEX else "k"
        parts = []
        for low, high in self.ranges:
            if self.exact_keys:
                parts.append(f"SELECT seq FROM {self.table} WHERE {column} = ?")
                params.append(low)
            else:
                parts.append(f"SELECT seq FROM {self.table} WHERE {column} >= ? AND {column} < ?")
                params.extend((low, high))
        return " UNION ALL ".join(parts)


@dataclass(slots=True)
class Plan:
    """One read: its SQL and parameters, the indexes it probes, and whether rows arrive in
    the requested sort order (``dedupe``: a multikey index may return a document twice)."""

    kind: Literal["scan", "index", "index_order"]
    sql: str
    params: list[Any] = field(default_factory=list)
    indexes: tuple[str, ...] = ()
    sorted: bool = False
    dedupe: bool = False
    exact: bool = False
    """The SQL selects exactly the matches: the engine does not check the rows."""

    @property
    def index(self) -> str | None:
        return "+".join(self.indexes) or None

    @property
    def scans(self) -> bool:
        """Whether the read visits every document of the collection."""
        return self.kind == "scan" or (self.kind == "index_order" and not self.params)


MultikeyCheck = Callable[[IndexInfoRow], bool]


def plan_read(
    info: CollectionInfo,
    node: FilterNode,
    sort: tuple[tuple[str, int], ...],
    multikey: MultikeyCheck,
) -> Plan:
    """The read for ``find(node, sort=sort)`` on the collection ``info``."""
    if not sort and type(node) is Condition and node.op is FieldOp.EQ:
        keyed = _keyed_equality(info, node, multikey)
        if keyed is not None:
            return keyed
    return _plan(info, node, sort, multikey)


# Values whose equality plan is the same for every value (keyable, never null or NaN).
_PLAIN: Final = frozenset({str, int, bool, float})
_UNKNOWN: Final = object()
_MAX_RECIPES: Final = 256
"""Paths remembered per collection version (filters may name any path)."""


def _keyed_equality(info: CollectionInfo, node: Condition, multikey: MultikeyCheck) -> Plan | None:
    """The plan of ``{path: value}`` for a plain value: when the general plan reads one key
    of ``_id`` or of a single-field index, its SQL depends on the path alone, so it is made
    once per path (and catalog version: ``info`` is replaced when indexes change) and given
    the value's key. The first plan of a path is the general one, and its recipe is kept
    only if re-keying reproduces it (a test compares both over random indexes and values)."""
    value = node.operand
    cls = type(value)
    if cls not in _PLAIN or (cls is float and math.isnan(value)):
        return None
    recipes = info.equality_plans
    recipe = recipes.get(node.path, _UNKNOWN)
    if recipe is _UNKNOWN:
        plan = _plan(info, node, (), multikey)
        if len(recipes) >= _MAX_RECIPES:
            recipes.clear()
        recipes[node.path] = _recipe(info, plan, value)
        return plan
    if recipe is None:
        return None
    sql, index, direction = recipe
    key = encode_key(value)
    return Plan(
        "index",
        sql,
        [key if direction is None else component(key, direction)],
        (index,),
        exact=True,
    )


def _recipe(info: CollectionInfo, plan: Plan, value: Any) -> tuple[str, str, int | None] | None:
    """(sql, index, direction of its key, None for ``_id``) of a one-key plan."""
    if plan.kind != "index" or not plan.exact or len(plan.indexes) != 1 or len(plan.params) != 1:
        return None
    index = plan.indexes[0]
    direction: int | None = None
    if index != _ID_INDEX:
        row = info.indexes.get(index)
        if row is None or len(row.spec.keys) != 1:
            return None
        direction = row.spec.keys[0][1]
    key = encode_key(value)
    if plan.params != [key if direction is None else component(key, direction)]:
        return None
    return plan.sql, index, direction


def _plan(
    info: CollectionInfo,
    node: FilterNode,
    sort: tuple[tuple[str, int], ...],
    multikey: MultikeyCheck,
) -> Plan:
    """The general planner (``plan_read`` without the per-path equality plans)."""
    table = info.table
    probes = None if isinstance(node, MatchAll) else _probes(node, info, multikey)
    if sort:
        ordered = _ordered_plan(info, sort, probes, multikey)
        if ordered is not None:
            return ordered
    if probes is None:
        return Plan("scan", f"SELECT seq, doc FROM {table} ORDER BY seq")
    exact = _exact(node, probes, info)
    if exact and isinstance(node, Condition) and node.op is FieldOp.EQ:
        # One key: read it straight (a single-field index holds a key once per document).
        probe = probes[0]
        key = probe.ranges[0][0]
        if probe.index == _ID_INDEX:
            sql = f"SELECT seq, doc FROM {table} WHERE id = ?"
        else:
            sql = (
                f"SELECT c.seq, c.doc FROM {probe.table} AS x JOIN {table} AS c "
                "ON c.seq = x.seq WHERE x.k = ? ORDER BY x.seq"
            )
        return Plan("index", sql, [key], (probe.index,), exact=True)
    params: list[Any] = []
    union = " UNION ALL ".join(probe.sql(params) for probe in probes)
    return Plan(
        "index",
        f"SELECT seq, doc FROM {table} WHERE seq IN ({union}) ORDER BY seq",
        params,
        tuple(dict.fromkeys(probe.index for probe in probes)),
        exact=exact,
    )


def _exact(node: FilterNode, probes: list[Probe], info: CollectionInfo) -> bool:
    """Whether the probes select exactly the matches, so the engine need not check rows:
    ``$eq``/``$in`` of non-null values on ``_id`` or on the one path of a single-field index
    (its keys are the values the path reaches, array elements included: MongoDB's equality).
    """
    if not isinstance(node, Condition) or node.op not in (FieldOp.EQ, FieldOp.IN):
        return False
    if len(probes) != 1 or any(part.isdigit() for part in node.path.split(".")):
        return False
    operands = node.operand if node.op is FieldOp.IN else (node.operand,)
    if any(value is None or bson_class(value) in ("MinKey", "MaxKey") for value in operands):
        return False
    probe = probes[0]
    if probe.index == _ID_INDEX:
        return node.path == "_id"
    index = info.indexes.get(probe.index)
    return index is not None and index.paths == (node.path,)


def _ordered_plan(
    info: CollectionInfo,
    sort: tuple[tuple[str, int], ...],
    probes: list[Probe] | None,
    multikey: MultikeyCheck,
) -> Plan | None:
    """Read in the order of an index whose leading paths are the sort's, in the index's
    directions (read forwards) or all reversed (read backwards)."""
    order = "DESC" if sort[0][1] < 0 else "ASC"
    paths = tuple(path for path, _ in sort)
    single = probes[0] if probes is not None and len(probes) == 1 else None
    if paths == ("_id",) and (probes is None or (single and single.index == _ID_INDEX)):
        params: list[Any] = []
        where = ""
        if single is not None:
            where = " WHERE " + " OR ".join("(id >= ? AND id < ?)" for _ in single.ranges)
            for low, high in single.ranges:
                params.extend((low, high))
        return Plan(
            "index_order" if where else "scan",
            f"SELECT seq, doc FROM {info.table}{where} ORDER BY id {order}",
            params,
            (_ID_INDEX,),
            sorted=True,
        )
    for index in info.indexes.values():
        if index.paths[: len(paths)] != paths or index.spec.partial_filter is not None:
            continue
        relative = {d * d2 for (_, d), (_, d2) in zip(sort, index.spec.keys, strict=False)}
        if len(relative) != 1:
            continue  # mixed: neither the index's order nor its reverse
        order = "DESC" if relative == {-1} else "ASC"
        probe = single if single is not None and single.index == index.name else None
        if probe is None and (probes is not None or index.spec.sparse):
            continue  # another index narrows better; a sparse index misses documents
        if len(paths) > 1 and multikey(index):
            continue  # MongoDB sorts each array field by its own extreme element
        params = []
        where = ""
        if probe is not None:
            where = " WHERE " + " OR ".join("(x.k >= ? AND x.k < ?)" for _ in probe.ranges)
            for low, high in probe.ranges:
                params.extend((low, high))
        return Plan(
            "index_order",
            f"SELECT c.seq, c.doc FROM {index.table} AS x JOIN {info.table} AS c "
            f"ON c.seq = x.seq{where} ORDER BY x.k {order}, x.seq",
            params,
            (index.name,),
            sorted=True,
            dedupe=True,
        )
    return None


# -- probes ------------------------------------------------------------------------------


def _probes(node: FilterNode, info: CollectionInfo, multikey: MultikeyCheck) -> list[Probe] | None:
    """Index probes whose union holds every match of ``node``, or None (scan)."""
    if isinstance(node, Or):
        union: list[Probe] = []
        for clause in node.clauses:
            found = _probes(clause, info, multikey)
            if found is None:
                return None
            union.extend(found)
        return union
    clauses = node.clauses if isinstance(node, And) else (node,)
    equal: dict[str, Any] = {}
    ranges: dict[str, list[Condition]] = {}
    within: dict[str, tuple[Any, ...]] = {}
    nested: list[list[Probe]] = []
    for clause in clauses:
        if isinstance(clause, Condition):
            if clause.op is FieldOp.EQ and _keyable(clause.operand):
                equal.setdefault(clause.path, clause.operand)
            elif clause.op in _RANGE_OPS and _keyable(clause.operand):
                ranges.setdefault(clause.path, []).append(clause)
            elif clause.op is FieldOp.IN and all(_keyable(v) for v in clause.operand):
                within.setdefault(clause.path, clause.operand)
        elif isinstance(clause, (And, Or)):
            found = _probes(clause, info, multikey)
            if found is not None:
                nested.append(found)
    options: list[tuple[int, list[Probe]]] = []
    id_probe = _id_probe(info, equal, within, ranges)
    if id_probe is not None:
        options.append(id_probe)
    for index in info.indexes.values():
        if index.spec.partial_filter is not None:
            continue  # it misses the documents outside its filter (see the module docstring)
        option = _index_probe(index, equal, within, ranges, multikey)
        if option is not None:
            options.append(option)
    for found in nested:
        options.append((3, found))
    if not options:
        return None
    return min(options, key=lambda option: option[0])[1]


def _keyable(value: Any) -> bool:
    """Whether equality with ``value`` is equality of keys in an index of elements (arrays
    and patterns match in other ways; NaN is kept to the engine)."""
    if isinstance(value, (list, tuple, re.Pattern)) or bson_class(value) == "Regex":
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, dict):
        return all(_keyable(item) for item in value.values())
    return not (isinstance(value, Decimal) and value.is_nan())


def _id_probe(
    info: CollectionInfo,
    equal: dict[str, Any],
    within: dict[str, tuple[Any, ...]],
    ranges: dict[str, list[Condition]],
) -> tuple[int, list[Probe]] | None:
    if "_id" in equal:
        key = encode_key(equal["_id"])
        return 0, [Probe(_ID_INDEX, info.table, ((key, next_prefix(key)),), exact_keys=True)]
    if "_id" in within:
        keys = dict.fromkeys(encode_key(v) for v in within["_id"])
        found = tuple((k, next_prefix(k)) for k in keys)
        return 1, [Probe(_ID_INDEX, info.table, found, exact_keys=True)]
    if "_id" in ranges:
        bounds = key_range(b"", ranges["_id"], two_sided=True)
        return 5, [Probe(_ID_INDEX, info.table, (bounds,))]
    return None


def _index_probe(
    index: IndexInfoRow,
    equal: dict[str, Any],
    within: dict[str, tuple[Any, ...]],
    ranges: dict[str, list[Condition]],
    multikey: MultikeyCheck,
) -> tuple[int, list[Probe]] | None:
    """Probes of one index: an equality prefix, then ``$in`` or a range on the next path."""
    sparse = index.spec.sparse
    prefix = b""
    used = 0
    for path, direction in index.spec.keys:
        if path not in equal or (sparse and equal[path] is None):
            break
        prefix += component(encode_key(equal[path]), direction)
        used += 1
    if used == len(index.paths):
        cost = 1 if index.spec.unique else 2
        whole = ((prefix, next_prefix(prefix)),)
        return cost, [Probe(index.name, index.table, whole, exact_keys=True)]
    path, direction = index.spec.keys[used]
    if path in within and not (sparse and None in within[path]):
        keys = dict.fromkeys(prefix + component(encode_key(v), direction) for v in within[path])
        exact = used + 1 == len(index.paths)
        found = tuple((k, next_prefix(k)) for k in keys)
        return 3, [Probe(index.name, index.table, found, exact_keys=exact)]
    if path in ranges and not (sparse and any(c.operand is None for c in ranges[path])):
        bounds = key_range(prefix, ranges[path], direction, two_sided=not multikey(index))
        return (4 if used else 6), [Probe(index.name, index.table, (bounds,))]
    if used:
        return 7, [Probe(index.name, index.table, ((prefix, next_prefix(prefix)),))]
    return None


def key_range(
    prefix: bytes, conditions: list[Condition], direction: int = 1, *, two_sided: bool
) -> Range:
    """Key range holding every key whose component after ``prefix`` satisfies the range
    conditions (within the operand's type bracket). On a multikey path only one bound is
    kept: different elements of one array may satisfy each. A descending component is
    complemented, so its lower bound comes from the upper condition and vice versa."""
    low_cond = next((c for c in conditions if c.op in (FieldOp.GT, FieldOp.GTE)), None)
    high_cond = next((c for c in conditions if c.op in (FieldOp.LT, FieldOp.LTE)), None)
    if low_cond is not None and high_cond is not None and not two_sided:
        high_cond = None
    anchor = low_cond or high_cond
    assert anchor is not None
    if (
        high_cond is not None
        and low_cond is not None
        and bracket_bounds(high_cond.operand)[0] != bracket_bounds(low_cond.operand)[0]
    ):
        high_cond = None  # nothing matches both; the engine decides on the low bracket
    bracket = prefix + component(bracket_bounds(anchor.operand)[0], direction)
    low, high = bracket, next_prefix(bracket)
    descending = direction < 0
    for condition in (low_cond, high_cond):
        if condition is None:
            continue
        key = prefix + component(encode_key(condition.operand), direction)
        inclusive = condition.op in (FieldOp.GTE, FieldOp.LTE)
        is_lower = (condition.op in (FieldOp.GT, FieldOp.GTE)) != descending
        if is_lower:
            low = key if inclusive else next_prefix(key)
        else:
            high = next_prefix(key) if inclusive else key
    return low, max(low, high)
