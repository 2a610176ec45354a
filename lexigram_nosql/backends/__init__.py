"""Backends, chosen from a table of import strings so an unused driver is never imported."""

from __future__ import annotations

import importlib
from typing import Any

from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.config.stores import parse_store_settings
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.errors import ConfigurationError

__all__ = ["SUPPORTED_BACKENDS", "create_store"]

SUPPORTED_BACKENDS: dict[str, tuple[str, str | None]] = {
    # driver: ("module:StoreClass", extra that installs its client library)
    "memory": ("lexigram_nosql.backends.memory:MemoryDocumentStore", None),
    "mongodb": ("lexigram_nosql.backends.mongodb:MongoDocumentStore", "mongodb"),
    "dynamodb": ("lexigram_nosql.backends.dynamodb:DynamoDocumentStore", "dynamodb"),
    "firestore": ("lexigram_nosql.backends.firestore:FirestoreDocumentStore", "firestore"),
    "sqlite": ("lexigram_nosql.backends.sqlite:SQLiteDocumentStore", None),
}


def create_store(config: StoreSettingsBase | dict[str, Any]) -> DocumentStoreProtocol:
    """Build an unconnected store from one store entry, e.g.
    ``create_store({"name": "t", "driver": "memory"})``."""
    settings = parse_store_settings(config)
    driver = str(getattr(settings, "driver"))  # noqa: B009 (each model narrows it)
    target, extra = SUPPORTED_BACKENDS[driver]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if extra is None or (exc.name or "").startswith("lexigram_nosql"):
            raise
        raise ConfigurationError(
            f"Store {settings.name!r} uses driver {driver!r}, whose client library is not "
            f"installed ({exc.name}); install it with: pip install 'lexigram-nosql[{extra}]'",
            path="driver",
        ) from exc
    store_class = getattr(module, class_name)
    store: DocumentStoreProtocol = store_class(settings)
    return store
