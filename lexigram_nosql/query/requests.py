"""Validated requests: what a collection method hands its backend after parsing.

Public collection methods (``backends/base.py``) build these once from the user's arguments,
so every backend receives input that is already valid, and the raw documents stay alongside
the parsed form for backends (MongoDB) that pass them to the server as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import FilterNode, MatchAll
from lexigram_nosql.query.filter import parse_equalities, parse_filter
from lexigram_nosql.query.limits import DEFAULT_LIMITS, Limits, check_filter
from lexigram_nosql.query.projection import Projection, parse_projection
from lexigram_nosql.records import builder, fast_init
from lexigram_nosql.types import ProjectionSpec, SortSpec

__all__ = [
    "CommandOptions",
    "CursorOptions",
    "FilterQuery",
    "FindQuery",
    "filter_query",
    "find_query",
    "parse_sort",
]


class CommandOptions(NamedTuple):
    """A call's checked options, as MongoDB receives them (None: not given)."""

    comment: Any = None
    hint: Any = None
    collation: Mapping[str, Any] | None = None
    max_time_ms: int | None = None
    session: Any = None
    let: Mapping[str, Any] | None = None
    """Variables for ``$expr`` and pipeline updates (``$$name``), as the user gave them."""
    bypass_document_validation: bool | None = None

    def driver_kwargs(self, max_time: str = "maxTimeMS") -> dict[str, Any]:
        """The options PyMongo's collection methods take, those given only: the time bound
        under ``max_time`` (``find``'s ``max_time_ms``, the command field ``maxTimeMS``
        elsewhere); ``session`` is the store's to give."""
        sent: dict[str, Any] = {}
        if self.comment is not None:
            sent["comment"] = self.comment
        if self.hint is not None:
            sent["hint"] = self.hint
        if self.collation is not None:
            sent["collation"] = dict(self.collation)
        if self.max_time_ms:
            sent[max_time] = self.max_time_ms
        if self.let is not None:
            sent["let"] = dict(self.let)
        if self.bypass_document_validation is not None:
            sent["bypass_document_validation"] = self.bypass_document_validation
        return sent


class CursorOptions(NamedTuple):
    """A ``find``'s checked cursor options (PyMongo's ``Cursor`` parameters past the
    per-command ones), at PyMongo's defaults when not given."""

    no_cursor_timeout: bool = False
    cursor_type: int = 0
    """PyMongo's ``CursorType``: ``NON_TAILABLE`` (0), ``TAILABLE``, ``TAILABLE_AWAIT``,
    ``EXHAUST``."""
    allow_partial_results: bool = False
    oplog_replay: bool = False
    max_scan: int | None = None
    max: Mapping[str, Any] | None = None
    min: Mapping[str, Any] | None = None
    return_key: bool | None = None
    show_record_id: bool | None = None
    snapshot: bool | None = None
    max_await_time_ms: int | None = None
    """A tailable-await cursor's wait per ``getMore`` (the cursor's modifier only)."""

    def driver_kwargs(self) -> dict[str, Any]:
        """PyMongo's ``find`` keywords, those that differ from its defaults (not
        ``max_await_time_ms``, which only its cursor's modifier takes)."""
        return {
            name: value
            for name, value, default in zip(self._fields, self, _CURSOR_DEFAULTS, strict=True)
            if value != default and name != "max_await_time_ms"
        }


_CURSOR_DEFAULTS: Final = tuple(CursorOptions())


@fast_init
@dataclass(frozen=True, slots=True)
class FilterQuery:
    """A validated filter with the document it came from."""

    node: FilterNode
    raw: Mapping[str, Any] = field(default_factory=dict)
    options: CommandOptions | None = None
    """The call's PyMongo options (``hint``, ``comment``...), which MongoDB receives."""

    @classmethod
    def build(
        cls, filter: Mapping[str, Any] | None, *, limits: Limits = DEFAULT_LIMITS
    ) -> FilterQuery:
        return filter_query(filter, limits)


