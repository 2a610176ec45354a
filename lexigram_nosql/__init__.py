"""lexigram-nosql: one async document-store layer over MongoDB, DynamoDB, Firestore and an
embedded memory store, for dependency-injector containers.

Everything public is importable from here. Importing the package loads only the contracts and
errors; every other name is imported on first use (PEP 562), so ``import lexigram_nosql`` stays
cheap and never imports a database driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lexigram_nosql.contracts import (
    ASCENDING,
    DESCENDING,
    BulkWriteFailure,
    BulkWriteResult,
    Capabilities,
    CollectionGroupProtocol,
    CollectionProtocol,
    DeleteMany,
    DeleteOne,
    DeleteResult,
    DocumentStoreProtocol,
    IndexInfo,
    IndexList,
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
from lexigram_nosql.cursor import DocumentCursor
from lexigram_nosql.errors import (
    BulkWriteError,
    ConcurrencyError,
    ConfigurationError,
    DocumentDeletedError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    DuplicateKeyError,
    InvalidQueryError,
    MigrationError,
    NoSQLConnectionError,
    NoSQLError,
    OperationTimeoutError,
    QueryError,
    QueryLimitError,
    RegexTimeoutError,
    ResolutionError,
    StoreStateError,
    StoreUnavailableError,
    TransactionError,
    UnsupportedQueryError,
    UpdateMismatchError,
    WriteError,
)

if TYPE_CHECKING:
    from lexigram_nosql.backends import SUPPORTED_BACKENDS, create_store
    from lexigram_nosql.backends.index_model import IndexModel
    from lexigram_nosql.backends.sessions import TransactionSession
    from lexigram_nosql.config.loader import load_config
    from lexigram_nosql.config.settings import HealthSettings, NoSQLSettings
    from lexigram_nosql.di import Container, Named, Resolution
    from lexigram_nosql.health import HealthReport, HealthService, health_app
    from lexigram_nosql.migrations import (
        AddField,
        CreateIndex,
        DropCollection,
        DropIndex,
        Migration,
        MigrationContext,
        MigrationManager,
        MigrationProgress,
        MigrationResult,
        MigrationStatus,
        RemoveField,
        RenameField,
    )
    from lexigram_nosql.operations import (
        Operation,
        OperationObserver,
        add_operation_observer,
        remove_operation_observer,
    )
    from lexigram_nosql.pipeline import AggregationOp, AggregationPipeline
    from lexigram_nosql.providers import Application, NoSQLModule
    from lexigram_nosql.repository import DocumentRepository
    from lexigram_nosql.specification import (
        AndExpr,
        FieldContains,
        FieldEq,
        FieldExists,
        FieldGt,
        FieldGte,
        FieldIn,
        FieldLt,
        FieldLte,
        FieldNe,
        FieldNotIn,
        FieldRegex,
        NotExpr,
        OrExpr,
        Specification,
    )

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "AddField": "lexigram_nosql.migrations",
    "AggregationOp": "lexigram_nosql.pipeline",
    "AggregationPipeline": "lexigram_nosql.pipeline",
    "AndExpr": "lexigram_nosql.specification",
    "Application": "lexigram_nosql.providers",
    "Container": "lexigram_nosql.di",
    "CreateIndex": "lexigram_nosql.migrations",
    "DocumentRepository": "lexigram_nosql.repository",
    "DropCollection": "lexigram_nosql.migrations",
    "DropIndex": "lexigram_nosql.migrations",
    "FieldContains": "lexigram_nosql.specification",
    "FieldEq": "lexigram_nosql.specification",
    "FieldExists": "lexigram_nosql.specification",
    "FieldGt": "lexigram_nosql.specification",
    "FieldGte": "lexigram_nosql.specification",
    "FieldIn": "lexigram_nosql.specification",
    "FieldLt": "lexigram_nosql.specification",
    "FieldLte": "lexigram_nosql.specification",
    "FieldNe": "lexigram_nosql.specification",
    "FieldNotIn": "lexigram_nosql.specification",
    "FieldRegex": "lexigram_nosql.specification",
    "HealthReport": "lexigram_nosql.health",
    "IndexModel": "lexigram_nosql.backends.index_model",
    "TransactionSession": "lexigram_nosql.backends.sessions",
    "Operation": "lexigram_nosql.operations",
    "OperationObserver": "lexigram_nosql.operations",
    "add_operation_observer": "lexigram_nosql.operations",
    "remove_operation_observer": "lexigram_nosql.operations",
    "HealthService": "lexigram_nosql.health",
    "HealthSettings": "lexigram_nosql.config.settings",
    "Migration": "lexigram_nosql.migrations",
    "MigrationContext": "lexigram_nosql.migrations",
    "MigrationManager": "lexigram_nosql.migrations",
    "MigrationProgress": "lexigram_nosql.migrations",
    "MigrationResult": "lexigram_nosql.migrations",
    "MigrationStatus": "lexigram_nosql.migrations",
    "Named": "lexigram_nosql.di",
    "NoSQLModule": "lexigram_nosql.providers",
    "NoSQLSettings": "lexigram_nosql.config.settings",
    "NotExpr": "lexigram_nosql.specification",
    "OrExpr": "lexigram_nosql.specification",
    "RemoveField": "lexigram_nosql.migrations",
    "RenameField": "lexigram_nosql.migrations",
    "Resolution": "lexigram_nosql.di",
    "SUPPORTED_BACKENDS": "lexigram_nosql.backends",
    "Specification": "lexigram_nosql.specification",
    "create_store": "lexigram_nosql.backends",
    "health_app": "lexigram_nosql.health",
    "load_config": "lexigram_nosql.config.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ASCENDING",
    "DESCENDING",
    "SUPPORTED_BACKENDS",
    "AddField",
    "AggregationOp",
    "AggregationPipeline",
    "AndExpr",
    "Application",
    "BulkWriteError",
    "BulkWriteFailure",
    "BulkWriteResult",
    "Capabilities",
    "CollectionGroupProtocol",
    "CollectionProtocol",
    "ConcurrencyError",
    "ConfigurationError",
    "Container",
    "CreateIndex",
    "DeleteMany",
    "DeleteOne",
    "DeleteResult",
    "DocumentCursor",
    "DocumentDeletedError",
    "DocumentNotFoundError",
    "DocumentRepository",
    "DocumentStoreProtocol",
    "DocumentTooLargeError",
    "DropCollection",
    "DropIndex",
    "DuplicateKeyError",
    "FieldContains",
    "FieldEq",
    "FieldExists",
    "FieldGt",
    "FieldGte",
    "FieldIn",
    "FieldLt",
    "FieldLte",
    "FieldNe",
    "FieldNotIn",
    "FieldRegex",
    "HealthReport",
    "HealthService",
    "HealthSettings",
    "IndexInfo",
    "IndexList",
    "IndexModel",
    "InsertManyResult",
    "InsertOne",
    "InsertOneResult",
    "InvalidQueryError",
    "Migration",
    "MigrationContext",
    "MigrationError",
    "MigrationManager",
    "MigrationProgress",
    "MigrationResult",
    "MigrationStatus",
    "Named",
    "NoSQLConnectionError",
    "NoSQLError",
    "NoSQLModule",
    "NoSQLSettings",
    "NotExpr",
    "Operation",
    "OperationObserver",
    "OperationTimeoutError",
    "OrExpr",
    "QueryError",
    "QueryLimitError",
    "RegexTimeoutError",
    "RemoveField",
    "RenameField",
    "ReplaceOne",
    "Resolution",
    "ResolutionError",
    "ReturnDocument",
    "Specification",
    "StoreHealth",
    "StoreStateError",
    "StoreUnavailableError",
    "TransactionError",
    "TransactionSession",
    "UnsupportedQueryError",
    "UpdateMany",
    "UpdateMismatchError",
    "UpdateOne",
    "UpdateResult",
    "WriteError",
    "WriteOperation",
    "add_operation_observer",
    "create_store",
    "health_app",
    "load_config",
    "remove_operation_observer",
]
