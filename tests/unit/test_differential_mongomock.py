"""Differential test: the filter engine against mongomock, an independent implementation.

Random small documents and random filters from the operator set; both implementations must
select the same documents. Where mongomock departs from MongoDB's documented behaviour, the
shape is excluded here and MongoDB's behaviour is pinned by a test below:

- ``True == 1`` in mongomock; in MongoDB bool and numbers are different types (no bools
  are generated; ``test_bool_is_not_a_number``).
- NaN never equals NaN in mongomock; MongoDB treats NaN as equal to NaN (no NaN generated).
- ``$size`` matches scalars and documents in mongomock (not generated; ``test_size``).
- ``{"$all": []}`` matches everything in mongomock, nothing in MongoDB (not generated).
- ``{"$all": [null]}`` does not match a missing field in mongomock; in MongoDB ``$all`` is
  the ``$and`` of equalities, and ``null`` equals missing (not generated; ``test_all``).
- ``$gte``/``$lte`` ``null`` do not match a missing field in mongomock; MongoDB treats them as
  equality with null (not generated; ``test_null_bounds_match_missing``).
- A path whose prefix is a scalar, ``null`` or an array of non-documents (``"a.b"`` on
  ``{"a": 1}``): MongoDB reads the field as missing, mongomock as absent from the candidate set
  (documents of that shape are left out; ``test_path_through_scalar_is_missing``).
- ``{"a": {}}`` matches a missing field in mongomock, only an empty document in MongoDB
  (not generated; ``test_empty_document_equality``).
- ``$mod`` and ``$type: "null"`` are not implemented by mongomock (not generated;
  ``test_query_filter.py`` pins them).
- ``$elemMatch`` on an array of arrays: mongomock looks into the inner arrays, MongoDB tests
  each element as it is (documents with nested arrays are left out of ``$elemMatch`` filters;
  ``test_elem_match_does_not_descend_into_nested_arrays``).
"""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexigram_nosql.query.filter import matches, parse_filter
from lexigram_nosql.query.paths import split_path

KEYS = ["a", "b"]
PATHS = ["a", "b", "a.b", "a.0", "a.b.a", "a.0.b", "b.a"]

scalars = st.sampled_from([0, 1, 2, -1, 1.5, 2.0, -0.5, "", "x", "y", "xy", None])
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=2),
    ),
    max_leaves=6,
)
documents = st.lists(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=2), min_size=1, max_size=8
)


def _operator_conditions() -> st.SearchStrategy[Any]:
    comparisons = st.builds(
        lambda op, v: {op: v},
        st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
        scalars.filter(lambda v: v is not None),
    )
    null_equalities = st.builds(lambda op: {op: None}, st.sampled_from(["$eq", "$ne"]))
    memberships = st.builds(
        lambda op, vs: {op: vs}, st.sampled_from(["$in", "$nin"]), st.lists(scalars, max_size=3)
    )
    alls = st.builds(
        lambda vs: {"$all": vs},
        st.lists(scalars.filter(lambda v: v is not None), min_size=1, max_size=2),
    )
    exists = st.builds(lambda b: {"$exists": b}, st.booleans())
    types = st.builds(
        lambda t: {"$type": t},
        st.sampled_from(["number", "string", "array", "object", "double", "int"]),
    )
    regexes = st.builds(lambda p: {"$regex": p}, st.sampled_from(["^x", "y", "^$", "x$"]))
    simple = st.one_of(comparisons, null_equalities, memberships, exists, types, regexes)
    negations = st.builds(lambda c: {"$not": c}, st.one_of(comparisons, memberships, regexes))
    elem_values = st.builds(
        lambda op, v: {"$elemMatch": {op: v}},
        st.sampled_from(["$gt", "$lt", "$eq", "$gte"]),
        scalars.filter(lambda v: v is not None),
    )
    elem_documents = st.builds(lambda k, v: {"$elemMatch": {k: v}}, st.sampled_from(KEYS), scalars)
    return st.one_of(simple, alls, negations, elem_values, elem_documents)


conditions = st.one_of(values.filter(lambda v: v != {}), _operator_conditions())
leaf_filters = st.builds(
    lambda path, condition: {path: condition}, st.sampled_from(PATHS), conditions
)
filters = st.recursive(
    leaf_filters,
    lambda inner: st.builds(
        lambda op, clauses: {op: clauses},
        st.sampled_from(["$and", "$or", "$nor"]),
        st.lists(inner, min_size=1, max_size=2),
    ),
    max_leaves=4,
)


