"""The memory store's data: one collection's documents and indexes, and a transaction's undo
log.

Apart from ``store`` so that both ``store`` and ``collection`` import it at module level: the
store builds collections, and a collection needs only these types (and the store's type for
checking), so neither imports the other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lexigram_nosql.backends.memory.indexes import MemoryIndex

__all__ = ["CollectionData", "MemoryTransaction", "Undo"]

Undo = Callable[[], object]
"""Restores one write; a transaction's undo log replays them backwards on rollback."""


class CollectionData:
    """One collection's documents (keyed by the ``_id``'s value key, in insertion order) and
    secondary indexes. Stored documents are never mutated in place."""

    __slots__ = ("documents", "indexes")

    def __init__(self) -> None:
        self.documents: dict[Any, dict[str, Any]] = {}
        self.indexes: dict[str, MemoryIndex] = {}

    def put(self, id_key: Any, document: dict[str, Any] | None, undo: list[Undo] | None) -> None:
        """Store ``document`` under ``id_key`` (None deletes), keeping indexes in step; with an
        ``undo`` log, record how to restore the previous version."""
        old = self.documents.get(id_key)
        if old is not None:
            for index in self.indexes.values():
                index.remove(id_key)
        if document is None:
            self.documents.pop(id_key, None)
        else:
            self.documents[id_key] = document
            for index in self.indexes.values():
                index.add(id_key, document)
        if undo is not None:
            undo.append(lambda: self.put(id_key, old, None))


@dataclass(eq=False)
class MemoryTransaction:
    """An open transaction: its undo log, replayed backwards on rollback."""

    undo: list[Undo] = field(default_factory=list)
    active: bool = True
