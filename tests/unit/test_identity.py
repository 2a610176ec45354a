"""``same_stored``: whether an update modified a document, as MongoDB counts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lexigram_nosql.query.identity import same_stored

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"a": [1, "x", {"b": 2}]}, {"a": [1, "x", {"b": 2}]}),
        (float("nan"), float("nan")),
        (0.0, 0.0),
        (-0.0, -0.0),
        (MOMENT, MOMENT),
        (None, None),
    ],
)
def test_the_same_stored_value(a: Any, b: Any) -> None:
    assert same_stored(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        (0.0, -0.0),
        ([1, 2], [2, 1]),
        ([1], [1, 1]),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": [1]}, {"a": (1,)}),
        (MOMENT, MOMENT.astimezone(timezone(timedelta(hours=2)))),
        (float("nan"), 1.0),
        ("1", 1),
    ],
)
def test_values_mongodb_stores_differently(a: Any, b: Any) -> None:
    assert not same_stored(a, b)
    assert not same_stored(b, a)


def test_field_order_counts() -> None:
    """MongoDB keeps an embedded document's field order (a reordered one is a change)."""
    assert not same_stored({"a": 1, "b": 2}, {"b": 2, "a": 1})