@fast_init
@dataclass(frozen=True, slots=True)
class FindQuery:
    """A validated ``find``: filter, projection, sort, skip, limit, batch size."""

    filter: FilterQuery
    projection: Projection | None = None
    sort: tuple[tuple[str, int], ...] = ()
    skip: int = 0
    limit: int = 0
    batch_size: int | None = None
    allow_disk_use: bool | None = None
    cursor: CursorOptions | None = None
    """The cursor options given (None: PyMongo's defaults)."""

    @classmethod
    def build(
        cls,
        filter: Mapping[str, Any] | None = None,
        *,
        projection: ProjectionSpec | None = None,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        batch_size: int | None = None,
        allow_disk_use: bool | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> FindQuery:
        return find_query(filter, projection, sort, skip, limit, batch_size, allow_disk_use, limits)


_filter_query: Final = builder(FilterQuery)
_find_query: Final = builder(FindQuery)


def filter_query(filter: Mapping[str, Any] | None, limits: Limits) -> FilterQuery:
    """``FilterQuery.build``, positional (on the path of every call)."""
    if filter is None:
        return _filter_query(MatchAll(), {})
    node = parse_equalities(filter)
    if node is None:
        check_filter(filter, limits)
        node = parse_filter(filter)
    return _filter_query(node, filter)


def find_query(
    filter: Mapping[str, Any] | None,
    projection: ProjectionSpec | None,
    sort: SortSpec | None,
    skip: int,
    limit: int,
    batch_size: int | None,
    allow_disk_use: bool | None,
    limits: Limits,
) -> FindQuery:
    """``FindQuery.build``, positional (on the path of every ``find_one``: a classmethod
    with keywords costs a bound method and a mapping of its arguments per call)."""
    if type(skip) is not int or skip < 0:  # the checks in full only when needed
        check_count("skip", skip)
    if type(limit) is not int or limit < 0:
        check_count("limit", limit)
    if batch_size is not None or allow_disk_use is not None:
        check_server_hints(batch_size, allow_disk_use)
    return _find_query(
        filter_query(filter, limits),
        None if projection is None else parse_projection(projection),
        () if sort is None else parse_sort(sort),
        skip,
        limit,
        batch_size or None,  # 0, as in PyMongo: the server's default
        allow_disk_use,
    )


def check_count(name: str, value: Any) -> None:
    """Refuse a ``skip`` or ``limit`` that is not a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQueryError(f"{name} must be a non-negative integer, got {value!r}")


def check_server_hints(batch_size: int | None, allow_disk_use: bool | None) -> None:
    """``batch_size`` (how many documents the server sends at a time, 0: its default) and
    ``allow_disk_use``
    (whether MongoDB may spill a large sort to disk) change no result; checked all the same."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0
    ):
        raise InvalidQueryError(f"batch_size must be a non-negative integer, got {batch_size!r}")
    if allow_disk_use is not None and not isinstance(allow_disk_use, bool):
        raise InvalidQueryError(f"allow_disk_use must be True or False, got {allow_disk_use!r}")


def one_spelling(method: str, snake: tuple[str, Any], pymongo: tuple[str, Any]) -> Any:
    """An option given in this package's spelling or PyMongo's (``batch_size`` or
    ``batchSize``), not both."""
    if snake[1] is not None and pymongo[1] is not None:
        raise InvalidQueryError(
            f"{method}: give {snake[0]} or {pymongo[0]}, not both", operator=pymongo[0]
        )
    return pymongo[1] if snake[1] is None else snake[1]


def parse_sort(sort: SortSpec | None, *, what: str = "sort") -> tuple[tuple[str, int], ...]:
    """Validate a sort specification in any form PyMongo takes (``types.SortSpec``), or,
    as ``what`` says, an index's keys (which take the same forms)."""
    if sort is None:
        return ()
    items: Iterable[Any]
    if isinstance(sort, str):
        items = [(sort, 1)]
    elif isinstance(sort, Mapping):
        items = sort.items()
    elif isinstance(sort, (bytes, bytearray)) or not isinstance(sort, Iterable):
        raise InvalidQueryError(
            f"{what} must be a list of (field, 1 | -1) pairs, a {{field: 1 | -1}} document or "
            f"a field name, got {type(sort).__name__}",
            operator=what,
        )
    else:
        items = ((item, 1) if isinstance(item, str) else item for item in sort)
    pairs: list[tuple[str, int]] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise InvalidQueryError(
                f"{what} entries must be (field, 1 | -1) pairs, got {item!r}", operator=what
            )
        path, direction = item
        if not isinstance(path, str) or not path or path.startswith("$"):
            raise InvalidQueryError(
                f"{what} field must be a field path, got {path!r}", path=str(path)
            )
        if isinstance(direction, bool) or direction not in (1, -1):
            raise InvalidQueryError(
                f"{what} direction for {path!r} must be 1 or -1, got {direction!r}", path=path
            )
        if path in seen:
            raise InvalidQueryError(f"{what} names {path!r} twice", path=path)
        seen.add(path)
        pairs.append((path, int(direction)))
    return tuple(pairs)
