"""From a parsed filter to the Firestore queries whose union holds every matching document.

MongoDB's array semantics decide what can be pushed down. ``{"tags": "a"}`` matches a scalar
``"a"`` *and* an array containing ``"a"``; ``{"n": {"$gt": 5}}`` matches an array with an
element above 5; ``{"a.b": 1}`` looks inside every element when ``a`` is an array. Firestore
does none of this, so one condition becomes a few *branches* (conjunctions of Firestore field
filters) whose union is a superset of its matches:

- the value itself (``f == v``, ``f in [...]``, ``f > v``), type-bracketed like MongoDB;
- the array case (``f array-contains v``, ``f array-contains-any [...]``, or, for a range,
  every array at ``f``: ``f >= []`` selects exactly the arrays, as Firestore orders by type);
- every array on the way (``a >= []`` for ``a.b``), since MongoDB looks into those.

``$and`` is the cross product of its clauses' branches, ``$or`` their concatenation; the
store runs the branches in parallel, merges them by document id and re-checks every document
with the shared engine, so the result is exact whatever was pushed down. Conditions Firestore
cannot bound (``$ne``, ``$nin``, ``$exists``, ``$type``, ``$regex``, ``$not``, ``$nor``,
``$expr``, ``$mod``, null equality) become "every document" and are left to the engine, as
do conditions on the backend's reserved names (``__lx:`` fields such as the hidden field
order, ``__x__``): no user field has them, and the server would see the hidden ones.
Embedded documents are compared in their stored form (with their order list where their keys
are not sorted), so Firestore's equality on them is MongoDB's, field order included.

A plan is *sound* when every document the branches return matches the filter: then the
server's answer is used as is (count aggregation, limit and offset pushed down).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from lexigram_nosql.backends.firestore.codec import (
    encodable,
    id_from_value,
    is_plain_number,
    reserved_field,
    stored_value,
)
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    FieldOp,
    FilterNode,
    MatchAll,
    Or,
)

__all__ = [
    "DOCUMENT_ID",
    "MAX_BRANCHES",
    "MAX_DISJUNCTIONS",
    "Branch",
    "Primitive",
    "QueryPlan",
    "id_lookup",
    "plan_filter",
]

#: The segments standing for the document id (``FieldPath.document_id()``).
DOCUMENT_ID: Final = ("__name__",)
#: Firestore's limit on values of ``in``/``array-contains-any`` and on DNF disjunctions.
MAX_DISJUNCTIONS: Final = 30
#: More queries than this for one filter and the planner falls back to fewer, broader ones.
MAX_BRANCHES: Final = 64

Kind = Literal["value", "array", "map", "mixed"]
_ARRAY_OPS: Final = frozenset({"array_contains", "array_contains_any"})
_INEQUALITIES: Final = frozenset({"<", "<=", ">", ">="})
_RANGE_OPS: Final = {FieldOp.GT: ">", FieldOp.GTE: ">=", FieldOp.LT: "<", FieldOp.LTE: "<="}


@dataclass(frozen=True, slots=True)
class Primitive:
    """One Firestore field filter; ``kind`` is the type the field must have to pass it."""

    segments: tuple[str, ...]
    op: str
    value: Any
    kind: Kind

    @property
    def fan_out(self) -> int:
        """How many DNF disjunctions Firestore counts for this filter."""
        if self.op in ("in", "array_contains_any"):
            return max(len(self.value), 1)
        return 1


Branch = tuple[Primitive, ...]


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Queries whose union is a superset of the filter's matches.

    ``branches == ((),)`` is every document; ``()`` is none. ``sound``: every returned document
    matches (the engine need not re-check); ``disjoint``: no document is in two branches.
    """

    branches: tuple[Branch, ...]
    sound: bool
    disjoint: bool

    @property
    def everything(self) -> bool:
        return self.branches == ((),)


_EVERYTHING: Final = QueryPlan(((),), sound=False, disjoint=True)
_NOTHING: Final = QueryPlan((), sound=True, disjoint=True)


def plan_filter(node: FilterNode) -> QueryPlan:
    """The branches to run for ``node``, checked against Firestore's query rules."""
    if isinstance(node, MatchAll):
        return QueryPlan(((),), sound=True, disjoint=True)
    raw = _candidates(node)
    branches: list[Branch] = []
    sound = raw.sound
    for branch in raw.branches:
        fixed, dropped = _legalise(branch)
        if fixed is None:
            continue  # contradictory: no document can pass it
        sound = sound and not dropped
        if fixed not in branches:
            branches.append(fixed)
    if () in branches:
        return QueryPlan(((),), sound=sound and len(branches) == 1, disjoint=True)
    return QueryPlan(tuple(branches), sound=sound, disjoint=raw.disjoint)


