"""PyMongo's exceptions (Motor raises the same ones) translated into ours.

``EXCEPTION_MAP`` names every exception class of ``pymongo.errors`` and ``bson.errors``
explicitly (a test walks both modules), so a class added by a new driver version is a
decision, not an accident. The most specific class in an exception's MRO wins. Server error
codes refine the result where the class alone says too little.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import bson.errors
import pymongo.errors as pm

from lexigram_nosql import errors as ours
from lexigram_nosql.backends.breaker import settle
from lexigram_nosql.backends.mongodb.duplicates import duplicate_key_error

__all__ = ["EXCEPTION_MAP", "map_mongo_exception"]

Redact = Callable[[str], str]
Factory = Callable[[Any, str], ours.NoSQLError]

# Server codes: https://github.com/mongodb/mongo/blob/master/src/mongo/base/error_codes.yml
_DUPLICATE_KEY_CODES: Final = frozenset({11000, 11001, 12582})
_TOO_LARGE_CODES: Final = frozenset({10334, 17419, 17420})
_AUTH_FAILED: Final = 18
_NO_SUCH_INDEX: Final = "hint provided does not correspond to an existing index"
_MAX_TIME_MS_EXPIRED: Final = 50  # the call's maxTimeMS ran out on the server
_IMMUTABLE_FIELD: Final = 66  # e.g. an update or replacement that would change _id
_MISMATCH_CODES: Final = frozenset(
    {
        2,  # BadValue: $push onto a non-array, $bit of a double (malformed input is refused first)
        14,  # TypeMismatch: $inc of a string...
        28,  # PathNotViable: a field created inside a scalar
        _IMMUTABLE_FIELD,
    }
)
_INDEX_REQUEST_CODES: Final = frozenset(
    {
        27,  # IndexNotFound (dropping an index the collection does not have)
        67,  # CannotCreateIndex
        68,  # IndexAlreadyExists
        85,  # IndexOptionsConflict (the name or keys are taken by other options)
        86,  # IndexKeySpecsConflict
        197,  # InvalidIndexSpecificationOption
    }
)
_TRANSACTION_CODES: Final = frozenset(
    {
        112,  # WriteConflict (reported inside transactions)
        244,  # TransactionTooOld
        251,  # NoSuchTransaction
        256,  # TransactionCommitted
        257,  # TransactionTooLarge
        263,  # OperationNotSupportedInTransaction
        267,  # PreparedTransactionInProgress
        290,  # TransactionExceededLifetimeLimitSeconds
    }
)


def _code(exc: Any) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def _server_error(exc: pm.OperationFailure, message: str) -> ours.NoSQLError:
    code = _code(exc)
    labels = getattr(exc, "_error_labels", ()) or ()
    if code in _DUPLICATE_KEY_CODES:
        return duplicate_key_error(exc.details, message)
    if code in _INDEX_REQUEST_CODES:
        refused = ours.InvalidQueryError(f"MongoDB refused the index request: {message}")
        refused.code = code  # the server's, for diagnosis
        return refused
    if code in _TOO_LARGE_CODES:
        return ours.DocumentTooLargeError(f"Document too large: {message}", code=code)
    if code in _MISMATCH_CODES and _NO_SUCH_INDEX in message:  # a read's hint naming no index
        unknown = ours.InvalidQueryError(f"MongoDB refused the hint: {message}", operator="hint")
        unknown.code = code
        return unknown
    if code in _MISMATCH_CODES:
        return _mismatch(code, message)
    if code == _AUTH_FAILED:
        return ours.NoSQLConnectionError(f"Authentication failed: {message}", code=code)
    if code == _MAX_TIME_MS_EXPIRED:
        # The bound is the call's own max_time_ms, which the mapping does not see.
        timeout = ours.OperationTimeoutError(
            f"MongoDB stopped the call at its max_time_ms: {message}",
            operation="maxTimeMS",
            timeout_s=0.0,
        )
        timeout.code = code
        settle(timeout)  # the caller's bound: not the server's health
        return timeout
    if "TransientTransactionError" in labels:
        return ours.TransactionError(
            f"The transaction was aborted by a transient error; running the whole "
            f"transaction block again is safe: {message}",
            code=code,
        )
    if code in _TRANSACTION_CODES:
        return ours.TransactionError(f"Transaction failed: {message}", code=code)
    return ours.NoSQLError(f"MongoDB error {code}: {message}", code=code)


def _mismatch(code: int, message: str) -> ours.UpdateMismatchError:
    """The update does not fit the stored document: the engine's backends raise the same.
    A write's hint naming no index is BadValue too (still an ``InvalidQueryError``)."""
    if _NO_SUCH_INDEX in message:
        refused = ours.UpdateMismatchError(f"MongoDB refused the hint: {message}")
        refused.operator = "hint"
        refused.code = code
        return refused
    refused = ours.UpdateMismatchError(f"The update does not fit the document: {message}")
    refused.code = code
    return refused