def _filter_paths(filter: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in filter.items():
        if key in ("$and", "$or", "$nor"):
            for clause in value:
                found.extend(_filter_paths(clause))
        else:
            found.append((key, value))
    return found


def _prefix_is_clean(value: Any, parts: tuple[str, ...]) -> bool:
    """Whether every proper prefix of the path reaches only documents (or nothing)."""
    if len(parts) <= 1:
        return True
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        if head not in value:
            return True
        child = value[head]
        if isinstance(child, dict):
            return _prefix_is_clean(child, rest)
        if isinstance(child, list):
            if rest[0].isdigit():
                index = int(rest[0])
                if index >= len(child):
                    return False
                return len(rest) == 1 or (
                    isinstance(child[index], dict) and _prefix_is_clean(child[index], rest[1:])
                )
            return bool(child) and all(
                isinstance(item, dict) and _prefix_is_clean(item, rest) for item in child
            )
        return False
    return False


def _has_nested_array(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, list) or _has_nested_array(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nested_array(item) for item in value.values())
    return False


def _comparable(document: dict[str, Any], filter: dict[str, Any]) -> bool:
    for path, condition in _filter_paths(filter):
        if not _prefix_is_clean(document, split_path(path)):
            return False
        if (
            isinstance(condition, dict)
            and "$elemMatch" in condition
            and _has_nested_array(document)
        ):
            return False
        if (
            isinstance(condition, dict)
            and "$exists" in condition
            and not condition["$exists"]
            and _through_array(document, split_path(path))
        ):
            return False  # mongomock's $exists: false departs there (test below)
    return True


def _through_array(value: Any, parts: tuple[str, ...]) -> bool:
    """Whether a proper prefix of the path reaches an array."""
    for part in parts[:-1]:
        if isinstance(value, list):
            return True
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return isinstance(value, list) and len(parts) > 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents, filter=filters)
def test_matches_agrees_with_mongomock(docs: list[dict[str, Any]], filter: dict[str, Any]) -> None:
    """For documents of shapes where mongomock follows MongoDB, both select the same ones."""
    candidates = [
        {"_id": index, **doc} for index, doc in enumerate(docs) if _comparable(doc, filter)
    ]
    collection = mongomock.MongoClient().db.differential
    if candidates:
        collection.insert_many([dict(doc) for doc in candidates])
    node = parse_filter(filter)
    ours = {doc["_id"] for doc in candidates if matches(node, doc)}
    theirs = {doc["_id"] for doc in collection.find(filter)}
    assert ours == theirs, (filter, candidates)


# -- MongoDB's behaviour where mongomock departs from it ----------------------------------


def _select(filter: dict[str, Any], docs: list[dict[str, Any]]) -> list[int]:
    node = parse_filter(filter)
    return [index for index, doc in enumerate(docs) if matches(node, doc)]


def test_exists_false_is_the_negation_of_exists_through_arrays() -> None:
    """``a.b`` exists in ``{"a": [{}, {"b": 0}]}`` (through its second element), so
    ``$exists: false`` does not select it; mongomock says it does."""
    docs = [{"a": [{}, {"b": 0}]}, {"a": [{}, {}]}, {"a": []}, {"a": {"c": 1}}]
    assert _select({"a.b": {"$exists": False}}, docs) == [1, 2, 3]
    assert _select({"a.b": {"$exists": True}}, docs) == [0]


def test_bool_is_not_a_number() -> None:
    docs = [{"a": True}, {"a": 1}, {"a": False}, {"a": 0}, {"a": [True]}]
    assert _select({"a": 1}, docs) == [1]
    assert _select({"a": True}, docs) == [0, 4]
    assert _select({"a": {"$in": [0]}}, docs) == [3]
    assert _select({"a": {"$ne": 1}}, docs) == [0, 2, 3, 4]
    assert _select({"a": {"$gt": 0}}, docs) == [1]


def test_nan_equals_nan() -> None:
    nan = float("nan")
    docs = [{"a": nan}, {"a": 1.0}, {"a": [nan]}]
    assert _select({"a": nan}, docs) == [0, 2]
    assert _select({"a": {"$in": [nan]}}, docs) == [0, 2]
    assert _select({"a": {"$gte": nan}}, docs) == [0, 2]
    assert _select({"a": {"$gt": nan}}, docs) == []
    # NaN sorts below every number but comparisons with a number never select it.
    assert _select({"a": {"$lt": 5}}, docs) == [1]


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, [3]), (1, [4]), (2, [5])],
)
def test_size(size: int, expected: list[int]) -> None:
    docs = [{"a": 1}, {"a": {"x": 1}}, {"a": "xy"}, {"a": []}, {"a": [[1, 2]]}, {"a": [1, 2]}]
    assert _select({"a": {"$size": size}}, docs) == expected


def test_all() -> None:
    docs = [{"a": []}, {"a": [1]}, {}, {"a": [1, None]}, {"a": [[1, 2]]}]
    assert _select({"a": {"$all": []}}, docs) == []
    assert _select({"a": {"$all": [None]}}, docs) == [2, 3]
    assert _select({"a": {"$all": [[1, 2]]}}, docs) == [4]


def test_null_bounds_match_missing() -> None:
    docs = [{}, {"a": None}, {"a": 1}]
    assert _select({"a": {"$gte": None}}, docs) == [0, 1]
    assert _select({"a": {"$lte": None}}, docs) == [0, 1]
    assert _select({"a": {"$gt": None}}, docs) == []
    assert _select({"a": {"$lt": None}}, docs) == []


def test_path_through_scalar_is_missing() -> None:
    docs = [{"a": 1}, {"a": None}, {"a": "s"}, {"a": {"b": 2}}]
    assert _select({"a.b": None}, docs) == [0, 1, 2]
    assert _select({"a.b": {"$exists": False}}, docs) == [0, 1, 2]
    assert _select({"a.b": {"$ne": 2}}, docs) == [0, 1, 2]
    assert _select({"a.0": None}, docs) == [0, 1, 2, 3]


def test_array_of_scalars_has_no_subfields() -> None:
    docs = [{"a": [1, "x"]}, {"a": [{"c": 1}]}, {"a": []}]
    # Only documents inside the array can lack "b"; scalars are skipped entirely.
    assert _select({"a.b": None}, docs) == [1]
    assert _select({"a.b": {"$not": {"$gt": 1}}}, docs) == [0, 1, 2]


def test_elem_match_does_not_descend_into_nested_arrays() -> None:
    docs = [{"a": [[1, 5]]}, {"a": [5]}]
    assert _select({"a": {"$elemMatch": {"$gt": 3}}}, docs) == [1]
    assert _select({"a": {"$elemMatch": {"$eq": [1, 5]}}}, docs) == [0]


def test_empty_document_equality() -> None:
    assert _select({"a": {}}, [{}, {"a": {}}, {"a": {"b": 1}}, {"a": [{}]}]) == [1, 3]
