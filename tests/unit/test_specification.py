"""Specifications compile to the query language and agree with the engine on every document."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query import matches, parse_filter
from lexigram_nosql.specification import (
    AndExpr,
    FieldContains,
    FieldEq,
    FieldExists,
    FieldGt,
    FieldGte,
    FieldIn,
    FieldLt,
    FieldLte,
    FieldNe,
    FieldNotIn,
    FieldRegex,
    NotExpr,
    OrExpr,
    Specification,
)


def test_guide_combination_compiles_to_and() -> None:
    """The guide's ``FieldEq(...) & FieldEq(...)`` works (it raised TypeError before)."""
    combined = FieldEq("status", "active") & FieldEq("role", "admin")
    assert isinstance(combined, AndExpr)
    assert combined.to_filter() == {
        "$and": [{"status": {"$eq": "active"}}, {"role": {"$eq": "admin"}}]
    }
    assert combined.is_satisfied_by({"status": "active", "role": "admin"})
    assert not combined.is_satisfied_by({"status": "active", "role": "user"})


def test_operators_flatten_and_constructors_match_them() -> None:
    a, b, c = FieldEq("a", 1), FieldEq("b", 2), FieldEq("c", 3)
    assert a & b & c == AndExpr(a, b, c)
    assert a | b | c == OrExpr(a, b, c)
    assert (a & b) | c == OrExpr(AndExpr(a, b), c)
    assert OrExpr(a, b).to_filter() == {"$or": [a.to_filter(), b.to_filter()]}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (FieldEq("a", {"x": 1}), {"a": {"$eq": {"x": 1}}}),
        (FieldNe("a", 1), {"a": {"$ne": 1}}),
        (FieldGt("a", 1), {"a": {"$gt": 1}}),
        (FieldGte("a", 1), {"a": {"$gte": 1}}),
        (FieldLt("a", 1), {"a": {"$lt": 1}}),
        (FieldLte("a", 1), {"a": {"$lte": 1}}),
        (FieldIn("a", [1, 2]), {"a": {"$in": [1, 2]}}),
        (FieldNotIn("a", (1, 2)), {"a": {"$nin": [1, 2]}}),
        (FieldExists("a"), {"a": {"$exists": True}}),
        (FieldExists("a", False), {"a": {"$exists": False}}),
        (FieldRegex("a", "^x", "i"), {"a": {"$regex": "^x", "$options": "i"}}),
        (FieldRegex("a", re.compile("^x", re.I | re.M)), {"a": {"$regex": "^x", "$options": "im"}}),
        (FieldContains("tags", 3), {"tags": {"$elemMatch": {"$eq": 3}}}),
    ],
)
def test_each_field_spec_compiles_to_a_valid_filter(spec: Specification, expected: Any) -> None:
    assert spec.to_filter() == expected
    parse_filter(spec.to_filter())


def test_a_document_value_is_compared_whole() -> None:
    """``FieldEq`` uses ``$eq``: a dict value is a value, and an operator hidden in one is
    refused by the query language rather than interpreted."""
    spec = FieldEq("a", {"x": 1})
    assert spec.is_satisfied_by({"a": {"x": 1}})
    assert not spec.is_satisfied_by({"a": {"x": 1, "y": 2}})
    with pytest.raises(InvalidQueryError):
        FieldEq("a", {"$gt": 1}).is_satisfied_by({"a": 5})


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"name": "bobby"}, True),
        ({"name": "rob"}, False),
        ({"name": ["bob", "x"]}, True),
        ({"name": ["bobby"]}, False),
        ({"name": "a.b"}, False),
        ({}, False),
    ],
)
def test_contains_is_substring_of_strings_and_element_of_arrays(
    doc: dict[str, Any], expected: bool
) -> None:
    assert FieldContains("name", "bob").is_satisfied_by(doc) is expected


def test_contains_escapes_regex_metacharacters() -> None:
    spec = FieldContains("name", "a.b")
    assert spec.is_satisfied_by({"name": "xa.by"})
    assert not spec.is_satisfied_by({"name": "axb"})


