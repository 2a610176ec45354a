"""Entity repositories over any document store: ``DocumentRepository[TEntity, TKey]``."""

from lexigram_nosql.repository.base import DocumentRepository

__all__ = ["DocumentRepository"]
