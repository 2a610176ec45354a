"""The exceptions this package raises.

Every error leaving the package is one of these; driver exceptions are translated at the
backend boundary (``raise Ours(...) from exc``) so callers never catch a driver type::

    NoSQLError
    ├── NoSQLConnectionError
    │   ├── OperationTimeoutError
    │   └── StoreUnavailableError
    ├── ConfigurationError
    ├── ResolutionError
    ├── StoreStateError
    ├── QueryError
    │   ├── InvalidQueryError
    │   │   ├── QueryLimitError
    │   │   └── UpdateMismatchError (also a WriteError)
    │   ├── UnsupportedQueryError
    │   └── RegexTimeoutError
    ├── WriteError
    │   ├── BulkWriteError
    │   ├── DuplicateKeyError
    │   ├── DocumentNotFoundError
    │   │   └── DocumentDeletedError
    │   ├── ConcurrencyError
    │   └── DocumentTooLargeError
    ├── TransactionError
    └── MigrationError

Context (store, collection, key path, operator) is attached as attributes as well as being
named in the message, so handlers can act on it without parsing text.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lexigram_nosql.contracts import BulkWriteFailure, BulkWriteResult

__all__ = [
    "BulkWriteError",
    "ConcurrencyError",
    "ConfigurationError",
    "DocumentDeletedError",
    "DocumentNotFoundError",
    "DocumentTooLargeError",
    "DuplicateKeyError",
    "InvalidQueryError",
    "MigrationError",
    "NoSQLConnectionError",
    "NoSQLError",
    "OperationTimeoutError",
    "QueryError",
    "QueryLimitError",
    "RegexTimeoutError",
    "ResolutionError",
    "StoreStateError",
    "StoreUnavailableError",
    "TransactionError",
    "UnsupportedQueryError",
    "UpdateMismatchError",
    "WriteError",
]


DUPLICATE_KEY = 11000
"""MongoDB's duplicate-key error code, carried by every ``DuplicateKeyError``."""


