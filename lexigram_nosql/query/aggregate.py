"""Running parsed aggregation pipelines on a stream of documents.

``run_pipeline`` chains the stages (parsed by ``query.aggregate_parse``) as async generators:
per-document stages (``$match $project $addFields $set $unset $replaceRoot $replaceWith``) are
fused into one loop and stream, ``$skip``/``$limit``/``$unwind``/``$lookup`` stream, and
``$limit`` closes its upstream as soon as it has enough, so the source stops being read.
``$sort`` followed by ``$limit`` keeps a bounded top-k heap; ``$group``, ``$sort``, ``$facet``,
``$count``, ``$sortByCount`` and ``$sample`` consume their input (``$sample`` in constant
memory, by reservoir sampling).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Hashable, Mapping, Sequence
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.accumulators import value_key
from lexigram_nosql.query.aggregate_parse import FacetSpec, GroupSpec, UnwindSpec
from lexigram_nosql.query.ast import ParsedPipeline, Stage
from lexigram_nosql.query.expressions import CompiledExpression, current_variables
from lexigram_nosql.query.lookup import LookupSource, run_lookup
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.ordering import document_sort_key, sort_key
from lexigram_nosql.query.pacing import Pacer, paced, paced_sort
from lexigram_nosql.query.paths import MISSING
from lexigram_nosql.query.reshape import document_path, with_path, without_path
from lexigram_nosql.types import Document

__all__ = ["Transform", "run_pipeline", "stage_transform"]

_sample_random = random.SystemRandom()

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
