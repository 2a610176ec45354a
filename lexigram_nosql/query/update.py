"""Parsing update documents, and applying them to documents."""

from __future__ import annotations

from datetime import datetime

from lexigram_nosql.query.ast import FilterNode, ReplacementUpdate, Update
from lexigram_nosql.types import Document, UpdateDocument

__all__ = ["apply_update", "parse_replacement", "parse_update", "upsert_seed"]


def parse_update(update: UpdateDocument) -> Update:
    """Validate an update: operators (``OperatorUpdate``) or a replacement document."""
    raise NotImplementedError


def parse_replacement(document: Document) -> ReplacementUpdate:
    """Validate a replacement document (operators are refused)."""
    raise NotImplementedError


def apply_update(
    update: Update,
    document: Document,
    *,
    inserting: bool = False,
    now: datetime | None = None,
) -> Document:
    """Return a new document with ``update`` applied; ``inserting`` enables ``$setOnInsert``."""
    raise NotImplementedError


def upsert_seed(node: FilterNode) -> Document:
    """The document an upsert starts from: the equality conditions of its filter."""
    raise NotImplementedError
