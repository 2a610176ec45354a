"""``AggregationPipeline``: a fluent, immutable builder of aggregation pipelines.

Every method returns a new pipeline and leaves the one it was called on unchanged, so a
partial pipeline can be shared and extended in several directions. Each stage is validated by
the query language as it is added (an invalid stage raises ``InvalidQueryError`` at the call
that adds it, naming the stage index and operator), and ``build()`` returns a fresh deep copy
of the stage documents::

    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group("status", {"total": AggregationOp.SUM(1), "avg": AggregationOp.AVG("$score")})
        .sort([("total", -1)])
    )
    async for row in collection.aggregate(pipeline.build()):
        ...

Bare field names are accepted where a field is the only sensible meaning (``group``,
``unwind``, ``sort_by_count``, ``replace_root``): ``"status"`` means ``"$status"``. Inside
documents (``project``, ``add_fields``, compound ``group`` keys, accumulators) values are
MongoDB expressions exactly as MongoDB reads them, so ``"status"`` there is a string literal.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.aggregate_parse import parse_stage
from lexigram_nosql.types import Document, FilterDocument

__all__ = ["AggregationOp", "AggregationPipeline"]


class AggregationOp:
    """Accumulator documents for ``AggregationPipeline.group``.

    ``AggregationOp.SUM(1)`` is ``{"$sum": 1}``, ``AggregationOp.AVG("$score")`` is
    ``{"$avg": "$score"}``; the raw documents are accepted as well. Operands are copied, so
    changing them afterwards changes nothing.
    """

    @staticmethod
    def SUM(expression: Any) -> dict[str, Any]:
        """``$sum``: the total of the numeric values (non-numbers are ignored)."""
        return {"$sum": copy.deepcopy(expression)}

    @staticmethod
    def AVG(expression: Any) -> dict[str, Any]:
        """``$avg``: the mean of the numeric values, null when there are none."""
        return {"$avg": copy.deepcopy(expression)}

    @staticmethod
    def MIN(expression: Any) -> dict[str, Any]:
        """``$min``: the smallest value in MongoDB's order (null and missing ignored)."""
        return {"$min": copy.deepcopy(expression)}

    @staticmethod
    def MAX(expression: Any) -> dict[str, Any]:
        """``$max``: the largest value in MongoDB's order (null and missing ignored)."""
        return {"$max": copy.deepcopy(expression)}

    @staticmethod
    def FIRST(expression: Any) -> dict[str, Any]:
        """``$first``: the value from the group's first document (sort first to choose it)."""
        return {"$first": copy.deepcopy(expression)}

    @staticmethod
    def LAST(expression: Any) -> dict[str, Any]:
        """``$last``: the value from the group's last document."""
        return {"$last": copy.deepcopy(expression)}

    @staticmethod
    def PUSH(expression: Any) -> dict[str, Any]:
        """``$push``: every value, in document order (missing values skipped)."""
        return {"$push": copy.deepcopy(expression)}

    @staticmethod
    def ADD_TO_SET(expression: Any) -> dict[str, Any]:
        """``$addToSet``: the distinct values."""
        return {"$addToSet": copy.deepcopy(expression)}

    @staticmethod
    def COUNT() -> dict[str, Any]:
        """``$count``: the number of documents in the group."""
        return {"$count": {}}


def _field_path(value: Any, what: str) -> Any:
    """A bare field name becomes a ``$path``; anything else is left as it is."""
    if isinstance(value, str):
        if not value:
            raise InvalidQueryError(f"{what} must not be an empty string.")
        return value if value.startswith("$") else f"${value}"
    return value


