"""The planner picks the cheapest read that cannot miss a match, and says when the engine
must still check what DynamoDB returns."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql.backends.dynamodb.planner import (
    Placeholders,
    Plan,
    compile_filter,
    normalize_filter,
    plan_read,
    query_shape,
)
from lexigram_nosql.backends.dynamodb.tables import ARRAY_SENTINEL, GsiInfo, TableInfo
from lexigram_nosql.query.filter import parse_filter

TABLE = TableInfo("t_users", "_id", "S")
EVENTS = TableInfo(
    "t_events",
    "tenant",
    "S",
    "seq",
    "N",
    (GsiInfo("by_kind", "kind", "S", "at", "S"),),
)
SHADOWED = TableInfo(
    "t_people",
    "_id",
    "S",
    None,
    None,
    (GsiInfo("email_1", '__lx:[["email",1]]', "S", None, None, (("email", 1),)),),
)


def plan(filter: dict[str, Any], info: TableInfo = TABLE, sort: Any = ()) -> Plan:
    return plan_read(normalize_filter(parse_filter(filter)), info, tuple(sort))


def test_key_equality_is_one_get_item() -> None:
    found = plan({"_id": "u1"})
    assert found.operation == "GetItem"
    assert found.keys == ({"_id": {"S": "u1"}},)
    assert found.exact


@pytest.mark.parametrize(
    "value",
    ["u1", "", "\x00n1", 7, 7.0, -0.5, True, None, {"a": 1}, [1, 2], datetime(2024, 5, 1)],
)
def test_the_key_equality_shortcut_plans_what_the_general_way_plans(value: Any) -> None:
    """``{"_id": v}`` skips the planner's walk over the filter: same plan, for any value."""
    node = normalize_filter(parse_filter({"_id": value}))
    general = plan_read(normalize_filter(parse_filter({"$and": [{"_id": value}]})), TABLE)
    assert plan_read(node, TABLE) == general
    assert general.operation in ("GetItem", "None")


def test_key_in_is_a_batch_get_and_other_conditions_stay_for_the_engine() -> None:
    found = plan({"_id": {"$in": ["a", "b", "a", 3]}, "age": {"$gt": 1}})
    assert found.operation == "BatchGetItem"
    assert len(found.keys) == 3  # duplicates removed, the int is a tagged string key
    assert not found.exact


def test_a_key_no_document_can_have_reads_nothing() -> None:
    found = plan({"_id": "x" * 3000})  # longer than any DynamoDB key
    assert found.operation == "None"


def test_a_document_id_is_one_get() -> None:
    found = plan({"_id": {"a": 1}})
    assert found.operation == "GetItem" and found.exact


def test_partition_equality_with_a_sort_key_range_is_a_query_in_index_order() -> None:
    found = plan(
        {"tenant": "acme", "seq": {"$gte": 10, "$lte": 20}, "x": 1},
        EVENTS,
        sort=[("seq", -1)],
    )
    assert found.operation == "Query"
    assert found.index is None
    assert found.key_condition is not None and "BETWEEN" in found.key_condition
    assert found.native_order
    assert found.requests[0]["ScanIndexForward"] is False
    assert found.exact  # numeric range and a scalar equality are both exact


def test_full_key_equality_on_a_composite_key_is_a_get() -> None:
    assert plan({"tenant": "acme", "seq": 3}, EVENTS).operation == "GetItem"


def test_equality_on_a_configured_index_queries_the_index() -> None:
    found = plan({"kind": "click", "at": {"$gt": "2024"}}, EVENTS, sort=[("at", 1)])
    assert found.operation == "Query"
    assert found.index == "by_kind"
    assert found.native_order  # string index key: MongoDB's string order


def test_created_indexes_also_read_the_array_partition() -> None:
    found = plan({"email": "a@x.org"}, SHADOWED)
    assert found.operation == "Query"
    assert found.index == "email_1"
    partitions = [r["ExpressionAttributeValues"] for r in found.requests]
    assert len(partitions) == 2
    assert {"S": ARRAY_SENTINEL} in [v for p in partitions for v in p.values()]
    assert not found.exact


def test_a_datetime_on_a_created_index_also_reads_the_earlier_text_key() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    found = plan({"email": when}, SHADOWED)
    keys = [v["S"] for r in found.requests for v in r["ExpressionAttributeValues"].values()]
    assert "\x00d2024-05-01T12:00:00.123Z" in keys  # the key text
    assert "2024-05-01T12:00:00.123000+00:00" in keys  # how earlier versions indexed it
    assert ARRAY_SENTINEL in keys


