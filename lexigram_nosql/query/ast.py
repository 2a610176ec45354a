"""The validated form of filter, update and pipeline documents.

Parsers (``filter.py``, ``update.py``, ``aggregate.py``) turn user documents into these nodes
once; the Python engine evaluates them and each backend compiles them. Nodes are frozen, so a
parsed query can be cached and shared. Paths are dotted strings exactly as the user wrote them
(``"a.0.b"``); ``""`` is the element itself inside ``$elemMatch`` and ``$pull`` conditions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lexigram_nosql.records import fast_init

if TYPE_CHECKING:
    from lexigram_nosql.query.requests import CommandOptions

__all__ = [
    "And",
    "Condition",
    "ElemMatch",
    "Expr",
    "FieldOp",
    "FieldUpdate",
    "FilterNode",
    "MatchAll",
    "Nor",
    "Not",
    "OperatorUpdate",
    "Or",
    "ParsedPipeline",
    "PipelineUpdate",
    "PullCondition",
    "PushSpec",
    "ReplacementUpdate",
    "Stage",
    "Update",
    "UpdateOp",
]


# -- filters -----------------------------------------------------------------------------


class FilterNode:
    """Base of every filter node."""

    __slots__ = ()


@fast_init
@dataclass(frozen=True, slots=True)
class MatchAll(FilterNode):
    """The empty filter ``{}``."""


@fast_init
@dataclass(frozen=True, slots=True)
class And(FilterNode):
    """``$and``, and the implicit conjunction of a filter document's keys."""

    clauses: tuple[FilterNode, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Or(FilterNode):
    """``$or``."""

    clauses: tuple[FilterNode, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Nor(FilterNode):
    """``$nor``: no clause matches."""

    clauses: tuple[FilterNode, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Not(FilterNode):
    """``$not`` on a field: the negation of ``clause`` (conditions on the same path).

    ``$ne`` and ``$nin`` are not expressed with this node (they are ``FieldOp.NE``/``NIN``),
    but they have exactly these semantics: no element of an array may match.
    """

    clause: FilterNode


class FieldOp(enum.Enum):
    """Operators that test the value(s) at one path. ``operand`` types are noted."""

    EQ = "$eq"  # any value
    NE = "$ne"  # any value
    GT = "$gt"  # any value (MongoDB compares within a type bracket)
    GTE = "$gte"
    LT = "$lt"
    LTE = "$lte"
    IN = "$in"  # tuple of values (may contain compiled regexes: re.Pattern)
    NIN = "$nin"  # tuple of values
    EXISTS = "$exists"  # bool
    TYPE = "$type"  # tuple of canonical BSON type names ("string", "int", "number", ...)
    REGEX = "$regex"  # re.Pattern (flags from $options applied)
    ALL = "$all"  # tuple of values
    SIZE = "$size"  # int
    MOD = "$mod"  # (divisor, remainder) ints


@fast_init
@dataclass(frozen=True, slots=True)
class Condition(FilterNode):
    """One operator applied at one path, with MongoDB's array semantics."""

    path: str
    op: FieldOp
    operand: Any


@fast_init
@dataclass(frozen=True, slots=True)
class ElemMatch(FilterNode):
    """``$elemMatch``: some array element at ``path`` satisfies ``clause``.

    In the document form (``{"$elemMatch": {"b": 1}}``) ``clause`` tests element documents;
    in the operator form (``{"$elemMatch": {"$gt": 1}}``) its conditions use path ``""``.
    """

    path: str
    clause: FilterNode


@fast_init
@dataclass(frozen=True, slots=True)
class Expr(FilterNode):
    """``$expr``: an aggregation expression, already parsed by ``expressions.py``."""

    expression: Any


# -- updates -----------------------------------------------------------------------------


class UpdateOp(enum.Enum):
    """Update operators."""

    SET = "$set"
    UNSET = "$unset"
    INC = "$inc"
    MUL = "$mul"
    MIN = "$min"
    MAX = "$max"
    RENAME = "$rename"  # operand: the new path (str)
    SET_ON_INSERT = "$setOnInsert"
    CURRENT_DATE = "$currentDate"  # operand: "date" or "timestamp"
    PUSH = "$push"  # operand: PushSpec
    ADD_TO_SET = "$addToSet"  # operand: tuple of values ($each, or one value)
    PULL = "$pull"  # operand: PullCondition
    PULL_ALL = "$pullAll"  # operand: tuple of values
    POP = "$pop"  # operand: 1 (last) or -1 (first)
    BIT = "$bit"  # operand: tuple of ("and" | "or" | "xor", int), applied in order


@fast_init
@dataclass(frozen=True, slots=True)
class PushSpec:
    """``$push`` with its modifiers; a plain ``$push: {a: v}`` is ``each=(v,)``."""

    each: tuple[Any, ...]
    position: int | None = None
    slice: int | None = None
    sort: Any = None  # None, 1/-1, or a tuple of (field, 1 | -1)


@fast_init
@dataclass(frozen=True, slots=True)
class PullCondition:
    """``$pull`` operand: elements equal to ``value``, or matching ``clause`` when set."""

    value: Any = None
    clause: FilterNode | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """One operator applied to one path."""

    op: UpdateOp
    path: str
    operand: Any


@fast_init
@dataclass(frozen=True, slots=True)
class OperatorUpdate:
    """An update document made of operators, in document order.

    ``positional`` is set when a path holds ``$``, ``$[]`` or ``$[<identifier>]``: such an
    update is applied by the engine (``apply_update``), never compiled to a backend's native
    expressions. ``array_filters`` maps each identifier to its filter; ``query`` is the
    update's filter, which the positional ``$`` needs to find the matched element."""

    fields: tuple[FieldUpdate, ...]
    positional: bool = False
    array_filters: tuple[tuple[str, FilterNode], ...] = ()
    query: FilterNode | None = None
    raw_array_filters: tuple[Mapping[str, Any], ...] = ()
    dollar_top_level: bool = False
    """A path (other than an ``$unset``'s) starts with a ``$``-prefixed field name: allowed
    only when an upsert inserts."""


@fast_init
@dataclass(frozen=True, slots=True)
class ReplacementUpdate:
    """A replacement document (no operators); ``_id`` is kept from the stored document."""

    document: Mapping[str, Any]


@fast_init
@dataclass(frozen=True, slots=True)
class PipelineUpdate:
    """A pipeline-style update: ``$set``/``$addFields``/``$unset``/``$project``/
    ``$replaceWith``/``$replaceRoot`` stages computing the new document from the stored one.
    Applied like a replacement: ``_id`` is kept from the stored document."""

    stages: tuple[Stage, ...]


Update = OperatorUpdate | ReplacementUpdate | PipelineUpdate


# -- pipelines ---------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Stage:
    """One validated pipeline stage. ``name`` is the operator (``"$match"``), ``raw`` the
    user's stage document (what MongoDB receives), ``parsed`` the engine's form of it
    (for ``$match``, a ``FilterNode``)."""

    name: str
    raw: Mapping[str, Any]
    parsed: Any = None


@fast_init
@dataclass(frozen=True, slots=True)
class ParsedPipeline:
    """A validated pipeline, with the ``aggregate`` call's server hints (the server's batch
    size and ``allowDiskUse``: MongoDB receives them, the engine needs neither)."""

    stages: tuple[Stage, ...] = field(default_factory=tuple)
    batch_size: int | None = None
    allow_disk_use: bool | None = None
    options: CommandOptions | None = None
    """The call's PyMongo options (``hint``, ``comment``...), which MongoDB receives."""