class NoSQLError(Exception):
    """Base class of every error raised by lexigram-nosql."""

    def __init__(
        self,
        message: str,
        *,
        store: str | None = None,
        collection: str | None = None,
        code: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.store = store
        self.collection = collection
        self.code = code


class NoSQLConnectionError(NoSQLError):
    """A store could not be reached, or lost its connection (network, timeout, selection).

    ``retry_after`` is the number of seconds until the store's circuit breaker lets a call
    through again (what an HTTP ``Retry-After`` header should say), or None when it is closed.
    """

    def __init__(
        self,
        message: str,
        *,
        store: str | None = None,
        collection: str | None = None,
        code: int | str | None = None,
        driver: str | None = None,
        address: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection, code=code)
        self.driver = driver
        self.address = address
        self.retry_after = retry_after


class OperationTimeoutError(NoSQLConnectionError):
    """A call did not finish within its store's ``operation_timeout_s`` (driver retries
    included); ``operation`` names it and ``timeout_s`` is the bound."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        timeout_s: float,
        store: str | None = None,
        collection: str | None = None,
        driver: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection, driver=driver)
        self.operation = operation
        self.timeout_s = timeout_s


class StoreUnavailableError(NoSQLConnectionError):
    """The store's circuit breaker is open: the call failed at once, without reaching the
    server; ``since`` is when it opened and ``retry_after`` when the next trial call goes."""

    def __init__(
        self,
        message: str,
        *,
        since: datetime,
        retry_after: float,
        operation: str | None = None,
        store: str | None = None,
        collection: str | None = None,
        driver: str | None = None,
    ) -> None:
        super().__init__(
            message, store=store, collection=collection, driver=driver, retry_after=retry_after
        )
        self.since = since
        self.operation = operation


class ConfigurationError(NoSQLError):
    """The ``nosql`` configuration is invalid; ``path`` names the offending key."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ResolutionError(NoSQLError):
    """The container cannot build what was asked: unknown store name, unannotated or
    uninjectable constructor parameter, abstract class, or a dependency cycle."""

    def __init__(
        self,
        message: str,
        *,
        target: Any = None,
        parameter: str | None = None,
        annotation: Any = None,
        store: str | None = None,
    ) -> None:
        super().__init__(message, store=store)
        self.target = target
        self.parameter = parameter
        self.annotation = annotation


class StoreStateError(NoSQLError):
    """A store was used in a state that does not allow it (not connected, already closed)."""


class QueryError(NoSQLError):
    """Base class of errors about a filter, update, projection or pipeline document."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        operator: str | None = None,
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection)
        self.path = path
        self.operator = operator


class InvalidQueryError(QueryError):
    """A query document is malformed: unknown operator, wrong operand type, forbidden JavaScript."""


class QueryLimitError(InvalidQueryError):
    """A query document is over one of the store's ``query_limits`` (``limit`` names it,
    ``value`` is what the document had); nothing was sent."""

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        value: int,
        path: str | None = None,
        operator: str | None = None,
    ) -> None:
        super().__init__(message, path=path, operator=operator)
        self.limit = limit
        self.value = value


class RegexTimeoutError(QueryError):
    """A ``$regex`` evaluated by the engine ran over its time budget (catastrophic
    backtracking); ``pattern`` names it. The operation stopped: a write changed nothing."""

    def __init__(self, message: str, *, pattern: str) -> None:
        super().__init__(message, operator="$regex")
        self.pattern = pattern


class UnsupportedQueryError(QueryError):
    """A valid query that this backend cannot run exactly; ``backend`` names it."""

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        path: str | None = None,
        operator: str | None = None,
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, path=path, operator=operator, store=store, collection=collection)
        self.backend = backend


class WriteError(NoSQLError):
    """Base class of errors raised when a write is refused."""

    request_index: int | None = None
    """Where a backend refused one document of a batch it was given: its position there (the
    documents before it were written, it and those after were not)."""


class UpdateMismatchError(InvalidQueryError, WriteError):
    """The update does not fit the stored document: ``$inc`` of a string, a field created
    inside a scalar, a changed ``_id`` (MongoDB's TypeMismatch, PathNotViable and
    ImmutableField errors). Nothing was written. It is both an ``InvalidQueryError`` and a
    ``WriteError``, on every backend, whether the server or the engine found it."""


class DuplicateKeyError(WriteError):
    """A write would break a unique index (``_id`` included); names the index and key
    (``code`` is MongoDB's 11000 unless the server said otherwise)."""

    def __init__(
        self,
        message: str,
        *,
        index: str | None = None,
        key: Any = None,
        store: str | None = None,
        collection: str | None = None,
        code: int | str | None = None,
    ) -> None:
        # MongoDB's code on every backend, so `except ...: if exc.code == 11000` ports as is.
        super().__init__(
            message,
            store=store,
            collection=collection,
            code=DUPLICATE_KEY if code is None else code,
        )
        self.index = index
        self.key = key

    @property
    def details(self) -> dict[str, Any]:
        """The error as PyMongo's ``DuplicateKeyError.details`` spells it: ``code``,
        ``errmsg``, and ``keyValue`` (``{field: value}``) where the key is known."""
        found: dict[str, Any] = {"code": self.code, "errmsg": self.message}
        if isinstance(self.key, dict):
            found["keyValue"] = dict(self.key)
        return found


class DocumentNotFoundError(WriteError):
    """An operation required a document that does not exist."""

    def __init__(
        self,
        message: str,
        *,
        key: Any = None,
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection)
        self.key = key


class DocumentDeletedError(DocumentNotFoundError):
    """A repository write targeted a soft-deleted document; ``restore()`` it first."""


class ConcurrencyError(WriteError):
    """An optimistic check failed: the document changed since it was read."""

    def __init__(
        self,
        message: str,
        *,
        key: Any = None,
        expected_version: Any = None,
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection)
        self.key = key
        self.expected_version = expected_version


class DocumentTooLargeError(WriteError):
    """A document exceeds the backend's size limit; raised before any request is sent."""


class BulkWriteError(WriteError):
    """Some requests of a ``bulk_write`` or ``insert_many`` failed.

    ``result`` is the ``BulkWriteResult`` of what was written; ``errors`` has one
    ``BulkWriteFailure`` per failed request. An ordered bulk stops at its first failure, an
    unordered one attempts every request. The instance is also of the first failure's class,
    so ``except DuplicateKeyError`` still catches a duplicate inside a batch."""

    def __init__(
        self,
        message: str,
        *,
        result: BulkWriteResult,
        errors: list[BulkWriteFailure],
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection)
        self.result = result
        self.errors = errors

    @property
    def details(self) -> dict[str, Any]:
        """The failure as PyMongo's ``BulkWriteError.details`` spells it."""
        return {
            **self.result.bulk_api_result,
            "writeErrors": [
                {
                    "index": f.index,
                    "code": f.code,
                    "errmsg": f.message,
                    "op": f.operation,
                    **_key_value(f.error),
                }
                for f in self.errors
            ],
        }

    @classmethod
    def build(
        cls,
        result: BulkWriteResult,
        errors: list[BulkWriteFailure],
        *,
        store: str | None = None,
        collection: str | None = None,
    ) -> BulkWriteError:
        """A ``BulkWriteError`` that is also an instance of the first failure's class (with
        its attributes: ``index``, ``key``, ``path``...)."""
        first = errors[0].error
        kind = _bulk_class(type(first))
        others = f" (and {len(errors) - 1} more failed requests)" if len(errors) > 1 else ""
        message = (
            f"Bulk write failed at request {errors[0].index}: {first.message}{others}; "
            f"{result.inserted_count} inserted, {result.matched_count} matched, "
            f"{result.modified_count} modified, {result.deleted_count} deleted, "
            f"{result.upserted_count} upserted before or besides the failures"
        )
        error = kind.__new__(kind)
        Exception.__init__(error, message)
        error.__dict__.update(first.__dict__)
        error.message = message
        error.store = store or first.store
        error.collection = collection or first.collection
        error.result = result
        error.errors = errors
        return error


_BULK_CLASSES: dict[type[NoSQLError], type[BulkWriteError]] = {}


def _bulk_class(kind: type[NoSQLError]) -> type[BulkWriteError]:
    if issubclass(kind, BulkWriteError):
        return kind
    made = _BULK_CLASSES.get(kind)
    if made is None:
        if kind is WriteError or kind is NoSQLError:
            made = BulkWriteError
        else:
            made = type(f"Bulk{kind.__name__}", (BulkWriteError, kind), {"__module__": __name__})
        _BULK_CLASSES[kind] = made
    return made


class TransactionError(NoSQLError):
    """A transaction could not be started, committed or rolled back."""


class MigrationError(NoSQLError):
    """A migration failed, changed after it was applied, cannot be rolled back, or the
    migration lock could not be taken; ``migration_id`` names it when there is one."""

    def __init__(
        self,
        message: str,
        *,
        migration_id: str | None = None,
        store: str | None = None,
        collection: str | None = None,
    ) -> None:
        super().__init__(message, store=store, collection=collection)
        self.migration_id = migration_id


def _key_value(error: NoSQLError) -> dict[str, Any]:
    """A duplicate's ``keyValue``, as a write error of PyMongo's carries it."""
    key = getattr(error, "key", None)
    if isinstance(error, DuplicateKeyError) and isinstance(key, dict):
        return {"keyValue": dict(key)}
    return {}
