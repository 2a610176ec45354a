"""Backends, chosen from the driver registry's import strings, so an unused driver is never
imported."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.config.drivers import DRIVERS, DriverSpec
from lexigram_nosql.config.stores import parse_store_settings
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.errors import ConfigurationError

__all__ = ["SUPPORTED_BACKENDS", "create_store"]

SUPPORTED_BACKENDS: Mapping[str, DriverSpec] = DRIVERS
"""The driver registry (``lexigram_nosql.config.drivers.DRIVERS``), by driver name."""


def create_store(config: StoreSettingsBase | dict[str, Any]) -> DocumentStoreProtocol:
    """Build an unconnected store from one store entry, e.g.
    ``create_store({"name": "t", "driver": "memory"})``."""
    settings = parse_store_settings(config)
    driver = str(getattr(settings, "driver"))  # noqa: B009 (each model narrows it)
    spec = DRIVERS[driver]
    extra = spec.extra
    module_name, _, class_name = spec.store.partition(":")
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