class AggregationPipeline:
    """An immutable, validated aggregation pipeline built one stage at a time.

    Args:
        stages: initial stage documents (validated and copied).

    Raises:
        InvalidQueryError: a stage is invalid (also raised by every method that adds one).
    """

    __slots__ = ("_stages",)

    def __init__(self, stages: Sequence[Mapping[str, Any]] | None = None) -> None:
        checked: list[dict[str, Any]] = []
        for index, stage in enumerate(stages or ()):
            checked.append(_validated(stage, index))
        self._stages: tuple[dict[str, Any], ...] = tuple(checked)

    # -- value semantics ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._stages)

    def __iter__(self) -> Iterator[Document]:
        """Iterate over copies of the stage documents."""
        return iter(self.build())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AggregationPipeline):
            return NotImplemented
        return self._stages == other._stages

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AggregationPipeline({list(self._stages)!r})"

    def build(self) -> list[Document]:
        """The stage documents, as a new deep copy on every call."""
        return copy.deepcopy(list(self._stages))

    # -- stages ---------------------------------------------------------------------------

    def stage(self, raw: Mapping[str, Any]) -> AggregationPipeline:
        """Append a raw stage document (``{"$operator": spec}``), validated."""
        return self._append(raw)

    def match(self, filter: FilterDocument) -> AggregationPipeline:
        """Keep the documents matching ``filter``.

        When the previous stage is also a ``$match``, the two merge into one ``$match``
        whose ``$and`` keeps both conditions (nothing is overwritten, and the whole
        condition can be pushed down to the backend).
        """
        new = {"$match": filter}
        if self._stages and "$match" in self._stages[-1]:
            _validated(new, len(self._stages))
            previous = self._stages[-1]["$match"]
            clauses = _and_clauses(previous) + _and_clauses(filter)
            merged: dict[str, Any] = {}
            if len(clauses) == 1:
                merged = clauses[0]
            elif clauses:
                merged = {"$and": clauses}
            return self._replace_last({"$match": merged})
        return self._append(new)

    def group(
        self,
        key: str | Mapping[str, Any] | None,
        accumulators: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AggregationPipeline:
        """Group documents by ``key`` and compute ``accumulators`` per group.

        ``key`` is one of:

        - ``None``: one group of every document (``_id: null``);
        - a field name, ``"status"``: one group per value of that field (``"$status"``);
          ``"_id"`` therefore groups by the document id, one group per document;
        - a ``"$path"`` or ``"$$variable"``, used as it is;
        - a document, a compound key whose values are MongoDB expressions
          (``{"status": "$status", "year": "$year"}``).

        ``accumulators`` maps output fields to ``AggregationOp.*`` results or raw
        accumulator documents (``{"$sum": 1}``).
        """
        if key is not None and not isinstance(key, (str, Mapping)):
            raise InvalidQueryError(
                "group key must be None, a field name, a '$path' or a document of "
                f"expressions, got {type(key).__name__} {key!r}.",
                operator="$group",
            )
        spec: dict[str, Any] = {"_id": _field_path(key, "group key")}
        for field, accumulator in (accumulators or {}).items():
            if field == "_id":
                raise InvalidQueryError(
                    "group accumulators cannot be named '_id': it holds the group key.",
                    operator="$group",
                    path="_id",
                )
            spec[field] = accumulator
        return self._append({"$group": spec})

    def project(self, projection: Mapping[str, Any]) -> AggregationPipeline:
        """Reshape documents: include (1), exclude (0) or compute fields."""
        return self._append({"$project": projection})

    def add_fields(self, fields: Mapping[str, Any]) -> AggregationPipeline:
        """Add or replace fields with computed values (``$addFields``)."""
        return self._append({"$addFields": fields})

    def unset(self, *fields: str | Sequence[str]) -> AggregationPipeline:
        """Remove fields: ``unset("a", "b.c")`` or ``unset(["a", "b.c"])``."""
        paths: list[Any] = []
        for item in fields:
            if isinstance(item, str):
                paths.append(item)
            else:
                paths.extend(item)
        return self._append({"$unset": paths})

    def sort(
        self,
        spec: str | Sequence[tuple[str, int]] | Mapping[str, int],
        direction: int = 1,
    ) -> AggregationPipeline:
        """Sort by ``[("field", 1 | -1), ...]``, a ``{"field": 1 | -1}`` document, or one
        field name with ``direction``."""
        if isinstance(spec, str):
            order: dict[str, Any] = {spec: direction}
        elif isinstance(spec, Mapping):
            order = dict(spec)
        else:
            order = {}
            for pair in spec:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise InvalidQueryError(
                        f"sort takes (field, 1 | -1) pairs, got {pair!r}.", operator="$sort"
                    )
                field, field_direction = pair
                if field in order:
                    raise InvalidQueryError(
                        f"sort names the field {field!r} twice.", operator="$sort", path=field
                    )
                order[field] = field_direction
        return self._append({"$sort": order})

    def skip(self, count: int) -> AggregationPipeline:
        """Skip the first ``count`` documents."""
        return self._append({"$skip": count})

    def limit(self, count: int) -> AggregationPipeline:
        """Keep at most ``count`` documents (a positive integer)."""
        return self._append({"$limit": count})

    def unwind(
        self,
        path: str,
        *,
        include_array_index: str | None = None,
        preserve_null_and_empty_arrays: bool = False,
    ) -> AggregationPipeline:
        """One document per element of the array at ``path`` (``"tags"`` or ``"$tags"``)."""
        field = _field_path(path, "unwind path")
        if include_array_index is None and not preserve_null_and_empty_arrays:
            return self._append({"$unwind": field})
        options: dict[str, Any] = {"path": field}
        if include_array_index is not None:
            options["includeArrayIndex"] = include_array_index
        if preserve_null_and_empty_arrays:
            options["preserveNullAndEmptyArrays"] = True
        return self._append({"$unwind": options})

    def lookup(
        self,
        from_collection: str,
        local_field: str | None = None,
        foreign_field: str | None = None,
        as_field: str | None = None,
        *,
        let: Mapping[str, Any] | None = None,
        pipeline: Sequence[Mapping[str, Any]] | None = None,
    ) -> AggregationPipeline:
        """Join documents of another collection of the same store into ``as_field``:
        by equality (``local_field``/``foreign_field``), by a sub-``pipeline`` with
        ``let`` variables, or both."""
        if as_field is None:
            raise InvalidQueryError(
                "lookup needs as_field, the field that receives the joined documents.",
                operator="$lookup",
            )
        if (local_field is None) != (foreign_field is None):
            raise InvalidQueryError(
                "lookup needs both local_field and foreign_field, or neither (with a pipeline).",
                operator="$lookup",
            )
        spec: dict[str, Any] = {"from": from_collection}
        if local_field is not None:
            spec["localField"] = local_field
            spec["foreignField"] = foreign_field
        if let is not None:
            spec["let"] = let
        if pipeline is not None:
            spec["pipeline"] = list(pipeline)
        spec["as"] = as_field
        return self._append({"$lookup": spec})

    def count(self, field: str = "count") -> AggregationPipeline:
        """Replace the documents by one ``{field: n}`` (nothing when there are none)."""
        return self._append({"$count": field})

    def sort_by_count(self, expression: Any) -> AggregationPipeline:
        """Group by ``expression`` (a field name, ``$path`` or expression) and sort by the
        number of documents, most frequent first: ``{"_id": value, "count": n}``."""
        return self._append({"$sortByCount": _field_path(expression, "sort_by_count key")})

    def facet(
        self, facets: Mapping[str, AggregationPipeline | Sequence[Mapping[str, Any]]]
    ) -> AggregationPipeline:
        """Run several sub-pipelines over the same documents; one output document holds
        each sub-pipeline's results under its name."""
        return self._append({"$facet": {name: list(stages) for name, stages in facets.items()}})

    def replace_root(self, new_root: Any) -> AggregationPipeline:
        """Replace each document by the embedded document ``new_root`` evaluates to
        (a field name, a ``$path`` or an expression)."""
        return self._append({"$replaceRoot": {"newRoot": _field_path(new_root, "new root")}})

    def sample(self, size: int) -> AggregationPipeline:
        """Keep ``size`` documents chosen at random."""
        return self._append({"$sample": {"size": size}})

    # -- internals -----------------------------------------------------------------------

    def _append(self, stage: Mapping[str, Any]) -> AggregationPipeline:
        checked = _validated(stage, len(self._stages))
        return self._derive((*self._stages, checked))

    def _replace_last(self, stage: Mapping[str, Any]) -> AggregationPipeline:
        checked = _validated(stage, len(self._stages) - 1)
        return self._derive((*self._stages[:-1], checked))

    def _derive(self, stages: tuple[dict[str, Any], ...]) -> AggregationPipeline:
        pipeline = AggregationPipeline.__new__(AggregationPipeline)
        pipeline._stages = stages
        return pipeline


def _validated(stage: Any, index: int) -> dict[str, Any]:
    """A private deep copy of ``stage``, after validating it as stage ``index``."""
    if not isinstance(stage, Mapping) or isinstance(stage, AggregationPipeline):
        parse_stage(stage, index)  # raises the query language's error for a non-document
    owned: dict[str, Any] = copy.deepcopy(_plain(stage))
    parse_stage(owned, index)
    return owned


def _plain(value: Any) -> Any:
    """Mappings become dicts and nested ``AggregationPipeline`` values (``facet``,
    ``lookup``) become stage lists, so stored stages are plain data."""
    if isinstance(value, AggregationPipeline):
        return value.build()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _and_clauses(filter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The conjuncts of a filter: its ``$and`` list when that is all it is, else itself."""
    if not filter:
        return []
    if list(filter) == ["$and"] and isinstance(filter["$and"], list):
        return [dict(clause) for clause in filter["$and"]]
    return [dict(filter)]