def test_null_equality_never_uses_a_created_index() -> None:
    assert plan({"email": None}, SHADOWED).operation == "Scan"


def test_anything_else_scans_with_every_expressible_condition_pushed() -> None:
    found = plan({"age": {"$gte": 18}, "name": "Ann", "nick": {"$regex": "^an"}})
    assert found.operation == "Scan"
    expression = found.filter_expression or ""
    assert "attribute_type" in expression and "begins_with" in expression
    assert not found.exact


@pytest.mark.parametrize(
    "filter",
    [
        {"name": "Robert'); DROP TABLE users; --"},
        {"age": {"$in": [41, 42.5]}},
        {"code": {"$lt": "zzz-secret"}},
    ],
)
def test_values_and_names_only_travel_as_placeholders(filter: dict[str, Any]) -> None:
    request = plan(filter).requests[0]
    expression = request["FilterExpression"]
    for value in json.dumps(filter)[1:-1].split('"'):
        if value.strip(" :,{}$[]") and not value.startswith("$"):
            assert value not in expression
    used = set(re.findall(r"[#:][a-z0-9]+", expression))
    assert used == set(request["ExpressionAttributeNames"]) | set(
        request["ExpressionAttributeValues"]
    )


@pytest.mark.parametrize(
    ("filter", "exact"),
    [
        ({"a": 1}, True),
        ({"a": {"$in": [1, 2]}}, True),
        ({"a": {"$exists": False}}, True),
        ({"a": {"$size": 2}}, True),
        ({"a": {"$gt": 1}}, False),  # arrays need the engine's "any element" rule
        ({"a": {"$ne": 1}}, False),
        ({"a.b": 1}, False),  # a path through an array DynamoDB cannot follow
        ({"a": {"$elemMatch": {"b": 1}}}, False),
        ({"$or": [{"a": 1}, {"b.c": 2}]}, False),
        ({"$or": [{"a": 1}, {"b": 2}]}, True),
        ({"a": None}, False),
    ],
)
def test_exactness_of_the_pushed_filter(filter: dict[str, Any], exact: bool) -> None:
    names = Placeholders()
    expression, is_exact = compile_filter(parse_filter(filter), names)
    assert is_exact is exact
    if filter in ({"a.b": 1}, {"$or": [{"a": 1}, {"b.c": 2}]}):
        assert expression is None  # nothing pushed rather than something too strict


def test_scan_shapes_ignore_values() -> None:
    assert query_shape(parse_filter({"a": 1, "b": {"$gt": 2}})) == query_shape(
        parse_filter({"b": {"$gt": 9}, "a": "x"})
    )
    assert query_shape(parse_filter({"a": 1})) != query_shape(parse_filter({"a": {"$gt": 1}}))


@pytest.mark.parametrize(
    ("filter", "info"),
    [
        ({"$and": [{"_id": "a"}, {"_id": "b"}]}, TABLE),
        ({"_id": "a", "age": 3}, TABLE),
        ({"tenant": "acme", "seq": {"$ne": 3}}, EVENTS),
        ({"$and": [{"tenant": "a"}, {"tenant": "b"}], "seq": {"$gt": 1}}, EVENTS),
        ({"tenant": "acme", "seq": {"$gt": "x"}}, EVENTS),
    ],
)
def test_key_conditions_the_key_cannot_decide_are_left_to_the_engine(
    filter: dict[str, Any], info: TableInfo
) -> None:
    assert not plan(filter, info).exact


def test_conditions_on_the_key_compare_with_keys_as_stored() -> None:
    found = plan({"$or": [{"_id": 5}, {"x": 1}]})
    request = found.requests[0]
    assert {"S": "\x00n5"} in request["ExpressionAttributeValues"].values()
    assert found.exact
    # A number range cannot be compared with tagged text: the engine decides.
    assert plan({"_id": {"$lt": 5}}).filter_expression is None


def test_strings_in_the_stored_datetime_form_are_left_to_the_engine() -> None:
    text = "2024-05-01T12:00:00.000000+00:00"
    assert not plan({"at": text}).exact
    # A key holds strings as strings (datetimes are tagged), so a key lookup stays exact.
    assert plan({"_id": text}).exact
