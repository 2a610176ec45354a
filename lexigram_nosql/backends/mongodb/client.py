"""The client behind a MongoDB store: its options, and the two drivers' small differences.

Every key of the ``mongodb:`` section reaches the client (the package this replaces silently
dropped read preference, write concern and auth source). A key set in the section wins over
the same option in the URI's query string; a key left out of the section defers to the URI
when the URI sets it, and otherwise uses the section's default.

PyMongo's native async client (``pymongo.AsyncMongoClient``) is the default; Motor, deprecated
by MongoDB in favour of it, is kept for applications that already use it. The two differ only
in which calls are coroutines, and ``Driver`` hides that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from lexigram_nosql.config.mongodb import MongoDBSection
from lexigram_nosql.errors import ConfigurationError

__all__ = ["Driver", "MotorDriver", "PyMongoDriver", "client_options", "make_driver"]

# section key -> the driver's keyword argument (also its URI option name).
_OPTION_NAMES: Final = {
    "min_pool_size": "minPoolSize",
    "max_pool_size": "maxPoolSize",
    "server_selection_timeout_ms": "serverSelectionTimeoutMS",
    "connect_timeout_ms": "connectTimeoutMS",
    "socket_timeout_ms": "socketTimeoutMS",
    "read_preference": "readPreference",
    "write_concern": "w",
    "journal": "journal",
    "read_concern": "readConcernLevel",
    "retry_writes": "retryWrites",
    "retry_reads": "retryReads",
    "auth_source": "authSource",
    "tls": "tls",
    "tls_ca_file": "tlsCAFile",
    "app_name": "appname",
}
# URI spellings that mean the same option.
_URI_ALIASES: Final = {"ssl": "tls", "j": "journal", "tlscafile": "tlscafile"}

# Fixed for every store: aware UTC datetimes out (naive ones in are taken as UTC), and
# ``uuid.UUID`` values stored as the standard BSON binary subtype 4.
_FIXED_OPTIONS: Final = {"tz_aware": True, "uuidRepresentation": "standard"}


def client_options(section: MongoDBSection) -> dict[str, Any]:
    """The keyword arguments the client is built with (besides the URI)."""
    try:
        query = urlsplit(section.uri).query
    except ValueError as exc:
        raise ConfigurationError("mongodb.uri is not a valid URI", path="mongodb.uri") from exc
    in_uri = {_URI_ALIASES.get(k.lower(), k.lower()) for k, _ in parse_qsl(query)}
    explicit = section.model_fields_set
    options: dict[str, Any] = dict(_FIXED_OPTIONS)
    for key, option in _OPTION_NAMES.items():
        value = getattr(section, key)
        if value is None:
            continue
        if key not in explicit and option.lower() in in_uri:
            continue  # the URI says it, the section does not
        options[option] = value
    return options


class Driver:
    """PyMongo's native async API (the default)."""

    name = "pymongo"

    def __init__(self, client_class: Callable[..., Any]) -> None:
        self._client_class = client_class

    def create_client(self, uri: str, options: dict[str, Any]) -> Any:
        return self._client_class(uri, **options)

    async def close(self, client: Any) -> None:
        await client.close()

    async def start_transaction(self, client: Any) -> Any:
        session = client.start_session()
        try:
            await session.start_transaction()
        except BaseException:
            await session.end_session()
            raise
        return session

    async def aggregate(self, collection: Any, pipeline: list[Any], **kwargs: Any) -> Any:
        """The command cursor of an ``aggregate``."""
        return await collection.aggregate(pipeline, **kwargs)

    async def list_indexes(self, collection: Any, **kwargs: Any) -> Any:
        """The command cursor of ``listIndexes``."""
        return await collection.list_indexes(**kwargs)


PyMongoDriver = Driver


class MotorDriver(Driver):
    """Motor: the same calls, some synchronous where PyMongo's are coroutines."""

    name = "motor"

    async def close(self, client: Any) -> None:
        client.close()

    async def start_transaction(self, client: Any) -> Any:
        session = await client.start_session()
        try:
            session.start_transaction()
        except BaseException:
            await session.end_session()
            raise
        return session

    async def aggregate(self, collection: Any, pipeline: list[Any], **kwargs: Any) -> Any:
        return collection.aggregate(pipeline, **kwargs)

    async def list_indexes(self, collection: Any, **kwargs: Any) -> Any:
        return collection.list_indexes(**kwargs)


def make_driver(client: str) -> Driver:
    """The driver named by ``mongodb.client``; its library is imported here, on first use."""
    if client == "motor":
        try:
            motor = importlib.import_module("motor.motor_asyncio")
        except ImportError as exc:
            raise ConfigurationError(
                "mongodb.client is 'motor' but Motor is not installed; install it with: "
                "pip install 'lexigram-nosql[mongodb]' (or use client: pymongo)",
                path="mongodb.client",
            ) from exc
        return MotorDriver(motor.AsyncIOMotorClient)
    from pymongo import AsyncMongoClient

    return Driver(AsyncMongoClient)
