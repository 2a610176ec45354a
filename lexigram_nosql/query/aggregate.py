"""Parsing aggregation pipelines and running them on a stream of documents.

``parse_pipeline`` validates every stage once into a ``Stage`` whose ``parsed`` field holds
the engine's form (a ``FilterNode`` for ``$match``, a ``Reshape`` for ``$project``...).
``run_pipeline`` chains the stages as async generators: per-document stages (``$match
$project $addFields $set $unset $replaceRoot $replaceWith``) are fused into one loop and
stream, ``$skip``/``$limit``/``$unwind``/``$lookup`` stream, and ``$limit`` closes its upstream
as soon as it has enough, so the source stops being read. ``$sort`` followed by ``$limit``
keeps a bounded top-k heap; ``$group``, ``$sort``, ``$facet``, ``$count``, ``$sortByCount`` and
``$sample`` consume their input (``$sample`` in constant memory, by reservoir sampling).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.accumulators import AccumulatorSpec, parse_accumulator, value_key
from lexigram_nosql.query.ast import ParsedPipeline, Stage
from lexigram_nosql.query.expressions import (
    FORBIDDEN_OPERATORS,
    CompiledExpression,
    current_variables,
    parse_expression,
)
from lexigram_nosql.query.filter import parse_filter
from lexigram_nosql.query.lookup import LookupSource, parse_lookup, run_lookup
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.ordering import document_sort_key, sort_key
from lexigram_nosql.query.pacing import Pacer, paced, paced_sort
from lexigram_nosql.query.paths import MISSING
from lexigram_nosql.query.reshape import (
    document_path,
    parse_add_fields,
    parse_project,
    parse_unset,
    with_path,
    without_path,
)
from lexigram_nosql.query.values import check_nesting
from lexigram_nosql.types import Document, Pipeline

__all__ = [
    "STAGES",
    "FacetSpec",
    "GroupSpec",
    "LookupSource",
    "UnwindSpec",
    "parse_pipeline",
    "parse_stage",
    "run_pipeline",
    "stage_transform",
]

_REFUSED_STAGES: Final = {
    "$out": "writes to a collection",
    "$merge": "writes to a collection",
}
_NOT_IN_FACET: Final = frozenset({"$facet"})
_sample_random = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A parsed ``$group``: the key expression and the output accumulators."""

    key: CompiledExpression
    accumulators: tuple[AccumulatorSpec, ...]


@dataclass(frozen=True, slots=True)
class UnwindSpec:
    """A parsed ``$unwind``."""

    path: str
    include_array_index: str | None = None
    preserve_null_and_empty_arrays: bool = False


@dataclass(frozen=True, slots=True)
class FacetSpec:
    """A parsed ``$facet``: output field name to sub-pipeline."""

    facets: tuple[tuple[str, ParsedPipeline], ...]


# -- parsing -----------------------------------------------------------------------------


def parse_pipeline(pipeline: Pipeline) -> ParsedPipeline:
    """Validate every stage; ``$out``/``$merge`` and JavaScript operators are refused.

    Raises ``InvalidQueryError`` whose message names the stage index and operator, with the
    operator (and path, when one is at fault) as attributes.
    """
    check_nesting(pipeline, where="the pipeline")
    return _parse_pipeline(pipeline, in_facet=False)


def parse_stage(stage: Any, index: int = 0) -> Stage:
    """Validate one stage document; ``index`` is its position, named in errors."""
    return _parse_stage(index, stage, in_facet=False)


def _parse_pipeline(pipeline: Any, *, in_facet: bool) -> ParsedPipeline:
    if isinstance(pipeline, (str, bytes, Mapping)) or not isinstance(pipeline, Sequence):
        raise InvalidQueryError(
            f"A pipeline must be a list of stage documents, got {type(pipeline).__name__} "
            "(an AggregationPipeline gives one with .build())."
        )
    return ParsedPipeline(
        tuple(_parse_stage(index, stage, in_facet) for index, stage in enumerate(pipeline))
    )


