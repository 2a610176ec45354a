"""Aggregation expressions: ``"$field"`` paths, literals, operators (``$add``, ``$cond``...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["evaluate", "parse_expression"]


def parse_expression(expression: Any) -> Any:
    """Validate an expression; returns the engine's compiled form."""
    raise NotImplementedError


def evaluate(expression: Any, document: Any, variables: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a parsed expression against ``document`` (``$$ROOT``, ``$$CURRENT`` and
    ``variables`` are available)."""
    raise NotImplementedError
