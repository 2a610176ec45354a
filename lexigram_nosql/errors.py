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
    │   └── UnsupportedQueryError
    ├── WriteError
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
from typing import Any

__all__ = [
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
    "ResolutionError",
    "StoreStateError",
    "StoreUnavailableError",
    "TransactionError",
    "UnsupportedQueryError",
    "WriteError",
]


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


class DuplicateKeyError(WriteError):
    """A write would break a unique index (``_id`` included); names the index and key."""

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
        super().__init__(message, store=store, collection=collection, code=code)
        self.index = index
        self.key = key


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
