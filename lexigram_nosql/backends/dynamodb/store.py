"""``DynamoDocumentStore``: one table per collection on DynamoDB, through aioboto3's
low-level client (imported when the store connects, never by ``import lexigram_nosql``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib.util
import logging
import time
from collections.abc import Mapping
from typing import Any, Final

from lexigram_nosql.backends.base import BaseCollection, BaseDocumentStore, IndexSpec
from lexigram_nosql.backends.dynamodb.collection import DynamoCollection
from lexigram_nosql.backends.dynamodb.errors import error_code, map_dynamodb_error
from lexigram_nosql.backends.dynamodb.guards import (
    GUARD_TABLE,
    drop_guards,
    forget_managed,
    load_managed,
)
from lexigram_nosql.backends.dynamodb.names import collection_name, table_name
from lexigram_nosql.backends.dynamodb.parsing import install_fast_parsing
from lexigram_nosql.backends.dynamodb.tables import TableInfo, key_schema
from lexigram_nosql.backends.dynamodb.transactions import TransactionBuffer, cancellation_error
from lexigram_nosql.backends.dynamodb.updates import WriteRequest
from lexigram_nosql.backends.dynamodb.useragent import cache_user_agent
from lexigram_nosql.backends.retry import LostRace, retry_lost_races
from lexigram_nosql.backends.unique import duplicate_error
from lexigram_nosql.config.dynamodb import DynamoDBStoreSettings
from lexigram_nosql.contracts import Capabilities
from lexigram_nosql.errors import (
    ConfigurationError,
    NoSQLError,
    StoreStateError,
    TransactionError,
)

__all__ = ["DynamoDocumentStore"]

logger = logging.getLogger("lexigram_nosql")

# What the planner puts into KeyConditionExpression/FilterExpression (the rest is evaluated
# exactly by the engine on the items read).
_PUSHDOWN: Final = frozenset(
    {"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$exists", "$size", "$and", "$or", "$match"}
    | {"$set", "$unset", "$inc", "$push", "$currentDate"}
)
_POLL_S: Final = 0.05


class DynamoDocumentStore(BaseDocumentStore[DynamoDBStoreSettings]):
    """A store on DynamoDB (or DynamoDB Local): collection ``c`` is table
    ``{table_prefix}c`` (``c`` encoded when DynamoDB would refuse it), created on first write
    when ``create_tables`` is on."""

    driver_name = "dynamodb"

    def __init__(self, settings: DynamoDBStoreSettings) -> None:
        if importlib.util.find_spec("aioboto3") is None:
            raise ConfigurationError(
                f"Store {settings.name!r} uses driver 'dynamodb', whose client library "
                "aioboto3 is not installed; install it with: "
                "pip install 'lexigram-nosql[dynamodb]'",
                path="driver",
            )
        super().__init__(settings)
        self._client: Any = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._tables: dict[str, TableInfo] = {}
        self._missing: set[str] = set()  # collections whose table vanished (create_tables off)
        self._table_locks: dict[str, asyncio.Lock] = {}
        self._warned_scans: set[tuple[str, str]] = set()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            driver=self.driver_name,
            pushdown=_PUSHDOWN,
            # Not operators: values DynamoDB cannot store (docs/backends/dynamodb.md).
            refused=frozenset({"BSON-only values", "NaN and infinity"}),
            transactions=True,
            unique_indexes=True,
            native_sort=False,
        )

    @property
    def client(self) -> Any:
        """The aioboto3 DynamoDB client, for what this package does not cover."""
        if self._client is None:
            raise StoreStateError(f"Store {self.name!r} is not connected.", store=self.name)
        return self._client

    def map_exception(self, exc: BaseException) -> NoSQLError | None:
        return map_dynamodb_error(exc, self.redact)

    def table_name(self, collection: str) -> str:
        """``table_prefix`` + the collection name, encoded where DynamoDB would refuse it
        (see ``names.py``)."""
        return table_name(self.settings.dynamodb.table_prefix, collection, store=self.name)

    @property
    def guard_table(self) -> str:
        """The table of unique-index guards (``guards.py``)."""
        return f"{self.settings.dynamodb.table_prefix}{GUARD_TABLE}"

    # -- lifecycle -----------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            # The first import takes a second or more of CPU: off the event loop.
            await asyncio.to_thread(importlib.import_module, "aioboto3")
            import aioboto3
            from botocore.config import Config
        except ImportError as exc:
            raise ConfigurationError(
                f"Store {self.name!r} uses driver 'dynamodb', whose client library is not "
                "installed; install it with: pip install 'lexigram-nosql[dynamodb]'",
                path="driver",
            ) from exc
        section = self.settings.dynamodb

        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        from aiobotocore.session import get_session

        botocore_session = get_session()
        install_fast_parsing(botocore_session)
        session = aioboto3.Session(
            botocore_session=botocore_session,
            aws_access_key_id=secret(section.access_key_id),
            aws_secret_access_key=secret(section.secret_access_key),
            aws_session_token=secret(section.session_token),
            region_name=section.region,
        )
        config = Config(
            connect_timeout=self.settings.connect_timeout_s,
            read_timeout=section.read_timeout_s,
            max_pool_connections=section.max_pool_connections,
            retries={"mode": "standard", "max_attempts": section.max_attempts},
            # Every request is built here from checked, encoded values (codec.py): botocore
            # checking each parameter's shape again cost more CPU than encoding an item
            # (~40 us per item of insert_many); DynamoDB still refuses a malformed request.
            parameter_validation=False,
        )
        loader = await asyncio.to_thread(_shared_models)
        if loader is not None:
            session._session.register_component("data_loader", loader)
        # A plain-http endpoint (DynamoDB Local) has no certificate to verify: skip loading a CA
        # bundle, ~50 ms of CPU on the event loop for every client.
        plain_http = (section.endpoint_url or "").lower().startswith("http://")
        stack = contextlib.AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                session.client(
                    "dynamodb",
                    endpoint_url=section.endpoint_url,
                    config=config,
                    verify=False if plain_http else None,
                )
            )
            cache_user_agent(self._client)
            await self._client.list_tables(Limit=1)  # the client is lazy: prove it answers
        except BaseException:
            await stack.aclose()
            self._client = None
            raise
        self._exit_stack = stack

    async def _close(self) -> None:
        stack, self._exit_stack, self._client = self._exit_stack, None, None
        self._tables.clear()
        if stack is not None:
            await stack.aclose()

    async def _ping(self) -> dict[str, Any]:
        started = time.perf_counter()
        await self.client.list_tables(Limit=1)
        if not self.settings.dynamodb.create_tables:
            # Without create_tables a vanished table is an outage of its collection: look
            # at each table in use, so health says so before a call fails on it.
            known = sorted(set(self._tables) | self._missing)
            found = await asyncio.gather(*(self._describe(self.table_name(c)) for c in known))
            for collection, description in zip(known, found, strict=True):
                if description is None:
                    self._tables.pop(collection, None)
                    self._missing.add(collection)
                else:
                    self._missing.discard(collection)
            if self._missing:
                raise ConfigurationError(
                    f"table {self.table_name(min(self._missing))} is missing",
                    path="dynamodb.create_tables",
                )
        return {
            "region": self.settings.dynamodb.region,
            "round_trip_ms": round((time.perf_counter() - started) * 1000, 3),
        }

    # -- collections and tables ----------------------------------------------------------

    def _make_collection(self, name: str) -> BaseCollection[Any]:
        self.table_name(name)  # a name too long even for an encoded table fails here
        return DynamoCollection(self, name)

    async def _list_collections(self) -> list[str]:
        prefix = self.settings.dynamodb.table_prefix
        names: list[str] = []
        arguments: dict[str, Any] = {}
        while True:
            response = await self.client.list_tables(**arguments)
            for table in response.get("TableNames", []):
                name = collection_name(prefix, table)
                if name is not None and table != self.guard_table:
                    names.append(name)
            last = response.get("LastEvaluatedTableName")
            if not last:
                return names
            arguments["ExclusiveStartTableName"] = last

    async def _drop_collection(self, name: str) -> None:
        table = self.table_name(name)
        info = self._tables.pop(name, None)
        self._missing.discard(name)
        if info is None or info.managed:
            await drop_guards(self, table, None)
            with contextlib.suppress(Exception):  # no guard table: nothing recorded
                await forget_managed(self, table)
        try:
            await self.client.delete_table(TableName=table)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return
            raise
        await self._wait_table(table, gone=True)

    async def created_table(self, collection: str) -> TableInfo:
        """The table of ``collection``, created when missing (writes need one)."""
        info = await self.table_info(collection, create=True)
        if info is None:  # table_info creates it or raises; this is for the type checker
            raise ConfigurationError(
                f"No table for collection {collection!r} on store {self.name!r}",
                path="dynamodb.create_tables",
            )
        return info

    async def table_info(self, collection: str, *, create: bool) -> TableInfo | None:
        """The table of ``collection``; a missing one is created (when ``create`` and the
        ``create_tables`` setting allow) or reported as None."""
        info = self._tables.get(collection)
        if info is not None:
            return info
        lock = self._table_locks.setdefault(collection, asyncio.Lock())
        async with lock:
            info = self._tables.get(collection)
            if info is not None:
                return info
            table = self.table_name(collection)
            description = await self._describe(table)
            if description is None:
                if not create:
                    if collection in self._missing:  # vanished, and create_tables is off
                        raise self._table_missing(collection)
                    return None
                if not self.settings.dynamodb.create_tables:
                    self._missing.add(collection)
                    raise self._table_missing(collection)
                request = TableInfo.create_request(
                    table, key_schema(self.settings.dynamodb, collection)
                )
                try:
                    await self.client.create_table(**request)
                    logger.info("Store %s: created DynamoDB table %s", self.name, table)
                except Exception as exc:
                    if error_code(exc) != "ResourceInUseException":  # created concurrently
                        raise
                description = await self._wait_table(table)
            info = TableInfo.from_description(description or {})
            managed = await load_managed(self, table)
            if managed:
                info = dataclasses.replace(info, managed=managed)
            self._tables[collection] = info
            self._missing.discard(collection)
            return info

    async def guard_table_ready(self) -> None:
        """Create the guard table when missing (the first unique index of the store)."""
        if await self._describe(self.guard_table) is not None:
            return
        try:
            await self.client.create_table(
                TableName=self.guard_table,
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except Exception as exc:
            if error_code(exc) != "ResourceInUseException":  # created concurrently
                raise
        await self._wait_table(self.guard_table)

    def remember_managed(self, collection: str, managed: tuple[IndexSpec, ...]) -> None:
        info = self._tables.get(collection)
        if info is not None:
            self._tables[collection] = dataclasses.replace(info, managed=managed)

    def forget_table(self, collection: str) -> None:
        """Drop the cached schema (after an index change)."""
        self._tables.pop(collection, None)

    async def heal(self, collection: str, exc: BaseException) -> bool:
        """After ``exc`` from a call on ``collection``: True when its vanished table was
        re-created (retry the call once); raises "table X is missing" when it may not be
        (``create_tables`` off); False when ``exc`` is not about a missing table."""
        if error_code(exc) != "ResourceNotFoundException":
            return False
        self.forget_table(collection)
        if not self.settings.dynamodb.create_tables:
            self._missing.add(collection)
            raise self._table_missing(collection) from exc
        logger.warning(
            "Store %s: DynamoDB table %s is missing; re-creating it (create_tables)",
            self.name,
            self.table_name(collection),
        )
        await self.table_info(collection, create=True)
        return True

    def _table_missing(self, collection: str) -> ConfigurationError:
        return ConfigurationError(
            f"table {self.table_name(collection)} is missing: collection {collection!r} of "
            f"store {self.name!r} has no DynamoDB table and dynamodb.create_tables is off; "
            "create the table or turn create_tables on",
            path="dynamodb.create_tables",
        )

    async def _describe(self, table: str) -> Mapping[str, Any] | None:
        try:
            response = await self.client.describe_table(TableName=table)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        description: Mapping[str, Any] = response["Table"]
        return description

    async def _wait_table(self, table: str, *, gone: bool = False) -> Mapping[str, Any] | None:
        """Poll until the table and its indexes are ACTIVE (or, with ``gone``, deleted)."""
        deadline = time.monotonic() + self.settings.dynamodb.table_wait_s
        delay = _POLL_S
        while True:
            description = await self._describe(table)
            if gone and description is None:
                return None
            if not gone and description is not None and _active(description):
                return description
            if time.monotonic() > deadline:
                state = "deleted" if gone else "ACTIVE"
                raise NoSQLError(
                    f"Table {table!r} on store {self.name!r} did not become {state} within "
                    f"{self.settings.dynamodb.table_wait_s:g}s",
                    store=self.name,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def wait_table(self, table: str) -> None:
        await self._wait_table(table)

    def warn_scan(self, collection: str, shape: str) -> None:
        """Log once per collection and filter shape that a query scans the whole table."""
        if (collection, shape) in self._warned_scans:
            return
        self._warned_scans.add((collection, shape))
        logger.warning(
            "Store %s: a query on collection %s with filter shape %s scans the whole DynamoDB "
            "table %s (billed per item read); add a key condition or an index, or set "
            "dynamodb.allow_scan: false to refuse such queries",
            self.name,
            collection,
            shape,
            self.table_name(collection),
        )

    # -- writes and transactions ---------------------------------------------------------

    async def send(self, write: WriteRequest) -> dict[str, Any] | None:
        """Send one write now (returning DynamoDB's response), or buffer it in the current
        transaction (returning None). A write with unique-index guards is one
        ``TransactWriteItems`` with them."""
        buffer = self.current_transaction()
        if buffer is not None:
            buffer.add(write)
            for guard in write.guards:
                buffer.add(guard)
            return None
        if write.guards:
            await self._send_guarded(write)
            return None
        method = {
            "Put": self.client.put_item,
            "Update": self.client.update_item,
            "Delete": self.client.delete_item,
        }[write.action]
        response: dict[str, Any] = await method(**write.params)
        return response

    async def _send_guarded(self, write: WriteRequest) -> None:
        """The write and its guards as one transaction. A failed condition on the write
        itself is raised as DynamoDB's ``ConditionalCheckFailedException`` (what callers
        handle for a single write), one on a guard as ``DuplicateKeyError``; a transaction
        conflict with another writer of the same items is retried."""
        from botocore.exceptions import ClientError

        actions = [{w.action: w.params} for w in (write, *write.guards)]

        async def attempt() -> None:
            for _ in range(len(write.guards) + 1):  # each pass frees at least one stale guard
                try:
                    await self.client.transact_write_items(TransactItems=actions)
                    return
                except Exception as exc:
                    if error_code(exc) != "TransactionCanceledException":
                        raise
                    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
                    codes = [reason.get("Code") for reason in reasons]
                    if codes and codes[0] == "ConditionalCheckFailed":
                        error = {"Code": "ConditionalCheckFailedException", "Message": str(exc)}
                        raise ClientError({"Error": error}, "TransactWriteItems") from exc
                    if not await self._free_stale_guards(write, codes[1:], exc):
                        if "TransactionConflict" not in codes:
                            raise
                        raise LostRace from exc  # another transaction held these items
            raise LostRace  # guards went stale as fast as they were freed

        collection = write.guards[0].key[0] if write.guards else None
        await retry_lost_races(
            self, "a write with its unique-index guards", attempt, collection=collection
        )

    async def _free_stale_guards(
        self, write: WriteRequest, codes: list[str | None], exc: Exception
    ) -> bool:
        """Whether a guard that failed its condition was stale and is freed now (the write
        can go again); DuplicateKeyError when one is held by a live document."""
        stale = False
        for guard, code in zip(write.guards, codes, strict=False):
            if code == "ConditionalCheckFailed":
                if await self._drop_stale_guard(guard):
                    stale = True
                    continue
                collection, index, key = guard.key
                raise duplicate_error(index, key, store=self.name, collection=collection) from exc
        return stale

    async def _drop_stale_guard(self, guard: WriteRequest) -> bool:
        """Delete a guard whose owner is gone (deleted by DynamoDB's TTL, or by a writer
        that bypasses this package); whether it was stale."""
        key = guard.item_key or {}
        found = (
            await self.client.get_item(TableName=self.guard_table, Key=key, ConsistentRead=True)
        ).get("Item")
        if not found:
            return True  # freed meanwhile
        owner = found.get("owner", {}).get("M")
        table = found.get("t", {}).get("S")
        if owner is None or table is None:
            return False
        document = await self.client.get_item(TableName=table, Key=owner, ConsistentRead=True)
        if document.get("Item"):
            return False
        with contextlib.suppress(Exception):  # taken over meanwhile: the retry will tell
            await self.client.delete_item(
                TableName=self.guard_table,
                Key=key,
                ConditionExpression="#o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":o": {"M": owner}},
            )
        return True

    async def _begin_transaction(self) -> TransactionBuffer:
        return TransactionBuffer(self.name)

    async def _commit_transaction(self, handle: Any) -> None:
        buffer: TransactionBuffer = handle
        if not buffer.writes:
            return
        try:
            await self.client.transact_write_items(**buffer.request())
        except Exception as exc:
            code = error_code(exc)
            if code == "TransactionCanceledException":
                response = getattr(exc, "response", {})
                raise cancellation_error(buffer, response) from exc
            if code == "ValidationException":
                raise TransactionError(
                    f"DynamoDB refused the transaction on store {self.name!r} "
                    f"({len(buffer.writes)} writes): {self.redact(str(exc))}. A transaction "
                    "may write each document only once.",
                    store=self.name,
                    code=code,
                ) from exc
            raise

    async def _abort_transaction(self, handle: Any) -> None:
        buffer: TransactionBuffer = handle
        buffer.writes.clear()  # nothing was sent


@functools.cache
def _shared_models() -> Any:
    """botocore's data loader with the DynamoDB model and endpoint data parsed, once per
    process, in a worker thread: each client would otherwise parse that JSON again (0.3 s of
    CPU on an idle machine, seconds on a loaded one), and on the event loop, blocking every task
    beyond the reach of any deadline. The parsed models are read-only, so every store's session
    shares them. An optimization only: on any failure (None) each client loads its own."""
    try:
        from botocore.loaders import create_loader

        loader = create_loader()
        loader.load_service_model("dynamodb", "service-2")
        loader.load_service_model("dynamodb", "endpoint-rule-set-1")
        loader.load_data("endpoints")
        loader.load_data("partitions")
        loader.load_data("sdk-default-configuration")
    except Exception as exc:
        logger.debug("Preloading botocore's DynamoDB model failed: %r", exc)
        return None
    return loader


def _active(description: Mapping[str, Any]) -> bool:
    if description.get("TableStatus") != "ACTIVE":
        return False
    return all(
        index.get("IndexStatus") == "ACTIVE"
        for index in description.get("GlobalSecondaryIndexes", [])
    )
