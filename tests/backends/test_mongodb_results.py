"""The driver's update result read into ours: the counts its own properties give."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from mongomock.results import UpdateResult as MockUpdateResult
from pymongo.errors import InvalidOperation
from pymongo.results import UpdateResult as DriverUpdateResult

from lexigram_nosql.backends.mongodb.collection import _update_result
from lexigram_nosql.backends.mongodb.ids import id_from_server

OID = ObjectId("65a1b2c3d4e5f6a7b8c9d0e1")


@pytest.mark.parametrize("result_class", [DriverUpdateResult, MockUpdateResult])
@pytest.mark.parametrize(
    "reply",
    [
        {"n": 1, "nModified": 1, "ok": 1.0},
        {"n": 1, "nModified": 0, "ok": 1.0},
        {"n": 0, "nModified": 0, "ok": 1.0},
        {"n": 1, "nModified": 0, "upserted": OID, "ok": 1.0},
        {"n": 1, "nModified": 0, "upserted": 7, "ok": 1.0},
        {"ok": 1.0},
    ],
)
def test_counts_are_the_driver_s(result_class: Any, reply: dict[str, Any]) -> None:
    driver = result_class(reply, True)
    ours = _update_result(driver)
    assert ours.matched_count == driver.matched_count
    assert ours.modified_count == driver.modified_count
    assert ours.upserted_id == id_from_server(driver.upserted_id)


def test_an_unacknowledged_write_raises_as_pymongo_does() -> None:
    with pytest.raises(InvalidOperation):
        _update_result(DriverUpdateResult(None, False))
