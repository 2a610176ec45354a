"""Filter documents: the parsed form, MongoDB's matching rules, and what is refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    FieldOp,
    MatchAll,
    Nor,
    Not,
    Or,
)
from lexigram_nosql.query.filter import matches, parse_equalities, parse_filter
from lexigram_nosql.query.limits import QueryLimits
from lexigram_nosql.query.matching import compile_filter
from lexigram_nosql.query.paths import PLAIN_PATHS
from lexigram_nosql.query.requests import FilterQuery

# -- the parsed form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "node"),
    [
        (None, MatchAll()),
        ({}, MatchAll()),
        ({"a": 1}, Condition("a", FieldOp.EQ, 1)),
        ({"a": {"$eq": 1}}, Condition("a", FieldOp.EQ, 1)),
        (
            {"a": 1, "b": {"$gt": 2, "$lt": 5}},
            And(
                (
                    Condition("a", FieldOp.EQ, 1),
                    Condition("b", FieldOp.GT, 2),
                    Condition("b", FieldOp.LT, 5),
                )
            ),
        ),
        ({"a": {"$in": [1, 2]}}, Condition("a", FieldOp.IN, (1, 2))),
        ({"a": {"$nin": (1,)}}, Condition("a", FieldOp.NIN, (1,))),
        ({"a": {"$exists": 0}}, Condition("a", FieldOp.EXISTS, False)),
        ({"a": {"$exists": 1}}, Condition("a", FieldOp.EXISTS, True)),
        ({"a": {"$exists": None}}, Condition("a", FieldOp.EXISTS, False)),
        ({"a": {"$type": 2}}, Condition("a", FieldOp.TYPE, ("string",))),
        ({"a": {"$type": ["int", 1.0]}}, Condition("a", FieldOp.TYPE, ("int", "double"))),
        ({"a": {"$type": "number"}}, Condition("a", FieldOp.TYPE, ("number",))),
        ({"a": {"$size": 2.0}}, Condition("a", FieldOp.SIZE, 2)),
        ({"a": {"$mod": [4.7, -1.2]}}, Condition("a", FieldOp.MOD, (4, -1))),
        ({"a": {"$all": [1]}}, Condition("a", FieldOp.ALL, (1,))),
        ({"a": {"$not": {"$gt": 1}}}, Not(Condition("a", FieldOp.GT, 1))),
        ({"$or": [{"a": 1}, {}]}, Or((Condition("a", FieldOp.EQ, 1), MatchAll()))),
        ({"$nor": [{"a": 1}]}, Nor((Condition("a", FieldOp.EQ, 1),))),
        ({"$and": [{"a": 1}]}, And((Condition("a", FieldOp.EQ, 1),))),
        ({"a": {"$elemMatch": {"$gt": 1}}}, ElemMatch("a", Condition("", FieldOp.GT, 1))),
        ({"a": {"$elemMatch": {"b": 1}}}, ElemMatch("a", Condition("b", FieldOp.EQ, 1))),
        (
            {"a": {"$elemMatch": {"$or": [{"b": 1}]}}},
            ElemMatch("a", Or((Condition("b", FieldOp.EQ, 1),))),
        ),
        (
            {"a": {"$all": [{"$elemMatch": {"b": 1}}, {"$elemMatch": {"c": 2}}]}},
            And(
                (
                    ElemMatch("a", Condition("b", FieldOp.EQ, 1)),
                    ElemMatch("a", Condition("c", FieldOp.EQ, 2)),
                )
            ),
        ),
        ({"a": {"b": 1}}, Condition("a", FieldOp.EQ, {"b": 1})),
        ({"a": {}}, Condition("a", FieldOp.EQ, {})),
        ({"$comment": "why"}, MatchAll()),
        ({"field with spaces": 1}, Condition("field with spaces", FieldOp.EQ, 1)),
        ({"名前.ü": 1}, Condition("名前.ü", FieldOp.EQ, 1)),
    ],
)
def test_parse_filter(filter: Any, node: Any) -> None:
    assert parse_filter(filter) == node


def test_regex_forms_parse_to_compiled_patterns_with_options() -> None:
    node = parse_filter({"a": {"$regex": "^x.y", "$options": "imsx"}})
    assert isinstance(node, Condition) and node.op is FieldOp.REGEX
    assert node.operand.flags & (re.I | re.M | re.S | re.X) == re.I | re.M | re.S | re.X
    compiled = re.compile("x")
    assert parse_filter({"a": compiled}) == Condition("a", FieldOp.REGEX, compiled)
    assert parse_filter({"a": {"$regex": compiled}}) == Condition("a", FieldOp.REGEX, compiled)
    widened = parse_filter({"a": {"$regex": compiled, "$options": "i"}})
    assert isinstance(widened, Condition) and widened.operand.flags & re.I
    negated = parse_filter({"a": {"$not": compiled}})
    assert negated == Not(Condition("a", FieldOp.REGEX, compiled))


# -- what is refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "path", "operator"),
    [
        ({"$where": "this.a == 1"}, None, "$where"),
        ({"a": {"$where": "1"}}, "a", "$where"),
        ({"$function": {}}, None, "$function"),
        ({"$accumulator": {}}, None, "$accumulator"),
        ({"$text": {"$search": "x"}}, None, "$text"),
        ({"a": {"$foo": 1}}, "a", "$foo"),
        ({"a": {"$gt": 1, "b": 2}}, "a", "$gt"),
        ({"a": {"$and": [{"b": 1}]}}, "a", "$and"),
        ({"a": {"$expr": 1}}, "a", "$expr"),
        ({"": 1}, "", None),
        ({"a..b": 1}, "a..b", None),
        ({"a.$b": 1}, "a.$b", "$b"),
        ({"a": {"b": {"$gt": 1}}}, "a", "$eq"),
        ({"a": {"": 1}}, "a", "$eq"),
        ({"a": {"$in": 1}}, "a", "$in"),
        ({"a": {"$in": "ab"}}, "a", "$in"),
        ({"a": {"$nin": {"x": 1}}}, "a", "$nin"),
        ({"a": {"$in": [{"$gt": 1}]}}, "a", "$in"),
        ({"a": {"$size": -1}}, "a", "$size"),
        ({"a": {"$size": 1.5}}, "a", "$size"),
        ({"a": {"$size": True}}, "a", "$size"),
        ({"a": {"$size": "2"}}, "a", "$size"),
        ({"a": {"$mod": [2]}}, "a", "$mod"),
        ({"a": {"$mod": 2}}, "a", "$mod"),
        ({"a": {"$mod": [0, 1]}}, "a", "$mod"),
        ({"a": {"$mod": ["2", 1]}}, "a", "$mod"),
        ({"a": {"$mod": [float("inf"), 1]}}, "a", "$mod"),
        ({"a": {"$mod": [2, 1, 0]}}, "a", "$mod"),
        ({"a": {"$type": "text"}}, "a", "$type"),
        ({"a": {"$type": 99}}, "a", "$type"),
        ({"a": {"$type": []}}, "a", "$type"),
        ({"a": {"$type": True}}, "a", "$type"),
        ({"a": {"$regex": 5}}, "a", "$regex"),
        ({"a": {"$regex": "("}}, "a", "$regex"),
        ({"a": {"$regex": "x", "$options": "q"}}, "a", "$options"),
        ({"a": {"$regex": "x", "$options": 1}}, "a", "$options"),
        ({"a": {"$options": "i"}}, "a", "$options"),
        ({"a": {"$not": 1}}, "a", "$not"),
        ({"a": {"$not": {}}}, "a", "$not"),
        ({"a": {"$not": {"b": 1}}}, "a", "$not"),
        ({"a": {"$all": 1}}, "a", "$all"),
        ({"a": {"$all": [{"$elemMatch": {"b": 1}}, 2]}}, "a", "$all"),
        ({"a": {"$elemMatch": 1}}, "a", "$elemMatch"),
        ({"a": {"$ne": re.compile("x")}}, "a", "$ne"),
        ({"a": {"$gt": re.compile("x")}}, "a", "$gt"),
        ({"$and": []}, None, "$and"),
        ({"$or": {"a": 1}}, None, "$or"),
        ({"$nor": [1]}, None, "$nor"),
    ],
)
def test_invalid_filters_name_path_and_operator(
    filter: Any, path: str | None, operator: str | None
) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        parse_filter(filter)
    error = raised.value
    assert error.path == path
    assert error.operator == operator
    if operator is not None:
        assert operator in str(error)
    if path:
        assert repr(path) in str(error)


def test_filter_must_be_a_mapping() -> None:
    with pytest.raises(InvalidQueryError, match="must be documents"):
        parse_filter([("a", 1)])  # type: ignore[arg-type]


# -- matching --------------------------------------------------------------------------------

DOCS: list[dict[str, Any]] = [
    {"_id": 0, "a": 1},
    {"_id": 1, "a": [1, 2, 3]},
    {"_id": 2, "a": "x"},
    {"_id": 3, "a": None},
    {"_id": 4},
    {"_id": 5, "a": {"b": 2}},
    {"_id": 6, "a": [{"b": 1}, {"b": 3}]},
    {"_id": 7, "a": [[1, 2], 5]},
    {"_id": 8, "a": True},
    {"_id": 9, "a": 2.5},
    {"_id": 10, "a": []},
    {"_id": 11, "a": Decimal("3")},
]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({}, list(range(12))),
        ({"a": 1}, [0, 1]),
        ({"a": 1.0}, [0, 1]),
        ({"a": Decimal("1")}, [0, 1]),
        ({"a": True}, [8]),
        ({"a": "x"}, [2]),
        ({"a": None}, [3, 4]),
        ({"a": {"$eq": None}}, [3, 4]),
        ({"a": {"$ne": None}}, [0, 1, 2, 5, 6, 7, 8, 9, 10, 11]),
        ({"a": [1, 2, 3]}, [1]),
        ({"a": [1, 2]}, [7]),
        ({"a": []}, [10]),
        ({"a": {"b": 2}}, [5]),
        ({"a": {"$gt": 2}}, [1, 7, 9, 11]),
        ({"a": {"$gte": 3}}, [1, 7, 11]),
        ({"a": {"$lt": 2}}, [0, 1]),
        ({"a": {"$lte": 1}}, [0, 1]),
        ({"a": {"$gt": 1, "$lt": 3}}, [1, 9]),
        ({"a": {"$gt": "a"}}, [2]),
        ({"a": {"$gt": False}}, [8]),
        ({"a": {"$gte": [1, 2]}}, [1, 6, 7]),
        ({"a": {"$gt": {"b": 1}}}, [5, 6]),
        ({"a": {"$ne": 1}}, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        ({"a": {"$ne": [1, 2]}}, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11]),
        ({"a": {"$in": [2, "x"]}}, [1, 2]),
        ({"a": {"$in": [None]}}, [3, 4]),
        ({"a": {"$in": [re.compile("^x")]}}, [2]),
        ({"a": {"$in": []}}, []),
        ({"a": {"$nin": [1, None]}}, [2, 5, 6, 7, 8, 9, 10, 11]),
        ({"a": {"$nin": []}}, list(range(12))),
        ({"a": {"$exists": True}}, [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]),
        ({"a": {"$exists": False}}, [4]),
        ({"a": {"$type": "array"}}, [1, 6, 7, 10]),
        ({"a": {"$type": "number"}}, [0, 1, 7, 9, 11]),
        ({"a": {"$type": "int"}}, [0, 1, 7]),
        ({"a": {"$type": "double"}}, [9]),
        ({"a": {"$type": "decimal"}}, [11]),
        ({"a": {"$type": "null"}}, [3]),
        ({"a": {"$type": 10}}, [3]),
        ({"a": {"$type": "object"}}, [5, 6]),
        ({"a": {"$type": ["string", "bool"]}}, [2, 8]),
        ({"a": {"$size": 3}}, [1]),
        ({"a": {"$size": 0}}, [10]),
        ({"a": {"$size": 2}}, [6, 7]),
        ({"a": {"$all": [1, 3]}}, [1]),
        ({"a": {"$all": [[1, 2]]}}, [7]),
        ({"a": {"$all": [re.compile("x")]}}, [2]),
        ({"a": {"$elemMatch": {"$gte": 2, "$lt": 3}}}, [1]),
        ({"a": {"$elemMatch": {"b": {"$gt": 2}}}}, [6]),
        ({"a": {"$elemMatch": {"$size": 2}}}, [7]),
        ({"a": {"$mod": [2, 1]}}, [0, 1, 7, 11]),
        ({"a": {"$mod": [2, 0]}}, [1, 9]),
        ({"a": {"$regex": "X", "$options": "i"}}, [2]),
        ({"a": {"$not": {"$gt": 2}}}, [0, 2, 3, 4, 5, 6, 8, 10]),
        ({"a": {"$not": re.compile("x")}}, [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        ({"a.b": 3}, [6]),
        ({"a.b": {"$gt": 1}}, [5, 6]),
        ({"a.b": None}, [0, 2, 3, 4, 8, 9, 11]),
        ({"a.0": 1}, [1, 7]),
        ({"a.0": [1, 2]}, [7]),
        ({"a.0.b": 1}, [6]),
        ({"a.1": {"$exists": True}}, [1, 6, 7]),
        ({"$or": [{"a": "x"}, {"a": True}]}, [2, 8]),
        ({"$and": [{"a": {"$gt": 0}}, {"a": {"$lt": 2}}]}, [0, 1]),
        ({"$nor": [{"a": {"$exists": False}}, {"a": {"$type": "number"}}]}, [2, 3, 5, 6, 8, 10]),
        ({"_id": {"$in": [0, 4]}, "a": {"$exists": True}}, [0]),
    ],
)
def test_matches(filter: dict[str, Any], expected: list[int]) -> None:
    """Arrays match through their elements, but nested arrays ([[1, 2], 5]) only as wholes."""
    node = parse_filter(filter)
    assert [doc["_id"] for doc in DOCS if matches(node, doc)] == expected


def test_elem_match_inside_elem_match_reaches_nested_arrays() -> None:
    node = parse_filter({"m": {"$elemMatch": {"$elemMatch": {"$in": ["u"]}}}})
    assert matches(node, {"m": [["u", "c"]]})
    assert not matches(node, {"m": ["u"]})


@pytest.mark.parametrize(
    ("value", "listed"),
    [
        (1.0, True),
        (1, True),
        (2.5, True),
        (Decimal("1"), True),
        (float("nan"), True),
        (True, False),
        ("x", True),
        ("1", False),
        (None, False),
        ([3, 1], True),
        ({"k": 1}, True),
        ({"k": 1.0}, True),
        ({"k": True}, False),
        (2**70, True),
    ],
)
def test_in_with_mixed_types(value: Any, listed: bool) -> None:
    node = parse_filter({"a": {"$in": [1, Decimal("2.5"), float("nan"), "x", {"k": 1}, 2**70]}})
    assert matches(node, {"a": value}) is listed


def test_eq_with_a_regex_compares_stored_patterns_not_text() -> None:
    pattern = re.compile("^x")
    node = parse_filter({"a": {"$eq": pattern}})
    assert matches(node, {"a": re.compile("^x")})
    assert not matches(node, {"a": "xyz"})


def test_document_equality_is_field_order_sensitive() -> None:
    node = parse_filter({"a": {"x": 1, "y": 2}})
    assert matches(node, {"a": {"x": 1, "y": 2}})
    assert not matches(node, {"a": {"y": 2, "x": 1}})
    assert not matches(node, {"a": {"x": 1, "y": 2, "z": 3}})


def test_comparisons_across_dates_and_bytes() -> None:
    early, late = datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)
    node = parse_filter({"t": {"$gt": early}})
    assert matches(node, {"t": late})
    assert matches(node, {"t": late.replace(tzinfo=None)})
    assert not matches(node, {"t": early})
    assert not matches(node, {"t": "2022"})
    assert matches(parse_filter({"b": b"\x01"}), {"b": b"\x01"})
    assert not matches(parse_filter({"b": {"$gt": b"\x01"}}), {"b": 5})


def test_bson_values_match_by_value() -> None:
    import bson  # pymongo is in the test extra; the engine itself never imports it

    oid = bson.ObjectId()
    assert matches(parse_filter({"ref": oid}), {"ref": bson.ObjectId(str(oid))})
    assert matches(parse_filter({"ref": {"$in": [oid]}}), {"ref": oid})
    assert matches(parse_filter({"ref": {"$type": "objectId"}}), {"ref": oid})
    # Stored ids hold an ObjectId as its hex string (the id policy), so an _id condition does.
    assert matches(parse_filter({"_id": oid}), {"_id": str(oid)})
    assert matches(parse_filter({"_id": {"$in": [oid]}}), {"_id": str(oid)})
    assert matches(parse_filter({"n": {"$gt": 2}}), {"n": bson.Int64(3)})
    assert matches(parse_filter({"n": {"$type": "long"}}), {"n": bson.Int64(3)})
    assert matches(parse_filter({"n": {"$gte": bson.Decimal128("2.5")}}), {"n": 2.5})
    assert matches(parse_filter({"n": 2.5}), {"n": bson.Decimal128("2.5")})


def test_large_ints_are_long() -> None:
    assert matches(parse_filter({"n": {"$type": "long"}}), {"n": 2**40})
    assert not matches(parse_filter({"n": {"$type": "int"}}), {"n": 2**40})


def test_mod_truncates_and_keeps_the_sign_of_the_dividend() -> None:
    node = parse_filter({"n": {"$mod": [4, -1]}})
    assert matches(node, {"n": -5})
    assert matches(node, {"n": -5.9})
    assert not matches(node, {"n": 3})
    assert not matches(node, {"n": float("nan")})
    assert not matches(node, {"n": "7"})


def test_exists_false_on_a_path_through_an_array() -> None:
    node = parse_filter({"a.b": {"$exists": False}})
    assert matches(node, {"a": [1, 2]})
    assert not matches(node, {"a": [{"b": None}]})
    assert not matches(node, {"a": [{"c": 1}, {"b": 1}]})


def test_expr_uses_the_expression_engine() -> None:
    node = parse_filter({"$expr": {"$gt": ["$a", "$b"]}})
    assert matches(node, {"a": 3, "b": 2})
    assert not matches(node, {"a": 1, "b": 2})


def test_compiled_matchers_are_cached_per_node() -> None:
    node = parse_filter({"a": {"$gt": 1}})
    assert compile_filter(node) is compile_filter(node)
    other = parse_filter({"a": {"$gt": 1}})
    assert compile_filter(other) is not compile_filter(node)


def test_matches_does_not_modify_the_document() -> None:
    document = {"a": [{"b": 1}], "c": None}
    matches(parse_filter({"a.b": 1, "c": None, "d": {"$exists": False}}), document)
    assert document == {"a": [{"b": 1}], "c": None}


# -- the fast path of flat equalities must parse exactly as the general path ---------------

_KEYS = st.sampled_from(["_id", "a", "email", "a.b", "a.0", "a..b", "", "$a", "a.$b", "$comment"])
_SCALARS = (
    st.integers() | st.floats(allow_nan=True) | st.booleans() | st.none() | st.text(max_size=5)
)
_OTHERS = st.sampled_from([Decimal("1"), [1], {"x": 1}, {"$gt": 1}, re.compile("a"), (1,)])


def _strict(node: Any) -> str:
    """The tree with each value's type: ``1``, ``1.0`` and ``True`` must not alias."""
    return repr(node) + repr(
        [type(c.operand) for c in getattr(node, "clauses", (node,)) if hasattr(c, "operand")]
    )


