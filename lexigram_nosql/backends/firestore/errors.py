"""google-api-core's exceptions (what the Firestore client raises) translated into ours.

``EXCEPTION_MAP`` names every exception class of ``google.api_core.exceptions`` explicitly (a
test walks the module), so a class added by a new release is a decision, not an accident. The
most specific class in an exception's MRO wins; the message refines a few (a missing composite
index, a document over the size limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import google.api_core.exceptions as gx

from lexigram_nosql import errors as ours
from lexigram_nosql.backends.firestore.codec import BACKEND

__all__ = ["EXCEPTION_MAP", "map_firestore_exception", "refused_for_size"]

Factory = Callable[[str], ours.NoSQLError]


def _connection(message: str) -> ours.NoSQLError:
    return ours.NoSQLConnectionError(
        f"Firestore could not be reached or refused the call: {message}", driver=BACKEND
    )


def _auth(message: str) -> ours.NoSQLError:
    return ours.NoSQLConnectionError(
        f"Firestore refused the credentials (check credentials_file, the project and its "
        f"IAM roles): {message}",
        driver=BACKEND,
    )


def _duplicate(message: str) -> ours.NoSQLError:
    return ours.DuplicateKeyError(
        f"Duplicate key: a document with this _id already exists: {message}", index="_id_"
    )


def _conflict(message: str) -> ours.NoSQLError:
    return ours.ConcurrencyError(
        "Firestore aborted the operation because a concurrent transaction touched the same "
        f"documents; run it again (store.run_transaction re-runs a body): {message}"
    )


def _precondition(message: str) -> ours.NoSQLError:
    if "index" in message.lower():
        return ours.UnsupportedQueryError(
            f"Firestore needs a composite index for this query; create it (the message links "
            f"to it) or simplify the filter: {message}",
            backend=BACKEND,
        )
    return ours.ConcurrencyError(f"The document changed since it was read: {message}")


#: How Firestore (and its emulator: "maximum entity size") words a write over a size limit.
_SIZE_HINTS: Final = ("maximum allowed size", "maximum entity size", "too large", "longer than")


def refused_for_size(message: str) -> bool:
    """Whether an InvalidArgument's message says a document or value is over a size limit."""
    lowered = message.lower()
    return any(hint in lowered for hint in _SIZE_HINTS)


def _invalid(message: str) -> ours.NoSQLError:
    if refused_for_size(message):
        return ours.DocumentTooLargeError(f"Document too large for Firestore: {message}")
    return ours.InvalidQueryError(f"Firestore refused the request: {message}")


def _not_found(message: str) -> ours.NoSQLError:
    return ours.DocumentNotFoundError(f"Firestore found no such document: {message}")


def _other(message: str) -> ours.NoSQLError:
    return ours.NoSQLError(f"Firestore failed: {message}")


def _unsupported(message: str) -> ours.NoSQLError:
    return ours.UnsupportedQueryError(
        f"Firestore does not implement this call: {message}", backend=BACKEND
    )


EXCEPTION_MAP: Final[dict[type[BaseException], Factory]] = {
    gx.GoogleAPIError: _other,
    gx.GoogleAPICallError: _other,
    gx.DuplicateCredentialArgs: _auth,
    gx.RetryError: _connection,
    # 3xx: the REST transport only; never expected from Firestore's gRPC API.
    gx.Redirection: _other,
    gx.MovedPermanently: _other,
    gx.NotModified: _other,
    gx.TemporaryRedirect: _other,
    gx.ResumeIncomplete: _other,
    # 4xx
    gx.ClientError: _invalid,
    gx.BadRequest: _invalid,
    gx.InvalidArgument: _invalid,
    gx.OutOfRange: _invalid,
    gx.FailedPrecondition: _precondition,
    gx.PreconditionFailed: _precondition,
    gx.Unauthorized: _auth,
    gx.Unauthenticated: _auth,
    gx.Forbidden: _auth,
    gx.PermissionDenied: _auth,
    gx.NotFound: _not_found,
    gx.MethodNotAllowed: _unsupported,
    gx.Conflict: _conflict,
    gx.AlreadyExists: _duplicate,
    gx.Aborted: _conflict,
    gx.LengthRequired: _invalid,
    gx.RequestRangeNotSatisfiable: _invalid,
    gx.TooManyRequests: _connection,
    gx.ResourceExhausted: _connection,
    gx.Cancelled: _connection,
    # 5xx
    gx.ServerError: _connection,
    gx.InternalServerError: _connection,
    gx.MethodNotImplemented: _unsupported,
    gx.BadGateway: _connection,
    gx.ServiceUnavailable: _connection,
    gx.GatewayTimeout: _connection,
    gx.DeadlineExceeded: _connection,
    gx.Unknown: _other,
    gx.DataLoss: _other,
    # Resumable uploads (Cloud Storage): not used by Firestore.
    gx.ResumableTransferError: _other,
    gx.MissingStatusHeaderError: _other,
    gx.TransferStalledError: _other,
    gx.UnseekableStreamError: _other,
    gx.UploadCancelledError: _other,
    gx.AsyncRestUnsupportedParameterError: _unsupported,
}


def map_firestore_exception(
    exc: BaseException, redact: Callable[[str], str]
) -> ours.NoSQLError | None:
    """Ours for a google-api-core exception (the most specific mapped class wins); None for
    anything else."""
    for cls in type(exc).__mro__:
        factory = EXCEPTION_MAP.get(cls)
        if factory is not None:
            error = factory(redact(_message(exc)))
            code = getattr(exc, "code", None)
            if error.code is None and isinstance(code, int):
                error.code = code
            return error
    if _auth_exception(exc):
        return _auth(redact(str(exc)))
    return None


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    if message:
        return str(message)
    try:
        return str(exc) or type(exc).__name__
    except Exception:  # a half-built exception whose __str__ fails
        return type(exc).__name__


def _auth_exception(exc: BaseException) -> bool:
    """google-auth's errors (no credentials found, refresh failed) without importing it
    eagerly: they are recognised by their module."""
    return type(exc).__module__.startswith("google.auth")
