"""Every botocore exception, and every error code of the DynamoDB service model, leaves the
DynamoDB backend as one of ours."""

from __future__ import annotations

import inspect

import botocore.exceptions as bce
import botocore.session
import pytest

from lexigram_nosql import errors as ours
from lexigram_nosql.backends.dynamodb.errors import (
    ERROR_CODES,
    EXCEPTION_MAP,
    map_dynamodb_error,
)


def botocore_exception_classes() -> list[type[BaseException]]:
    return [
        value
        for name, value in vars(bce).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and not name.startswith("_")
        and value.__module__ == bce.__name__
    ]


def dynamodb_error_codes() -> list[str]:
    model = botocore.session.get_session().get_service_model("dynamodb")
    return sorted(shape.error_code or shape.name for shape in model.error_shapes)


def client_error(code: str, status: int = 400) -> bce.ClientError:
    return bce.ClientError(
        {
            "Error": {"Code": code, "Message": "key=AKIASECRET went wrong"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutItem",
    )


def redact(text: str) -> str:
    return text.replace("AKIASECRET", "***")


@pytest.mark.parametrize("cls", botocore_exception_classes(), ids=lambda c: c.__name__)
def test_every_botocore_exception_class_is_named_in_the_table(cls: type[BaseException]) -> None:
    assert cls.__name__ in EXCEPTION_MAP
    exc = cls.__new__(cls)
    exc.args = ("boom",)
    mapped = map_dynamodb_error(exc, redact)
    assert isinstance(mapped, ours.NoSQLError)


@pytest.mark.parametrize("code", dynamodb_error_codes())
def test_every_dynamodb_error_code_is_mapped(code: str) -> None:
    assert code in ERROR_CODES
    mapped = map_dynamodb_error(client_error(code), redact)
    assert isinstance(mapped, ours.NoSQLError)
    assert mapped.code == code
    assert "AKIASECRET" not in str(mapped)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("ValidationException"), ours.InvalidQueryError),
        (client_error("ConditionalCheckFailedException"), ours.ConcurrencyError),
        (client_error("TransactionConflictException"), ours.ConcurrencyError),
        (client_error("TransactionCanceledException"), ours.TransactionError),
        (client_error("ItemCollectionSizeLimitExceededException"), ours.DocumentTooLargeError),
        (client_error("ProvisionedThroughputExceededException"), ours.NoSQLConnectionError),
        (client_error("UnrecognizedClientException"), ours.NoSQLConnectionError),
        (client_error("ResourceNotFoundException"), ours.ConfigurationError),
        (client_error("SomethingNew", 503), ours.NoSQLConnectionError),
        (client_error("SomethingNew", 400), ours.NoSQLError),
        (bce.EndpointConnectionError(endpoint_url="http://x"), ours.NoSQLConnectionError),
        (bce.ReadTimeoutError(endpoint_url="http://x"), ours.NoSQLConnectionError),
        (bce.NoCredentialsError(), ours.ConfigurationError),
        (bce.ParamValidationError(report="bad"), ours.InvalidQueryError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
def test_representative_errors(exc: BaseException, expected: type[ours.NoSQLError]) -> None:
    mapped = map_dynamodb_error(exc, redact)
    assert type(mapped) is expected


def test_foreign_exceptions_are_not_ours_to_map() -> None:
    assert map_dynamodb_error(ValueError("x"), redact) is None
