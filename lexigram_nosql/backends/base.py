"""What every backend shares, written once: lifecycle, validation, transactions, health,
error translation, redaction, and engine fallbacks.

A backend subclasses ``BaseDocumentStore`` and ``BaseCollection`` and implements the ``_``
primitives. Public methods validate their arguments here (``FilterQuery``/``FindQuery``,
``parse_update``...), so a backend only ever sees valid, parsed input alongside the raw
documents. Defaults built on the engine (``aggregate``, ``distinct``, ``bulk_write``...) can
be overridden where the server does better.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from lexigram_nosql import reads
from lexigram_nosql.backends.breaker import CircuitBreaker
from lexigram_nosql.backends.bulk import (
    UpdateCall,
    bind_update,
    insert_batch,
    run_bulk,
    run_steps,
)
from lexigram_nosql.backends.causes import short_cause
from lexigram_nosql.backends.deadlines import Deadlines
from lexigram_nosql.backends.guard import OperationGuard, StreamGuard
from lexigram_nosql.backends.keys import check_id
from lexigram_nosql.backends.names import check_collection_name, check_group_name
from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.contracts import (
    BulkWriteFailure,
    BulkWriteResult,
    Capabilities,
    DeleteResult,
    IndexInfo,
    InsertManyResult,
    InsertOneResult,
    ReturnDocument,
    StoreHealth,
    UpdateResult,
    WriteOperation,
)
from lexigram_nosql.errors import (
    BulkWriteError,
    ConcurrencyError,
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    OperationTimeoutError,
    StoreStateError,
    StoreUnavailableError,
)
from lexigram_nosql.query.aggregate import parse_pipeline, run_pipeline
from lexigram_nosql.query.ast import FilterNode, ParsedPipeline, Update
from lexigram_nosql.query.limits import Limits, check_pipeline
from lexigram_nosql.query.paths import MISSING, get_values
from lexigram_nosql.query.projection import Projection, parse_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery, parse_sort
from lexigram_nosql.query.update import check_new_document, parse_replacement, parse_update
from lexigram_nosql.query.values import bson_class
from lexigram_nosql.redaction import Redactor, register_secrets
from lexigram_nosql.types import Document, FilterDocument, Pipeline, SortSpec, UpdateDocument

if TYPE_CHECKING:
    from lexigram_nosql.backends.group import CollectionGroup, GroupSource

__all__ = [
    "BaseCollection",
    "BaseDocumentStore",
    "IndexSpec",
    "StoreState",
    "ErrorMapper",
]

logger = logging.getLogger("lexigram_nosql")

SettingsT = TypeVar("SettingsT", bound=StoreSettingsBase)
StoreT = TypeVar("StoreT", bound="BaseDocumentStore[Any]")

ErrorMapper = Callable[[BaseException], NoSQLError | None]
"""Turns a driver exception into ours, or returns None when it is not the driver's."""

# Each store's open transaction handle in this context, keyed by id(store).
_NO_TRANSACTIONS: Mapping[int, Any] = MappingProxyType({})
_transactions: ContextVar[Mapping[int, Any]] = ContextVar(
    "lexigram_nosql_transactions", default=_NO_TRANSACTIONS
)


class StoreState(enum.Enum):
    """Where a store is in its life; using it in the wrong state is a ``StoreStateError``."""

    UNOPENED = "unopened"
    CONNECTED = "connected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A validated ``create_index`` request."""

    keys: tuple[tuple[str, int], ...]
    name: str
    unique: bool = False
    sparse: bool = False
    expire_after_seconds: int | None = None

    @classmethod
    def build(
        cls,
        keys: str | Sequence[tuple[str, int]],
        *,
        unique: bool,
        sparse: bool,
        name: str | None,
        expire_after_seconds: int | None,
    ) -> IndexSpec:
        pairs = parse_sort([(keys, 1)] if isinstance(keys, str) else keys)
        if not pairs:
            raise InvalidQueryError("create_index needs at least one key", operator="create_index")
        if expire_after_seconds is not None and (
            isinstance(expire_after_seconds, bool)
            or not isinstance(expire_after_seconds, int)
            or expire_after_seconds < 0
        ):
            raise InvalidQueryError(
                "expire_after_seconds must be a non-negative integer", operator="create_index"
            )
        default_name = "_".join(f"{path}_{direction}" for path, direction in pairs)
        return cls(pairs, name or default_name, unique, sparse, expire_after_seconds)


