"""Configuration models of the ``nosql`` section."""

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel
from lexigram_nosql.config.drivers import DRIVERS, DriverSpec
from lexigram_nosql.config.dynamodb import (
    DynamoDBCollection,
    DynamoDBIndex,
    DynamoDBSection,
    DynamoDBStoreSettings,
)
from lexigram_nosql.config.firestore import FirestoreSection, FirestoreStoreSettings
from lexigram_nosql.config.memory import MemorySection, MemoryStoreSettings
from lexigram_nosql.config.mongodb import MongoDBSection, MongoDBStoreSettings
from lexigram_nosql.config.sqlite import SQLiteSection, SQLiteStoreSettings
from lexigram_nosql.config.stores import StoreSettings, parse_store_settings

__all__ = [
    "DRIVERS",
    "DriverSpec",
    "DynamoDBCollection",
    "DynamoDBIndex",
    "DynamoDBSection",
    "DynamoDBStoreSettings",
    "FirestoreSection",
    "FirestoreStoreSettings",
    "MemorySection",
    "MemoryStoreSettings",
    "MongoDBSection",
    "MongoDBStoreSettings",
    "SQLiteSection",
    "SQLiteStoreSettings",
    "StoreSettings",
    "StoreSettingsBase",
    "StrictModel",
    "parse_store_settings",
]
