"""The one table of drivers. Adding a backend means a row here and a package of its own.

Each row names the driver's settings model (validated at configuration time, with the
driver's own checks as validators on that model), the store class as an import string (so an
unused driver is never imported), and the pip extra that installs its client library.
"""

from __future__ import annotations

from dataclasses import dataclass

from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.config.dynamodb import DynamoDBStoreSettings
from lexigram_nosql.config.firestore import FirestoreStoreSettings
from lexigram_nosql.config.memory import MemoryStoreSettings
from lexigram_nosql.config.mongodb import MongoDBStoreSettings
from lexigram_nosql.config.sqlite import SQLiteStoreSettings

__all__ = ["DRIVERS", "DriverSpec"]


@dataclass(frozen=True)
class DriverSpec:
    """What the package knows of one driver."""

    name: str
    settings: type[StoreSettingsBase]
    store: str
    """``"module:Class"`` of the store, imported only when a store of this driver is built."""
    extra: str | None = None
    """The extra (``pip install 'lexigram-nosql[extra]'``) that installs its client library."""


DRIVERS: dict[str, DriverSpec] = {
    spec.name: spec
    for spec in (
        DriverSpec(
            "memory", MemoryStoreSettings, "lexigram_nosql.backends.memory:MemoryDocumentStore"
        ),
        DriverSpec(
            "mongodb",
            MongoDBStoreSettings,
            "lexigram_nosql.backends.mongodb:MongoDocumentStore",
            extra="mongodb",
        ),
        DriverSpec(
            "dynamodb",
            DynamoDBStoreSettings,
            "lexigram_nosql.backends.dynamodb:DynamoDocumentStore",
            extra="dynamodb",
        ),
        DriverSpec(
            "firestore",
            FirestoreStoreSettings,
            "lexigram_nosql.backends.firestore:FirestoreDocumentStore",
            extra="firestore",
        ),
        DriverSpec(
            "sqlite", SQLiteStoreSettings, "lexigram_nosql.backends.sqlite:SQLiteDocumentStore"
        ),
    )
}
"""Driver name -> spec, in the order errors list them."""
