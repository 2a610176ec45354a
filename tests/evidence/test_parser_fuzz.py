"""Generated garbage never crashes the query parsers with anything but a ``QueryError``.

The values are recursive JSON-like documents whose keys are drawn from real operators, random
``$``-names, odd field names and non-string keys, so most reach deep into the parsers before
being refused. A crash here (``TypeError``, ``KeyError``, ``RecursionError``...) is a parser bug.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query import (
    matches,
    parse_filter,
    parse_pipeline,
    parse_projection,
    parse_update,
)
from lexigram_nosql.query.values import MAX_NESTING, MAX_STORED_NESTING

OPERATORS = [
    *[
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$exists",
        "$type",
        "$size",
        "$all",
        "$elemMatch",
        "$regex",
        "$options",
    ],
    *[
        "$mod",
        "$not",
        "$and",
        "$or",
        "$nor",
        "$expr",
        "$where",
        "$function",
        "$accumulator",
        "$text",
        "$comment",
    ],
    *[
        "$set",
        "$unset",
        "$inc",
        "$mul",
        "$min",
        "$max",
        "$rename",
        "$push",
        "$pull",
        "$addToSet",
        "$pop",
        "$currentDate",
    ],
    *["$setOnInsert", "$each", "$slice", "$sort", "$position", "$bit"],
    *[
        "$match",
        "$project",
        "$addFields",
        "$group",
        "$sort",
        "$limit",
        "$skip",
        "$unwind",
        "$lookup",
        "$count",
        "$facet",
    ],
    *[
        "$replaceRoot",
        "$out",
        "$merge",
        "$sum",
        "$avg",
        "$first",
        "$push",
        "$add",
        "$cond",
        "$literal",
        "$let",
        "$map",
    ],
]
KEYS = st.one_of(
    st.sampled_from(OPERATORS),
    st.sampled_from(["a", "a.b", "_id", "", ".", "a..b", "a.$", "a.$[]", "0", "n", "s"]),
    st.text(max_size=6).map(lambda t: "$" + t),
    st.text(max_size=6),
    st.integers(-2, 2),
    st.none(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["$a", "$$ROOT", "$$bogus", "$", "(", "js", "date", "i"]),
    st.just(datetime(2024, 1, 1, tzinfo=UTC)),
    st.binary(max_size=4),
)
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),  # type: ignore[arg-type]
    ),
    max_leaves=30,
)
REFUSALS = (InvalidQueryError, UnsupportedQueryError)
SAMPLE = {"_id": 1, "a": {"b": [1, "x", None]}, "n": 2.5, "s": ["x", {"a": 1}]}


def _refuses_or_accepts(parse: Callable[[Any], Any], value: Any) -> Any:
    try:
        return parse(value)
    except REFUSALS as exc:
        assert str(exc), "a refusal names what was wrong"
        return None


@settings(max_examples=300, deadline=None)
@given(GARBAGE)
def test_filters(value: Any) -> None:
    node = _refuses_or_accepts(parse_filter, value)
    if node is not None:
        # An accepted filter is evaluated without crashing too (type mismatches never match).
        _refuses_or_accepts(lambda n: matches(n, SAMPLE), node)


@settings(max_examples=300, deadline=None)
@given(GARBAGE)
def test_updates(value: Any) -> None:
    _refuses_or_accepts(parse_update, value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(GARBAGE, max_size=3), GARBAGE))
def test_pipelines(value: Any) -> None:
    _refuses_or_accepts(parse_pipeline, value)


@settings(max_examples=300, deadline=None)
@given(GARBAGE)
def test_projections(value: Any) -> None:
    _refuses_or_accepts(parse_projection, value)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(OPERATORS), GARBAGE, min_size=1, max_size=3))
def test_operator_documents(value: Any) -> None:
    """Documents made only of operators get past the first key check more often."""
    for parse in (parse_filter, parse_update, parse_projection):
        _refuses_or_accepts(parse, value)
    _refuses_or_accepts(parse_pipeline, [value])


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("parse", [parse_filter, parse_update, parse_pipeline])
def test_values_nest_at_most_as_deep_as_mongodb_stores(parse: Callable[[Any], Any]) -> None:
    """A value in a filter, update or pipeline is held to the stored value model: a value
    of MAX_STORED_NESTING levels parses, one more is a named refusal."""
    wrap: Callable[[Any], Any] = {
        parse_filter: lambda d: d,
        parse_update: lambda d: {"$set": d},
        parse_pipeline: lambda d: [{"$match": d}],
    }[parse]
    parse(wrap(_nested(MAX_STORED_NESTING + 1)))  # the field "a", then a 100-level value
    with pytest.raises(InvalidQueryError, match=f"more than {MAX_STORED_NESTING} levels"):
        parse(wrap(_nested(MAX_STORED_NESTING + 2)))


def _ands(count: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(count):
        value = {"$and": [value]}
    return value


def test_a_query_nests_at_most_max_nesting_levels() -> None:
    """The query's own structure (each $and is a document and a list) is limited exactly:
    MAX_NESTING levels parse, one more is a named refusal."""
    levels_per_and = 2
    fits = (MAX_NESTING - 2) // levels_per_and  # the root and the innermost condition
    parse_filter(_ands(fits))
    with pytest.raises(InvalidQueryError, match=f"more than {MAX_NESTING} levels"):
        parse_filter(_ands(fits + 1))


def test_a_huge_in_list_is_accepted() -> None:
    """MongoDB accepts a 100,000-value ``$in`` (only the 16 MB message size bounds it)."""
    node = parse_filter({"n": {"$in": [*range(100_000), math.pi]}})
    assert matches(node, {"n": math.pi})
    assert not matches(node, {"n": -1})


@pytest.mark.parametrize(
    "pipeline",
    [
        [{"$unwind": {"$eq": None, 0: None}}],  # found by hypothesis: sorting mixed keys
        [{"$lookup": {0: 1, "a": 2}}],
        [{"$project": {"x": {"$dateToString": {0: 1, "format": "%Y"}}}}],
    ],
)
def test_unknown_options_of_mixed_key_types_are_named(pipeline: list[Any]) -> None:
    with pytest.raises(InvalidQueryError, match="does not accept"):
        parse_pipeline(pipeline)
