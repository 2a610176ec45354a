"""``IndexSpec``: the recorded form other processes read keeps a partial filter exactly, and
the filter decides which documents the index holds."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest

from lexigram_nosql import InvalidQueryError
from lexigram_nosql.backends.index_spec import IndexSpec


def build(**options: object) -> IndexSpec:
    defaults: dict[str, object] = {
        "unique": True,
        "sparse": False,
        "name": None,
        "expire_after_seconds": None,
    }
    return IndexSpec.build("email", **{**defaults, **options})  # type: ignore[arg-type]


def test_a_partial_filter_survives_its_recorded_json() -> None:
    filter = {
        "at": {"$gte": datetime(2024, 5, 1, 12, 30, 0, 123000, tzinfo=UTC)},
        "$or": [{"kind": {"$in": ["a", 2, 2.5, None]}}, {"ref": uuid.UUID(int=7)}],
        "flag": {"$exists": True, "$type": ["bool", "int"]},
        "o": {"$eq": {"nested": {"x": 1.5}}},
    }
    spec = build(partial_filter_expression=filter)
    again = IndexSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec
    assert again.partial_filter == filter
    document = {"at": datetime(2024, 6, 1, tzinfo=UTC), "kind": 2, "flag": True}
    document["o"] = {"nested": {"x": 1.5}}
    assert again.covers(document) and spec.covers(document)
    assert not again.covers({**document, "flag": "yes"})


def test_a_record_without_a_partial_filter_reads_as_a_full_index() -> None:
    recorded = {"name": "email_1", "keys": [["email", 1]], "unique": True, "sparse": False}
    spec = IndexSpec.from_json(recorded)
    assert spec.partial_filter is None and spec.covers({})
    assert spec.paths == ("email",)


def test_the_paths_of_a_partial_index_include_its_filter() -> None:
    spec = build(partial_filter_expression={"$or": [{"a": 1}, {"email": {"$gt": "m"}}], "b": 2})
    assert spec.paths == ("email", "a", "b")


def test_the_operator_refused_is_named() -> None:
    with pytest.raises(InvalidQueryError) as info:
        build(
            partial_filter_expression={
                "$and": [{"a": 1}, {"b": {"$in": [1, 2]}}, {"c": {"$ne": 3}}]
            }
        )
    assert info.value.operator == "$ne" and info.value.path == "c"
    with pytest.raises(InvalidQueryError) as info:
        build(partial_filter_expression={"a": {"$in": ["x", re.compile("y")]}})
    assert info.value.operator == "$in"