class BaseDocumentStore(abc.ABC, Generic[SettingsT]):
    """Lifecycle, transactions, health and redaction for one store; backends fill in the ``_``
    methods."""

    driver_name: ClassVar[str]

    def __init__(self, settings: SettingsT) -> None:
        self._settings = settings
        self._state = StoreState.UNOPENED
        self._redactor = Redactor(settings.secrets())
        register_secrets(settings.secrets())  # for log redaction, where it is installed
        self._collections: dict[str, BaseCollection[Any]] = {}
        self._connect_lock = asyncio.Lock()
        self._next_connect_attempt = 0.0
        self._connect_backoff_s = 0.0
        breaker = settings.circuit_breaker
        self._breaker = (
            None
            if breaker is None
            else CircuitBreaker(settings.name, failures=breaker.failures, reset_s=breaker.reset_s)
        )
        self._deadlines = Deadlines()

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def driver(self) -> str:
        return self.driver_name

    @property
    def settings(self) -> SettingsT:
        return self._settings

    @property
    def state(self) -> StoreState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state is StoreState.CONNECTED

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} driver={self.driver!r} "
            f"state={self._state.value} address={self.redact(self._settings.address())!r}>"
        )

    def redact(self, text: str) -> str:
        """``text`` with this store's secrets and any URI password removed."""
        return self._redactor.scrub(text)

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect, bounded by ``connect_timeout_s``; idempotent while connected."""
        async with self._connect_lock:
            if self._state is StoreState.CONNECTED:
                return
            if self._state is StoreState.CLOSED:
                raise StoreStateError(
                    f"Store {self.name!r} was disconnected; create a new store to reconnect.",
                    store=self.name,
                )
            timeout = self._settings.connect_timeout_s
            try:
                async with asyncio.timeout(timeout):
                    await self._connect()
            except TimeoutError as exc:
                await self._safe_close()
                raise self._connection_error(f"timed out after {timeout:g}s") from exc
            except NoSQLError:
                await self._safe_close()
                raise
            except Exception as exc:
                await self._safe_close()
                mapped = self.map_exception(exc)
                if isinstance(mapped, NoSQLConnectionError) or mapped is None:
                    raise self._connection_error(self.cause(exc)) from exc
                raise mapped from exc
            except BaseException:
                # Cancelled mid-connect (e.g. another store failed at startup): release
                # whatever the driver opened before passing the cancellation on.
                await self._safe_close()
                raise
            self._state = StoreState.CONNECTED
            self._connect_backoff_s = 0.0
            logger.info(
                "Connected store %s (%s) at %s",
                self.name,
                self.driver,
                self.redact(self._settings.address()),
            )

    async def disconnect(self) -> None:
        """Release the connection. Never raises: problems are logged, and the store is closed."""
        if self._state is StoreState.CLOSED:
            return
        was_connected = self._state is StoreState.CONNECTED
        self._state = StoreState.CLOSED
        if was_connected:
            await self._safe_close()
            logger.info("Disconnected store %s (%s)", self.name, self.driver)

    async def __aenter__(self: StoreT) -> StoreT:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    def __del__(self) -> None:
        if getattr(self, "_state", None) is StoreState.CONNECTED:
            warnings.warn(
                f"Store {self._settings.name!r} was garbage-collected while connected; "
                "call `await store.disconnect()` (or use `async with store:`).",
                ResourceWarning,
                stacklevel=2,
            )

    async def ensure_connected(self) -> None:
        """Called before every operation: lazy stores connect here, with backoff after a failure."""
        if self._state is StoreState.CONNECTED:
            return
        if self._state is StoreState.CLOSED:
            raise StoreStateError(
                f"Store {self.name!r} is closed; it cannot be used after disconnect().",
                store=self.name,
            )
        if not self._settings.lazy:
            raise StoreStateError(
                f"Store {self.name!r} is not connected; call `await store.connect()` first "
                "(or set `lazy: true` to connect on first use).",
                store=self.name,
            )
        if self._breaker is not None:  # the breaker paces reconnects
            await self.connect()
            return
        now = time.monotonic()
        if now < self._next_connect_attempt:
            raise self._connection_error("not reachable (retrying with backoff)")
        try:
            await self.connect()
        except NoSQLConnectionError:
            self._connect_backoff_s = min(max(self._connect_backoff_s * 2, 0.5), 30.0)
            self._next_connect_attempt = time.monotonic() + self._connect_backoff_s
            raise

    async def _safe_close(self) -> None:
        try:
            await self._close()
        except Exception as exc:  # shutdown never raises
            logger.warning("Error while closing store %s: %s", self.name, self.redact(repr(exc)))

    def _connection_error(self, reason: str) -> NoSQLConnectionError:
        address = self.redact(self._settings.address())
        return NoSQLConnectionError(
            f"Could not connect store {self.name!r} ({self.driver}) at {address}: {reason}",
            store=self.name,
            driver=self.driver,
            address=address,
        )

    # -- the per-operation wrapper (see backends/guard.py) -------------------------------

    def operation(
        self, name: str, collection: str | None = None, *, timeout_s: float | None = None
    ) -> OperationGuard:
        """``async with store.operation("insert_one", "users"):`` -- breaker, observers,
        deadline (``operation_timeout_s`` unless ``timeout_s``) and error translation around
        one public call. Backends adding a public method wrap its body in this."""
        bound = self._settings.operation_timeout_s if timeout_s is None else timeout_s
        return OperationGuard(self, name, collection, bound)

    def stream(self, name: str, collection: str | None = None) -> StreamGuard:
        """The same for a streamed read, its deadline applying to each batch fetch."""
        return StreamGuard(self, name, collection, self._settings.operation_timeout_s)

    @property
    def breaker(self) -> CircuitBreaker | None:
        """The circuit breaker (None when ``circuit_breaker: null``)."""
        return self._breaker

    @property
    def deadlines(self) -> Deadlines:
        return self._deadlines

    def cause(self, exc: BaseException) -> str:
        """A short, safe cause of ``exc`` (for health, logs and connection errors)."""
        return short_cause(exc, address=self.redact(self._settings.address()))

    def unavailable_error(self, operation: str, collection: str | None) -> StoreUnavailableError:
        """The error of a call refused while the circuit breaker is open."""
        breaker = self._breaker
        assert breaker is not None
        where = f" on collection {collection!r}" if collection else ""
        return StoreUnavailableError(
            f"store {self.name!r} {breaker.describe()} ({breaker.cause}); {operation}{where} "
            "was not sent",
            since=breaker.since or datetime.now(UTC),
            retry_after=breaker.retry_after() or 0.0,
            operation=operation,
            store=self.name,
            collection=collection,
            driver=self.driver,
        )

    def timeout_error(
        self, operation: str, collection: str | None, bound: float
    ) -> OperationTimeoutError:
        """The error of a call that outlived its deadline (``bound`` seconds)."""
        key = "health_timeout_s" if operation == "health_check" else "operation_timeout_s"
        where = f" on collection {collection!r}" if collection else ""
        return OperationTimeoutError(
            f"{operation}{where} of store {self.name!r} ({self.driver}) did not finish within "
            f"{key}={bound:g}s (driver retries included)",
            operation=operation,
            timeout_s=bound,
            store=self.name,
            collection=collection,
            driver=self.driver,
        )

    def translate(self, exc: BaseException, *, collection: str | None = None) -> BaseException:
        """Our error for a driver exception (store and collection attached), or ``exc``."""
        if isinstance(exc, NoSQLError):
            if exc.store is None:
                exc.store = self.name
            if exc.collection is None:
                exc.collection = collection
            return exc
        if not isinstance(exc, Exception):
            return exc
        mapped = self.map_exception(exc)
        if mapped is None:
            if not isinstance(exc, (ConnectionError, TimeoutError)):
                return exc
            mapped = self._connection_error(self.cause(exc))
        mapped.store = mapped.store or self.name
        mapped.collection = mapped.collection or collection
        return mapped

    # -- collections ---------------------------------------------------------------------

    def collection(self, name: str) -> BaseCollection[Any]:
        """The handle on collection ``name`` (created on first write where the backend needs);
        any name MongoDB accepts, a subcollection path like ``users/u1/orders`` included."""
        coll = self._collections.get(name) if isinstance(name, str) else None
        if coll is None:
            check_collection_name(name, store=self.name)
            coll = self._collections[name] = self._make_collection(name)
        return coll

    def collection_group(self, name: str, *, path_field: str | None = None) -> CollectionGroup:
        """A read-only view over every collection whose last path segment is ``name``
        (top-level ``name`` included): ``find``, ``find_one``, ``count_documents``,
        ``distinct``, ``aggregate``. With ``path_field`` (e.g. ``"_path"``) every document
        read carries its full path, ``"<collection>/<_id>"``; without, the documents of a
        request that names ``_path`` (e.g. ``projection={"_path": 1}``) do."""
        from lexigram_nosql.backends.group import CollectionGroup

        check_group_name(name, store=self.name)
        if path_field is not None and (
            not isinstance(path_field, str)
            or not path_field
            or path_field.startswith("$")
            or "." in path_field
            or path_field == "_id"
        ):
            raise InvalidQueryError(
                f"path_field must be a top-level field name other than _id (e.g. '_path'), "
                f"got {path_field!r}",
                store=self.name,
                path="path_field",
            )
        return CollectionGroup(self, name, self._group_source(name), path_field=path_field)

    def _group_source(self, name: str) -> GroupSource:
        """Where group ``name`` reads from: the union of its collections, listed from the
        store; a backend with native group queries overrides this."""
        from lexigram_nosql.backends.group import ListedCollections

        return ListedCollections(self, name)

    async def list_collections(self) -> list[str]:
        async with self.operation("list_collections"):
            return sorted(await self._list_collections())

    async def drop_collection(self, name: str) -> None:
        coll = self.collection(name)
        async with self.operation("drop_collection", name):
            await self._drop_collection(coll.name)

    # -- transactions --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Every operation of this store inside the block joins one transaction (a context
        variable, so it follows the task); commit on exit, roll back on exception. A nested
        block joins the outer transaction."""
        if self.current_transaction() is not None:
            yield
            return
        async with self.operation("start_transaction"):
            handle = await self._begin_transaction()
        token = _transactions.set({**_transactions.get(), id(self): handle})
        try:
            yield
        except BaseException:
            _transactions.reset(token)
            try:
                async with self.operation("abort_transaction"):
                    await self._abort_transaction(handle)
            except Exception as abort_exc:
                logger.warning(
                    "Rolling back a transaction on store %s failed: %s",
                    self.name,
                    self.redact(repr(abort_exc)),
                )
            raise
        _transactions.reset(token)
        async with self.operation("commit_transaction"):
            await self._commit_transaction(handle)

    def current_transaction(self) -> Any:
        """This store's transaction handle in the current context, or None."""
        return _transactions.get().get(id(self))

    # -- health --------------------------------------------------------------------------

    async def health_check(self) -> StoreHealth:
        """Ping the server, bounded by ``health_timeout_s``; never raises. While the circuit
        breaker is open it answers at once from the breaker's state (after ``reset_s`` the
        ping is the breaker's trial call). A failure's cause is short and safe."""
        started = time.perf_counter()
        checked_at = datetime.now(UTC)
        try:
            async with self.operation("health_check", timeout_s=self._settings.health_timeout_s):
                details = await self._ping()
        except StoreUnavailableError:
            breaker = self._breaker
            error = f"{breaker.cause} ({breaker.describe()})" if breaker else "unavailable"
            return self._health("fail", started, checked_at, {}, error)
        except OperationTimeoutError as exc:
            error = f"timeout after {exc.timeout_s:g}s"
            return self._health("fail", started, checked_at, {}, error)
        except Exception as exc:
            return self._health("fail", started, checked_at, {}, self.cause(exc))
        return self._health("pass", started, checked_at, details, None)

    def _health(
        self,
        status: Any,
        started: float,
        checked_at: datetime,
        details: dict[str, Any],
        error: str | None,
    ) -> StoreHealth:
        return StoreHealth(
            store=self.name,
            driver=self.driver,
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            checked_at=checked_at,
            details=details,
            error=error,
        )

    # -- error translation ---------------------------------------------------------------

    def map_exception(self, exc: BaseException) -> NoSQLError | None:
        """Translate a driver exception; backends override with their mapping table."""
        return None

    @contextlib.contextmanager
    def translate_errors(self, *, collection: str | None = None) -> Iterator[None]:
        """Re-raise driver exceptions as ours (redacted), with the store and collection named
        (for backend code outside ``operation``)."""
        try:
            yield
        except Exception as exc:
            error = self.translate(exc, collection=collection)
            if error is exc:
                raise
            raise error from exc

    # -- backend primitives --------------------------------------------------------------

    @abc.abstractmethod
    async def _connect(self) -> None: ...

    @abc.abstractmethod
    async def _close(self) -> None: ...

    @abc.abstractmethod
    async def _ping(self) -> dict[str, Any]:
        """A cheap round trip; returns details for the health report (version...)."""

    @abc.abstractmethod
    def _make_collection(self, name: str) -> BaseCollection[Any]: ...

    @abc.abstractmethod
    async def _list_collections(self) -> list[str]: ...

    @abc.abstractmethod
    async def _drop_collection(self, name: str) -> None: ...

    @abc.abstractmethod
    async def _begin_transaction(self) -> Any: ...

    @abc.abstractmethod
    async def _commit_transaction(self, handle: Any) -> None: ...

    @abc.abstractmethod
    async def _abort_transaction(self, handle: Any) -> None: ...


