"""Every PyMongo (and BSON) exception leaves the MongoDB backend as one of ours."""

from __future__ import annotations

import inspect
from typing import Any

import bson.errors
import pymongo.errors as pm
import pytest

from lexigram_nosql import errors as ours
from lexigram_nosql.backends.mongodb.errors import EXCEPTION_MAP, map_mongo_exception
from lexigram_nosql.redaction import Redactor

MODULES = (pm, bson.errors)


def public_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in MODULES:
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and not name.startswith("_")
                and value.__module__ in {m.__name__ for m in MODULES}
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def instance(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` built the way the driver builds it."""
    if issubclass(cls, pm.BulkWriteError):
        return cls({"writeErrors": [{"index": 0, "code": 13, "errmsg": "bad"}]})
    if issubclass(cls, pm.ClientBulkWriteException):
        return cls({"writeErrors": []}, None)
    if issubclass(cls, pm.EncryptedCollectionError):
        return cls(Exception("boom"), {})
    if issubclass(cls, pm.EncryptionError):
        return cls(Exception("boom"))
    if issubclass(cls, pm.ServerSelectionTimeoutError):
        return cls("no servers")
    return cls("boom")


EXPECTED: dict[type[BaseException], type[ours.NoSQLError]] = {
    pm.PyMongoError: ours.NoSQLError,
    pm.ProtocolError: ours.NoSQLConnectionError,
    pm.ConnectionFailure: ours.NoSQLConnectionError,
    pm.AutoReconnect: ours.NoSQLConnectionError,
    pm.NetworkTimeout: ours.NoSQLConnectionError,
    pm.NotPrimaryError: ours.NoSQLConnectionError,
    pm.ServerSelectionTimeoutError: ours.NoSQLConnectionError,
    pm.WaitQueueTimeoutError: ours.NoSQLConnectionError,
    pm.ConfigurationError: ours.ConfigurationError,
    pm.InvalidURI: ours.ConfigurationError,
    pm.OperationFailure: ours.NoSQLError,
    pm.CursorNotFound: ours.NoSQLError,
    pm.ExecutionTimeout: ours.NoSQLError,
    pm.WriteError: ours.WriteError,
    pm.DuplicateKeyError: ours.WriteError,  # without code 11000 details it is a plain write
    pm.WriteConcernError: ours.WriteError,
    pm.WTimeoutError: ours.WriteError,
    pm.BulkWriteError: ours.WriteError,
    pm.ClientBulkWriteException: ours.NoSQLError,
    pm.InvalidOperation: ours.NoSQLError,
    pm.InvalidName: ours.InvalidQueryError,
    pm.CollectionInvalid: ours.NoSQLError,
    pm.EncryptionError: ours.NoSQLError,
    pm.EncryptedCollectionError: ours.NoSQLError,
    pm.DocumentTooLarge: ours.DocumentTooLargeError,
    bson.errors.BSONError: ours.NoSQLError,
    bson.errors.InvalidBSON: ours.NoSQLError,
    bson.errors.InvalidDocument: ours.InvalidQueryError,
    bson.errors.InvalidStringData: ours.InvalidQueryError,
    bson.errors.InvalidId: ours.InvalidQueryError,
}


def no_redaction(text: str) -> str:
    return text


def test_every_driver_exception_class_is_in_the_table() -> None:
    classes = public_exception_classes()
    assert len(classes) >= 25  # the walk found the modules' exceptions
    missing = [c.__qualname__ for c in classes if c not in EXCEPTION_MAP]
    assert missing == [], f"add these to EXCEPTION_MAP: {missing}"
    assert set(EXPECTED) == set(classes)


@pytest.mark.parametrize("cls", public_exception_classes(), ids=lambda c: c.__qualname__)
def test_every_driver_exception_maps_to_the_expected_error(cls: type[BaseException]) -> None:
    mapped = map_mongo_exception(instance(cls), no_redaction)
    assert type(mapped) is EXPECTED[cls]


def test_private_driver_exceptions_map_through_their_base_class() -> None:
    private = [
        value
        for name, value in vars(pm).items()
        if name.startswith("_") and inspect.isclass(value) and issubclass(value, pm.PyMongoError)
    ]
    for cls in private:
        assert isinstance(map_mongo_exception(instance(cls), no_redaction), ours.NoSQLError)


def test_foreign_exceptions_are_not_mapped() -> None:
    assert map_mongo_exception(ValueError("x"), no_redaction) is None


def test_duplicate_key_names_the_index_and_key() -> None:
    exc = pm.DuplicateKeyError(
        'E11000 duplicate key error collection: db.users index: email_1 dup key: { email: "a" }',
        11000,
        {
            "code": 11000,
            "errmsg": "E11000 duplicate key error collection: db.users index: email_1 dup key: "
            '{ email: "a" }',
            "keyPattern": {"email": 1},
            "keyValue": {"email": "a"},
        },
    )
    mapped = map_mongo_exception(exc, no_redaction)
    assert isinstance(mapped, ours.DuplicateKeyError)
    assert (mapped.index, mapped.key, mapped.code) == ("email_1", {"email": "a"}, 11000)


def test_duplicate_key_without_index_in_message_uses_the_key_pattern() -> None:
    details = {"code": 11000, "keyPattern": {"a": 1, "b": -1}, "keyValue": {"a": 1, "b": 2}}
    mapped = map_mongo_exception(pm.DuplicateKeyError("dup", 11000, details), no_redaction)
    assert isinstance(mapped, ours.DuplicateKeyError)
    assert mapped.index == "a_1_b_-1"


def test_a_bulk_insert_duplicate_is_a_duplicate_key_error() -> None:
    first = {
        "index": 1,
        "code": 11000,
        "errmsg": "dup",
        "keyPattern": {"_id": 1},
        "keyValue": {"_id": 7},
    }
    mapped = map_mongo_exception(pm.BulkWriteError({"writeErrors": [first]}), no_redaction)
    assert isinstance(mapped, ours.DuplicateKeyError)
    assert (mapped.index, mapped.key) == ("_id_", {"_id": 7})


def test_server_codes_refine_operation_failures() -> None:
    def failure(code: int, labels: list[str] | None = None) -> Any:
        details: dict[str, Any] = {"code": code, "errmsg": "x"}
        if labels:
            details["errorLabels"] = labels
        return map_mongo_exception(pm.OperationFailure("x", code, details), no_redaction)

    assert type(failure(11000)) is ours.DuplicateKeyError
    assert type(failure(10334)) is ours.DocumentTooLargeError
    assert type(failure(18)) is ours.NoSQLConnectionError
    expired = failure(50)  # MaxTimeMSExpired: the call's own max_time_ms, not an outage
    assert type(expired) is ours.OperationTimeoutError and expired.code == 50
    assert "max_time_ms" in expired.message
    for code in (66, 14, 28, 2):  # ImmutableField, TypeMismatch, PathNotViable, BadValue
        mismatch = failure(code)
        assert type(mismatch) is ours.UpdateMismatchError and mismatch.code == code
        assert isinstance(mismatch, ours.InvalidQueryError) and isinstance(
            mismatch, ours.WriteError
        )
    assert type(failure(251)) is ours.TransactionError
    transient = failure(112, ["TransientTransactionError"])
    assert type(transient) is ours.TransactionError
    assert "again" in transient.message
    other = failure(13)
    assert type(other) is ours.NoSQLError
    assert other.code == 13


def test_changing_the_id_in_a_write_is_an_update_mismatch() -> None:
    """MongoDB refuses an update or replacement that changes ``_id`` with a write error of
    code 66: UpdateMismatchError (an invalid query and a refused write), whichever backend
    runs it."""
    exc = pm.WriteError(
        "Performing an update on the path '_id' would modify the immutable field '_id'",
        66,
        {"index": 0, "code": 66, "errmsg": "would modify the immutable field '_id'"},
    )
    assert type(map_mongo_exception(exc, no_redaction)) is ours.UpdateMismatchError


def test_messages_are_redacted() -> None:
    redactor = Redactor(["hunter22"])
    exc = pm.ServerSelectionTimeoutError("mongodb://bob:hunter22@db:27017 timed out")
    mapped = map_mongo_exception(exc, redactor.scrub)
    assert mapped is not None
    assert "hunter22" not in str(mapped)
