"""What the engine computes for a backend that cannot: reads built on a backend's ``_find``.

``BaseCollection``'s defaults (``_find_one``, ``_count``, ``_distinct``, ``_aggregate``) call
these; a backend overrides the default where its server does the work itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from lexigram_nosql.query.aggregate import run_pipeline
from lexigram_nosql.query.ast import FilterNode, ParsedPipeline
from lexigram_nosql.query.ordering import sort_key
from lexigram_nosql.query.paths import MISSING, get_values
from lexigram_nosql.query.projection import Projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.types import Document

__all__ = ["ID_ONLY", "aggregate", "count", "distinct", "first"]

ID_ONLY = Projection(paths=(), include=True, include_id=True, raw={"_id": 1})
"""The projection of reads that only need to know which documents match."""


async def first(documents: AsyncIterator[Document]) -> Document | None:
    """The stream's first document; the stream is closed either way."""
    try:
        async for document in documents:
            return document
        return None
    finally:
        aclose = getattr(documents, "aclose", None)
        if aclose is not None:
            await aclose()


async def count(documents: AsyncIterator[Document]) -> int:
    total = 0
    async for _ in documents:
        total += 1
    return total


async def distinct(documents: AsyncIterator[Document], key: str) -> list[Any]:
    """MongoDB's ``distinct``: array values contribute their elements; sorted, as every
    backend returns them."""
    seen: dict[Any, Any] = {}
    async for document in documents:
        for value in get_values(document, key):
            if value is MISSING:
                continue
            for item in value if isinstance(value, list) else [value]:
                seen.setdefault(_hashable(item), item)
    return sorted(seen.values(), key=sort_key)


def aggregate(
    pipeline: ParsedPipeline,
    find: Callable[[FindQuery], AsyncIterator[Document]],
    lookup: Callable[[str], AsyncIterator[Document]],
) -> AsyncIterator[Document]:
    """Push a leading ``$match`` into ``find``, run the rest on the engine."""
    stages = pipeline.stages
    node: FilterNode | None = None
    raw: Mapping[str, Any] = {}
    if stages and stages[0].name == "$match":
        node, raw = stages[0].parsed, stages[0].raw["$match"]
        stages = stages[1:]
    source = find(FindQuery(FilterQuery(node, raw) if node else FilterQuery.build(None)))
    return run_pipeline(ParsedPipeline(stages), source, lookup=lookup)


def _hashable(value: Any) -> Any:
    """A hashable stand-in for a value, for de-duplication in ``distinct``."""
    if isinstance(value, dict):
        return ("__doc__", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("__list__", tuple(_hashable(v) for v in value))
    if isinstance(value, bool):
        return ("__bool__", value)
    return value
