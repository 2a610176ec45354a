"""lexigram-nosql: one async document-store layer over MongoDB, DynamoDB, Firestore and an
embedded memory store, for dependency-injector containers.

Everything public is importable from here; importing this package imports no database driver.
"""

from lexigram_nosql.backends import SUPPORTED_BACKENDS, create_store
from lexigram_nosql.contracts import (
    BulkWriteResult,
    Capabilities,
    CollectionProtocol,
    DeleteMany,
    DeleteOne,
    DeleteResult,
    DocumentStoreProtocol,
    IndexInfo,
    InsertManyResult,
    InsertOne,
    InsertOneResult,
    ReplaceOne,
    ReturnDocument,
    StoreHealth,
    UpdateMany,
    UpdateOne,
    UpdateResult,
    WriteOperation,
)
from lexigram_nosql.errors import (
    ConcurrencyError,
    ConfigurationError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    DuplicateKeyError,
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    QueryError,
    StoreStateError,
    TransactionError,
    UnsupportedQueryError,
    WriteError,
)

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_BACKENDS",
    "BulkWriteResult",
    "Capabilities",
    "CollectionProtocol",
    "ConcurrencyError",
    "ConfigurationError",
    "DeleteMany",
    "DeleteOne",
    "DeleteResult",
    "DocumentNotFoundError",
    "DocumentStoreProtocol",
    "DocumentTooLargeError",
    "DuplicateKeyError",
    "IndexInfo",
    "InsertManyResult",
    "InsertOne",
    "InsertOneResult",
    "InvalidQueryError",
    "NoSQLConnectionError",
    "NoSQLError",
    "QueryError",
    "ReplaceOne",
    "ReturnDocument",
    "StoreHealth",
    "StoreStateError",
    "TransactionError",
    "UnsupportedQueryError",
    "UpdateMany",
    "UpdateOne",
    "UpdateResult",
    "WriteError",
    "WriteOperation",
    "create_store",
]