def id_lookup(node: FilterNode) -> list[str] | None:
    """The document ids to fetch directly when ``node`` pins ``_id`` by equality or ``$in``
    (alone or inside ``$and``); None when it does not."""
    clauses: Sequence[FilterNode] = node.clauses if isinstance(node, And) else (node,)
    for clause in clauses:
        if not isinstance(clause, Condition) or clause.path != "_id":
            continue
        if clause.op is FieldOp.EQ:
            values: Iterable[Any] = (clause.operand,)
        elif clause.op is FieldOp.IN and not any(isinstance(v, re.Pattern) for v in clause.operand):
            values = clause.operand
        else:
            continue
        ids: list[str] = []
        for value in values:
            doc_id = id_from_value(value)
            if doc_id is not None and doc_id not in ids:
                ids.append(doc_id)
        return ids
    return None


# -- candidates ----------------------------------------------------------------------------


def _candidates(node: FilterNode) -> QueryPlan:
    if isinstance(node, MatchAll):
        return QueryPlan(((),), sound=True, disjoint=True)
    if isinstance(node, And):
        return _conjunction([_candidates(clause) for clause in node.clauses])
    if isinstance(node, Or):
        return _disjunction([_candidates(clause) for clause in node.clauses])
    if isinstance(node, Condition):
        return _condition(node)
    if isinstance(node, ElemMatch):
        if any(reserved_field(segment) for segment in _segments(node.path)):
            return _EVERYTHING
        arrays = _with_prefixes(node.path, [(Primitive(_segments(node.path), ">=", [], "array"),)])
        return QueryPlan(arrays.branches, sound=False, disjoint=False)
    return _EVERYTHING


def _conjunction(parts: list[QueryPlan]) -> QueryPlan:
    # Narrow first: the clauses with the fewest branches keep the product small.
    parts = sorted(parts, key=lambda p: (p.everything, len(p.branches)))
    branches: tuple[Branch, ...] = ((),)
    sound = disjoint = True
    for part in parts:
        if not part.branches:
            return _NOTHING
        if part.everything:
            sound = sound and part.sound
            continue
        if len(branches) * len(part.branches) > MAX_BRANCHES:
            sound = False  # this clause is left to the engine
            continue
        branches = tuple(a + b for a in branches for b in part.branches)
        sound = sound and part.sound
        disjoint = disjoint and part.disjoint
    return QueryPlan(branches, sound=sound, disjoint=disjoint)


def _disjunction(parts: list[QueryPlan]) -> QueryPlan:
    branches: list[Branch] = []
    for part in parts:
        if part.everything:
            return _EVERYTHING
        branches.extend(part.branches)
    if len(branches) > MAX_BRANCHES:
        return _EVERYTHING
    return QueryPlan(
        tuple(branches),
        sound=all(p.sound for p in parts),
        disjoint=len([p for p in parts if p.branches]) <= 1 and all(p.disjoint for p in parts),
    )


def _condition(node: Condition) -> QueryPlan:
    if node.path == "_id" or node.path.startswith("_id."):
        return _id_condition(node)
    segments = _segments(node.path)
    if any(reserved_field(segment) for segment in segments):
        return _EVERYTHING  # only the backend's hidden data has such names: the engine's
    if node.op is FieldOp.EQ:
        return _equality(node.path, segments, (node.operand,))
    if node.op is FieldOp.IN:
        return _equality(node.path, segments, tuple(node.operand))
    if node.op in _RANGE_OPS:
        value = node.operand
        if not (is_plain_number(value) or isinstance(value, (str, bool)) or _is_datetime(value)):
            return _EVERYTHING
        scalar = Primitive(segments, _RANGE_OPS[node.op], value, "value")
        arrays = Primitive(segments, ">=", [], "array")
        plan = _with_prefixes(node.path, [(scalar,), (arrays,)])
        return QueryPlan(plan.branches, sound=False, disjoint=False)
    if node.op is FieldOp.ALL:
        values = tuple(node.operand)
        if not values:
            return _NOTHING
        first = _equality(node.path, segments, values[:1])
        return QueryPlan(first.branches, sound=False, disjoint=False)
    if node.op is FieldOp.SIZE and isinstance(node.operand, int):
        op = "==" if node.operand == 0 else ">"
        sized = _with_prefixes(node.path, [(Primitive(segments, op, [], "array"),)])
        # ``== []`` is exactly ``$size: 0``; ``> []`` is every non-empty array.
        return QueryPlan(sized.branches, sound=sized.sound and op == "==", disjoint=False)
    return _EVERYTHING


def _id_condition(node: Condition) -> QueryPlan:
    if node.path != "_id" or node.op not in (FieldOp.EQ, FieldOp.IN):
        return _EVERYTHING
    values = (node.operand,) if node.op is FieldOp.EQ else tuple(node.operand)
    if any(isinstance(v, re.Pattern) for v in values):
        return _EVERYTHING
    ids = list(dict.fromkeys(i for i in map(id_from_value, values) if i is not None))
    if not ids:
        return _NOTHING
    if len(ids) == 1:
        return QueryPlan(((Primitive(DOCUMENT_ID, "==", ids[0], "value"),),), True, True)
    chunks = _chunks(ids, MAX_DISJUNCTIONS)
    branches = tuple((Primitive(DOCUMENT_ID, "in", chunk, "value"),) for chunk in chunks)
    return QueryPlan(branches, sound=True, disjoint=True)


