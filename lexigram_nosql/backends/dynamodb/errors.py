"""botocore's exceptions translated into ours.

DynamoDB errors arrive as ``botocore.exceptions.ClientError`` carrying an error code;
``ERROR_CODES`` maps every code of the DynamoDB service model (a test walks the model) plus
the generic AWS codes. Client-side failures are ``BotoCoreError`` subclasses, mapped by their
most specific class in ``EXCEPTION_MAP`` (a test walks ``botocore.exceptions``). Conditional
failures are mapped where they happen, since only the caller knows whether a failed
condition means a duplicate key or a concurrent change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lexigram_nosql import errors as ours

__all__ = ["ERROR_CODES", "EXCEPTION_MAP", "error_code", "map_dynamodb_error"]

Factory = Callable[[str], ours.NoSQLError]


def _connection(message: str) -> ours.NoSQLError:
    return ours.NoSQLConnectionError(message, driver="dynamodb")


def _invalid(message: str) -> ours.NoSQLError:
    return ours.InvalidQueryError(message)


def _unsupported(message: str) -> ours.NoSQLError:
    return ours.UnsupportedQueryError(message, backend="dynamodb")


def _configuration(message: str) -> ours.NoSQLError:
    return ours.ConfigurationError(message, path="dynamodb")


def _conflict(message: str) -> ours.NoSQLError:
    return ours.ConcurrencyError(message)


def _transaction(message: str) -> ours.NoSQLError:
    return ours.TransactionError(message)


def _too_large(message: str) -> ours.NoSQLError:
    return ours.DocumentTooLargeError(message)


def _duplicate(message: str) -> ours.NoSQLError:
    return ours.DuplicateKeyError(message)


def _generic(message: str) -> ours.NoSQLError:
    return ours.NoSQLError(message)


ERROR_CODES: Final[dict[str, Factory]] = {
    # The request itself was refused.
    "ValidationException": _invalid,
    "SerializationException": _invalid,
    "MissingAuthenticationTokenException": _connection,
    "ConditionalCheckFailedException": _conflict,
    "DuplicateItemException": _duplicate,
    "ItemCollectionSizeLimitExceededException": _too_large,
    # Transactions.
    "TransactionCanceledException": _transaction,
    "TransactionConflictException": _conflict,
    "TransactionInProgressException": _transaction,
    "IdempotentParameterMismatchException": _transaction,
    "ReplicatedWriteConflictException": _conflict,
    # Throughput, throttling and availability: the store cannot serve now.
    "ProvisionedThroughputExceededException": _connection,
    "RequestLimitExceeded": _connection,
    "ThrottlingException": _connection,
    "LimitExceededException": _connection,
    "InternalServerError": _connection,
    "InternalFailure": _connection,
    "ServiceUnavailable": _connection,
    "ServiceUnavailableException": _connection,
    # Credentials and permissions.
    "UnrecognizedClientException": _connection,
    "AccessDeniedException": _connection,
    "InvalidSignatureException": _connection,
    "ExpiredTokenException": _connection,
    "IncompleteSignature": _connection,
    "InvalidClientTokenId": _connection,
    "RequestExpired": _connection,
    # Tables, indexes and administration: the configuration does not fit the account.
    "ResourceNotFoundException": _configuration,
    "ResourceInUseException": _configuration,
    "TableNotFoundException": _configuration,
    "TableInUseException": _configuration,
    "TableAlreadyExistsException": _configuration,
    "IndexNotFoundException": _configuration,
    "PolicyNotFoundException": _configuration,
    "GlobalTableAlreadyExistsException": _unsupported,
    "GlobalTableNotFoundException": _unsupported,
    "ReplicaAlreadyExistsException": _unsupported,
    "ReplicaNotFoundException": _unsupported,
    "BackupInUseException": _unsupported,
    "BackupNotFoundException": _unsupported,
    "ContinuousBackupsUnavailableException": _unsupported,
    "PointInTimeRecoveryUnavailableException": _unsupported,
    "InvalidRestoreTimeException": _unsupported,
    "ExportConflictException": _unsupported,
    "ExportNotFoundException": _unsupported,
    "InvalidExportTimeException": _unsupported,
    "ImportConflictException": _unsupported,
    "ImportNotFoundException": _unsupported,
    "InvalidEndpointException": _configuration,
}

# The most specific botocore class in an exception's MRO wins; see ``_from_botocore``.
EXCEPTION_MAP: Final[dict[str, Factory]] = {
    "BotoCoreError": _generic,
    # Network: could not reach the endpoint, or it stopped answering.
    "HTTPClientError": _connection,
    "ConnectionError": _connection,
    "EndpointConnectionError": _connection,
    "ConnectionClosedError": _connection,
    "ConnectTimeoutError": _connection,
    "ReadTimeoutError": _connection,
    "ProxyConnectionError": _connection,
    "SSLError": _connection,
    "ResponseStreamingError": _connection,
    "IncompleteReadError": _connection,
    "CapacityNotAvailableError": _connection,  # the client's retry quota is spent
    "ChecksumError": _connection,
    "FlexibleChecksumError": _connection,
    "AwsChunkedWrapperError": _connection,
    "EventStreamError": _connection,
    "UnseekableStreamError": _connection,
    "WaiterError": _connection,
    # Credentials, region and endpoint settings.
    "NoCredentialsError": _configuration,
    "PartialCredentialsError": _configuration,
    "CredentialRetrievalError": _configuration,
    "NoRegionError": _configuration,
    "NoAuthTokenError": _configuration,
    "TokenRetrievalError": _configuration,
    "SSOError": _configuration,
    "SSOTokenLoadError": _configuration,
    "UnauthorizedSSOTokenError": _configuration,
    "RefreshWithMFAUnsupportedError": _configuration,
    "MetadataRetrievalError": _configuration,
    "InvalidConfigError": _configuration,
    "ProfileNotFound": _configuration,
    "ConfigNotFound": _configuration,
    "ConfigParseError": _configuration,
    "InvalidRegionError": _configuration,
    "InvalidEndpointConfigurationError": _configuration,
    "InvalidEndpointDiscoveryConfigurationError": _configuration,
    "EndpointVariantError": _configuration,
    "UnknownEndpointError": _configuration,
    "UnknownEndpointResolutionBuiltInName": _configuration,
    "BaseEndpointResolverError": _configuration,
    "EndpointProviderError": _configuration,
    "AliasConflictParameterError": _configuration,
    "ApiVersionNotFoundError": _configuration,
    "DataNotFoundError": _configuration,
    "InfiniteLoopConfigError": _configuration,
    "InvalidChecksumConfigError": _configuration,
    "InvalidDefaultsMode": _configuration,
    "InvalidIMDSEndpointError": _configuration,
    "InvalidIMDSEndpointModeError": _configuration,
    "InvalidProxiesConfigError": _configuration,
    "InvalidS3UsEast1RegionalEndpointConfigError": _configuration,
    "InvalidSTSRegionalEndpointsConfigError": _configuration,
    "MissingDependencyException": _configuration,
    "MissingServiceIdError": _configuration,
    "MD5UnavailableError": _configuration,
    "ServiceNotInRegionError": _configuration,
    "UnknownCredentialError": _configuration,
    "UnknownFIPSEndpointError": _configuration,
    "UnknownRegionError": _configuration,
    "UnknownServiceError": _configuration,
    "UnknownServiceStyle": _configuration,
    "UnknownSignatureVersionError": _configuration,
    "UnsupportedSignatureVersionError": _configuration,
    "UnsupportedServiceProtocolsError": _configuration,
    "UnsupportedOutpostResourceError": _configuration,
    "UnsupportedS3AccesspointConfigurationError": _configuration,
    "UnsupportedS3ArnError": _configuration,
    "UnsupportedS3ConfigurationError": _configuration,
    "UnsupportedS3ControlArnError": _configuration,
    "UnsupportedS3ControlConfigurationError": _configuration,
    "WaiterConfigError": _configuration,
    "EndpointResolutionError": _configuration,
    "InvalidS3AddressingStyleError": _configuration,
    "InvalidRetryConfigurationError": _configuration,
    "InvalidMaxRetryAttemptsError": _configuration,
    "InvalidRetryModeError": _configuration,
    "InvalidDNSNameError": _configuration,
    "InvalidHostLabelError": _configuration,
    "UnsupportedTLSVersionWarning": _configuration,
    # A request our code built was refused before sending: a bug or a value out of range.
    "ParamValidationError": _invalid,
    "ValidationError": _invalid,
    "UnknownParameterError": _invalid,
    "UnknownKeyError": _invalid,
    "InvalidExpressionError": _invalid,
    "MissingParametersError": _invalid,
    "RangeError": _invalid,
    "UndefinedModelAttributeError": _invalid,
    "UnknownClientMethodError": _invalid,
    "OperationNotPageableError": _invalid,
    "PaginationError": _invalid,
    # ClientError is mapped by its code (ERROR_CODES); these are for tests and deprecations.
    "ClientError": _generic,
    "StubAssertionError": _generic,
    "StubResponseError": _generic,
    "UnStubbedResponseError": _generic,
    "ImminentRemovalWarning": _generic,
}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ``ClientError`` (None for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def map_dynamodb_error(exc: BaseException, redact: Callable[[str], str]) -> ours.NoSQLError | None:
    """Ours for a botocore exception, or None when ``exc`` is not botocore's."""
    module = type(exc).__module__
    if not module.startswith(("botocore", "aiobotocore")):
        return None
    message = redact(str(exc))
    code = error_code(exc)
    if code is not None:
        factory = ERROR_CODES.get(code)
        if factory is None:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            factory = _connection if isinstance(status, int) and status >= 500 else _generic
        return _with_code(factory(f"DynamoDB refused the request ({code}): {message}"), code)
    for cls in type(exc).__mro__:
        factory = EXCEPTION_MAP.get(cls.__name__)
        if factory is not None and cls.__module__.startswith(("botocore", "aiobotocore")):
            return factory(f"DynamoDB client error ({type(exc).__name__}): {message}")
    return None


def _with_code(error: ours.NoSQLError, code: Any) -> ours.NoSQLError:
    error.code = code
    return error
