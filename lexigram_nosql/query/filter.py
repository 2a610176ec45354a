"""Parsing filter documents into ``FilterNode`` trees, and matching documents against them."""

from __future__ import annotations

from typing import Any

from lexigram_nosql.query.ast import FilterNode
from lexigram_nosql.types import FilterDocument

__all__ = ["matches", "parse_filter"]


def parse_filter(filter: FilterDocument | None) -> FilterNode:
    """Validate a filter document. Raises ``InvalidQueryError`` naming the path and operator."""
    raise NotImplementedError


def matches(node: FilterNode, document: Any) -> bool:
    """Whether ``document`` satisfies ``node``, exactly as MongoDB decides it."""
    raise NotImplementedError