class BaseCollection(abc.ABC, Generic[StoreT]):
    """Validation and engine-backed defaults for one collection; backends implement the
    ``_`` primitives and override defaults where the server does better."""

    def __init__(self, store: StoreT, name: str) -> None:
        self._store = store
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def store(self) -> StoreT:
        return self._store

    def __repr__(self) -> str:
        return f"<{type(self).__name__} store={self._store.name!r} name={self._name!r}>"

    @property
    def _limits(self) -> Limits:
        """The store's bounds on user-supplied filters and pipelines."""
        limits: Limits = self._store.settings.query_limits
        return limits

    def _operation(self, name: str) -> OperationGuard:
        """The store's per-operation wrapper for this collection (see ``store.operation``)."""
        return self._store.operation(name, self._name)

    # -- writes --------------------------------------------------------------------------

    async def insert_one(self, document: Document) -> InsertOneResult:
        doc = self._check_document(document)
        async with self._operation("insert_one"):
            ids = await self._insert([doc])
        return InsertOneResult(ids[0])

    async def insert_many(
        self, documents: Sequence[Document], *, ordered: bool = True
    ) -> InsertManyResult:
        """Insert in order. A refused document raises ``BulkWriteError`` carrying what was
        written: ordered, the documents after it are not attempted; with ``ordered=False``
        every other document is still inserted."""
        if isinstance(documents, Mapping) or not isinstance(documents, Sequence):
            raise InvalidQueryError("insert_many takes a list of documents", collection=self._name)
        docs = [self._check_document(d) for d in documents]
        if not docs:
            return InsertManyResult([])
        async with self._operation("insert_many"):
            ids, failures = await self._insert_all(docs, ordered=ordered)
        if failures:
            result = BulkWriteResult(inserted_count=len(ids))
            errors = [BulkWriteFailure(i, exc, documents[i]) for i, exc in failures]
            raise BulkWriteError.build(
                result, errors, store=self._store.name, collection=self._name
            )
        return InsertManyResult(ids)

    async def update_one(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        *,
        upsert: bool = False,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        sort: SortSpec | None = None,
    ) -> UpdateResult:
        call = self._update_call(
            "update_one", filter, update, upsert=upsert, array_filters=array_filters, sort=sort
        )
        async with self._operation("update_one"):
            return await self._run_update(call)

    async def update_many(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        *,
        upsert: bool = False,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> UpdateResult:
        call = self._update_call(
            "update_many", filter, update, upsert=upsert, array_filters=array_filters, multi=True
        )
        async with self._operation("update_many"):
            return await self._run_update(call)

    async def replace_one(
        self,
        filter: FilterDocument,
        replacement: Document,
        *,
        upsert: bool = False,
        sort: SortSpec | None = None,
    ) -> UpdateResult:
        call = self._update_call("replace_one", filter, replacement, upsert=upsert, sort=sort)
        async with self._operation("replace_one"):
            return await self._run_update(call)

    async def delete_one(self, filter: FilterDocument) -> DeleteResult:
        query = FilterQuery.build(self._need_filter(filter), limits=self._limits)
        async with self._operation("delete_one"):
            return await self._delete(query, multi=False)

    async def delete_many(self, filter: FilterDocument) -> DeleteResult:
        query = FilterQuery.build(self._need_filter(filter), limits=self._limits)
        async with self._operation("delete_many"):
            return await self._delete(query, multi=True)

    async def find_one_and_update(
        self,
        filter: FilterDocument,
        update: UpdateDocument,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument = ReturnDocument.BEFORE,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Document | None:
        query = FindQuery.build(
            self._need_filter(filter), projection=projection, sort=sort, limits=self._limits
        )
        parsed = bind_update(
            parse_update(update, array_filters=array_filters, method="find_one_and_update"),
            query.filter,
            array_filters,
        )
        async with self._operation("find_one_and_update"):
            return await self._find_one_and_modify(
                query, parsed, _raw(update), upsert=upsert, return_document=return_document
            )

    async def find_one_and_replace(
        self,
        filter: FilterDocument,
        replacement: Document,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: SortSpec | None = None,
        upsert: bool = False,
        return_document: ReturnDocument = ReturnDocument.BEFORE,
    ) -> Document | None:
        query = FindQuery.build(
            self._need_filter(filter), projection=projection, sort=sort, limits=self._limits
        )
        parsed = parse_replacement(replacement, method="find_one_and_replace")
        async with self._operation("find_one_and_replace"):
            return await self._find_one_and_modify(
                query, parsed, replacement, upsert=upsert, return_document=return_document
            )

    async def find_one_and_delete(
        self,
        filter: FilterDocument,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: SortSpec | None = None,
    ) -> Document | None:
        query = FindQuery.build(
            self._need_filter(filter), projection=projection, sort=sort, limits=self._limits
        )
        async with self._operation("find_one_and_delete"):
            return await self._find_one_and_modify(
                query, None, None, upsert=False, return_document=ReturnDocument.BEFORE
            )

    async def bulk_write(
        self, operations: Sequence[WriteOperation], *, ordered: bool = True
    ) -> BulkWriteResult:
        """Run the operations (each atomic on its own; inside ``transaction()`` all
        together). Every operation is validated before the first write. A failed operation
        raises ``BulkWriteError`` with what was done: ordered, the ones after it are not
        attempted; with ``ordered=False`` every other operation still runs."""
        return await run_bulk(self, operations, ordered=ordered)

    def _update_call(
        self,
        method: str,
        filter: FilterDocument,
        update: Any,
        *,
        upsert: bool,
        array_filters: Sequence[Mapping[str, Any]] | None = None,
        sort: SortSpec | None = None,
        multi: bool = False,
    ) -> UpdateCall:
        """Validate one update or replace request (nothing is sent)."""
        query = FilterQuery.build(self._need_filter(filter), limits=self._limits)
        if method in ("replace_one", "ReplaceOne"):
            parsed: Update = parse_replacement(update, method=method)
        else:
            parsed = bind_update(
                parse_update(update, array_filters=array_filters, method=method),
                query,
                array_filters,
            )
        order = parse_sort(sort)
        if not isinstance(upsert, bool):
            raise InvalidQueryError(f"{method}: upsert must be True or False, got {upsert!r}")
        return UpdateCall(query, parsed, _raw(update), multi, upsert, order)

    async def _run_update(self, call: UpdateCall) -> UpdateResult:
        if call.sort:
            return await self._update_first_in_order(call)
        return await self._update(
            call.query, call.update, call.raw, multi=call.multi, upsert=call.upsert
        )

    async def _write_bulk(
        self, operations: Sequence[WriteOperation], steps: list[Any], *, ordered: bool
    ) -> tuple[BulkWriteResult, list[BulkWriteFailure]]:
        """Run a validated bulk (``steps``: each operation's validated form); what was done
        and the failures. The engine's way by default; a server with a bulk command
        overrides it."""
        return await run_steps(self, operations, steps, ordered=ordered)

    async def _insert_all(
        self, documents: list[Document], *, ordered: bool
    ) -> tuple[list[Any], list[tuple[int, NoSQLError]]]:
        """Insert ``documents`` (validated copies), past refused ones unless ``ordered``: the
        ids inserted and the failures by position. The default makes as few ``_insert`` calls
        as the failures allow; a server that goes on past errors itself overrides it."""
        return await insert_batch(self, documents, ordered=ordered)

    async def _update_first_in_order(self, call: UpdateCall) -> UpdateResult:
        """``update_one``/``replace_one`` with ``sort``: the first match in that order is
        updated (MongoDB 8.0). The engine's way: find its ``_id``, then update it under the
        same filter, again if another writer made it stop matching meanwhile."""
        for _ in range(_SORTED_UPDATE_ATTEMPTS):
            first = await self._find_one(FindQuery(call.query, _ID_ONLY, call.sort, 0, 1))
            if first is None:
                return await self._update(
                    call.query, call.update, call.raw, multi=False, upsert=call.upsert
                )
            pinned = FilterQuery.build({"$and": [call.query.raw, {"_id": first["_id"]}]})
            result = await self._update(pinned, call.update, call.raw, multi=False, upsert=False)
            if result.matched_count:
                return result
        raise ConcurrencyError(
            f"update_one with sort on collection {self._name!r} kept losing races with other "
            "writers; retry later",
            store=self._store.name,
            collection=self._name,
        )

    # -- reads ---------------------------------------------------------------------------

    async def find_one(
        self,
        filter: FilterDocument | None = None,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: SortSpec | None = None,
        skip: int = 0,
    ) -> Document | None:
        query = FindQuery.build(
            filter, projection=projection, sort=sort, skip=skip, limit=1, limits=self._limits
        )
        async with self._operation("find_one"):
            if skip:  # backends' fast paths (a get by _id) have no notion of skipping
                document = await BaseCollection._find_one(self, query)
            else:
                document = await self._find_one(query)
            report = reads.current_report()
            if report is not None:
                report.items_returned = 0 if document is None else 1
            return document

    def find(
        self,
        filter: FilterDocument | None = None,
        *,
        projection: Mapping[str, Any] | None = None,
        sort: SortSpec | None = None,
        skip: int = 0,
        limit: int = 0,
        batch_size: int | None = None,
    ) -> AsyncIterator[Document]:
        """Stream matching documents. Arguments are validated here, before iteration starts."""
        query = FindQuery.build(
            filter,
            projection=projection,
            sort=sort,
            skip=skip,
            limit=limit,
            batch_size=batch_size,
            limits=self._limits,
        )
        return self._stream("find", lambda: self._find(query))

    async def count_documents(
        self, filter: FilterDocument | None = None, *, skip: int = 0, limit: int = 0
    ) -> int:
        """How many documents match, after skipping ``skip`` of them and counting at most
        ``limit`` (0: no limit), as PyMongo's ``count_documents``."""
        query = FilterQuery.build(filter, limits=self._limits)
        FindQuery.build(None, skip=skip, limit=limit)  # validates skip and limit
        async with self._operation("count_documents"):
            count = await self._count(query)
        count = max(count - skip, 0)
        return min(count, limit) if limit else count

    async def estimated_document_count(self) -> int:
        """The number of documents in the collection. Exact on every backend here (DynamoDB's
        and Firestore's cheap estimates lag or are missing), so never below what was written."""
        async with self._operation("estimated_document_count"):
            return await self._estimated_count()

    async def distinct(self, key: str, filter: FilterDocument | None = None) -> list[Any]:
        if not isinstance(key, str) or not key or key.startswith("$"):
            raise InvalidQueryError(
                f"distinct key must be a field path, got {key!r}", path=str(key)
            )
        query = FilterQuery.build(filter, limits=self._limits)
        async with self._operation("distinct"):
            return await self._distinct(key, query)

    def aggregate(self, pipeline: Pipeline) -> AsyncIterator[Document]:
        """Stream the pipeline's output. The pipeline is validated here, before iteration."""
        check_pipeline(pipeline, self._limits)
        parsed = parse_pipeline(pipeline)
        return self._stream("aggregate", lambda: self._aggregate(parsed))

    async def _stream(
        self, name: str, open_stream: Callable[[], AsyncIterator[Document]]
    ) -> AsyncIterator[Document]:
        guard = self._store.stream(name, self._name)
        await guard.open()
        report = guard.report  # None unless observed
        if report is not None:
            report.items_returned = 0
        iterator: AsyncIterator[Document] | None = None
        try:
            iterator = open_stream()
            while True:
                guard.fetching()
                # The backend notes its plan while it runs: make the report current there.
                token = None if report is None else reads.reporting(report)
                try:
                    document = await anext(iterator)
                except StopAsyncIteration:
                    guard.fetched()
                    return
                except BaseException as exc:
                    guard.failed(exc)
                finally:
                    if token is not None:
                        reads.done(token)
                guard.fetched()
                if report is not None:
                    report.items_returned = (report.items_returned or 0) + 1
                yield document
        finally:
            guard.close()
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    # -- indexes -------------------------------------------------------------------------

    async def create_index(
        self,
        keys: str | Sequence[tuple[str, int]],
        *,
        unique: bool = False,
        sparse: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
    ) -> str:
        spec = IndexSpec.build(
            keys, unique=unique, sparse=sparse, name=name, expire_after_seconds=expire_after_seconds
        )
        async with self._operation("create_index"):
            return await self._create_index(spec)

    async def list_indexes(self) -> list[IndexInfo]:
        async with self._operation("list_indexes"):
            return await self._list_indexes()

    async def drop_index(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidQueryError(f"index name must be a non-empty string, got {name!r}")
        async with self._operation("drop_index"):
            await self._drop_index(name)

    # -- validation helpers --------------------------------------------------------------

    def _check_document(self, document: Any) -> Document:
        if not isinstance(document, Mapping):
            raise InvalidQueryError(
                f"A document must be a mapping, got {type(document).__name__}",
                collection=self._name,
            )
        # One pass over the values (which also puts datetimes in their stored form); the
        # caller's dict is never kept.
        try:
            stored = cast(Document, check_new_document(document))
            if stored is document:
                stored = dict(document)
            if "_id" in stored:
                check_id(stored["_id"])
                if bson_class(stored["_id"]) == "ObjectId":
                    # The id policy: ObjectIds are handled as their 24-hex strings (the
                    # MongoDB backend sends such a string as the ObjectId it spells).
                    stored["_id"] = str(stored["_id"])
        except InvalidQueryError as exc:
            exc.collection = exc.collection or self._name
            raise
        return stored

    def _need_filter(self, filter: FilterDocument | None) -> FilterDocument:
        if filter is None:
            return {}
        if not isinstance(filter, Mapping):
            raise InvalidQueryError(
                f"A filter must be a mapping, got {type(filter).__name__}", collection=self._name
            )
        return filter

    # -- engine-backed defaults ----------------------------------------------------------

    async def _find_one(self, query: FindQuery) -> Document | None:
        iterator = self._find(query)
        try:
            async for document in iterator:
                return document
            return None
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _estimated_count(self) -> int:
        return await self._count(FilterQuery.build(None))

    async def _count(self, query: FilterQuery) -> int:
        count = 0
        async for _ in self._find(FindQuery(query, _ID_ONLY)):
            count += 1
        return count

    async def _distinct(self, key: str, query: FilterQuery) -> list[Any]:
        from lexigram_nosql.query.ordering import sort_key

        seen: dict[Any, Any] = {}
        async for document in self._find(FindQuery(query, parse_projection({key: 1}))):
            for value in get_values(document, key):
                if value is MISSING:
                    continue
                values = value if isinstance(value, list) else [value]
                for item in values:
                    seen.setdefault(_hashable(item), item)
        return sorted(seen.values(), key=sort_key)

    def _aggregate(self, pipeline: ParsedPipeline) -> AsyncIterator[Document]:
        """Push a leading ``$match`` into ``find``, run the rest on the engine."""
        stages = pipeline.stages
        node: FilterNode | None = None
        raw: Mapping[str, Any] = {}
        if stages and stages[0].name == "$match":
            node, raw = stages[0].parsed, stages[0].raw["$match"]
            stages = stages[1:]
        source = self._find(FindQuery(FilterQuery(node, raw) if node else FilterQuery.build(None)))
        return run_pipeline(ParsedPipeline(stages), source, lookup=self._lookup_source)

    def _lookup_source(self, name: str) -> AsyncIterator[Document]:
        return self._store.collection(name)._find(FindQuery.build(None))

    # -- backend primitives --------------------------------------------------------------

    @abc.abstractmethod
    async def _insert(self, documents: list[Document]) -> list[Any]:
        """Insert (documents are validated copies; assign ``_id`` where missing); return ids.

        In order, as MongoDB's ordered insert: a refused document (a duplicate ``_id`` or
        unique key raises ``DuplicateKeyError``) stops the batch, the ones before it stay
        written, and the error's ``request_index`` says its position in ``documents``.
        Refusals made while encoding, before anything is sent, carry no position."""

    @abc.abstractmethod
    def _find(self, query: FindQuery) -> AsyncIterator[Document]:
        """Stream matching documents, honouring projection, sort, skip and limit."""

    @abc.abstractmethod
    async def _update(
        self,
        query: FilterQuery,
        update: Update,
        raw: Mapping[str, Any],
        *,
        multi: bool,
        upsert: bool,
    ) -> UpdateResult: ...

    @abc.abstractmethod
    async def _delete(self, query: FilterQuery, *, multi: bool) -> DeleteResult: ...

    @abc.abstractmethod
    async def _find_one_and_modify(
        self,
        query: FindQuery,
        update: Update | None,
        raw: Mapping[str, Any] | None,
        *,
        upsert: bool,
        return_document: ReturnDocument,
    ) -> Document | None:
        """Atomically update (or, with ``update=None``, delete) the first match in sort order
        and return it before or after, projected."""

    @abc.abstractmethod
    async def _create_index(self, spec: IndexSpec) -> str: ...

    @abc.abstractmethod
    async def _list_indexes(self) -> list[IndexInfo]: ...

    @abc.abstractmethod
    async def _drop_index(self, name: str) -> None: ...


_ID_ONLY = Projection(paths=(), include=True, include_id=True, raw={"_id": 1})
_SORTED_UPDATE_ATTEMPTS = 8


def _raw(update: Any) -> Any:
    """The user's update as the server receives it (a pipeline as a list)."""
    return list(update) if isinstance(update, tuple) else update


def _hashable(value: Any) -> Any:
    """A hashable stand-in for a value, for de-duplication in ``distinct``."""
    if isinstance(value, dict):
        return ("__doc__", tuple((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("__list__", tuple(_hashable(v) for v in value))
    if isinstance(value, bool):
        return ("__bool__", value)
    return value