def _write_error(exc: pm.OperationFailure, message: str) -> ours.NoSQLError:
    mapped = _server_error(exc, message)
    if type(mapped) is ours.NoSQLError:
        return ours.WriteError(f"Write refused: {message}", code=_code(exc))
    return mapped


def _bulk_write_error(exc: pm.BulkWriteError, message: str) -> ours.NoSQLError:
    """``insert_many``'s error: the first write error decides (the batch is ordered)."""
    write_errors = (exc.details or {}).get("writeErrors") or []
    if not write_errors:
        return _write_error(exc, message)
    return _one_write_error(write_errors[0], message)


def bulk_write_errors(exc: pm.BulkWriteError) -> list[ours.WriteError]:
    """Every write error of a bulk (an unordered one may have many), each with its position
    in the batch as ``request_index``."""
    return [_one_write_error(e, str(exc)) for e in (exc.details or {}).get("writeErrors") or []]


def _one_write_error(details: Mapping[str, Any], message: str) -> ours.WriteError:
    code = details.get("code")
    text = str(details.get("errmsg", message))
    refused: ours.WriteError
    if code in _DUPLICATE_KEY_CODES:
        refused = duplicate_key_error(details, text)
    elif code in _MISMATCH_CODES:
        refused = _mismatch(code, text)
    else:
        refused = ours.WriteError(f"Write refused: {text}", code=code)
    index = details.get("index")
    refused.request_index = index if isinstance(index, int) else None
    return refused


def _connection(exc: Any, message: str) -> ours.NoSQLError:
    return ours.NoSQLConnectionError(f"MongoDB connection failed: {message}")


def _invalid_query(exc: Any, message: str) -> ours.NoSQLError:
    return ours.InvalidQueryError(f"MongoDB refused the request: {message}")


def _invalid_operation(exc: Any, message: str) -> ours.NoSQLError:
    if "after close" in message:
        return ours.StoreStateError(f"The MongoDB client was closed: {message}")
    return ours.NoSQLError(f"MongoDB refused the operation: {message}")


def _configuration(exc: Any, message: str) -> ours.NoSQLError:
    return ours.ConfigurationError(f"Invalid MongoDB configuration: {message}", path="mongodb")


def _too_large(exc: Any, message: str) -> ours.NoSQLError:
    return ours.DocumentTooLargeError(f"Document too large for MongoDB: {message}")


def _write_concern(exc: Any, message: str) -> ours.NoSQLError:
    return ours.WriteError(f"Write concern not satisfied: {message}", code=_code(exc))


def _generic(exc: Any, message: str) -> ours.NoSQLError:
    code = _code(exc)
    prefix = f"MongoDB error {code}" if code is not None else "MongoDB error"
    return ours.NoSQLError(f"{prefix}: {message}", code=code)


def _operation(exc: Any, message: str) -> ours.NoSQLError:
    return _server_error(exc, message)


def _write(exc: Any, message: str) -> ours.NoSQLError:
    return _write_error(exc, message)


def _bulk(exc: Any, message: str) -> ours.NoSQLError:
    return _bulk_write_error(exc, message)


EXCEPTION_MAP: Final[Mapping[type[BaseException], Factory]] = {
    pm.PyMongoError: _generic,
    pm.ProtocolError: _connection,
    pm.ConnectionFailure: _connection,
    pm.AutoReconnect: _connection,
    pm.NetworkTimeout: _connection,
    pm.NotPrimaryError: _connection,
    pm.ServerSelectionTimeoutError: _connection,
    pm.WaitQueueTimeoutError: _connection,
    pm.ConfigurationError: _configuration,
    pm.InvalidURI: _configuration,
    pm.OperationFailure: _operation,
    pm.CursorNotFound: _operation,
    pm.ExecutionTimeout: _operation,
    pm.WriteError: _write,
    pm.DuplicateKeyError: _write,
    pm.WriteConcernError: _write_concern,
    pm.WTimeoutError: _write_concern,
    pm.BulkWriteError: _bulk,
    pm.ClientBulkWriteException: _generic,
    pm.InvalidOperation: _invalid_operation,
    pm.InvalidName: _invalid_query,
    pm.CollectionInvalid: _generic,
    pm.EncryptionError: _generic,
    pm.EncryptedCollectionError: _generic,
    pm.DocumentTooLarge: _too_large,
    bson.errors.BSONError: _generic,
    bson.errors.InvalidBSON: _generic,
    bson.errors.InvalidDocument: _invalid_query,
    bson.errors.InvalidStringData: _invalid_query,
    bson.errors.InvalidId: _invalid_query,
}


def map_mongo_exception(exc: BaseException, redact: Redact) -> ours.NoSQLError | None:
    """Our error for a driver exception (message redacted), or None when it is not one."""
    for cls in type(exc).__mro__:
        factory = EXCEPTION_MAP.get(cls)
        if factory is not None:
            return factory(exc, redact(str(exc)))
    return None
