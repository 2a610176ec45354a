"""The Firestore planner: which queries a filter becomes (no emulator needed)."""

from __future__ import annotations

import re
from typing import Any

from lexigram_nosql.backends.firestore.codec import decode_id, encode_id
from lexigram_nosql.backends.firestore.planner import (
    DOCUMENT_ID,
    MAX_DISJUNCTIONS,
    Primitive,
    id_lookup,
    plan_filter,
)
from lexigram_nosql.query.filter import parse_filter


def plan(filter: dict[str, Any]) -> Any:
    return plan_filter(parse_filter(filter))


def ops(branch: tuple[Primitive, ...]) -> list[tuple[str, str, Any]]:
    return [(".".join(p.segments), p.op, p.value) for p in branch]


def test_empty_filter_is_one_unfiltered_exact_query() -> None:
    result = plan({})
    assert result.branches == ((),) and result.sound


def test_top_level_equality_is_the_value_or_an_array_containing_it() -> None:
    result = plan({"tags": "a"})
    assert [ops(b) for b in result.branches] == [
        [("tags", "==", "a")],
        [("tags", "array_contains", "a")],
    ]
    assert result.sound and result.disjoint


def test_dotted_path_also_reads_every_array_on_the_way() -> None:
    result = plan({"a.b": 1})
    assert [ops(b) for b in result.branches] == [
        [("a.b", "==", 1)],
        [("a.b", "array_contains", 1)],
        [("a", ">=", [])],
    ]
    assert not result.sound


def test_range_adds_the_arrays_at_the_field_and_needs_the_engine() -> None:
    result = plan({"age": {"$gte": 25}})
    assert [ops(b) for b in result.branches] == [[("age", ">=", 25)], [("age", ">=", [])]]
    assert not result.sound


def test_two_ranges_on_one_field_drop_the_impossible_mixes() -> None:
    result = plan({"age": {"$gte": 20, "$lt": 30}})
    assert [ops(b) for b in result.branches] == [
        [("age", ">=", 20), ("age", "<", 30)],
        [("age", ">=", [])],
    ]


def test_in_beyond_thirty_values_is_split_into_chunks() -> None:
    values = list(range(100))
    result = plan({"n": {"$in": values}})
    in_chunks = [b[0].value for b in result.branches if b[0].op == "in"]
    any_chunks = [b[0].value for b in result.branches if b[0].op == "array_contains_any"]
    assert all(len(chunk) <= MAX_DISJUNCTIONS for chunk in in_chunks + any_chunks)
    assert sorted(v for chunk in in_chunks for v in chunk) == values
    assert sorted(v for chunk in any_chunks for v in chunk) == values
    assert result.sound and result.disjoint


def test_in_treats_one_and_one_point_zero_as_one_value() -> None:
    result = plan({"n": {"$in": [1, 1.0, 2]}})
    assert ops(result.branches[0]) == [("n", "in", [1, 2])]


def test_empty_in_matches_nothing_without_a_query() -> None:
    assert plan({"n": {"$in": []}}).branches == ()


def test_conditions_firestore_cannot_bound_fall_back_to_every_document() -> None:
    for filter in (
        {"a": {"$ne": 1}},
        {"a": {"$nin": [1]}},
        {"a": None},
        {"a": {"$exists": True}},
        {"a": {"$regex": "^x"}},
        {"a": {"$type": "string"}},
        {"$nor": [{"a": 1}]},
        {"a": {"$not": {"$gt": 1}}},
        {"$or": [{"a": 1}, {"b": {"$ne": 2}}]},
    ):
        result = plan(filter)
        assert result.branches == ((),), filter
        assert not result.sound, filter


def test_and_keeps_the_narrow_clause_when_another_cannot_be_bounded() -> None:
    result = plan({"a": 1, "b": {"$regex": "x"}})
    assert [ops(b) for b in result.branches] == [[("a", "==", 1)], [("a", "array_contains", 1)]]
    assert not result.sound


def test_one_array_contains_per_query_the_other_is_left_to_the_engine() -> None:
    result = plan({"a": 1, "b": 2})
    for branch in result.branches:
        assert sum(p.op.startswith("array_contains") for p in branch) <= 1
    assert not result.sound
    # The branch that had both keeps the first and drops the second.
    assert [("a", "array_contains", 1)] in [ops(b) for b in result.branches]


def test_or_is_the_union_of_its_clauses() -> None:
    result = plan({"$or": [{"a": 1}, {"b": {"$gt": 2}}]})
    assert [ops(b) for b in result.branches] == [
        [("a", "==", 1)],
        [("a", "array_contains", 1)],
        [("b", ">", 2)],
        [("b", ">=", [])],
    ]
    assert not result.disjoint


def test_disjunctions_beyond_firestores_limit_are_trimmed() -> None:
    result = plan({"a": {"$in": list(range(30))}, "b": {"$in": list(range(30))}})
    for branch in result.branches:
        fan_out = 1
        for prim in branch:
            fan_out *= prim.fan_out
        assert fan_out <= MAX_DISJUNCTIONS


def test_id_equality_and_in_are_direct_gets() -> None:
    assert id_lookup(parse_filter({"_id": "a"})) == ["a"]
    assert id_lookup(parse_filter({"_id": {"$in": ["a", "b", "a"]}})) == ["a", "b"]
    assert id_lookup(parse_filter({"_id": "a", "x": 1})) == ["a"]
    assert id_lookup(parse_filter({"_id": 5})) == ["~%00n5"], "an int id keeps its type"
    assert id_lookup(parse_filter({"_id": {"$in": [5, 5.0, "5"]}})) == ["~%00n5", "5"]
    assert id_lookup(parse_filter({"x": 1})) is None
    assert id_lookup(parse_filter({"_id": {"$gt": "a"}})) is None


def test_id_inside_or_becomes_a_name_filter() -> None:
    result = plan({"$or": [{"_id": "a"}, {"x": 1}]})
    assert result.branches[0] == (Primitive(DOCUMENT_ID, "==", "a", "value"),)


def test_regex_ids_are_never_looked_up_directly() -> None:
    assert id_lookup(parse_filter({"_id": {"$in": [re.compile("a")]}})) is None


def test_reserved_and_escaped_ids_round_trip() -> None:
    for value in ["plain", "__lock__", "a/b", "~tilde", "", ".", "..", "50%/2F", "é"]:
        stored = encode_id(value)
        assert "/" not in stored
        assert not (stored.startswith("__") and stored.endswith("__"))
        assert decode_id(stored) == value
    assert encode_id("plain") == "plain", "ordinary ids are stored as they are"


def test_document_id_filters_are_kept_apart_from_inequalities() -> None:
    result = plan({"$or": [{"_id": "a"}, {"x": 1}], "n": {"$gt": 1}})
    for branch in result.branches:
        if any(p.segments == DOCUMENT_ID for p in branch):
            assert all(p.op not in ("<", "<=", ">", ">=") for p in branch), branch
    assert not result.sound
