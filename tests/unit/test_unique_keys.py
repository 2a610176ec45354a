"""The values a unique index calls equal share one guard key (backends/unique.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.unique import entries, find_duplicates

SINGLE = IndexSpec((("a", 1),), "a_1", True)
COMPOUND = IndexSpec((("a", 1), ("b", 1)), "a_1_b_1", True)
SPARSE = IndexSpec((("a", 1),), "a_1", True, True)


def keys(spec: IndexSpec, document: dict[str, Any]) -> set[str]:
    return set(entries(spec, document))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (1, Decimal("1")),
        (0.5, Decimal("0.5")),
        (None, "<missing>"),
        ({"x": 1, "y": 2}, {"y": 2, "x": 1}),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 0, 0, 400, tzinfo=UTC)),
    ],
)
def test_equal_values_share_a_key(left: Any, right: Any) -> None:
    right_document = {} if right == "<missing>" else {"a": right}
    assert keys(SINGLE, {"a": left}) == keys(SINGLE, right_document)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, "1"),
        (1, True),
        (0, False),
        (None, "null"),
        ([], None),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=1)),
        (re.compile("x"), "x"),
    ],
)
def test_different_values_have_different_keys(left: Any, right: Any) -> None:
    assert keys(SINGLE, {"a": left}).isdisjoint(keys(SINGLE, {"a": right}))


def test_arrays_give_one_key_per_element_and_compound_keys_are_unambiguous() -> None:
    assert len(keys(SINGLE, {"a": [1, 2, 2.0]})) == 2
    assert keys(COMPOUND, {"a": "x,y", "b": "z"}).isdisjoint(keys(COMPOUND, {"a": "x", "b": "y,z"}))
    assert keys(SPARSE, {"b": 1}) == set()
    assert keys(SPARSE, {"a": None}) == keys(SINGLE, {})


def test_find_duplicates_names_the_shared_values() -> None:
    documents = [(1, {"a": "x"}), (2, {"a": "y"}), (3, {"a": ["z", "x"]}), (4, {"a": 1.0})]
    assert find_duplicates(SINGLE, documents) == [{"a": "x"}]
    assert find_duplicates(SINGLE, [(1, {"a": [1, 1]})]) == []
