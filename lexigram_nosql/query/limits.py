"""Generous bounds on user-supplied query documents, so one request cannot hold the process.

A filter or pipeline often comes from outside (an API's query parameters). Each store checks
the documents it is given against its ``query_limits`` before parsing them; a document over a
limit raises ``QueryLimitError`` naming the limit, its setting and where it was exceeded.
The defaults follow MongoDB's own bounds where it has them (a pattern of at most 32,761
characters, a pipeline of at most 1,000 stages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from lexigram_nosql.errors import QueryLimitError

__all__ = ["DEFAULT_LIMITS", "Limits", "QueryLimits", "check_filter", "check_pipeline"]

_LIST_OPERATORS: Final = frozenset({"$in", "$nin", "$all"})
_CONTAINERS: Final = (Mapping, list, tuple, re.Pattern)


class Limits(Protocol):
    """What the checks read (``QueryLimits`` here, or the store's settings)."""

    @property
    def max_in_length(self) -> int: ...
    @property
    def max_regex_length(self) -> int: ...
    @property
    def max_pipeline_stages(self) -> int: ...


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_in_length: int = 500_000
    max_regex_length: int = 32_761
    max_pipeline_stages: int = 1_000


DEFAULT_LIMITS: Final = QueryLimits()


def check_filter(filter: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise ``QueryLimitError`` if ``filter`` has a list operand (``$in``, ``$nin``,
    ``$all``) or a regular expression longer than allowed, at any depth."""
    if filter:
        _walk(filter, limits)


def check_pipeline(pipeline: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """``check_filter`` on every stage, and the number of stages of the pipeline and of each
    sub-pipeline (``$facet``, ``$lookup``)."""
    if isinstance(pipeline, Sequence) and not isinstance(pipeline, str):
        _check_stages(pipeline, "pipeline", limits)
        _walk(list(pipeline), limits)


def _check_stages(pipeline: Sequence[Any], where: str, limits: Limits) -> None:
    if len(pipeline) > limits.max_pipeline_stages:
        raise QueryLimitError(
            f"{where} has {len(pipeline)} stages, more than the limit of "
            f"{limits.max_pipeline_stages} (query_limits.max_pipeline_stages)",
            limit="max_pipeline_stages",
            value=len(pipeline),
        )


def _walk(document: Any, limits: Limits) -> None:
    # Iterative: a document nested deeper than Python's recursion limit is the parser's to
    # refuse by name, not a RecursionError here.
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in _LIST_OPERATORS and isinstance(item, (list, tuple)):
                    _check_list(key, item, path, limits)
                elif key == "$regex" and isinstance(item, str):
                    _check_pattern(item, path, limits)
                elif key == "pipeline" and isinstance(item, list):
                    _check_stages(item, f"the $lookup pipeline at {path!r}", limits)
                elif key == "$facet" and isinstance(item, Mapping):
                    for name, facet in item.items():
                        if isinstance(facet, list):
                            _check_stages(facet, f"the $facet {name!r}", limits)
                if isinstance(item, _CONTAINERS):
                    stack.append((item, _child(path, key)))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, path) for item in value if isinstance(item, _CONTAINERS))
        elif isinstance(value, re.Pattern) and isinstance(value.pattern, str):
            _check_pattern(value.pattern, path, limits)


def _child(path: str, key: Any) -> str:
    """The field path below ``path`` (operators and stages are not fields)."""
    if not isinstance(key, str) or key.startswith("$"):
        return path
    return f"{path}.{key}" if path else key


def _check_list(operator: str, items: Sequence[Any], path: str, limits: Limits) -> None:
    if len(items) > limits.max_in_length:
        raise QueryLimitError(
            f"{operator} on {path!r} lists {len(items)} values, more than the limit of "
            f"{limits.max_in_length} (query_limits.max_in_length)",
            limit="max_in_length",
            value=len(items),
            path=path,
            operator=operator,
        )


def _check_pattern(pattern: str, path: str, limits: Limits) -> None:
    if len(pattern) > limits.max_regex_length:
        raise QueryLimitError(
            f"$regex on {path!r} is {len(pattern)} characters long, more than the limit of "
            f"{limits.max_regex_length} (query_limits.max_regex_length)",
            limit="max_regex_length",
            value=len(pattern),
            path=path,
            operator="$regex",
        )
