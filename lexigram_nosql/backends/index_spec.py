"""``IndexSpec``: a ``create_index`` request, validated once before any backend sees it.

A *partial* index (``partial_filter_expression``, MongoDB's ``partialFilterExpression``)
holds only the documents its filter matches, decided by the engine's own matcher so every
backend draws the same line. Its filter takes only what MongoDB allows there (equality,
``$exists: true``, ``$gt``/``$gte``/``$lt``/``$lte``, ``$type``, ``$and``, ``$or``, ``$in``);
anything else is refused naming the operator, on every backend alike.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from lexigram_nosql.backends.keys import key_text, key_value
from lexigram_nosql.contracts import IndexInfo
from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    Expr,
    FieldOp,
    FilterNode,
    MatchAll,
    Or,
)
from lexigram_nosql.query.filter import parse_filter
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.requests import parse_sort
from lexigram_nosql.types import IndexKeys

__all__ = [
    "IndexSpec",
    "default_index_name",
    "index_keys",
    "parse_partial_filter",
]

_PARTIAL_OPERATORS: Final = frozenset(
    {FieldOp.EQ, FieldOp.GT, FieldOp.GTE, FieldOp.LT, FieldOp.LTE, FieldOp.TYPE, FieldOp.IN}
)
_ALLOWED: Final = "equality, $exists: true, $gt, $gte, $lt, $lte, $type, $and, $or and $in"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A validated ``create_index`` request."""

    keys: tuple[tuple[str, int], ...]
    name: str
    unique: bool = False
    sparse: bool = False
    expire_after_seconds: int | None = None
    partial_filter: Mapping[str, Any] | None = None
    """The ``partialFilterExpression`` as given (None: every document is indexed)."""
    _covers: Callable[[Any], bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _filter_paths: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.partial_filter is not None:
            node = parse_partial_filter(self.partial_filter, index=self.name)
            object.__setattr__(self, "_covers", compile_filter(node))
            object.__setattr__(self, "_filter_paths", tuple(dict.fromkeys(_paths(node))))

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the index reads: its keys', then its partial filter's (a write to
        one of those may move a document into or out of the index)."""
        keys = tuple(path for path, _ in self.keys)
        return keys + tuple(p for p in self._filter_paths if p not in keys)

    def covers(self, document: Any) -> bool:
        """Whether ``document`` belongs in the index: every one, or for a partial index
        those its filter matches."""
        covers = self._covers
        return covers is None or covers(document)

    @property
    def info(self) -> IndexInfo:
        """The index as ``list_indexes`` reports it."""
        partial = self.partial_filter
        return IndexInfo(
            self.name,
            list(self.keys),
            self.unique,
            self.sparse,
            self.expire_after_seconds,
            None if partial is None else copy.deepcopy(dict(partial)),
        )

    def exists_in(self, specs: Iterable[IndexSpec], *, collection: str) -> bool:
        """Whether ``specs`` already hold this index (``create_index`` then does nothing);
        ``InvalidQueryError`` when one has its name, or its keys and partial filter (MongoDB
        keeps two indexes on one key pattern only when their partial filters differ), with
        other options."""
        for same in specs:
            if same.name == self.name or (
                same.keys == self.keys and same.partial_filter == self.partial_filter
            ):
                if same == self:
                    return True
                raise InvalidQueryError(
                    f"Collection {collection!r} already has index {same.name!r} on "
                    f"{list(same.keys)} with other options; drop it first.",
                    collection=collection,
                    operator="create_index",
                )
        return False

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON, recorded where other processes read it (DynamoDB's guard
        table, Firestore's ``__lx_indexes``, the SQLite catalog) so they enforce it too."""
        data: dict[str, Any] = {
            "name": self.name,
            "keys": [[path, direction] for path, direction in self.keys],
            "unique": self.unique,
            "sparse": self.sparse,
            "expire_after_seconds": self.expire_after_seconds,
        }
        if self.partial_filter is not None:
            data["partial_filter"] = _to_json(self.partial_filter)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, name: str | None = None) -> IndexSpec:
        """The spec ``to_json`` recorded (``name`` when the record keeps it elsewhere)."""
        partial = data.get("partial_filter")
        return cls(
            tuple((str(path), int(direction)) for path, direction in data["keys"]),
            str(name if name is not None else data["name"]),
            bool(data.get("unique")),
            bool(data.get("sparse")),
            data.get("expire_after_seconds"),
            None if partial is None else _from_json(partial),
        )

    @classmethod
    def build(
        cls,
        keys: IndexKeys,
        *,
        unique: bool,
        sparse: bool,
        name: str | None,
        expire_after_seconds: int | None,
        partial_filter_expression: Mapping[str, Any] | None = None,
    ) -> IndexSpec:
        pairs = index_keys(keys)
        if pairs == _ID_KEYS and (unique or sparse):
            option = "unique" if unique else "sparse"
            raise InvalidQueryError(
                f"The field {option!r} is not valid for the _id index, which is always unique "
                "and holds every document (as in MongoDB)",
                operator=option,
                path="_id",
            )
        if expire_after_seconds is not None:
            expire_after_seconds = _ttl_seconds(pairs, expire_after_seconds)
        partial: dict[str, Any] | None = None
        if partial_filter_expression is not None:
            if not isinstance(partial_filter_expression, Mapping):
                raise InvalidQueryError(
                    "partialFilterExpression must be a document, got "
                    f"{type(partial_filter_expression).__name__}",
                    operator="partialFilterExpression",
                )
            if sparse:
                raise InvalidQueryError(
                    'cannot mix "partialFilterExpression" and "sparse" options (MongoDB '
                    "refuses both on one index: a partial index with {field: {$exists: "
                    "true}} does what sparse does)",
                    operator="partialFilterExpression",
                )
            if [path for path, _ in pairs] == ["_id"]:
                raise InvalidQueryError(
                    "The _id index cannot be a partial index (as in MongoDB)",
                    operator="partialFilterExpression",
                    path="_id",
                )
            partial = copy.deepcopy(dict(partial_filter_expression))
        name = name or default_index_name(pairs)
        return cls(pairs, name, unique, sparse, expire_after_seconds, partial)