def _parse_stage(index: int, stage: Any, in_facet: bool) -> Stage:
    if not isinstance(stage, Mapping) or len(stage) != 1:
        raise InvalidQueryError(
            f"Pipeline stage {index} must be a document with exactly one key (the stage "
            f"operator), got {stage!r}."
        )
    ((name, spec),) = stage.items()
    where = f"Pipeline stage {index} ({name})"
    if name in _REFUSED_STAGES:
        raise InvalidQueryError(
            f"{where} {_REFUSED_STAGES[name]} and is not supported by lexigram-nosql; read "
            "the results and write them with insert_many or bulk_write.",
            operator=name,
        )
    parser = STAGES.get(name)
    if parser is None:
        raise InvalidQueryError(
            f"{where} is not a supported stage; supported: {', '.join(sorted(STAGES))}.",
            operator=str(name),
        )
    if in_facet and name in _NOT_IN_FACET:
        raise InvalidQueryError(f"{where} cannot be used inside $facet.", operator=name)
    forbidden = _find_forbidden(spec)
    if forbidden is not None:
        raise InvalidQueryError(
            f"{where} uses {forbidden}, which runs JavaScript and is refused by "
            "lexigram-nosql; use query or expression operators instead.",
            operator=forbidden,
        )
    try:
        parsed = parser(spec)
    except InvalidQueryError as exc:
        raise InvalidQueryError(
            f"{where}: {exc.message}", operator=exc.operator or name, path=exc.path
        ) from exc
    return Stage(name, stage, parsed)


