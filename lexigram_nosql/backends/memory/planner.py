"""Choosing an index for a filter: the cheapest plan by estimated candidate count.

A plan yields candidate ids, a superset of the matching documents; the collection re-checks
each candidate with ``matches``, so a plan only ever changes speed, never results. Filters the
planner does not understand (``$ne``, ``$expr``, ``$elemMatch``...) fall back to a scan.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lexigram_nosql.backends.memory.indexes import TOP, MemoryIndex, value_key
from lexigram_nosql.query.ast import And, Condition, FieldOp, FilterNode, Or

__all__ = ["Plan", "choose_plan"]

_RANGE_OPS = {FieldOp.GT, FieldOp.GTE, FieldOp.LT, FieldOp.LTE}


@dataclass(frozen=True, slots=True)
class Plan:
    """Candidate ids from one index (``index`` names it, for tests and logs)."""

    index: str
    estimate: int
    fetch: Callable[[], Iterable[Any]]


@dataclass(slots=True)
class _Range:
    low: Condition | None = None
    high: Condition | None = None


def choose_plan(
    node: FilterNode, documents: dict[Any, Any], indexes: Sequence[MemoryIndex]
) -> Plan | None:
    """The cheapest usable plan for ``node``, or None to scan every document. A partial
    index is never used: it misses the documents outside its filter (MongoDB uses one only
    for a query whose filter implies the index's, an implication not decided here)."""
    plan = _plan(node, [index for index in indexes if index.spec.partial_filter is None])
    if plan is None or plan.estimate > len(documents) // 2 + 1:
        return None
    return plan


def _plan(node: FilterNode, indexes: Sequence[MemoryIndex]) -> Plan | None:
    clauses = node.clauses if isinstance(node, And) else (node,)
    options: list[Plan] = []
    equal: dict[str, Any] = {}
    ranges: dict[str, _Range] = {}
    for clause in clauses:
        if isinstance(clause, Condition):
            if clause.op is FieldOp.EQ and _indexable(clause.operand):
                equal.setdefault(clause.path, clause.operand)
            elif clause.op in _RANGE_OPS and _indexable(clause.operand):
                bounds = ranges.setdefault(clause.path, _Range())
                if clause.op in (FieldOp.GT, FieldOp.GTE):
                    bounds.low = bounds.low or clause
                else:
                    bounds.high = bounds.high or clause
            elif clause.op is FieldOp.IN:
                option = _in_plan(clause, indexes)
                if option is not None:
                    options.append(option)
        elif isinstance(clause, Or):
            option = _or_plan(clause, indexes)
            if option is not None:
                options.append(option)
        elif isinstance(clause, And):
            option = _plan(clause, indexes)
            if option is not None:
                options.append(option)
    if "_id" in equal:
        key = value_key(equal["_id"])
        options.append(Plan("_id_", 1, lambda: (key,)))
    for index in indexes:
        option = _index_plan(index, equal, ranges)
        if option is not None:
            options.append(option)
    return min(options, key=lambda p: p.estimate, default=None)


def _indexable(value: Any) -> bool:
    if isinstance(value, re.Pattern):
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, Decimal) and value.is_nan())


def _index_plan(
    index: MemoryIndex, equal: dict[str, Any], ranges: dict[str, _Range]
) -> Plan | None:
    prefix: list[Any] = []
    for path in index.paths:
        if path not in equal or not index.usable_for(equal[path]):
            break
        prefix.append(equal[path])
    name = index.spec.name
    if len(prefix) == len(index.paths):
        bucket = index.bucket(tuple(value_key(v) for v in prefix))
        return Plan(name, len(bucket), lambda: tuple(bucket))
    bounds = ranges.get(index.paths[len(prefix)])
    if not prefix and bounds is None:
        return None
    components = tuple(value_key(v) for v in prefix)
    low: tuple[Any, ...] = components
    high: tuple[Any, ...] = (*components, TOP)
    if bounds is not None:
        found = _range_components(index, bounds)
        if found is None:
            return None
        low, high = (*components, found[0]), (*components, found[1])
    ordered = index.ensure_ordered()
    estimate = ordered.count((low,), (high,))
    return Plan(name, estimate, lambda: (entry[2] for entry in ordered.irange((low,), (high,))))


def _range_components(
    index: MemoryIndex, bounds: _Range
) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """Ordered-index components bounding one field's range, or None when unusable."""
    low, high = bounds.low, bounds.high
    if low is not None and high is not None and low.path in index.multikey:
        # Different elements of an array may satisfy each bound: keep only one.
        high = None
    for bound in (low, high):
        if bound is not None and not index.usable_for(bound.operand):
            return None
    anchor = low or high
    if anchor is None:
        return None
    br = value_key(anchor.operand)[0]
    if low is None:
        start: tuple[Any, ...] = (br,)  # sorts before every key of the bracket
    else:
        start = value_key(low.operand) + ((TOP,) if low.op is FieldOp.GT else ())
    if high is None:
        end: tuple[Any, ...] = (br, TOP)
    else:
        end = value_key(high.operand) + ((TOP,) if high.op is FieldOp.LTE else ())
    return start, end


def _in_plan(clause: Condition, indexes: Sequence[MemoryIndex]) -> Plan | None:
    values = clause.operand
    if not all(_indexable(v) for v in values):
        return None
    if clause.path == "_id":
        keys = tuple(dict.fromkeys(value_key(v) for v in values))
        return Plan("_id_", len(keys), lambda: keys)
    usable = [
        index
        for index in indexes
        if index.paths == (clause.path,) and all(index.usable_for(v) for v in values)
    ]
    if not usable:
        return None
    buckets = [usable[0].bucket((value_key(v),)) for v in values]
    return Plan(
        usable[0].spec.name,
        sum(len(b) for b in buckets),
        lambda: (key for bucket in buckets for key in bucket),
    )


def _or_plan(node: Or, indexes: Sequence[MemoryIndex]) -> Plan | None:
    plans = []
    for clause in node.clauses:
        plan = _plan(clause, indexes)
        if plan is None:
            return None
        plans.append(plan)
    return Plan(
        "+".join(dict.fromkeys(p.index for p in plans)),
        sum(p.estimate for p in plans),
        lambda: (key for plan in plans for key in plan.fetch()),
    )
