"""Parsing and applying ``find`` projections (inclusion, exclusion, ``_id`` handling)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lexigram_nosql.types import Document

__all__ = ["Projection", "apply_projection", "parse_projection"]


@dataclass(frozen=True, slots=True)
class Projection:
    """A validated projection: ``include`` or exclude the listed paths; ``_id`` separately."""

    paths: tuple[str, ...]
    include: bool
    include_id: bool
    raw: Mapping[str, Any]


def parse_projection(projection: Mapping[str, Any] | None) -> Projection | None:
    """Validate a projection; mixing inclusion and exclusion (but for ``_id``) is refused."""
    raise NotImplementedError


def apply_projection(projection: Projection | None, document: Document) -> Document:
    """Return the projected copy of ``document``."""
    raise NotImplementedError
