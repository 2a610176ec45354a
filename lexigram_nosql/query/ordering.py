"""MongoDB's cross-type comparison and sort order (MinKey < null < numbers < strings < ...)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lexigram_nosql.types import Document

__all__ = ["compare_values", "document_sort_key", "sort_key"]


def compare_values(a: Any, b: Any) -> int:
    """-1, 0 or 1, ordering ``a`` and ``b`` as MongoDB does across and within types."""
    raise NotImplementedError


def sort_key(value: Any) -> Any:
    """A key for ``sorted`` that orders values as ``compare_values`` does."""
    raise NotImplementedError


def document_sort_key(sort: Sequence[tuple[str, int]]) -> Callable[[Document], Any]:
    """A key for ``sorted`` implementing a sort specification, with array-field semantics."""
    raise NotImplementedError
