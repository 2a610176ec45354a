"""``BaseDocumentStore``: what every store shares, written once: lifecycle (connect with a
timeout, lazy connect with backoff, disconnect that never raises), the per-operation wrapper
(deadline, circuit breaker, error translation), collections and collection groups,
transactions held in a context variable, health, and redaction.

A backend subclasses it and implements the ``_`` primitives (``_connect``, ``_close``,
``_make_collection``...). The collection API lives in ``backends/collection.py``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import enum
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar

from lexigram_nosql.backends.breaker import CircuitBreaker, settle
from lexigram_nosql.backends.causes import short_cause
from lexigram_nosql.backends.command_options import with_comment
from lexigram_nosql.backends.deadlines import Deadlines
from lexigram_nosql.backends.group import CollectionGroup, GroupSource, ListedCollections
from lexigram_nosql.backends.guard import ADMIN_OPERATIONS, OperationGuard, StreamGuard
from lexigram_nosql.backends.names import check_collection_name, check_group_name
from lexigram_nosql.backends.sessions import TransactionSession, check_session
from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.contracts import (
    Capabilities,
    StoreHealth,
)
from lexigram_nosql.errors import (
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    OperationTimeoutError,
    StoreStateError,
    StoreUnavailableError,
)
from lexigram_nosql.redaction import Redactor, register_secrets

if TYPE_CHECKING:
    from lexigram_nosql.backends.collection import BaseCollection

__all__ = ["ADMIN_OPERATIONS", "BaseDocumentStore", "ErrorMapper", "StoreState"]

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


class BaseDocumentStore(abc.ABC, Generic[SettingsT]):
    """Lifecycle, transactions, health and redaction for one store; backends fill in the ``_``
    methods."""

    driver_name: ClassVar[str]

    is_connected: bool = False
    """``state is CONNECTED``; a field (kept by ``_become``), not a property: the
    per-operation wrapper reads it on every call. Declared on the class too, where the
    container's structural match of ``DocumentStoreProtocol`` looks for it."""

    def __init__(self, settings: SettingsT) -> None:
        self._settings = settings
        self.settings: Final = settings  # a field: each operation reads its timeout here
        self._state = StoreState.UNOPENED
        self.is_connected = False
        self._redactor = Redactor(settings.secrets())
        register_secrets(settings.secrets())  # for log redaction, where it is installed
        self._collections: dict[str, BaseCollection[Any]] = {}
        self._connect_lock = asyncio.Lock()
        self._next_connect_attempt = 0.0
        self._connect_backoff_s = 0.0
        breaker = settings.circuit_breaker
        # Fields, not properties: the per-operation wrapper reads them on every call.
        self.breaker: Final = (
            None
            if breaker is None
            else CircuitBreaker(settings.name, failures=breaker.failures, reset_s=breaker.reset_s)
        )
        """The circuit breaker (None when ``circuit_breaker: null``)."""
        self.deadlines: Final = Deadlines()

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._settings.name

    @property
    def driver(self) -> str:
        return self.driver_name

    @property
    def state(self) -> StoreState:
        return self._state

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
            self._become(StoreState.CONNECTED)
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
        self._become(StoreState.CLOSED)
        if was_connected:
            await self._safe_close()
            logger.info("Disconnected store %s (%s)", self.name, self.driver)

    def _become(self, state: StoreState) -> None:
        self._state = state
        self.is_connected = state is StoreState.CONNECTED

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
        if self.breaker is not None:  # the breaker paces reconnects
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
        deadline (``timeout_s``, else ``admin_timeout_s`` for index and collection changes,
        else ``operation_timeout_s``) and error translation around one public call. Backends
        adding a public method wrap its body in this."""
        return OperationGuard(self, name, collection, timeout_s)

    def stream(self, name: str, collection: str | None = None) -> StreamGuard:
        """The same for a streamed read, its deadline applying to each batch fetch."""
        return StreamGuard(self, name, collection, self._settings.operation_timeout_s)

    def cause(self, exc: BaseException) -> str:
        """A short, safe cause of ``exc`` (for health, logs and connection errors)."""
        return short_cause(exc, address=self.redact(self._settings.address()))

    def unavailable_error(self, operation: str, collection: str | None) -> StoreUnavailableError:
        """The error of a call refused while the circuit breaker is open."""
        breaker = self.breaker
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
        if operation in ADMIN_OPERATIONS:
            key = "admin_timeout_s"
        within = f"{key}={bound:g}s"
        own = bound < getattr(self._settings, key)  # the call's own max_time_ms, shorter
        if own:
            within = f"max_time_ms={round(bound * 1000)}"
        where = f" on collection {collection!r}" if collection else ""
        error = OperationTimeoutError(
            f"{operation}{where} of store {self.name!r} ({self.driver}) did not finish within "
            f"{within} (driver retries included)",
            operation=operation,
            timeout_s=bound,
            store=self.name,
            collection=collection,
            driver=self.driver,
        )
        if own:  # a bound the caller chose says nothing of the server's health
            settle(error)
        return error

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
        return ListedCollections(self, name)

    async def list_collections(self, session: Any = None, comment: Any = None) -> list[str]:
        """The collections' names, sorted (PyMongo's ``list_collection_names``); ``session``
        checked as every call's. The list is the store's, not a transaction's: MongoDB lists
        no collections inside one, so this reads outside it there."""
        if session is not None:
            check_session(self, session, "list_collections")
        async with self.operation("list_collections"):
            return sorted(await with_comment(comment, self._list_collections()))

    async def drop_collection(self, name: str, session: Any = None, comment: Any = None) -> None:
        """PyMongo's ``drop_collection``; ``session`` as every call's, and, inside a
        transaction, refused where the drop would outlive a rollback (``IndexMethods``)."""
        coll = self.collection(name)
        coll._catalog_change("drop_collection", session)
        async with self.operation("drop_collection", name):
            await with_comment(comment, self._drop_collection(coll.name))

    # -- transactions --------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[TransactionSession]:
        """Every operation of this store inside the block joins one transaction (a context
        variable, so it follows the task); commit on exit, roll back on exception. A nested
        block joins the outer transaction. ``as session`` gives the block's session, which
        calls take as ``session=`` as PyMongo's take its ``ClientSession`` (optional here)."""
        current = self.current_transaction()
        if current is not None:
            yield TransactionSession(self, current)
            return
        async with self.operation("start_transaction"):
            handle = await self._begin_transaction()
        token = _transactions.set({**_transactions.get(), id(self): handle})
        try:
            yield TransactionSession(self, handle)
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
            breaker = self.breaker
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
