"""MongoDB's duplicate-key reports, in every form servers have written them, read into
``DuplicateKeyError.index`` (the index's name, never the namespace) and ``.key``
(``{field: value}``), as the other backends set them."""

from __future__ import annotations

from typing import Any

import pymongo.errors as pm
import pytest
from bson import ObjectId

from lexigram_nosql import DuplicateKeyError, InvalidQueryError
from lexigram_nosql.backends.mongodb.duplicates import read_duplicate
from lexigram_nosql.backends.mongodb.errors import map_mongo_exception

OID = "5f1d7a3b9c8e4a2b1c0d9e8f"

REPORTS: list[Any] = [
    pytest.param(
        {
            "index": 0,
            "code": 11000,
            "errmsg": "E11000 duplicate key error collection: db.c index: email_1 dup key: "
            '{ email: "a@x" }',
            "keyPattern": {"email": 1},
            "keyValue": {"email": "a@x"},
        },
        "email_1",
        {"email": "a@x"},
        id="mongodb-4.2+",
    ),
    pytest.param(
        {
            "code": 11000,
            "errmsg": "E11000 duplicate key error collection: db.c index: one_per_org "
            'dup key: { org: "x \\"q\\"", n: -2.5, on: true, none: null }',
        },
        "one_per_org",
        {"org": 'x "q"', "n": -2.5, "on": True, "none": None},
        id="mongodb-4.2+-errmsg-only",
    ),
    pytest.param(
        {
            "code": 11000,
            "errmsg": "E11000 duplicate key error collection: db.c index: a_1_b_-1 "
            'dup key: { : 1, : "z" }',
            "keyPattern": {"a": 1, "b": -1},
        },
        "a_1_b_-1",
        {"a": 1, "b": "z"},
        id="mongodb-3.4-unnamed-fields",
    ),
    pytest.param(
        {
            "code": 11000,
            "errmsg": 'E11000 duplicate key error index: db.c.$email_1 dup key: { : "a" }',
        },
        "email_1",
        None,
        id="mongodb-3.2-namespaced-index",
    ),
    pytest.param(
        {
            "code": 11000,
            "errmsg": f"E11000 duplicate key error collection: db.c index: _id_ dup key: "
            f"{{ _id: ObjectId('{OID}') }}",
        },
        "_id_",
        {"_id": OID},
        id="mongodb-objectid-in-errmsg",
    ),
    pytest.param(
        {
            "index": 0,
            "code": 11000,
            "errmsg": f"Duplicate key error: _id {OID}",
            "keyPattern": {"_id": 1},
            "keyValue": {"_id": ObjectId(OID)},
        },
        "_id_",
        {"_id": OID},
        id="congodb",
    ),
    pytest.param(
        {"code": 11000, "errmsg": f"Duplicate key error: _id {OID}"},
        None,
        {"_id": OID},
        id="congodb-without-key-value",
    ),
    pytest.param(
        {"code": 11000, "keyPattern": {"a": 1, "b": -1}, "keyValue": {"a": 1, "b": 2}},
        "a_1_b_-1",
        {"a": 1, "b": 2},
        id="key-pattern-only",
    ),
    pytest.param(
        {
            "code": 11000,
            "errmsg": "E11000 duplicate key error collection: db.c index: at_1 dup key: "
            "{ at: new Date(1) }",
        },
        "at_1",
        None,
        id="value-not-plain",
    ),
    pytest.param({"code": 11000, "errmsg": "E11000 Duplicate Key Error"}, None, None, id="bare"),
]


@pytest.mark.parametrize(("details", "index", "key"), REPORTS)
def test_a_report_names_the_index_and_the_key(
    details: dict[str, Any], index: str | None, key: dict[str, Any] | None
) -> None:
    assert read_duplicate(details) == (index, key)


@pytest.mark.parametrize(("details", "index", "key"), REPORTS)
def test_the_error_carries_them_and_says_the_value(
    details: dict[str, Any], index: str | None, key: dict[str, Any] | None
) -> None:
    exc = pm.DuplicateKeyError(details.get("errmsg", "dup"), 11000, details)
    mapped = map_mongo_exception(exc, lambda text: text)
    assert isinstance(mapped, DuplicateKeyError)
    assert (mapped.index, mapped.key, mapped.code) == (index, key, 11000)
    assert "with None" not in mapped.message
    if key is not None:
        assert repr(key) in mapped.message
    if index is not None:
        assert repr(index) in mapped.message


def test_a_bulk_write_error_is_read_the_same_way() -> None:
    write_error = {
        "index": 3,
        "code": 11000,
        "errmsg": "E11000 duplicate key error collection: db.c index: email_1 "
        'dup key: { email: "a" }',
    }
    exc = pm.BulkWriteError({"writeErrors": [write_error], "nInserted": 3})
    mapped = map_mongo_exception(exc, lambda text: text)
    assert isinstance(mapped, DuplicateKeyError)
    assert (mapped.index, mapped.key, mapped.request_index) == ("email_1", {"email": "a"}, 3)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (27, "IndexNotFound"),
        (67, "CannotCreateIndex"),
        (85, "IndexOptionsConflict"),
        (86, "IndexKeySpecsConflict"),
        (197, "InvalidIndexSpecificationOption"),
    ],
)
def test_refused_index_requests_are_invalid_queries(code: int, name: str) -> None:
    """As on every other backend (CongoDB reports a missing index as 86)."""
    details = {"ok": 0, "code": code, "codeName": name, "errmsg": "index not found with name [x]"}
    mapped = map_mongo_exception(pm.OperationFailure("x", code, details), lambda text: text)
    assert type(mapped) is InvalidQueryError
