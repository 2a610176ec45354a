"""Validation of the arguments every backend receives (sort, skip, limit, index keys)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lexigram_nosql import InvalidQueryError
from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.query.requests import parse_sort


def test_parse_sort_accepts_pairs() -> None:
    assert parse_sort([("a", 1), ["b.c", -1]]) == (("a", 1), ("b.c", -1))
    assert parse_sort(None) == ()


@pytest.mark.parametrize(
    "sort",
    [{"a": 1, "b": -1}, {"a": 1, "b": -1}.items(), ["a", ("b", -1)], (("a", 1), ("b", -1))],
)
def test_parse_sort_takes_every_form_pymongo_does(sort: Any) -> None:
    assert parse_sort(sort) == (("a", 1), ("b", -1))
    assert parse_sort("a") == (("a", 1),)


@pytest.mark.parametrize(
    ("sort", "fragment"),
    [
        (b"a", "list of (field, 1 | -1) pairs"),
        (5, "list of (field, 1 | -1) pairs"),
        ({"a": 2}, "must be 1 or -1"),
        ([("a", 2)], "must be 1 or -1"),
        ([("a", True)], "must be 1 or -1"),
        ([("", 1)], "field path"),
        ([("$a", 1)], "field path"),
        ([("a", 1), ("a", -1)], "twice"),
        ([("a",)], "pairs"),
    ],
)
def test_parse_sort_refuses_malformed_specs(sort: Any, fragment: str) -> None:
    with pytest.raises(InvalidQueryError, match=re.escape(fragment)):
        parse_sort(sort)


def test_index_spec_defaults_its_name_like_mongodb() -> None:
    spec = IndexSpec.build(
        [("email", 1), ("age", -1)], unique=True, sparse=False, name=None, expire_after_seconds=None
    )
    assert spec.name == "email_1_age_-1"
    assert spec.keys == (("email", 1), ("age", -1))
    single = IndexSpec.build(
        "email", unique=False, sparse=False, name=None, expire_after_seconds=None
    )
    assert single.keys == (("email", 1),)


@pytest.mark.parametrize("ttl", [-1, 1.5, True, "60"])
def test_index_spec_refuses_a_bad_ttl(ttl: Any) -> None:
    with pytest.raises(InvalidQueryError, match="expireAfterSeconds"):
        IndexSpec.build("a", unique=False, sparse=False, name=None, expire_after_seconds=ttl)


def test_index_spec_takes_whole_seconds_given_as_a_float() -> None:
    spec = IndexSpec.build("a", unique=False, sparse=False, name=None, expire_after_seconds=60.0)
    assert spec.expire_after_seconds == 60 and type(spec.expire_after_seconds) is int


def test_index_spec_needs_a_key() -> None:
    with pytest.raises(InvalidQueryError, match="at least one key"):
        IndexSpec.build([], unique=False, sparse=False, name=None, expire_after_seconds=None)
