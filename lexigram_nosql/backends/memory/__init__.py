"""The embedded memory store (driver ``memory``): the shared engine over in-process data,
with real indexes and serialized transactions. Tests, demos and embedded use."""

from lexigram_nosql.backends.memory.collection import MemoryCollection
from lexigram_nosql.backends.memory.store import MemoryDocumentStore

__all__ = ["MemoryCollection", "MemoryDocumentStore"]