def _equality(path: str, segments: tuple[str, ...], values: tuple[Any, ...]) -> QueryPlan:
    """``path`` equal to one of ``values`` (``$eq`` is one value), with array semantics."""
    if not values:
        return _NOTHING
    for value in values:
        if value is None or isinstance(value, re.Pattern) or _is_nan(value):
            return _EVERYTHING  # null matches missing fields; regexes and NaN are the engine's
        if not encodable(value):
            return _EVERYTHING
    # As stored: an embedded document whose keys are not sorted carries its order list.
    distinct = _dedupe(stored_value(v) if _contains_map(v) else v for v in values)
    has_maps = any(_contains_map(v) for v in distinct)
    has_lists = any(isinstance(v, (list, tuple)) for v in distinct)
    value_kind: Kind = "mixed" if has_maps or has_lists else "value"
    if all(isinstance(v, dict) for v in distinct):
        value_kind = "map"
    elif all(isinstance(v, (list, tuple)) for v in distinct):
        value_kind = "array"
    branches: list[Branch] = []
    if len(distinct) == 1:
        branches.append((Primitive(segments, "==", _plain(distinct[0]), value_kind),))
    else:
        for chunk in _chunks(distinct, MAX_DISJUNCTIONS):
            branches.append((Primitive(segments, "in", [_plain(v) for v in chunk], value_kind),))
    # An array at ``path`` matches when it contains a value (arrays in arrays are not storable).
    members = [v for v in distinct if not isinstance(v, (list, tuple))]
    if len(members) == 1:
        branches.append((Primitive(segments, "array_contains", _plain(members[0]), "array"),))
    elif members:
        for chunk in _chunks(members, MAX_DISJUNCTIONS):
            prim = Primitive(segments, "array_contains_any", [_plain(v) for v in chunk], "array")
            branches.append((prim,))
    plan = _with_prefixes(path, branches)
    exact = not has_maps and len(segments) == 1
    return QueryPlan(plan.branches, sound=exact, disjoint=exact and not has_lists)


def _with_prefixes(path: str, branches: list[Branch]) -> QueryPlan:
    """Add a branch per array on the way to ``path``: MongoDB looks inside those."""
    segments = _segments(path)
    extra: list[Branch] = [
        (Primitive(segments[:depth], ">=", [], "array"),) for depth in range(1, len(segments))
    ]
    return QueryPlan(tuple(branches + extra), sound=not extra, disjoint=not extra)


# -- Firestore's rules for one query ---------------------------------------------------------


def _legalise(branch: Branch) -> tuple[Branch | None, bool]:
    """Make one conjunction acceptable to Firestore; None when it can match nothing.
    The flag says whether a filter had to be dropped (the result is then a superset)."""
    kinds: dict[tuple[str, ...], set[Kind]] = {}
    for prim in branch:
        kinds.setdefault(prim.segments, set()).add(prim.kind)
    for found in kinds.values():
        definite = found - {"mixed"}
        if len(definite) > 1:
            return None, False  # one value cannot be an array and a scalar at once
    kept: list[Primitive] = []
    dropped = False
    for prim in branch:
        if prim in kept:
            continue
        if (
            prim.op == ">="
            and prim.value == []
            and any(
                other.segments == prim.segments
                and (other.op in _ARRAY_OPS or other.kind == "array")
                and other is not prim
                and not (other.op == ">=" and other.value == [])
                for other in branch
            )
        ):
            continue  # implied by a stronger array filter on the same field
        kept.append(prim)
    # Firestore refuses a document-id equality next to inequalities on other fields: keep
    # the id (the narrower filter).
    if any(p.segments == DOCUMENT_ID for p in kept) and any(
        p.op in _INEQUALITIES and p.segments != DOCUMENT_ID for p in kept
    ):
        kept = [p for p in kept if p.segments == DOCUMENT_ID or p.op not in _INEQUALITIES]
        dropped = True
    # One array-contains(-any) per disjunction.
    seen_array = False
    legal: list[Primitive] = []
    for prim in kept:
        if prim.op in _ARRAY_OPS:
            if seen_array:
                dropped = True
                continue
            seen_array = True
        legal.append(prim)
    # At most MAX_DISJUNCTIONS disjunctions once in/array-contains-any are expanded.
    while math.prod(p.fan_out for p in legal) > MAX_DISJUNCTIONS:
        widest = max(legal, key=lambda p: p.fan_out)
        legal.remove(widest)
        dropped = True
    return tuple(legal), dropped


# -- helpers -----------------------------------------------------------------------------


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _chunks(values: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _dedupe(values: Iterable[Any]) -> list[Any]:
    """Values without repeats as Firestore compares them (1 and 1.0 are one number)."""
    seen: set[Any] = set()
    out: list[Any] = []
    for value in values:
        key = _key(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _key(value: Any) -> Any:
    if is_plain_number(value):
        return ("number", value)  # Python compares int and float exactly, as Firestore does
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_key(v) for v in value))
    return (type(value).__name__, value)


def _contains_map(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_map(v) for v in value)
    return False


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _is_datetime(value: Any) -> bool:
    return isinstance(value, datetime)