@settings(deadline=None)  # a loaded machine: what counts is the comparison
@given(st.dictionaries(_KEYS, _SCALARS | _OTHERS, max_size=4))
def test_parse_equalities_is_the_general_parse_or_nothing(filter: dict[str, Any]) -> None:
    try:
        expected: Any = _strict(parse_filter(filter))
    except InvalidQueryError as exc:
        expected = ("error", str(exc), exc.path)
    try:
        fast = parse_equalities(filter)
    except InvalidQueryError as exc:
        assert expected == ("error", str(exc), exc.path)
        return
    if fast is not None:
        assert _strict(fast) == expected
    if filter and all(type(v) in (int, float, bool, str, type(None)) for v in filter.values()):
        assert fast is not None or any(not k or k.startswith("$") for k in filter)


@pytest.mark.parametrize("value", [1, 1.0, True, "1", None])
def test_parse_equalities_keeps_the_operand_type(value: Any) -> None:
    node = parse_equalities({"_id": value})
    assert isinstance(node, Condition)
    assert type(node.operand) is type(value)
    assert node.operand == value


@pytest.mark.parametrize("remembered", [False, True])
def test_the_fast_path_refuses_a_bad_field_path_before_the_limits_are_checked(
    remembered: bool,
) -> None:
    """As the general walk did before: the path's error, whatever comes after it."""
    PLAIN_PATHS.clear()
    if remembered:
        FilterQuery.build({"x": 1})
    filter = {"a..b": 1, "x": {"$in": [1, 2, 3]}}
    with pytest.raises(InvalidQueryError, match="empty segment") as caught:
        FilterQuery.build(filter, limits=QueryLimits(max_in_length=1))
    assert type(caught.value) is InvalidQueryError
