"""How ``_id`` values are converted on their way to MongoDB and back."""

from __future__ import annotations

from bson import ObjectId

from lexigram_nosql.backends.mongodb.ids import (
    document_from_server,
    document_to_server,
    filter_to_server,
    id_from_server,
    id_to_server,
    pipeline_to_server,
    update_to_server,
)

OID = ObjectId()
HEX = str(OID)


def test_a_24_hex_string_is_the_object_id_it_spells() -> None:
    assert id_to_server(HEX) == OID
    assert id_to_server(HEX.upper()) == OID


def test_other_ids_are_stored_as_given() -> None:
    spaced = "aa bb cc dd ee ff 001122"  # 24 characters, not 24 hex digits
    for value in ("user-1", HEX[:23], HEX + "0", "z" * 24, spaced, 42, {"a": 1}, None, True):
        assert id_to_server(value) == value
        assert type(id_to_server(value)) is type(value)


def test_object_ids_come_back_as_hex_strings() -> None:
    assert id_from_server(OID) == HEX
    assert id_from_server("x") == "x"


def test_only_the_top_level_id_of_a_read_document_is_converted() -> None:
    nested = ObjectId()
    document = document_from_server({"_id": OID, "ref": nested, "refs": [nested]})
    assert document == {"_id": HEX, "ref": nested, "refs": [nested]}


def test_a_document_written_gets_its_hex_id_converted_on_a_copy() -> None:
    original = {"_id": HEX, "a": 1}
    converted = document_to_server(original)
    assert converted == {"_id": OID, "a": 1}
    assert original["_id"] == HEX
    assert "_id" not in document_to_server({"a": 1})


def test_id_equality_and_operators_are_converted() -> None:
    other = ObjectId()
    assert filter_to_server({"_id": HEX}) == {"_id": OID}
    assert filter_to_server({"_id": {"$eq": HEX}}) == {"_id": {"$eq": OID}}
    assert filter_to_server({"_id": {"$ne": HEX}}) == {"_id": {"$ne": OID}}
    assert filter_to_server({"_id": {"$in": [HEX, "plain", str(other)]}}) == {
        "_id": {"$in": [OID, "plain", other]}
    }
    assert filter_to_server({"_id": {"$nin": [HEX]}}) == {"_id": {"$nin": [OID]}}
    assert filter_to_server({"_id": {"$gt": HEX, "$lte": HEX}}) == {
        "_id": {"$gt": OID, "$lte": OID}
    }
    assert filter_to_server({"_id": {"$not": {"$in": [HEX]}}}) == {"_id": {"$not": {"$in": [OID]}}}


def test_id_conditions_inside_logical_operators_are_converted() -> None:
    filter = {"$or": [{"_id": HEX}, {"$and": [{"_id": {"$in": [HEX]}}, {"a": HEX}]}]}
    assert filter_to_server(filter) == {
        "$or": [{"_id": OID}, {"$and": [{"_id": {"$in": [OID]}}, {"a": HEX}]}]
    }


def test_other_fields_and_non_id_operators_are_left_alone() -> None:
    filter = {"owner": HEX, "_id": {"$exists": True, "$regex": "^a"}}
    assert filter_to_server(filter) == filter
    untouched = {"a": 1}
    assert filter_to_server(untouched) is untouched


def test_updates_convert_the_id_an_upsert_or_replacement_writes() -> None:
    assert update_to_server({"_id": HEX, "a": 1}, replacement=True) == {"_id": OID, "a": 1}
    assert update_to_server({"$setOnInsert": {"_id": HEX}}, replacement=False) == {
        "$setOnInsert": {"_id": OID}
    }
    plain = {"$set": {"a": HEX}}
    assert update_to_server(plain, replacement=False) is plain


def test_pipelines_convert_ids_only_while_they_are_still_document_ids() -> None:
    pipeline = [
        {"$match": {"_id": {"$in": [HEX]}}},
        {"$sort": {"a": 1}},
        {"$match": {"_id": HEX}},
        {"$group": {"_id": "$owner"}},
        {"$match": {"_id": HEX}},
    ]
    assert pipeline_to_server(pipeline) == [
        {"$match": {"_id": {"$in": [OID]}}},
        {"$sort": {"a": 1}},
        {"$match": {"_id": OID}},
        {"$group": {"_id": "$owner"}},
        {"$match": {"_id": HEX}},
    ]
