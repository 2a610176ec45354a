"""Parsing aggregation pipelines and running them on a stream of documents."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

from lexigram_nosql.query.ast import ParsedPipeline
from lexigram_nosql.types import Document, Pipeline

__all__ = ["LookupSource", "parse_pipeline", "run_pipeline"]

LookupSource = Callable[[str], AsyncIterator[Document]]
"""Streams every document of a collection of the same store, for ``$lookup``."""


def parse_pipeline(pipeline: Pipeline) -> ParsedPipeline:
    """Validate every stage; ``$out``/``$merge`` and JavaScript operators are refused."""
    raise NotImplementedError


def run_pipeline(
    pipeline: ParsedPipeline,
    source: AsyncIterable[Document],
    *,
    lookup: LookupSource | None = None,
) -> AsyncIterator[Document]:
    """Run ``pipeline`` over ``source``, streaming where the stages allow."""
    raise NotImplementedError
