"""Dotted paths: reading with MongoDB's array traversal, writing with its update rules."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.paths import (
    MISSING,
    PLAIN_PATHS,
    check_path,
    get_path,
    get_values,
    path_getter,
    set_path,
    unset_path,
)


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({"a": 1}, "a", [1]),
        ({}, "a", [MISSING]),
        ({"a": None}, "a", [None]),
        ({"a": {"b": 2}}, "a.b", [2]),
        ({"a": {"c": 2}}, "a.b", [MISSING]),
        ({"a": 5}, "a.b", [MISSING]),
        ({"a": None}, "a.b", [MISSING]),
        ({"a": [1, 2]}, "a", [[1, 2]]),
        ({"a": [{"b": 1}, {"b": [2, 3]}]}, "a.b", [1, [2, 3]]),
        ({"a": [{"b": 1}, {"c": 2}]}, "a.b", [1, MISSING]),
        ({"a": [1, 2]}, "a.b", []),
        ({"a": []}, "a.b", []),
        ({"a": [[{"b": 1}]]}, "a.b", []),
        ({"a": [10, 20]}, "a.1", [20]),
        ({"a": [10, 20]}, "a.2", []),
        ({"a": [{"b": 1}, {"b": 2}]}, "a.1.b", [2]),
        ({"a": [{"0": "field"}, 5]}, "a.0", ["field", {"0": "field"}]),
        ({"a": {"0": "x"}}, "a.0", ["x"]),
        ({"a": [[1, 2], [3]]}, "a.0", [[1, 2]]),
        ({"a": [[1, 2], [3]]}, "a.0.1", [2]),
        ({"a": [{"b": [{"c": 1}, {"c": 2}]}]}, "a.b.c", [1, 2]),
        ({"x y": {"é": 1}}, "x y.é", [1]),
        ({"a": 1}, "", [{"a": 1}]),
    ],
)
def test_get_values(document: Any, path: str, expected: list[Any]) -> None:
    assert get_values(document, path) == expected
    assert path_getter(path)(document) == expected


def test_path_getter_on_a_non_document_value() -> None:
    assert path_getter("a")(5) == [MISSING]
    assert path_getter("a")([{"a": 1}]) == [1]


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({"a": 1}, "a", 1),
        ({}, "a", MISSING),
        ({"a": {"b": [1, {"c": 3}]}}, "a.b.1.c", 3),
        ({"a": [1, 2]}, "a.5", MISSING),
        ({"a": [{"b": 1}]}, "a.b", MISSING),
        ({"a": "text"}, "a.0", MISSING),
        ({"a": {"b": None}}, "a.b", None),
    ],
)
def test_get_path(document: Any, path: str, expected: Any) -> None:
    assert get_path(document, path) == expected


@pytest.mark.parametrize(
    ("document", "path", "value", "expected"),
    [
        ({}, "a", 1, {"a": 1}),
        ({}, "a.b.c", 1, {"a": {"b": {"c": 1}}}),
        ({"a": {"x": 0}}, "a.b", 1, {"a": {"x": 0, "b": 1}}),
        ({"a": [1, 2]}, "a.1", 9, {"a": [1, 9]}),
        ({"a": [1]}, "a.3", 9, {"a": [1, None, None, 9]}),
        ({"a": [{"b": 1}]}, "a.0.b", 2, {"a": [{"b": 2}]}),
        ({"a": []}, "a.1.b", 2, {"a": [None, {"b": 2}]}),
        ({"a": {"0": 1}}, "a.0", 2, {"a": {"0": 2}}),
        ({"a": 1}, "a", {"n": 1}, {"a": {"n": 1}}),
    ],
)
def test_set_path(document: dict[str, Any], path: str, value: Any, expected: Any) -> None:
    set_path(document, path, value)
    assert document == expected


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"a": 1}, "a.b"),
        ({"a": None}, "a.b"),
        ({"a": "s"}, "a.0"),
        ({"a": [1, 2]}, "a.b"),
        ({"a": [None]}, "a.0.b"),
    ],
)
def test_set_path_refuses_to_go_through_a_scalar_or_name_an_array_field(
    document: dict[str, Any], path: str
) -> None:
    before = copy.deepcopy(document)
    with pytest.raises(InvalidQueryError) as raised:
        set_path(document, path, 1, operator="$set")
    assert raised.value.path == path
    assert raised.value.operator == "$set"
    assert path in str(raised.value)
    assert document == before


@pytest.mark.parametrize(
    ("document", "path", "removed", "expected"),
    [
        ({"a": 1, "b": 2}, "a", True, {"b": 2}),
        ({"a": 1}, "b", False, {"a": 1}),
        ({"a": {"b": 1, "c": 2}}, "a.b", True, {"a": {"c": 2}}),
        ({"a": [1, 2, 3]}, "a.1", True, {"a": [1, None, 3]}),
        ({"a": [1]}, "a.4", False, {"a": [1]}),
        ({"a": [{"b": 1}]}, "a.b", False, {"a": [{"b": 1}]}),
        ({"a": [{"b": 1}]}, "a.0.b", True, {"a": [{}]}),
        ({"a": 5}, "a.b", False, {"a": 5}),
    ],
)
def test_unset_path(document: dict[str, Any], path: str, removed: bool, expected: Any) -> None:
    assert unset_path(document, path) is removed
    assert document == expected


@pytest.mark.parametrize("path", ["a", "a.b", "a.0.b", "field with spaces", "ünïcödé.字段"])
def test_check_path_accepts(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("", "must not be empty"),
        ("a..b", "empty segment"),
        (".a", "empty segment"),
        ("a.", "empty segment"),
        ("a.$b", "field position"),
        ("$a", "field position"),
        (3, "must be a string"),
    ],
)
def test_check_path_refuses(path: Any, fragment: str) -> None:
    with pytest.raises(InvalidQueryError, match=fragment):
        check_path(path, operator="$set")


def test_missing_is_a_singleton_that_survives_copies() -> None:
    assert copy.copy(MISSING) is MISSING
    assert copy.deepcopy({"a": MISSING})["a"] is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert repr(MISSING) == "MISSING"


def test_plain_paths_checked_once_are_remembered_and_the_memory_is_bounded() -> None:
    PLAIN_PATHS.clear()
    check_path("a.b")
    long_path = "x" * 200
    check_path(long_path)
    for refused in ("a..b", "$a"):
        with pytest.raises(InvalidQueryError):
            check_path(refused)
    assert {"a.b"} == PLAIN_PATHS  # never a refused path, nor a long one
    for index in range(5000):
        check_path(f"f{index}")
    assert 0 < len(PLAIN_PATHS) <= 4096
