"""``$lookup``: joining another collection of the same store.

Both forms are supported: equality (``localField``/``foreignField``) and sub-pipeline
(``let``/``pipeline``), and their combination. The foreign collection is read once, on the
first input document, and indexed by ``foreignField``; its documents are held in memory for
the stage's lifetime. Matching follows MongoDB: a local array matches any of its elements,
a foreign array matches when any element equals, and a missing or null local value matches
foreign documents whose field is null or missing. A foreign document joined to several
outputs is copied, so outputs never share mutable state.

Parsing (``parse_lookup``) lives in ``query.aggregate_parse`` beside the pipeline parser it
recurses into, and sub-pipelines run through the ``SubPipelineRunner`` that
``query.aggregate`` passes in, so this module imports neither and no cycle forms.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from lexigram_nosql.query.accumulators import value_key
from lexigram_nosql.query.ast import ParsedPipeline
from lexigram_nosql.query.expressions import (
    CompiledExpression,
    bind_variables,
    current_variables,
)
from lexigram_nosql.query.pacing import Pacer
from lexigram_nosql.query.paths import MISSING, get_values
from lexigram_nosql.query.reshape import with_path
from lexigram_nosql.types import Document

__all__ = ["LookupSource", "LookupSpec", "SubPipelineRunner", "run_lookup"]

LookupSource = Callable[[str], AsyncIterator[Document]]
"""Streams every document of a collection of the same store, for ``$lookup``."""

SubPipelineRunner = Callable[
    [ParsedPipeline, Sequence[Document], "LookupSource | None"], AsyncIterator[Document]
]


@dataclass(frozen=True, slots=True)
class LookupSpec:
    """A parsed ``$lookup``."""

    source: str
    as_field: str
    local_field: str | None = None
    foreign_field: str | None = None
    let: tuple[tuple[str, CompiledExpression], ...] = ()
    pipeline: ParsedPipeline | None = None


def _keys(values: list[Any], *, whole_arrays: bool) -> set[Hashable]:
    keys: set[Hashable] = set()
    if not values:
        keys.add(value_key(None))
    for value in values:
        if value is MISSING:
            keys.add(value_key(None))
        elif isinstance(value, list):
            if whole_arrays:
                keys.add(value_key(value))
            keys.update(value_key(element) for element in value)
        else:
            keys.add(value_key(value))
    return keys


async def _index(documents: list[Document], path: str) -> dict[Hashable, list[int]]:
    index: dict[Hashable, list[int]] = {}
    pacer = Pacer()
    for position, document in enumerate(documents):
        if pacer.due():
            await pacer.pause()
        for key in _keys(get_values(document, path), whole_arrays=True):
            index.setdefault(key, []).append(position)
    return index


async def run_lookup(
    stream: AsyncIterator[Document],
    spec: LookupSpec,
    lookup: LookupSource,
    run_sub_pipeline: SubPipelineRunner,
) -> AsyncIterator[Document]:
    """Stream ``stream`` with ``spec.as_field`` set to the joined documents."""
    as_parts = spec.as_field.split(".")
    foreign: list[Document] | None = None
    index: dict[Hashable, list[int]] = {}
    used: set[int] = set()

    def fresh(document: Document) -> Document:
        if id(document) in used:
            return copy.deepcopy(document)
        used.add(id(document))
        return document

    try:
        async for document in stream:
            if foreign is None:
                foreign = [item async for item in lookup(spec.source)]
                if spec.foreign_field is not None:
                    index = await _index(foreign, spec.foreign_field)
            candidates = foreign
            if spec.local_field is not None:
                positions: set[int] = set()
                for key in _keys(get_values(document, spec.local_field), whole_arrays=False):
                    positions.update(index.get(key, ()))
                candidates = [foreign[position] for position in sorted(positions)]
            if spec.pipeline is None:
                joined = [fresh(item) for item in candidates]
            else:
                outer = current_variables()
                values = {name: expression(document, outer) for name, expression in spec.let}
                with bind_variables(values):
                    joined = [
                        fresh(item)
                        async for item in run_sub_pipeline(spec.pipeline, candidates, lookup)
                    ]
            yield with_path(document, as_parts, joined)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
