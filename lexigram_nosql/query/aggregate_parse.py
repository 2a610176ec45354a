"""Parsing aggregation pipelines: each stage validated once into the engine's form.

``parse_pipeline`` turns a pipeline into a ``ParsedPipeline`` whose ``Stage.parsed`` holds what
``query.aggregate`` runs (a ``FilterNode`` for ``$match``, a ``Reshape`` for ``$project``...).
Kept apart from running, as ``filter``/``matching`` are: ``$lookup`` and ``$facet`` nest whole
pipelines, so their parsers live here too, and ``query.lookup`` (the join at run time) needs
nothing from this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.accumulators import AccumulatorSpec, parse_accumulator
from lexigram_nosql.query.ast import ParsedPipeline, Stage
from lexigram_nosql.query.expressions import (
    FORBIDDEN_OPERATORS,
    CompiledExpression,
    parse_expression,
    valid_variable_name,
)
from lexigram_nosql.query.filter import parse_filter
from lexigram_nosql.query.lookup import LookupSpec
from lexigram_nosql.query.reshape import parse_add_fields, parse_project, parse_unset
from lexigram_nosql.query.values import check_nesting
from lexigram_nosql.types import Pipeline

__all__ = [
    "STAGES",
    "FacetSpec",
    "GroupSpec",
    "UnwindSpec",
    "parse_lookup",
    "parse_pipeline",
    "parse_sort_spec",
    "parse_stage",
]

_REFUSED_STAGES: Final = {
    "$out": "writes to a collection",
    "$merge": "writes to a collection",
}
_NOT_IN_FACET: Final = frozenset({"$facet"})
_LOOKUP_OPTIONS = frozenset({"from", "as", "localField", "foreignField", "let", "pipeline"})


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
        raise _error(stage, f"$unwind does not accept option(s) {sorted(unknown, key=str)!r}.")
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


def _lookup_error(message: str, path: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(f"$lookup {message}", operator="$lookup", path=path)


def _lookup_path(option: str, value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("$")
        or any(not part for part in value.split("."))
    ):
        raise _lookup_error(f"{option} must be a field path without a leading '$', got {value!r}.")
    return value


def parse_lookup(spec: Any) -> LookupSpec:
    """Validate a ``$lookup`` specification (equality form, pipeline form, or both)."""
    if not isinstance(spec, Mapping):
        raise _lookup_error(f"takes a document, got {spec!r}.")
    unknown = set(spec) - _LOOKUP_OPTIONS
    if unknown:
        raise _lookup_error(f"does not accept option(s) {sorted(unknown, key=str)!r}.")
    source = spec.get("from")
    if not isinstance(source, str) or not source:
        raise _lookup_error(f"'from' must name a collection of the same store, got {source!r}.")
    as_field = _lookup_path("'as'", spec.get("as"))
    has_local, has_foreign = "localField" in spec, "foreignField" in spec
    if has_local != has_foreign:
        raise _lookup_error("needs both localField and foreignField, or neither.")
    if not has_local and "pipeline" not in spec:
        raise _lookup_error("needs localField and foreignField, or a pipeline.")
    if "let" in spec and "pipeline" not in spec:
        raise _lookup_error("'let' is only allowed with 'pipeline'.")
    local = _lookup_path("localField", spec["localField"]) if has_local else None
    foreign = _lookup_path("foreignField", spec["foreignField"]) if has_foreign else None
    let = spec.get("let", {})
    if not isinstance(let, Mapping):
        raise _lookup_error(f"'let' must be a document of variables, got {let!r}.")
    variables = []
    for name, expression in let.items():
        if not isinstance(name, str) or not valid_variable_name(name):
            raise _lookup_error(
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
