"""``FirestoreDocumentStore``: one Firestore database (or the emulator) through the AsyncClient.

The client library is imported when a store connects, never by ``import lexigram_nosql``.

Transactions: ``async with store.transaction():`` opens a Firestore read-write transaction.
Reads inside go through it (and see the block's own writes); writes are buffered and sent in
the commit. Firestore resolves contention by aborting a transaction, and its own client
re-runs the body; a ``with`` block cannot be re-run, so a contended commit raises
``ConcurrencyError`` and nothing is written. ``await store.run_transaction(body)`` runs an
``async def body()`` in a transaction and re-runs it on ``ConcurrencyError`` (up to
``firestore.transaction_attempts`` times): the body must be safe to run again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Final, TypeVar

from lexigram_nosql.backends.base import BaseCollection, BaseDocumentStore, IndexSpec
from lexigram_nosql.backends.firestore.collection import FirestoreCollection
from lexigram_nosql.backends.firestore.group import FirestoreGroupReader, NativeGroup
from lexigram_nosql.backends.firestore.guards import (
    change_specs,
    delete_guards,
    forget_specs,
    load_specs,
)
from lexigram_nosql.backends.firestore.names import collection_path, name_of_path
from lexigram_nosql.backends.firestore.transaction import FirestoreTransaction
from lexigram_nosql.backends.group import GroupSource
from lexigram_nosql.config.firestore import FirestoreStoreSettings
from lexigram_nosql.contracts import Capabilities
from lexigram_nosql.errors import ConcurrencyError, ConfigurationError, NoSQLError, StoreStateError

__all__ = ["FirestoreDocumentStore", "FirestoreTransaction"]

logger = logging.getLogger("lexigram_nosql")

T = TypeVar("T")

_HEALTH_COLLECTION: Final = "lexigram_health"
#: Documents deleted per batch when dropping a collection (Firestore's write limit).
_DROP_PAGE: Final = 500

#: Operators (filter and update) that run on Firestore; the rest run on the shared engine.
_PUSHDOWN: Final = frozenset(
    {
        "$eq",
        "$in",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$all",
        "$size",
        "$elemMatch",
        "$and",
        "$or",
        "$set",
        "$unset",
        "$inc",
        "$addToSet",
    }
)


# The id of the transaction this task last lost, per store (see ``_begin_transaction``).
_retry_ids: ContextVar[Mapping[int, bytes]] = ContextVar(
    "lexigram_nosql_firestore_retry", default=MappingProxyType({})
)


class FirestoreDocumentStore(BaseDocumentStore[FirestoreStoreSettings]):
    """A store on one Firestore database; ``firestore.emulator_host`` (or the environment's
    ``FIRESTORE_EMULATOR_HOST``) points it at the emulator."""

    driver_name = "firestore"

    def __init__(self, settings: FirestoreStoreSettings) -> None:
        super().__init__(settings)
        self._client: Any = None
        # Index specs recorded by create_index, per collection (Firestore indexes single fields
        # itself; composite indexes are deployed with gcloud/Terraform, see the docs).
        self._indexes: dict[str, dict[str, IndexSpec]] = {}
        self._indexes_loaded: set[str] = set()
        # The unique ones among them, per loaded collection: derived from ``_indexes`` and
        # dropped whenever that changes (every write reads them).
        self._unique_indexes: dict[str, tuple[IndexSpec, ...]] = {}
        self._query_slots = asyncio.Semaphore(settings.firestore.max_parallel_queries)
        self._document_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # -- identity ------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            driver=self.driver_name,
            pushdown=_PUSHDOWN,
            # Not operators: values Firestore cannot store (docs/backends/firestore.md), and
            # TTL indexes (Firestore's TTL policies are set with gcloud).
            refused=frozenset({"nested arrays", "BSON-only values", "TTL indexes"}),
            transactions=True,
            unique_indexes=True,
            native_sort=False,
        )

    @property
    def emulator_host(self) -> str | None:
        """The emulator this store talks to, if any (config first, then the environment)."""
        return self._settings.firestore.emulator_host or os.environ.get("FIRESTORE_EMULATOR_HOST")

    @property
    def client(self) -> Any:
        """The ``google.cloud.firestore.AsyncClient`` (for what this package does not cover)."""
        if self._client is None:
            raise StoreStateError(
                f"Store {self.name!r} is not connected; call `await store.connect()` first.",
                store=self.name,
            )
        return self._client

    @property
    def query_slots(self) -> asyncio.Semaphore:
        return self._query_slots

    def document_lock(self, collection: str, doc_id: str) -> asyncio.Lock:
        """A lock per document for this store's guarded writes: writers in this process
        take turns instead of failing each other's preconditions (other processes are
        still caught by the precondition)."""
        key = (collection, doc_id)
        lock = self._document_locks.get(key)
        if lock is None:
            lock = self._document_locks[key] = asyncio.Lock()
        return lock

    def indexes(self, collection: str) -> dict[str, IndexSpec]:
        return self._indexes.setdefault(collection, {})

    async def loaded_indexes(self, collection: str) -> dict[str, IndexSpec]:
        """The collection's indexes, read once per process from ``__lx_indexes`` (where
        ``create_index`` records them), so unique indexes hold across processes."""
        recorded = self.indexes(collection)
        if collection not in self._indexes_loaded:
            for name, spec in (await load_specs(self, collection)).items():
                recorded.setdefault(name, spec)
            self._indexes_loaded.add(collection)
            self._unique_indexes.pop(collection, None)
        return recorded

    def known_unique_indexes(self, collection: str) -> tuple[IndexSpec, ...] | None:
        """The unique indexes of ``collection`` once ``loaded_indexes`` has read them (None
        before: the caller loads them), without a coroutine."""
        if collection not in self._indexes_loaded:
            return None
        known = self._unique_indexes.get(collection)
        if known is None:
            specs = self.indexes(collection).values()
            known = self._unique_indexes[collection] = tuple(s for s in specs if s.unique)
        return known

    async def change_indexes(
        self,
        collection: str,
        change: Callable[[dict[str, IndexSpec]], dict[str, IndexSpec]],
    ) -> dict[str, IndexSpec]:
        """Change the recorded indexes (read afresh: another process may have changed them
        since this one loaded them) and keep what is recorded now."""
        recorded = await change_specs(self, collection, change)
        self._indexes[collection] = dict(recorded)
        self._indexes_loaded.add(collection)
        self._unique_indexes.pop(collection, None)
        return self._indexes[collection]

    def map_exception(self, exc: BaseException) -> NoSQLError | None:
        from lexigram_nosql.backends.firestore.errors import map_firestore_exception

        return map_firestore_exception(exc, self.redact)

    # -- lifecycle -----------------------------------------------------------------------

    async def _connect(self) -> None:
        self._client = self._make_client()
        # Connecting is bounded by connect_timeout_s (the emulator's first answer for a new
        # project can take longer than a health probe is allowed).
        await self._read_ping(self._settings.connect_timeout_s)

    def _make_client(self) -> Any:
        try:
            from google.cloud import firestore
        except ImportError as exc:
            raise ConfigurationError(
                f"Store {self.name!r} uses driver 'firestore', whose client library is not "
                "installed; install it with: pip install 'lexigram-nosql[firestore]'",
                path="driver",
            ) from exc
        section = self._settings.firestore
        emulator = self.emulator_host
        credentials: Any = None
        if emulator is not None:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        elif section.credentials_file is not None:
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                section.credentials_file
            )
        client = firestore.AsyncClient(
            project=section.project, credentials=credentials, database=section.database
        )
        if section.emulator_host is not None:
            # The client reads FIRESTORE_EMULATOR_HOST when it is built; setting its emulator
            # host directly points this store (only) at the emulator without touching the
            # process environment that other stores and libraries share.
            client._emulator_host = section.emulator_host
        _bound_retries(client, section.retry_timeout_s)
        return client

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def _ping(self) -> dict[str, Any]:
        return await self._read_ping(self._settings.health_timeout_s)

    async def _read_ping(self, limit_s: float) -> dict[str, Any]:
        started = time.perf_counter()
        reference = self.client.collection(_HEALTH_COLLECTION).document("ping")
        await reference.get(retry=None, timeout=limit_s)
        section = self._settings.firestore
        return {
            "project": section.project,
            "database": section.database,
            "emulator": self.emulator_host is not None,
            "read_ms": round((time.perf_counter() - started) * 1000, 3),
        }

    # -- collections ---------------------------------------------------------------------

    def _make_collection(self, name: str) -> BaseCollection[Any]:
        return FirestoreCollection(self, name)

    def collection(self, name: str) -> FirestoreCollection:
        """Collection ``name``; a path like ``users/u1/orders`` is that subcollection."""
        coll = super().collection(name)
        return coll  # type: ignore[return-value]

    def _group_source(self, name: str) -> GroupSource:
        """One native collection-group query (see ``group.py``)."""
        return NativeGroup(FirestoreGroupReader(self, name))

    async def _list_collections(self) -> list[str]:
        """Collections holding at least one document, subcollections included (the emulator
        keeps listing a collection after its last document is deleted; Firestore does not).

        Firestore lists subcollections per document only, so this reads the id of every
        document (missing parents of subcollections included): one request per document."""
        found: list[str] = []

        async def visit(reference: Any, path: str) -> None:
            name = name_of_path(path)
            if collection_path(name) != path:
                return  # not a collection of ours (``__lx_unique``, a stray path): nor below
            async with self._query_slots:
                populated = bool([s async for s in reference.limit(1).select([]).stream()])
                documents = [d async for d in reference.list_documents()]
            if populated:
                found.append(name)

            async def under(document: Any) -> None:
                async with self._query_slots:
                    children = [c async for c in document.collections()]
                await asyncio.gather(*(visit(c, f"{path}/{document.id}/{c.id}") for c in children))

            await asyncio.gather(*(under(document) for document in documents))

        roots = [ref async for ref in self.client.collections()]
        await asyncio.gather(*(visit(ref, ref.id) for ref in roots))
        return found

    async def _drop_collection(self, name: str) -> None:
        """Every document, however many: pages of ids (keys only) deleted in batches of
        Firestore's 500-write limit until none is left; then the recorded indexes. Its
        documents' subcollections are other collections, and stay (as on MongoDB)."""
        reference = self.client.collection(collection_path(name))
        deleted = 0
        while True:
            page = [s.reference async for s in reference.select([]).limit(_DROP_PAGE).stream()]
            if not page:
                break
            batch = self.client.batch()
            for document in page:
                batch.delete(document)
            await batch.commit()
            deleted += len(page)
        await delete_guards(self, name, None)
        self._indexes.pop(name, None)
        self._unique_indexes.pop(name, None)
        await forget_specs(self, name)
        logger.debug("Dropped %s.%s (%d documents)", self.name, name, deleted)

    # -- transactions --------------------------------------------------------------------

    async def _begin_transaction(self) -> FirestoreTransaction:
        transaction = self.client.transaction()
        # A task that just lost a commit retries with the lost transaction's id, so Firestore
        # keeps its place in line (older transactions win lock conflicts) and it cannot
        # starve behind newer ones.
        retry_id = _retry_ids.get().get(id(self))
        await transaction._begin(retry_id=retry_id)
        if retry_id is not None:
            _retry_ids.set({k: v for k, v in _retry_ids.get().items() if k != id(self)})
        return FirestoreTransaction(transaction)

    async def _commit_transaction(self, handle: Any) -> None:
        from google.api_core import exceptions as gx

        transaction = handle.transaction
        transaction_id = transaction.id
        try:
            handle.flush()
            await transaction._commit()
        except gx.Aborted as exc:
            handle.release()
            _retry_ids.set({**_retry_ids.get(), id(self): transaction_id})
            raise ConcurrencyError(
                f"A transaction on store {self.name!r} lost to a concurrent one and was "
                "rolled back; nothing was written. Run it again (`store.run_transaction` "
                "re-runs a body for you).",
                store=self.name,
            ) from exc
        except BaseException:
            await self._abort_transaction(handle)
            raise
        handle.release()

    async def _abort_transaction(self, handle: Any) -> None:
        transaction = handle.transaction
        try:
            if transaction.in_progress:
                await transaction._rollback()
        finally:
            handle.release()

    async def run_transaction(
        self, body: Callable[[], Awaitable[T]], *, max_attempts: int | None = None
    ) -> T:
        """Run ``await body()`` inside ``transaction()``, running it again when the commit
        loses to a concurrent transaction (``ConcurrencyError``), with a short jittered
        backoff. The body must be safe to run more than once. Inside an open transaction the
        body simply joins it."""
        if self.current_transaction() is not None:
            return await body()
        attempts = max_attempts or self._settings.firestore.transaction_attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.transaction():
                    return await body()
            except ConcurrencyError:
                if attempt >= attempts:
                    raise
                delay = min(0.05 * 2**attempt, 1.0) * (0.5 + random.random() / 2)
                logger.debug(
                    "Transaction on store %s conflicted (attempt %d of %d); retrying in %.2fs",
                    self.name,
                    attempt,
                    attempts,
                    delay,
                )
                await asyncio.sleep(delay)


def _bound_retries(client: Any, timeout_s: float) -> None:
    """Make every RPC of ``client`` give up retrying after ``timeout_s``.

    The generated Firestore client retries UNAVAILABLE for up to 60 s per call, and some calls
    (``BeginTransaction``, ``Commit`` of a transaction) take no ``retry`` argument, so a stopped
    server would hang an operation for a minute. The per-method default retries live on the
    transport's wrapped methods; each keeps its predicate and backoff, with a shorter overall
    deadline. Per-attempt timeouts are left alone (a long query stream must not be cut).
    """
    gapic = getattr(client._firestore_api, "_client", None)
    wrapped = getattr(getattr(gapic, "_transport", None), "_wrapped_methods", None)
    if not isinstance(wrapped, dict):
        logger.warning(
            "This google-cloud-firestore release keeps its retry settings elsewhere: "
            "firestore.retry_timeout_s is not applied (calls retry for the library's 60 s)"
        )
        return
    for method in wrapped.values():
        retry = getattr(method, "_retry", None)
        if retry is not None and hasattr(retry, "with_timeout"):
            method._retry = retry.with_timeout(timeout_s)
