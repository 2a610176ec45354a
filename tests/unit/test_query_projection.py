"""Projections: inclusion, exclusion, ``_id`` handling, paths through arrays, refusals."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.projection import Projection, apply_projection, parse_projection

DOCUMENT: dict[str, Any] = {
    "_id": 1,
    "name": "n",
    "a": {"b": 1, "c": 2},
    "items": [{"k": 1, "v": "x"}, {"k": 2}, 3, [{"k": 4, "v": "y"}]],
    "n": None,
}


@pytest.mark.parametrize(
    ("projection", "expected"),
    [
        (None, DOCUMENT),
        ({}, DOCUMENT),
        ({"name": 1}, {"_id": 1, "name": "n"}),
        ({"name": True, "_id": 0}, {"name": "n"}),
        ({"name": 1, "missing": 1}, {"_id": 1, "name": "n"}),
        ({"a.b": 1}, {"_id": 1, "a": {"b": 1}}),
        ({"a.zz": 1}, {"_id": 1, "a": {}}),
        ({"name.x": 1}, {"_id": 1}),
        ({"items.k": 1}, {"_id": 1, "items": [{"k": 1}, {"k": 2}, [{"k": 4}]]}),
        ({"n": 1}, {"_id": 1, "n": None}),
        ({"_id": 1}, {"_id": 1}),
        ({"_id": 0}, {k: v for k, v in DOCUMENT.items() if k != "_id"}),
        ({"name": 0}, {k: v for k, v in DOCUMENT.items() if k != "name"}),
        ({"a.b": 0, "_id": 0}, {"name": "n", "a": {"c": 2}, "items": DOCUMENT["items"], "n": None}),
        (
            {"items.v": 0, "a": 0, "n": 0, "name": 0},
            {"_id": 1, "items": [{"k": 1}, {"k": 2}, 3, [{"k": 4}]]},
        ),
        ({"name": 0.0, "a": 0, "items": 0, "n": 0}, {"_id": 1}),
        ({"name": 2}, {"_id": 1, "name": "n"}),
    ],
)
def test_apply_projection(projection: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    before = copy.deepcopy(DOCUMENT)
    assert apply_projection(parse_projection(projection), DOCUMENT) == expected
    assert before == DOCUMENT


def test_inclusion_keeps_the_document_order() -> None:
    result = apply_projection(parse_projection({"c": 1, "a": 1}), {"a": 1, "b": 2, "c": 3})
    assert list(result) == ["a", "c"]


def test_parsed_form() -> None:
    assert parse_projection({"a": 1, "_id": 0}) == Projection(
        ("a",), True, False, {"a": 1, "_id": 0}
    )
    assert parse_projection({"a": 0}) == Projection(("a",), False, True, {"a": 0})
    assert parse_projection({"_id": 0}) == Projection((), False, False, {"_id": 0})
    assert parse_projection({"_id": 1}) == Projection((), True, True, {"_id": 1})


@pytest.mark.parametrize(
    ("projection", "path", "fragment"),
    [
        ({"a": 1, "b": 0}, "b", "cannot mix"),
        ({"a": 0, "b": 1}, "a", "cannot mix"),
        ({"a": 1, "a.b": 1}, "a.b", "path collision"),
        ({"a.b": 0, "a": 0}, "a", "path collision"),
        ({"a": "$b"}, "a", "use 1 (keep) or 0 (drop)"),
        ({"a": None}, "a", "use 1 (keep) or 0 (drop)"),
        ({"a": {"$slice": 2}}, "a", "not supported"),
        ({"a": {"$elemMatch": {"b": 1}}}, "a", "not supported"),
        ({"": 1}, "", "must not be empty"),
        ({"a..b": 1}, "a..b", "empty segment"),
        ({"$a": 1}, "$a", "field position"),
        ({"a.$": 1}, "a.$", "field position"),
    ],
)
def test_invalid_projections(projection: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        parse_projection(projection)
    assert fragment in str(raised.value)
    assert raised.value.path == path


def test_projection_is_a_mapping_or_a_list_of_field_names() -> None:
    listed = parse_projection(["a", "b.c"])
    assert listed is not None and listed.raw == {"a": 1, "b.c": 1} and listed.include
    for wrong in ("a", ["a", 1], 5):
        with pytest.raises(InvalidQueryError, match="must be a document"):
            parse_projection(wrong)  # type: ignore[arg-type]


def test_projected_containers_are_new() -> None:
    document = {"a": {"b": 1, "c": 2}}
    result = apply_projection(parse_projection({"a.b": 1}), document)
    result["a"]["b"] = 99
    assert document == {"a": {"b": 1, "c": 2}}