def _find_forbidden(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in FORBIDDEN_OPERATORS:
                return str(key)
            if key == "$literal":
                continue
            found = _find_forbidden(item)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for item in value:
            found = _find_forbidden(item)
            if found is not None:
                return found
    return None


def _error(stage: str, message: str, path: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(message, operator=stage, path=path)


def _count_argument(stage: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive" if minimum > 0 else "a non-negative"
        raise _error(stage, f"{stage} takes {kind} integer, got {value!r}.")
    return value


def _field_name(stage: str, what: str, value: Any, *, dotted: bool) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("$")
        or (not dotted and "." in value)
        or any(not part for part in value.split("."))
    ):
        rule = "" if dotted else ", without '.'"
        raise _error(
            stage,
            f"{what} must be a non-empty field name not starting with '$'{rule}, got {value!r}.",
        )
    return value


def _parse_match(spec: Any) -> Any:
    if not isinstance(spec, Mapping):
        raise _error("$match", f"$match takes a filter document, got {spec!r}.")
    return parse_filter(spec)


def _parse_replace_root(spec: Any) -> CompiledExpression:
    if not isinstance(spec, Mapping) or set(spec) != {"newRoot"}:
        raise _error("$replaceRoot", f"$replaceRoot takes {{newRoot: <expression>}}, got {spec!r}.")
    return parse_expression(spec["newRoot"])


def _parse_group(spec: Any) -> GroupSpec:
    if not isinstance(spec, Mapping) or "_id" not in spec:
        raise _error("$group", f"$group takes a document with an '_id' key, got {spec!r}.")
    accumulators = tuple(
        parse_accumulator(field, value) for field, value in spec.items() if field != "_id"
    )
    return GroupSpec(parse_expression(spec["_id"]), accumulators)


def parse_sort_spec(spec: Any, stage: str = "$sort") -> tuple[tuple[str, int], ...]:
    """Validate a ``$sort`` document (``{"field": 1 | -1, ...}``) into ``(path, dir)`` pairs."""
    if not isinstance(spec, Mapping) or not spec:
        raise _error(stage, f"{stage} takes a non-empty document of field: 1 | -1, got {spec!r}.")
    pairs: list[tuple[str, int]] = []
    for field, direction in spec.items():
        _field_name(stage, "a sort key", field, dotted=True)
        if isinstance(direction, bool) or direction not in (1, -1):
            raise _error(
                stage,
                f"{stage} direction for {field!r} must be 1 or -1, got {direction!r} "
                "($meta sorts are not supported).",
                path=str(field),
            )
        pairs.append((field, int(direction)))
    return tuple(pairs)


def _parse_unwind(spec: Any) -> UnwindSpec:
    stage = "$unwind"
    options: Mapping[str, Any] = {"path": spec} if isinstance(spec, str) else spec
    if not isinstance(options, Mapping):
        raise _error(stage, f"$unwind takes a '$path' or a document, got {spec!r}.")
    unknown = set(options) - {"path", "includeArrayIndex", "preserveNullAndEmptyArrays"}
    if unknown:
        raise _error(stage, f"$unwind does not accept option(s) {sorted(unknown)!r}.")
    path = options.get("path")
    if not isinstance(path, str) or not path.startswith("$") or path.startswith("$$"):
        raise _error(stage, f"$unwind path must be a field path starting with '$', got {path!r}.")
    _field_name(stage, "the $unwind path", path[1:], dotted=True)
    index = options.get("includeArrayIndex")
    if index is not None:
        _field_name(stage, "includeArrayIndex", index, dotted=True)
    preserve = options.get("preserveNullAndEmptyArrays", False)
    if not isinstance(preserve, bool):
        raise _error(stage, f"preserveNullAndEmptyArrays must be a boolean, got {preserve!r}.")
    return UnwindSpec(path[1:], index, preserve)


def _parse_sample(spec: Any) -> int:
    if not isinstance(spec, Mapping) or set(spec) != {"size"}:
        raise _error("$sample", f"$sample takes {{size: <integer>}}, got {spec!r}.")
    return _count_argument("$sample", spec["size"], minimum=0)


def _parse_facet(spec: Any) -> FacetSpec:
    if not isinstance(spec, Mapping) or not spec:
        raise _error("$facet", f"$facet takes a non-empty document of pipelines, got {spec!r}.")
    facets = []
    for name, pipeline in spec.items():
        _field_name("$facet", "a facet name", name, dotted=False)
        try:
            facets.append((name, _parse_pipeline(pipeline, in_facet=True)))
        except InvalidQueryError as exc:
            raise InvalidQueryError(
                f"facet {name!r}: {exc.message}", operator=exc.operator, path=exc.path
            ) from exc
    return FacetSpec(tuple(facets))


STAGES: Final[dict[str, Callable[[Any], Any]]] = {
    "$match": _parse_match,
    "$project": parse_project,
    "$addFields": parse_add_fields,
    "$set": lambda spec: parse_add_fields(spec, "$set"),
    "$unset": parse_unset,
    "$replaceRoot": _parse_replace_root,
    "$replaceWith": parse_expression,
    "$group": _parse_group,
    "$sort": parse_sort_spec,
    "$skip": lambda spec: _count_argument("$skip", spec, minimum=0),
    "$limit": lambda spec: _count_argument("$limit", spec, minimum=1),
    "$unwind": _parse_unwind,
    "$count": lambda spec: _field_name("$count", "the $count field", spec, dotted=False),
    "$sortByCount": parse_expression,
    "$lookup": parse_lookup,
    "$facet": _parse_facet,
    "$sample": _parse_sample,
}
"""Supported stages, by operator, to the parser of their specification."""


# -- running -----------------------------------------------------------------------------

Transform = Callable[[Document, Mapping[str, Any]], Document | None]
_PER_DOCUMENT: Final = frozenset(
    {"$match", "$project", "$addFields", "$set", "$unset", "$replaceRoot", "$replaceWith"}
)


def run_pipeline(
    pipeline: ParsedPipeline,
    source: AsyncIterable[Document],
    *,
    lookup: LookupSource | None = None,
) -> AsyncIterator[Document]:
    """Run ``pipeline`` over ``source``, streaming where the stages allow.

    ``lookup`` streams another collection of the same store for ``$lookup``; without it a
    pipeline with ``$lookup`` raises ``InvalidQueryError`` here, before reading anything.
    Output documents are new objects; input documents are never modified. Every stage's
    output is paced (``query.pacing``), so a long pipeline shares the event loop.
    """
    pacer = Pacer()
    stream: AsyncIterator[Document] = paced(aiter(source), pacer)
    stages = pipeline.stages
    index = 0
    while index < len(stages):
        stage = stages[index]
        name = stage.name
        if name in _PER_DOCUMENT:
            transforms: list[Transform] = []
            while index < len(stages) and stages[index].name in _PER_DOCUMENT:
                transforms.append(stage_transform(stages[index]))
                index += 1
            stream = paced(_apply(stream, transforms), pacer)
            continue
        if name == "$sort":
            bound = _sort_bound(stages, index)
            order = document_sort_key(stage.parsed)
            stream = _sort(stream, order, pacer) if bound is None else _top_k(stream, order, bound)
        elif name == "$skip":
            stream = _skip(stream, stage.parsed)
        elif name == "$limit":
            stream = _limit(stream, stage.parsed)
        elif name == "$unwind":
            stream = _unwind(stream, stage.parsed)
        elif name == "$group":
            stream = _group(stream, stage.parsed)
        elif name == "$count":
            stream = _count(stream, stage.parsed)
        elif name == "$sortByCount":
            stream = _sort_by_count(stream, stage.parsed, pacer)
        elif name == "$sample":
            stream = _sample(stream, stage.parsed)
        elif name == "$facet":
            stream = _facet(stream, stage.parsed, lookup)
        elif name == "$lookup":
            if lookup is None:
                raise InvalidQueryError(
                    f"Pipeline stage {index} ($lookup) needs a store to read "
                    f"{stage.parsed.source!r} from; run the pipeline through a collection's "
                    "aggregate().",
                    operator="$lookup",
                )
            stream = run_lookup(stream, stage.parsed, lookup, _run_sub_pipeline)
        else:  # pragma: no cover - parse_pipeline admits only the stages above
            raise InvalidQueryError(f"Stage {name!r} is not supported.", operator=name)
        stream = paced(stream, pacer)
        index += 1
    return stream


def _run_sub_pipeline(
    pipeline: ParsedPipeline, documents: Sequence[Document], lookup: LookupSource | None
) -> AsyncIterator[Document]:
    return run_pipeline(pipeline, _iterate(documents), lookup=lookup)


async def _iterate(documents: Sequence[Document]) -> AsyncIterator[Document]:
    for document in documents:
        yield document


async def _close(stream: AsyncIterator[Document]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def stage_transform(stage: Stage) -> Transform:
    """The per-document function of a ``$match``/reshaping stage (None drops the document)."""
    name, parsed = stage.name, stage.parsed
    if name == "$match":
        matcher = compile_filter(parsed)
        return lambda document, _variables: document if matcher(document) else None
    if name in ("$replaceRoot", "$replaceWith"):

        def replace_root(document: Document, variables: Mapping[str, Any]) -> Document:
            root = parsed(document, variables)
            if not isinstance(root, dict):
                shown = "missing" if root is MISSING else repr(root)
                raise InvalidQueryError(
                    f"{name}: the new root must evaluate to a document, got {shown} for the "
                    f"document with _id {document.get('_id')!r}.",
                    operator=name,
                )
            return root

        return replace_root
    reshape: Transform = parsed
    return reshape


async def _apply(
    stream: AsyncIterator[Document], transforms: list[Transform]
) -> AsyncIterator[Document]:
    try:
        async for document in stream:
            variables = current_variables()
            current = document
            for transform in transforms:
                result = transform(current, variables)
                if result is None:
                    break
                current = result
            else:
                yield current
    finally:
        await _close(stream)


async def _skip(stream: AsyncIterator[Document], count: int) -> AsyncIterator[Document]:
    try:
        async for document in stream:
            if count > 0:
                count -= 1
                continue
            yield document
    finally:
        await _close(stream)


async def _limit(stream: AsyncIterator[Document], count: int) -> AsyncIterator[Document]:
    try:
        async for document in stream:
            yield document
            count -= 1
            if count <= 0:
                return
    finally:
        await _close(stream)


def _sort_bound(stages: Sequence[Stage], index: int) -> int | None:
    """How many documents a ``$sort`` must keep: ``skip + limit`` when they follow it."""
    following = [stage.name for stage in stages[index + 1 : index + 3]]
    if following[:1] == ["$limit"]:
        limit: int = stages[index + 1].parsed
        return limit
    if following == ["$skip", "$limit"]:
        skip: int = stages[index + 1].parsed
        limit = stages[index + 2].parsed
        return skip + limit
    return None


async def _sort(
    stream: AsyncIterator[Document], key: Callable[[Document], Any], pacer: Pacer
) -> AsyncIterator[Document]:
    try:
        documents = [document async for document in stream]
    finally:
        await _close(stream)
    for document in await paced_sort(documents, key, pacer):  # stable: ties keep input order
        yield document


class _Ranked:
    """A heap entry ordered in reverse, so the heap's top is the worst kept document."""

    __slots__ = ("document", "key", "sequence")

    def __init__(self, key: Any, sequence: int, document: Document) -> None:
        self.key = key
        self.sequence = sequence
        self.document = document

    def before(self, other: _Ranked) -> bool:
        if self.key < other.key:
            return True
        if other.key < self.key:
            return False
        return self.sequence < other.sequence

    def __lt__(self, other: _Ranked) -> bool:
        return other.before(self)


async def _top_k(
    stream: AsyncIterator[Document], key: Callable[[Document], Any], bound: int
) -> AsyncIterator[Document]:
    heap: list[_Ranked] = []
    sequence = 0
    try:
        async for document in stream:
            entry = _Ranked(key(document), sequence, document)
            sequence += 1
            if len(heap) < bound:
                heapq.heappush(heap, entry)
            elif entry.before(heap[0]):
                heapq.heapreplace(heap, entry)
    finally:
        await _close(stream)
    heap.sort(reverse=True)  # reversed __lt__: best first
    for entry in heap:
        yield entry.document


async def _unwind(stream: AsyncIterator[Document], spec: UnwindSpec) -> AsyncIterator[Document]:
    parts = spec.path.split(".")
    index_parts = spec.include_array_index.split(".") if spec.include_array_index else None
    try:
        async for document in stream:
            value = document_path(document, parts)
            if isinstance(value, list) and value:
                for position, element in enumerate(value):
                    out = with_path(document, parts, element)
                    if index_parts is not None:
                        out = with_path(out, index_parts, position)
                    yield out
            elif isinstance(value, list) or value is None or value is MISSING:
                if not spec.preserve_null_and_empty_arrays:
                    continue
                # An empty array is removed; null and missing stay as they are.
                out = without_path(document, parts) if isinstance(value, list) else document
                if index_parts is not None:
                    out = with_path(out, index_parts, None)
                yield out
            else:
                # A non-array value is unwound as a one-element array.
                yield document if index_parts is None else with_path(document, index_parts, None)
    finally:
        await _close(stream)


async def _group(stream: AsyncIterator[Document], spec: GroupSpec) -> AsyncIterator[Document]:
    groups: dict[Hashable, tuple[Any, list[Any]]] = {}
    accumulators = spec.accumulators
    key_function = spec.key.function
    functions = [
        None if accumulator.expression is None else accumulator.expression.function
        for accumulator in accumulators
    ]
    try:
        async for document in stream:
            variables = current_variables()
            key_value = key_function(document, variables)
            key = sort_key(key_value)  # hashable, equal exactly for MongoDB-equal values
            group = groups.get(key)
            if group is None:
                identity = None if key_value is MISSING else key_value
                group = groups[key] = (identity, [acc.new() for acc in accumulators])
            for function, state in zip(functions, group[1], strict=True):
                state.add(None if function is None else function(document, variables))
    finally:
        await _close(stream)
    # Output in first-seen order: unspecified by MongoDB, deterministic here.
    for identity, states in groups.values():
        out: Document = {"_id": identity}
        for accumulator, state in zip(accumulators, states, strict=True):
            out[accumulator.field] = state.result()
        yield out


async def _count(stream: AsyncIterator[Document], field: str) -> AsyncIterator[Document]:
    total = 0
    try:
        async for _document in stream:
            total += 1
    finally:
        await _close(stream)
    if total:
        yield {field: total}


async def _sort_by_count(
    stream: AsyncIterator[Document], expression: CompiledExpression, pacer: Pacer
) -> AsyncIterator[Document]:
    counts: dict[Hashable, list[Any]] = {}
    try:
        async for document in stream:
            value = expression(document, current_variables())
            entry = counts.setdefault(value_key(value), [None if value is MISSING else value, 0])
            entry[1] += 1
    finally:
        await _close(stream)
    # Stable sort: ties keep first-seen order.
    for identity, total in await paced_sort(counts.values(), lambda entry: -entry[1], pacer):
        yield {"_id": identity, "count": total}


async def _sample(stream: AsyncIterator[Document], size: int) -> AsyncIterator[Document]:
    reservoir: list[Document] = []
    seen = 0
    try:
        async for document in stream:
            seen += 1
            if len(reservoir) < size:
                reservoir.append(document)
            else:
                slot = _sample_random.randrange(seen)
                if slot < size:
                    reservoir[slot] = document
    finally:
        await _close(stream)
    _sample_random.shuffle(reservoir)
    for document in reservoir:
        yield document


async def _facet(
    stream: AsyncIterator[Document], spec: FacetSpec, lookup: LookupSource | None
) -> AsyncIterator[Document]:
    try:
        documents = [document async for document in stream]
    finally:
        await _close(stream)
    out: Document = {}
    for name, pipeline in spec.facets:
        out[name] = [document async for document in _run_sub_pipeline(pipeline, documents, lookup)]
    yield out
