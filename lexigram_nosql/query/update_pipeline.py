"""Pipeline-style updates: the new document computed by aggregation stages.

MongoDB accepts a list of ``$set``/``$addFields``/``$unset``/``$project``/``$replaceWith``/
``$replaceRoot`` stages as an update; each sees the document as the previous stage left it,
and expressions may read the stored fields (``{"$set": {"total": {"$add": ["$a", "$b"]}}}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.aggregate import stage_transform
from lexigram_nosql.query.aggregate_parse import parse_stage
from lexigram_nosql.query.ast import PipelineUpdate
from lexigram_nosql.query.expressions import current_variables
from lexigram_nosql.query.values import check_nesting
from lexigram_nosql.types import Document

__all__ = ["UPDATE_STAGES", "compute_pipeline_update", "parse_pipeline_update"]

UPDATE_STAGES: Final = (
    "$addFields",
    "$set",
    "$project",
    "$unset",
    "$replaceRoot",
    "$replaceWith",
)


def parse_pipeline_update(stages: Sequence[Any]) -> PipelineUpdate:
    """Validate an update pipeline: at least one stage, each one of ``UPDATE_STAGES``."""
    if not stages:
        raise InvalidQueryError(
            "An update pipeline must have at least one stage ($set, $unset, $replaceWith...)"
        )
    check_nesting(list(stages), where="the update pipeline")
    parsed = []
    for index, stage in enumerate(stages):
        name = next(iter(stage), None) if isinstance(stage, Mapping) else None
        if name is not None and name not in UPDATE_STAGES:
            raise InvalidQueryError(
                f"Update pipeline stage {index} ({name}) is not allowed in an update; use "
                f"{', '.join(UPDATE_STAGES)}",
                operator=str(name),
            )
        parsed.append(parse_stage(stage, index))
    return PipelineUpdate(tuple(parsed))


def compute_pipeline_update(update: PipelineUpdate, document: Document) -> Document:
    """The document the stages produce from ``document`` (``_id`` rules are the caller's)."""
    variables = current_variables()
    current: Document = document
    for stage in update.stages:
        result = stage_transform(stage)(current, variables)
        if result is None:  # pragma: no cover - only $match drops documents, and it is refused
            raise InvalidQueryError(f"Update pipeline stage {stage.name} dropped the document")
        current = result
    return current
