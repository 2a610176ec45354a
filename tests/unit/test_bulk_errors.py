"""BulkWriteError: what was written, one entry per failed request, and the class of its
first failure (so ``except DuplicateKeyError`` still catches a duplicate in a batch)."""

from __future__ import annotations

from lexigram_nosql import (
    BulkWriteError,
    BulkWriteFailure,
    BulkWriteResult,
    DuplicateKeyError,
    InsertOne,
    InvalidQueryError,
    WriteError,
)


def test_a_bulk_error_is_also_its_first_failure() -> None:
    duplicate = DuplicateKeyError("dup", index="_id_", key={"_id": 1}, store="s", collection="c")
    result = BulkWriteResult(inserted_count=2, upserted_ids={3: "x"})
    error = BulkWriteError.build(
        result,
        [
            BulkWriteFailure(1, duplicate, InsertOne({"_id": 1})),
            BulkWriteFailure(4, InvalidQueryError("bad $inc"), None),
        ],
    )
    assert isinstance(error, BulkWriteError)
    assert isinstance(error, DuplicateKeyError)
    assert isinstance(error, WriteError)
    assert (error.index, error.key, error.store, error.collection) == ("_id_", {"_id": 1}, "s", "c")
    assert error.result is result
    assert [failure.index for failure in error.errors] == [1, 4]
    assert "request 1" in str(error) and "1 more failed" in str(error)
    assert error.details["nInserted"] == 2
    assert error.details["nUpserted"] == 1
    assert error.details["upserted"] == [{"index": 3, "_id": "x"}]
    assert error.details["writeErrors"][0]["keyValue"] == {"_id": 1}  # as PyMongo's
    assert error.details["writeErrors"][1] == {
        "index": 4,
        "code": None,
        "errmsg": "bad $inc",
        "op": None,
    }


def test_the_bulk_class_is_made_once_per_failure_class() -> None:
    first = BulkWriteError.build(BulkWriteResult(), [BulkWriteFailure(0, DuplicateKeyError("a"))])
    second = BulkWriteError.build(BulkWriteResult(), [BulkWriteFailure(0, DuplicateKeyError("b"))])
    assert type(first) is type(second)
    plain = BulkWriteError.build(BulkWriteResult(), [BulkWriteFailure(0, WriteError("w"))])
    assert type(plain) is BulkWriteError


def test_bulk_write_result_counts() -> None:
    result = BulkWriteResult(1, 2, 3, 4, {0: "a", 5: "b"})
    assert (result.upserted_count, result.acknowledged) == (2, True)
