"""``MongoDocumentStore``: one database on a MongoDB server, through PyMongo Async or Motor."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from pymongo.errors import OperationFailure, PyMongoError

from lexigram_nosql.backends.base import BaseCollection, BaseDocumentStore
from lexigram_nosql.backends.command_options import current_call_options
from lexigram_nosql.backends.mongodb.client import Driver, client_options, make_driver
from lexigram_nosql.backends.mongodb.collection import MongoCollection
from lexigram_nosql.backends.mongodb.errors import map_mongo_exception
from lexigram_nosql.config.mongodb import MongoDBStoreSettings
from lexigram_nosql.contracts import Capabilities
from lexigram_nosql.errors import (
    NoSQLError,
    StoreStateError,
    TransactionError,
    UnsupportedQueryError,
)
from lexigram_nosql.query.ast import FieldOp, UpdateOp

__all__ = ["MongoDocumentStore", "ServerInfo", "StandaloneTransactionError"]

logger = logging.getLogger("lexigram_nosql")

ClientFactory = Callable[[str, dict[str, Any]], Any]
"""Builds the client from the URI and keyword options (tests plug in mongomock-motor)."""

Topology = Literal["standalone", "replica_set", "sharded"]

# How long a commit whose outcome is unknown is retried, as PyMongo's ``with_transaction`` does.
COMMIT_RETRY_LIMIT_S: Final = 120.0
_COMMAND_NOT_FOUND: Final = 59
_MAX_TIME_EXPIRED: Final = 50

# Every query-language operator runs on the server; the validator refuses the JavaScript ones.
_PUSHDOWN: Final = frozenset(
    {op.value for op in FieldOp}
    | {op.value for op in UpdateOp}
    | {"$and", "$or", "$nor", "$not", "$elemMatch", "$expr"}
)


class StandaloneTransactionError(TransactionError, UnsupportedQueryError):
    """``transaction()`` on a standalone server, which has none: a ``TransactionError``, and
    an ``UnsupportedQueryError`` like every backend's refusal of something it cannot do."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server said about itself when the store connected."""

    version: str
    wire_version: int
    topology: Topology