def default_index_name(pairs: Sequence[tuple[str, int]]) -> str:
    """MongoDB's name for an index nobody named: ``email_1_age_-1``; ``_id_`` for the
    ``_id`` index."""
    if tuple(pairs) == _ID_KEYS:
        return "_id_"
    return "_".join(f"{path}_{direction}" for path, direction in pairs)


def index_keys(keys: IndexKeys) -> tuple[tuple[str, int], ...]:
    """The ``(field, 1 | -1)`` pairs of an index, from any form PyMongo takes: ``"field"``,
    a list of fields and ``(field, direction)`` pairs, or a mapping ``{field: direction}``."""
    pairs = parse_sort(keys, what="index key")
    if not pairs:
        raise InvalidQueryError("create_index needs at least one key", operator="create_index")
    return pairs


_ID_KEYS: Final = (("_id", 1),)

_MAX_EXPIRE: Final = 2**31 - 1
"""MongoDB's largest ``expireAfterSeconds`` (a 32-bit int)."""


def _ttl_seconds(pairs: tuple[tuple[str, int], ...], seconds: Any) -> int:
    """MongoDB's TTL rules: whole seconds (``60.0`` is 60) up to 2**31 - 1, not on _id (a
    compound index ignores the option, as MongoDB documents; DynamoDB refuses it)."""
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= _MAX_EXPIRE:
        raise InvalidQueryError(
            f"expireAfterSeconds must be a whole number of seconds from 0 to {_MAX_EXPIRE}, "
            f"got {seconds!r}",
            operator="expireAfterSeconds",
        )
    if pairs == (("_id", 1),):
        raise InvalidQueryError(
            "The _id index cannot be a TTL index (as in MongoDB)",
            operator="expireAfterSeconds",
            path="_id",
        )
    return seconds


def _to_json(value: Any) -> Any:
    """JSON for a filter document: mappings as ``{"o": ...}`` (so user values never pass
    for a tag), values JSON would change (datetimes, UUIDs, decimals...) as ``{"k": text}``
    in the type-keeping key text of ``backends/keys.py``."""
    cls = type(value)
    if value is None or cls is str or cls is bool or cls is int:
        return value
    if cls is float and math.isfinite(value):
        return value
    if isinstance(value, Mapping):
        return {"o": {key: _to_json(item) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    return {"k": key_text(value, backend="index spec", path="partialFilterExpression")}


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, dict):
        if "o" in value:
            return {key: _from_json(item) for key, item in value["o"].items()}
        return key_value(value["k"])
    return value


def parse_partial_filter(filter: Mapping[str, Any], *, index: str | None = None) -> FilterNode:
    """The parsed ``partialFilterExpression``, refused naming the operator when MongoDB
    would refuse it in a partial index."""
    node = parse_filter(filter)
    _check_partial(node, index)
    return node


def _paths(node: FilterNode) -> list[str]:
    if isinstance(node, (And, Or)):
        return [path for clause in node.clauses for path in _paths(clause)]
    return [node.path] if isinstance(node, Condition) else []


def _check_partial(node: FilterNode, index: str | None) -> None:
    if isinstance(node, MatchAll):
        return  # {}: MongoDB accepts it, and then every document matches
    if isinstance(node, (And, Or)):
        for clause in node.clauses:
            _check_partial(clause, index)
        return
    if isinstance(node, Condition):
        if node.op in _PARTIAL_OPERATORS and not (
            node.op is FieldOp.IN and any(isinstance(v, re.Pattern) for v in node.operand)
        ):
            return
        if node.op is FieldOp.EXISTS and node.operand is True:
            return
        shown = "$exists: false" if node.op is FieldOp.EXISTS else node.op.value
        _refuse(node.op.value, node.path, index, shown)
    operator = {ElemMatch: "$elemMatch", Expr: "$expr"}.get(type(node))
    if operator is None:
        operator = "$" + type(node).__name__.lower()  # $not, $nor
    path = getattr(node, "path", None) or getattr(getattr(node, "clause", None), "path", None)
    _refuse(operator, path, index)


def _refuse(operator: str, path: str | None, index: str | None, shown: str = "") -> NoReturn:
    where = f" of index {index!r}" if index else ""
    on = f" (on {path!r})" if path else ""
    raise InvalidQueryError(
        f"The partialFilterExpression{where} uses {shown or operator}{on}, which a partial "
        f"index does not support; MongoDB allows {_ALLOWED}",
        path=path or None,
        operator=operator,
    )
