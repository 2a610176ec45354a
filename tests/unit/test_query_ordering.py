"""MongoDB's cross-type order: comparisons, equality, and sort keys for documents."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.query.ordering import (
    compare_values,
    document_sort_key,
    sort_key,
    values_equal,
)
from lexigram_nosql.query.paths import MISSING

# One value per type bracket, in MongoDB's order.
ASCENDING_BRACKETS: list[Any] = [
    None,
    -5,
    "a",
    {"a": 1},
    [1],
    b"\x00",
    datetime(2020, 1, 1),
    re.compile("x"),
]


@pytest.mark.parametrize("index", range(len(ASCENDING_BRACKETS) - 1))
def test_brackets_are_ordered(index: int) -> None:
    lower, higher = ASCENDING_BRACKETS[index], ASCENDING_BRACKETS[index + 1]
    assert compare_values(lower, higher) == -1
    assert compare_values(higher, lower) == 1


def test_bool_sorts_after_object_id_bracket_and_before_dates() -> None:
    assert compare_values([1], True) == -1
    assert compare_values(True, datetime(1970, 1, 1, tzinfo=UTC)) == -1
    assert compare_values(False, True) == -1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1.0, 0),
        (1, Decimal("1.0"), 0),
        (2, 1.5, 1),
        (Decimal("1.1"), 1.2, -1),
        (float("nan"), float("-inf"), -1),
        (float("nan"), float("nan"), 0),
        (Decimal("NaN"), float("nan"), 0),
        (10**30, 1e29, 1),
        (True, 1, 1),
        ("b", "a", 1),
        ("a", "ab", -1),
        ("Z", "a", -1),
        ("é", "z", 1),
        ("", None, 1),
        (MISSING, None, 0),
        ({"a": 1}, {"a": 1}, 0),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, -1),
        ({"a": 1}, {"a": 1, "b": 0}, -1),
        ({"a": 2}, {"a": "x"}, -1),
        ({"a": 1}, {"b": 1}, -1),
        ([1, 2], [1, 3], -1),
        ([1, 2], [1], 1),
        ([], [None], -1),
        (b"zz", b"aaa", -1),
        (b"ab", b"aa", 1),
        (datetime(2020, 1, 1), datetime(2020, 1, 1, tzinfo=UTC), 0),
        (
            datetime(2020, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            datetime(2020, 1, 1, tzinfo=UTC),
            0,
        ),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC), -1),
        (re.compile("a"), re.compile("a", re.I), -1),
    ],
)
def test_compare_values(a: Any, b: Any, expected: int) -> None:
    assert compare_values(a, b) == expected
    assert compare_values(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (1, True, False),
        (0, False, False),
        ("1", 1, False),
        (None, MISSING, True),
        ({"a": [1, {"b": 2}]}, {"a": [1.0, {"b": 2}]}, True),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),
        ([1, 2], [2, 1], False),
        (float("nan"), float("nan"), True),
    ],
)
def test_values_equal(a: Any, b: Any, equal: bool) -> None:
    assert values_equal(a, b) is equal


def test_sort_keys_are_hashable_and_equal_for_equal_values() -> None:
    keys = {sort_key(1), sort_key(1.0), sort_key(Decimal(1)), sort_key({"a": [1, "x"]})}
    assert len(keys) == 2


def test_unknown_types_sort_last_instead_of_failing() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "Thing()"

    assert compare_values(Thing(), re.compile("x")) == 1
    assert compare_values(Thing(), Thing()) == 0


def test_bson_values_use_their_brackets() -> None:
    import bson  # pymongo is in the test extra; the engine itself never imports it

    oid_a, oid_b = bson.ObjectId("0" * 24), bson.ObjectId("f" * 24)
    assert compare_values(oid_a, oid_b) == -1
    assert compare_values(b"x", oid_a) == -1
    assert compare_values(oid_b, False) == -1
    assert compare_values(bson.Int64(3), 3.0) == 0
    assert compare_values(bson.Decimal128("2.5"), 2.5) == 0
    assert compare_values(bson.MinKey(), None) == -1
    assert compare_values(bson.MaxKey(), re.compile("x")) == 1
    assert compare_values(bson.Timestamp(1, 1), datetime(2030, 1, 1, tzinfo=UTC)) == 1


def _sorted(docs: list[dict[str, Any]], sort: list[tuple[str, int]]) -> list[Any]:
    return [doc["_id"] for doc in sorted(docs, key=document_sort_key(sort))]


def test_sort_mixed_types_ascending_and_descending() -> None:
    docs = [
        {"_id": "str", "v": "a"},
        {"_id": "num", "v": 3},
        {"_id": "missing"},
        {"_id": "null", "v": None},
        {"_id": "bool", "v": False},
        {"_id": "obj", "v": {"x": 1}},
    ]
    ascending = _sorted(docs, [("v", 1)])
    assert ascending[:2] in (["missing", "null"], ["null", "missing"])
    assert ascending[2:] == ["num", "str", "obj", "bool"]
    descending = _sorted(docs, [("v", -1)])
    assert descending[:4] == ["bool", "obj", "str", "num"]


def test_sort_uses_the_smallest_element_ascending_and_largest_descending() -> None:
    docs = [
        {"_id": "a", "v": [1, 10]},
        {"_id": "b", "v": 5},
        {"_id": "c", "v": [3, 4]},
    ]
    assert _sorted(docs, [("v", 1)]) == ["a", "c", "b"]
    assert _sorted(docs, [("v", -1)]) == ["a", "b", "c"]


def test_empty_array_sorts_before_null() -> None:
    docs = [{"_id": "null", "v": None}, {"_id": "empty", "v": []}, {"_id": "one", "v": [1]}]
    assert _sorted(docs, [("v", 1)]) == ["empty", "null", "one"]
    assert _sorted(docs, [("v", -1)]) == ["one", "null", "empty"]


def test_sort_on_nested_paths_through_arrays() -> None:
    docs = [
        {"_id": 1, "a": [{"b": 7}, {"b": 2}]},
        {"_id": 2, "a": {"b": 5}},
        {"_id": 3, "a": [{"c": 1}]},
    ]
    assert _sorted(docs, [("a.b", 1)]) == [3, 1, 2]
    assert _sorted(docs, [("a.b", -1)]) == [1, 2, 3]


def test_compound_sort_with_mixed_directions() -> None:
    docs = [
        {"_id": 1, "g": "x", "n": 1},
        {"_id": 2, "g": "y", "n": 3},
        {"_id": 3, "g": "x", "n": 2},
        {"_id": 4, "g": "y", "n": 1},
    ]
    assert _sorted(docs, [("g", 1), ("n", -1)]) == [3, 1, 2, 4]
    assert _sorted(docs, [("g", -1), ("n", 1)]) == [4, 2, 1, 3]


def test_sort_is_stable_for_equal_keys() -> None:
    docs = [{"_id": i, "v": 1.0 if i % 2 else 1} for i in range(6)]
    assert _sorted(docs, [("v", 1)]) == list(range(6))
    assert _sorted(docs, [("v", -1)]) == list(range(6))


sortable_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        st.decimals(allow_nan=False, places=1, min_value=-5, max_value=5),
        st.text(alphabet="ab\u00e9\U0001f600", max_size=3),
        st.binary(max_size=2),
        st.datetimes(timezones=st.just(UTC)),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from("xy"), inner, max_size=2)
    ),
    max_leaves=4,
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(sortable_values, max_size=8), direction=st.sampled_from([1, -1]))
def test_sort_key_agrees_with_compare_values(values: list[Any], direction: int) -> None:
    """Both directions order documents exactly as compare_values orders their sort values."""
    docs = [{"v": value} for value in values]
    ordered = sorted(docs, key=document_sort_key([("v", direction)]))
    key = document_sort_key([("v", direction)])
    single = [key(doc) for doc in ordered]
    compound = [document_sort_key([("v", direction), ("w", 1)])(doc) for doc in ordered]
    for earlier, later in pairwise(ordered):
        a, b = earlier["v"], later["v"]
        if not isinstance(a, list) and not isinstance(b, list):
            assert compare_values(a, b) * direction <= 0
    assert single == sorted(single)
    assert compound == sorted(compound)


def test_javascript_code_is_its_own_type() -> None:
    """A str subclass in Python, JavaScript code sorts after regexes and never equals text."""
    import bson

    assert compare_values(bson.Code("x"), "x") == 1
    assert compare_values(bson.Code("x"), re.compile("x")) == 1
    assert compare_values(bson.Code("x"), bson.MaxKey()) == -1
    assert compare_values(bson.Code("x"), bson.Code("x", {})) == -1
    assert compare_values(bson.Code("x", {"a": 1}), bson.Code("x", {"a": 1})) == 0