def test_negation_of_field_specs_uses_exact_equivalents() -> None:
    assert ~FieldEq("a", 1) == FieldNe("a", 1)
    assert ~FieldNe("a", 1) == FieldEq("a", 1)
    assert ~FieldIn("a", [1]) == FieldNotIn("a", [1])
    assert ~FieldNotIn("a", [1]) == FieldIn("a", [1])
    assert ~FieldExists("a") == FieldExists("a", False)
    assert ~~FieldGt("a", 1) == FieldGt("a", 1)


def test_negated_comparison_matches_documents_without_the_field() -> None:
    """``~FieldGt`` is not ``FieldLte``: a missing field is "not greater"."""
    spec = ~FieldGt("age", 18)
    assert spec.to_filter() == {"$nor": [{"age": {"$gt": 18}}]}
    assert spec.is_satisfied_by({})
    assert spec.is_satisfied_by({"age": 3})
    assert not spec.is_satisfied_by({"age": 30})


def test_negation_of_compound_specs_compiles_with_nor() -> None:
    both = FieldEq("a", 1) & FieldEq("b", 2)
    negated = ~both
    assert isinstance(negated, NotExpr)
    assert negated.to_filter() == {"$nor": [both.to_filter()]}
    assert negated.is_satisfied_by({"a": 1, "b": 3})
    assert not negated.is_satisfied_by({"a": 1, "b": 2})
    either = ~(FieldEq("a", 1) | FieldEq("b", 2))
    assert either.is_satisfied_by({"a": 2, "b": 3})
    assert not either.is_satisfied_by({"a": 2, "b": 2})


@pytest.mark.parametrize(
    "build",
    [
        lambda: FieldEq("", 1),
        lambda: FieldEq("$where", 1),
        lambda: FieldIn("a", "abc"),
        lambda: FieldIn("a", 3),
        lambda: FieldRegex("a", "x", "q"),
        lambda: AndExpr(),
        lambda: OrExpr(FieldEq("a", 1), {"a": 1}),
        lambda: NotExpr({"a": 1}),
    ],
)
def test_malformed_specs_are_refused_when_built(build: Any) -> None:
    with pytest.raises(InvalidQueryError):
        build()


def test_combining_with_a_non_spec_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        FieldEq("a", 1) & {"a": 1}  # type: ignore[operator]


# -- property: to_filter and is_satisfied_by always agree with the engine --------------

_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y"]))
_fields = st.sampled_from(["a", "b", "c.d"])


def _leaf() -> st.SearchStrategy[Specification]:
    return st.one_of(
        st.builds(FieldEq, _fields, _values),
        st.builds(FieldNe, _fields, _values),
        st.builds(FieldGt, _fields, _values),
        st.builds(FieldGte, _fields, _values),
        st.builds(FieldLt, _fields, _values),
        st.builds(FieldLte, _fields, _values),
        st.builds(FieldIn, _fields, st.lists(_values, max_size=3)),
        st.builds(FieldNotIn, _fields, st.lists(_values, max_size=3)),
        st.builds(FieldExists, _fields, st.booleans()),
        st.builds(FieldContains, _fields, _values),
    )


_specs = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(lambda a: ~a, inner),
    ),
    max_leaves=6,
)
_docs = st.fixed_dictionaries(
    {},
    optional={
        "a": st.one_of(_values, st.lists(_values, max_size=3)),
        "b": st.one_of(_values, st.lists(_values, max_size=3)),
        "c": st.fixed_dictionaries({}, optional={"d": _values}),
    },
)


@settings(max_examples=300, deadline=None)
@given(_specs, _docs)
def test_negation_is_the_exact_complement(spec: Specification, doc: dict[str, Any]) -> None:
    assert (~spec).is_satisfied_by(doc) is (not spec.is_satisfied_by(doc))
    assert spec.is_satisfied_by(doc) is matches(parse_filter(spec.to_filter()), doc)
