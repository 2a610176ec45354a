"""Schema and data migrations, recorded in the store and applied under a lease lock."""

from lexigram_nosql.migrations.manager import (
    MigrationManager,
    MigrationResult,
    MigrationStatus,
    RegisteredMigration,
)
from lexigram_nosql.migrations.operations import (
    AddField,
    CreateIndex,
    DropCollection,
    DropIndex,
    FunctionMigration,
    Migration,
    MigrationContext,
    MigrationProgress,
    Operation,
    RemoveField,
    RenameField,
)

__all__ = [
    "AddField",
    "CreateIndex",
    "DropCollection",
    "DropIndex",
    "FunctionMigration",
    "Migration",
    "MigrationContext",
    "MigrationManager",
    "MigrationProgress",
    "MigrationResult",
    "MigrationStatus",
    "Operation",
    "RegisteredMigration",
    "RemoveField",
    "RenameField",
]