class MongoDocumentStore(BaseDocumentStore[MongoDBStoreSettings]):
    """A store on one MongoDB database. ``mongodb.client`` picks PyMongo Async (default) or
    Motor; both are imported when the store is created, never by ``import lexigram_nosql``."""

    driver_name = "mongodb"

    def __init__(
        self, settings: MongoDBStoreSettings, *, client_factory: ClientFactory | None = None
    ) -> None:
        super().__init__(settings)
        self._driver: Driver = make_driver(settings.mongodb.client)
        self._client_factory = client_factory or self._driver.create_client
        self._client: Any = None
        self._database: Any = None
        self._server: ServerInfo | None = None

    # -- identity ------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """Transactions are reported once connected: a standalone server has none."""
        standalone = self._server is not None and self._server.topology == "standalone"
        return Capabilities(
            driver=self.driver_name, pushdown=_PUSHDOWN, transactions=not standalone
        )

    @property
    def client_name(self) -> str:
        """``"pymongo"`` or ``"motor"``."""
        return self._driver.name

    @property
    def server(self) -> ServerInfo | None:
        """Version, wire version and topology, known once connected."""
        return self._server

    @property
    def client(self) -> Any:
        """The driver's client, for what this package does not cover; None until connected."""
        return self._client

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} client={self.client_name!r} "
            f"state={self.state.value} address={self.redact(self.settings.address())!r}>"
        )

    def map_exception(self, exc: BaseException) -> NoSQLError | None:
        return map_mongo_exception(exc, self.redact)

    @property
    def database(self) -> Any:
        """The driver's database handle; only valid while connected."""
        if self._database is None:
            raise StoreStateError(
                f"Store {self.name!r} is not connected to MongoDB.", store=self.name
            )
        return self._database

    # -- lifecycle -----------------------------------------------------------------------

    async def _connect(self) -> None:
        section = self.settings.mongodb
        self._client = self._client_factory(section.uri, client_options(section))
        self._database = self._client.get_database(section.database)
        self._bind_collections()
        # The clients connect lazily; asking the server about itself proves it answers.
        self._server = await self._describe_server()
        logger.debug(
            "Store %s: MongoDB %s (wire %d, %s) via %s",
            self.name,
            self._server.version,
            self._server.wire_version,
            self._server.topology,
            self._driver.name,
        )

    async def _describe_server(self) -> ServerInfo:
        try:
            hello = await self._database.command("hello")
        except OperationFailure as exc:
            if exc.code != _COMMAND_NOT_FOUND:  # servers before 4.4.2 only know isMaster
                raise
            hello = await self._database.command("isMaster")
        build = await self._database.command("buildInfo")
        if hello.get("msg") == "isdbgrid":
            topology: Topology = "sharded"
        elif hello.get("setName"):
            topology = "replica_set"
        else:
            topology = "standalone"
        return ServerInfo(
            version=str(build.get("version", "unknown")),
            wire_version=int(hello.get("maxWireVersion", 0)),
            topology=topology,
        )

    async def _close(self) -> None:
        client, self._client, self._database = self._client, None, None
        self._bind_collections()
        if client is not None:
            await self._driver.close(client)

    async def _ping(self) -> dict[str, Any]:
        started = time.perf_counter()
        await self.database.command("ping")
        ping_ms = round((time.perf_counter() - started) * 1000, 3)
        details: dict[str, Any] = {
            "ping_ms": ping_ms,
            "client": self._driver.name,
            "database": self.settings.mongodb.database,
        }
        if self._server is not None:
            details["server_version"] = self._server.version
            details["wire_version"] = self._server.wire_version
            details["topology"] = self._server.topology
        return details

    # -- collections ---------------------------------------------------------------------

    def _make_collection(self, name: str) -> BaseCollection[Any]:
        collection = MongoCollection(self, name)
        if self._database is not None:
            collection._bind(self._database)
        return collection

    def _bind_collections(self) -> None:
        """Hand the database to every collection made so far (None: not connected)."""
        for collection in self._collections.values():
            if isinstance(collection, MongoCollection):
                collection._bind(self._database)

    async def _list_collections(self) -> list[str]:
        # Outside any open transaction: MongoDB refuses listCollections inside one, and a
        # collection group lists its members even when read inside store.transaction().
        options = current_call_options()  # a comment
        names = await self.database.list_collection_names(
            **({} if options is None else options.driver_kwargs())
        )
        return [n for n in names if not n.startswith("system.")]

    async def _drop_collection(self, name: str) -> None:
        options = current_call_options()  # a comment
        await self.database.drop_collection(
            name,
            session=self.current_transaction(),
            **({} if options is None else options.driver_kwargs()),
        )

    # -- transactions --------------------------------------------------------------------

    async def _begin_transaction(self) -> Any:
        if self._server is not None and self._server.topology == "standalone":
            raise StandaloneTransactionError(
                f"Store {self.name!r} is connected to a standalone MongoDB server, which has no "
                "transactions; they need a replica set (a single-node one will do) or a "
                "sharded cluster.",
                backend=self.driver_name,
                operator="transaction",
                store=self.name,
            )
        return await self._driver.start_transaction(self._client)

    async def _commit_transaction(self, handle: Any) -> None:
        """Commit, retrying while the outcome is unknown (the driver's rule: the commit is
        idempotent, and ``UnknownTransactionCommitResult`` means it may not have applied)."""
        deadline = time.monotonic() + COMMIT_RETRY_LIMIT_S
        try:
            while True:
                try:
                    await handle.commit_transaction()
                    return
                except PyMongoError as exc:
                    if (
                        exc.has_error_label("UnknownTransactionCommitResult")
                        and getattr(exc, "code", None) != _MAX_TIME_EXPIRED
                        and time.monotonic() < deadline
                    ):
                        logger.info(
                            "Store %s: commit outcome unknown, retrying: %s",
                            self.name,
                            self.redact(str(exc)),
                        )
                        continue
                    raise
        finally:
            await handle.end_session()

    async def _abort_transaction(self, handle: Any) -> None:
        try:
            await handle.abort_transaction()
        finally:
            await handle.end_session()
