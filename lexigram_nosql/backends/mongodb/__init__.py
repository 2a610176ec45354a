"""The MongoDB backend: PyMongo's native async client by default, Motor on request.

Importing this package imports PyMongo; ``create_store`` imports it only when a ``mongodb``
store is created, so ``import lexigram_nosql`` never does.
"""

from lexigram_nosql.backends.mongodb.collection import MongoCollection
from lexigram_nosql.backends.mongodb.store import (
    MongoDocumentStore,
    ServerInfo,
    StandaloneTransactionError,
)

__all__ = ["MongoCollection", "MongoDocumentStore", "ServerInfo", "StandaloneTransactionError"]
