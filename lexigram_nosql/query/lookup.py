"""``$lookup``: joining another collection of the same store.

Both forms are supported: equality (``localField``/``foreignField``) and sub-pipeline
(``let``/``pipeline``), and their combination. The foreign collection is read once, on the
first input document, and indexed by ``foreignField``; its documents are held in memory for
the stage's lifetime. Matching follows MongoDB: a local array matches any of its elements,
a foreign array matches when any element equals, and a missing or null local value matches
foreign documents whose field is null or missing. A foreign document joined to several
outputs is copied, so outputs never share mutable state.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.accumulators import value_key
from lexigram_nosql.query.ast import ParsedPipeline
from lexigram_nosql.query.expressions import (
    CompiledExpression,
    bind_variables,
    current_variables,
    parse_expression,
    valid_variable_name,
)
from lexigram_nosql.query.pacing import Pacer
from lexigram_nosql.query.paths import MISSING, get_values
from lexigram_nosql.query.reshape import with_path
from lexigram_nosql.types import Document

__all__ = ["LookupSource", "LookupSpec", "parse_lookup", "run_lookup"]

LookupSource = Callable[[str], AsyncIterator[Document]]
"""Streams every document of a collection of the same store, for ``$lookup``."""

SubPipelineRunner = Callable[
    [ParsedPipeline, Sequence[Document], "LookupSource | None"], AsyncIterator[Document]
]

_OPTIONS = frozenset({"from", "as", "localField", "foreignField", "let", "pipeline"})


@dataclass(frozen=True, slots=True)
class LookupSpec:
    """A parsed ``$lookup``."""

    source: str
    as_field: str
    local_field: str | None = None
    foreign_field: str | None = None
    let: tuple[tuple[str, CompiledExpression], ...] = ()
    pipeline: ParsedPipeline | None = None


def _error(message: str, path: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(f"$lookup {message}", operator="$lookup", path=path)


def _path(option: str, value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("$")
        or any(not part for part in value.split("."))
    ):
        raise _error(f"{option} must be a field path without a leading '$', got {value!r}.")
    return value


def parse_lookup(spec: Any) -> LookupSpec:
    """Validate a ``$lookup`` specification (equality form, pipeline form, or both)."""
    # Imported here: aggregate.py imports this module to run the stage.
    from lexigram_nosql.query.aggregate import parse_pipeline

    if not isinstance(spec, Mapping):
        raise _error(f"takes a document, got {spec!r}.")
    unknown = set(spec) - _OPTIONS
    if unknown:
        raise _error(f"does not accept option(s) {sorted(unknown)!r}.")
    source = spec.get("from")
    if not isinstance(source, str) or not source:
        raise _error(f"'from' must name a collection of the same store, got {source!r}.")
    as_field = _path("'as'", spec.get("as"))
    has_local, has_foreign = "localField" in spec, "foreignField" in spec
    if has_local != has_foreign:
        raise _error("needs both localField and foreignField, or neither.")
    if not has_local and "pipeline" not in spec:
        raise _error("needs localField and foreignField, or a pipeline.")
    if "let" in spec and "pipeline" not in spec:
        raise _error("'let' is only allowed with 'pipeline'.")
    local = _path("localField", spec["localField"]) if has_local else None
    foreign = _path("foreignField", spec["foreignField"]) if has_foreign else None
    let = spec.get("let", {})
    if not isinstance(let, Mapping):
        raise _error(f"'let' must be a document of variables, got {let!r}.")
    variables = []
    for name, expression in let.items():
        if not isinstance(name, str) or not valid_variable_name(name):
            raise _error(
                f"variable name {name!r} must start with a lowercase letter and contain only "
                "letters, digits and '_'."
            )
        variables.append((name, parse_expression(expression)))
    pipeline = None
    if "pipeline" in spec:
        try:
            pipeline = parse_pipeline(spec["pipeline"])
        except InvalidQueryError as exc:
            raise InvalidQueryError(
                f"$lookup pipeline: {exc.message}", operator=exc.operator, path=exc.path
            ) from exc
    return LookupSpec(source, as_field, local, foreign, tuple(variables), pipeline)


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
