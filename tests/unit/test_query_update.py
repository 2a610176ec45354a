"""Update documents: parsing with MongoDB's checks, applying, upsert seeds, replacements."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    Condition,
    FieldOp,
    FieldUpdate,
    OperatorUpdate,
    PipelineUpdate,
    PullCondition,
    PushSpec,
    ReplacementUpdate,
    UpdateOp,
)
from lexigram_nosql.query.filter import parse_filter
from lexigram_nosql.query.paths import PLAIN_PATHS
from lexigram_nosql.query.update import apply_update, parse_replacement, parse_update, upsert_seed
from lexigram_nosql.query.values import MAX_NESTING

NOW = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def _apply(update: dict[str, Any], document: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return apply_update(parse_update(update), document, now=NOW, **kwargs)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_keeps_operators_in_document_order() -> None:
    parsed = parse_update({"$set": {"a": 1, "b.c": 2}, "$inc": {"n": 1}, "$unset": {"z": ""}})
    assert parsed == OperatorUpdate(
        (
            FieldUpdate(UpdateOp.SET, "a", 1),
            FieldUpdate(UpdateOp.SET, "b.c", 2),
            FieldUpdate(UpdateOp.INC, "n", 1),
            FieldUpdate(UpdateOp.UNSET, "z", ""),
        )
    )


@pytest.mark.parametrize(
    ("update", "operand"),
    [
        ({"$push": {"a": 1}}, PushSpec(each=(1,))),
        ({"$push": {"a": {"x": 1}}}, PushSpec(each=({"x": 1},))),
        (
            {"$push": {"a": {"$each": [1, 2], "$position": 0, "$slice": -2, "$sort": -1}}},
            PushSpec(each=(1, 2), position=0, slice=-2, sort=-1),
        ),
        (
            {"$push": {"a": {"$each": [], "$sort": {"x": 1, "y": -1}}}},
            PushSpec(each=(), sort=(("x", 1), ("y", -1))),
        ),
        ({"$addToSet": {"a": 1}}, (1,)),
        ({"$addToSet": {"a": [1]}}, ([1],)),
        ({"$addToSet": {"a": {"$each": [1, 2]}}}, (1, 2)),
        ({"$pull": {"a": 3}}, PullCondition(value=3)),
        ({"$pullAll": {"a": [1, 2]}}, (1, 2)),
        ({"$pop": {"a": -1}}, -1),
        ({"$pop": {"a": 1.0}}, 1),
        ({"$rename": {"a": "b"}}, "b"),
        ({"$currentDate": {"a": True}}, "date"),
        ({"$currentDate": {"a": {"$type": "timestamp"}}}, "timestamp"),
        ({"$inc": {"a": Decimal("1.5")}}, Decimal("1.5")),
    ],
)
def test_parse_operands(update: dict[str, Any], operand: Any) -> None:
    parsed = parse_update(update)
    assert isinstance(parsed, OperatorUpdate)
    assert parsed.fields[0].operand == operand


def test_parse_pull_conditions() -> None:
    parsed = parse_update({"$pull": {"a": {"$gte": 5}, "b": {"score": 8}}})
    assert isinstance(parsed, OperatorUpdate)
    by_operator, by_fields = (field.operand for field in parsed.fields)
    assert by_operator.clause == Condition("", FieldOp.GTE, 5)
    assert by_fields.clause == parse_filter({"score": 8})


def test_a_document_without_operators_is_refused_as_an_update() -> None:
    """PyMongo's "update only works with $ operators": nothing may silently replace."""
    with pytest.raises(InvalidQueryError) as raised:
        parse_update({"a": 1}, method="update_many")
    assert "use replace_one to replace a document, or $set to change fields" in str(raised.value)
    assert "update_many" in str(raised.value)
    assert raised.value.path == "a"


def test_dollar_and_dotted_names_inside_values_are_stored() -> None:
    """MongoDB 5.0+ stores them inside $set values and replacements (not as update paths)."""
    update = parse_update({"$set": {"a": {"$b": 1, "c.d": 2}}})
    assert isinstance(update, OperatorUpdate)
    assert parse_replacement({"x": {"$y": 1}, "p.q": 2}) == ReplacementUpdate(
        {"x": {"$y": 1}, "p.q": 2}
    )


@pytest.mark.parametrize(
    ("update", "path", "operator", "fragment"),
    [
        ({}, None, None, "must not be empty"),
        ({"$set": {"a": 1}, "b": 2}, "b", None, "mixes operators"),
        ({"$foo": {"a": 1}}, None, "$foo", "Unknown update operator"),
        ({"$set": 1}, None, "$set", "document of field paths"),
        ({"$set": {"": 1}}, "", "$set", "must not be empty"),
        ({"$set": {"a..b": 1}}, "a..b", "$set", "empty segment"),
        ({"$set": {"$.a": 1}}, "$.a", "$set", "cannot be the first part"),
        ({"$set": {"a.$.b.$": 1}}, "a.$.b.$", "$set", "only once"),
        ({"$set": {"a.$[].b": 1, "a.$[x]": 2}}, "a.$[x]", "$set", "No array filter"),
        ({"$set": {"a.$[X]": 1}}, "a.$[X]", "$set", "lowercase letter"),
        ({"$set": {"a": {"": 1}}}, "a.", None, "must not be empty"),
        ({"$set": {"a": 1, "a.b": 2}}, "a.b", "$set", "conflict at 'a'"),
        ({"$set": {"a.b": 1}, "$inc": {"a": 2}}, "a", "$inc", "conflict at 'a.b'"),
        ({"$set": {"a": 1}, "$setOnInsert": {"a": 2}}, "a", "$setOnInsert", "conflict"),
        ({"$set": {"b": 1}, "$rename": {"a": "b"}}, "b", "$rename", "conflict"),
        ({"$rename": {"a": "b", "c": "b"}}, "b", "$rename", "conflict"),
        ({"$inc": {"a": "1"}}, "a", "$inc", "needs a number"),
        ({"$inc": {"a": True}}, "a", "$inc", "needs a number"),
        ({"$mul": {"a": None}}, "a", "$mul", "needs a number"),
        ({"$unset": {"_id": ""}}, "_id", "$unset", "immutable"),
        ({"$inc": {"_id": 1}}, "_id", "$inc", "immutable"),
        ({"$rename": {"_id": "x"}}, "_id", "$rename", "immutable"),
        ({"$rename": {"x": "_id"}}, "x", "$rename", "immutable"),
        ({"$rename": {"a": "a.b"}}, "a", "$rename", "contain one another"),
        ({"$rename": {"a": 1}}, "1", "$rename", "must be a string"),
        ({"$rename": {"a": "$b"}}, "$b", "$rename", "field position"),
        ({"$currentDate": {"a": "now"}}, "a", "$currentDate", "needs true"),
        ({"$currentDate": {"a": {"$type": "year"}}}, "a", "$currentDate", "needs true"),
        ({"$push": {"a": {"$position": 0}}}, "a", "$push", "need $each"),
        ({"$push": {"a": {"$each": [1], "$foo": 1}}}, "a", "$push", "unknown"),
        ({"$push": {"a": {"$each": 1}}}, "a", "$push", "needs a list"),
        ({"$push": {"a": {"$each": [1], "$slice": 1.5}}}, "a", "$push", "needs an integer"),
        ({"$push": {"a": {"$each": [1], "$position": "0"}}}, "a", "$push", "needs an integer"),
        ({"$push": {"a": {"$each": [1], "$sort": 2}}}, "a", "$push", "$sort"),
        ({"$push": {"a": {"$each": [1], "$sort": {"x": 0}}}}, "a", "$push", "$sort"),
        ({"$push": {"a": {"$each": [1], "$sort": {}}}}, "a", "$push", "$sort"),
        ({"$addToSet": {"a": {"$each": [1], "$slice": 1}}}, "a", "$addToSet", "only the $each"),
        ({"$addToSet": {"a": {"$each": 1}}}, "a", "$addToSet", "needs a list"),
        ({"$pullAll": {"a": 1}}, "a", "$pullAll", "needs a list"),
        ({"$pop": {"a": 2}}, "a", "$pop", "1 (last element)"),
        ({"$pop": {"a": "1"}}, "a", "$pop", "1 (last element)"),
        ({"$pull": {"a": {"$gt": 1, "b": 1}}}, "a", "$gt", "mixes operators"),
        ({"$pull": {"a": {"$where": "x"}}}, "", "$where", "JavaScript"),
    ],
)
def test_invalid_updates(
    update: dict[str, Any], path: str | None, operator: str | None, fragment: str
) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        parse_update(update)
    assert fragment in str(raised.value)
    assert raised.value.path == path
    assert raised.value.operator == operator


def _deep(levels: int) -> Any:
    """A value nesting ``levels`` documents and arrays, alternating."""
    value: Any = 1
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize(
    "update",
    [
        lambda deep: {"$pull": {"a": {"b": deep}}},
        lambda deep: {"$pull": {"a": {"$elemMatch": deep}}},
        lambda deep: {"$unset": {"a": deep}},
        lambda deep: {"$pullAll": {"a": [deep]}},
        lambda deep: {"$inc": {"a": deep}},
        lambda deep: {"$rename": {"a": deep}},
        lambda deep: {"$bit": {"a": {"and": deep}}},
        lambda deep: {"$push": {"a": {"$each": [1], "$sort": deep}}},
        lambda deep: {"$inc": deep},
    ],
)
def test_operands_nest_at_most_max_nesting_levels(update: Callable[[Any], Any]) -> None:
    """Operands that are not stored values (``$pull`` conditions, ``$unset``'s ignored value,
    wrong operands an error message shows) are held to the query's bound, counting the update
    document and its operator's field document: deeper is a named refusal, never a
    ``RecursionError``."""
    with pytest.raises(InvalidQueryError, match="The update nests documents and arrays more "):
        parse_update(update(_deep(5000)))
    with pytest.raises(InvalidQueryError, match="more than 200 levels deep"):
        parse_update({"$unset": {"a": _deep(MAX_NESTING - 1)}})
    parse_update({"$unset": {"a": _deep(MAX_NESTING - 2)}})


def test_stored_operands_are_bounded_by_the_value_model() -> None:
    """``$set``'s value is a stored value: MongoDB's 100 levels, whatever its depth."""
    with pytest.raises(InvalidQueryError, match="value of 'a' nests documents and arrays more "):
        parse_update({"$set": {"a": _deep(5000)}})


def test_pipeline_updates_parse_and_refuse_other_stages() -> None:
    assert isinstance(parse_update([{"$set": {"a": 1}}, {"$unset": "b"}]), PipelineUpdate)
    with pytest.raises(InvalidQueryError, match=r"\$group\) is not allowed in an update"):
        parse_update([{"$group": {"_id": "$a"}}])
    with pytest.raises(InvalidQueryError, match="at least one stage"):
        parse_update([])
    with pytest.raises(InvalidQueryError, match="array_filters cannot be used"):
        parse_update([{"$set": {"a": 1}}], array_filters=[{"x": 1}])


# -- applying --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "document", "expected"),
    [
        ({"$set": {"a": 2}}, {"a": 1}, {"a": 2}),
        ({"$set": {"b.c": 1}}, {"a": 1}, {"a": 1, "b": {"c": 1}}),
        ({"$set": {"a.1": "x"}}, {"a": [1, 2]}, {"a": [1, "x"]}),
        ({"$set": {"a.3": 1}}, {"a": []}, {"a": [None, None, None, 1]}),
        ({"$set": {"a.0.b": 5}}, {"a": [{"b": 1}]}, {"a": [{"b": 5}]}),
        ({"$set": {"field with space": 1, "ü": 2}}, {}, {"field with space": 1, "ü": 2}),
        ({"$unset": {"a": ""}}, {"a": 1, "b": 2}, {"b": 2}),
        ({"$unset": {"a.b": 1}}, {"a": {"b": 1, "c": 2}}, {"a": {"c": 2}}),
        ({"$unset": {"a.1": 1}}, {"a": [1, 2, 3]}, {"a": [1, None, 3]}),
        ({"$unset": {"zzz": 1}}, {"a": 1}, {"a": 1}),
        ({"$inc": {"n": 2}}, {"n": 1}, {"n": 3}),
        ({"$inc": {"n": 2}}, {}, {"n": 2}),
        ({"$inc": {"n": 0.5}}, {"n": 1}, {"n": 1.5}),
        ({"$inc": {"n": -1}}, {"n": Decimal("1.5")}, {"n": Decimal("0.5")}),
        ({"$inc": {"n": 0.1}}, {"n": Decimal("1")}, {"n": Decimal("1.1")}),
        ({"$inc": {"a.b": 1}}, {"a": {"b": 1}}, {"a": {"b": 2}}),
        ({"$inc": {"a.1": 1}}, {"a": [1, 2]}, {"a": [1, 3]}),
        ({"$mul": {"n": 3}}, {"n": 2}, {"n": 6}),
        ({"$mul": {"n": 1.5}}, {"n": 2}, {"n": 3.0}),
        ({"$mul": {"n": 3}}, {}, {"n": 0}),
        ({"$mul": {"n": 2.5}}, {}, {"n": 0.0}),
        ({"$min": {"n": 1}}, {"n": 2}, {"n": 1}),
        ({"$min": {"n": 3}}, {"n": 2}, {"n": 2}),
        ({"$min": {"n": 1}}, {}, {"n": 1}),
        ({"$min": {"n": None}}, {"n": 2}, {"n": None}),
        ({"$max": {"n": "a"}}, {"n": 2}, {"n": "a"}),
        ({"$max": {"n": 1}}, {"n": "a"}, {"n": "a"}),
        ({"$max": {"d": NOW}}, {"d": datetime(2000, 1, 1, tzinfo=UTC)}, {"d": NOW}),
        ({"$rename": {"a": "b"}}, {"a": 1}, {"b": 1}),
        ({"$rename": {"a.b": "c.d"}}, {"a": {"b": 1, "x": 0}}, {"a": {"x": 0}, "c": {"d": 1}}),
        ({"$rename": {"a": "b"}}, {"a": 1, "b": 2}, {"b": 1}),
        ({"$rename": {"zz": "b"}}, {"a": 1}, {"a": 1}),
        ({"$setOnInsert": {"a": 1}}, {"b": 1}, {"b": 1}),
        ({"$currentDate": {"d": True}}, {}, {"d": NOW}),
        ({"$push": {"a": 3}}, {"a": [1, 2]}, {"a": [1, 2, 3]}),
        ({"$push": {"a": 1}}, {}, {"a": [1]}),
        ({"$push": {"a": [1]}}, {"a": []}, {"a": [[1]]}),
        ({"$push": {"a": {"$each": [3, 4]}}}, {"a": [1]}, {"a": [1, 3, 4]}),
        ({"$push": {"a": {"$each": [0], "$position": 0}}}, {"a": [1, 2]}, {"a": [0, 1, 2]}),
        ({"$push": {"a": {"$each": [9], "$position": -1}}}, {"a": [1, 2]}, {"a": [1, 9, 2]}),
        ({"$push": {"a": {"$each": [9], "$position": -5}}}, {"a": [1, 2]}, {"a": [9, 1, 2]}),
        ({"$push": {"a": {"$each": [9], "$position": 7}}}, {"a": [1, 2]}, {"a": [1, 2, 9]}),
        ({"$push": {"a": {"$each": [5, 1], "$sort": 1}}}, {"a": [3]}, {"a": [1, 3, 5]}),
        ({"$push": {"a": {"$each": [5, 1], "$sort": -1}}}, {"a": [3]}, {"a": [5, 3, 1]}),
        ({"$push": {"a": {"$each": [5, 1], "$slice": 2}}}, {"a": [3]}, {"a": [3, 5]}),
        ({"$push": {"a": {"$each": [5, 1], "$slice": -2}}}, {"a": [3]}, {"a": [5, 1]}),
        ({"$push": {"a": {"$each": [], "$slice": 0}}}, {"a": [3]}, {"a": []}),
        (
            {"$push": {"a": {"$each": [{"s": 2}], "$sort": {"s": -1}, "$slice": 2}}},
            {"a": [{"s": 1}, {"s": 3}]},
            {"a": [{"s": 3}, {"s": 2}]},
        ),
        ({"$addToSet": {"a": 2}}, {"a": [1, 2]}, {"a": [1, 2]}),
        ({"$addToSet": {"a": 2.0}}, {"a": [1, 2]}, {"a": [1, 2]}),
        ({"$addToSet": {"a": True}}, {"a": [1]}, {"a": [1, True]}),
        ({"$addToSet": {"a": 3}}, {"a": [1, 2]}, {"a": [1, 2, 3]}),
        ({"$addToSet": {"a": {"$each": [3, 3, 1]}}}, {"a": [1]}, {"a": [1, 3]}),
        ({"$addToSet": {"a": {"x": 1}}}, {}, {"a": [{"x": 1}]}),
        ({"$addToSet": {"a": {"x": 1, "y": 2}}}, {"a": [{"y": 2, "x": 1}]}, None),
        ({"$pull": {"a": 2}}, {"a": [1, 2, 2.0, 3]}, {"a": [1, 3]}),
        ({"$pull": {"a": {"$gte": 2}}}, {"a": [1, 2, 3, "x"]}, {"a": [1, "x"]}),
        ({"$pull": {"a": {"$in": ["x", 1]}}}, {"a": [1, 2, "x"]}, {"a": [2]}),
        ({"$pull": {"a": [1, 2]}}, {"a": [[1, 2], [2, 1], 1]}, {"a": [[2, 1], 1]}),
        ({"$pull": {"a": {"b": 1}}}, {"a": [{"b": 1, "c": 2}, {"b": 2}, 1]}, None),
        ({"$pull": {"a": {"b": {"$gt": 1}}}}, {"a": [{"b": 1}, {"b": [0, 5]}]}, None),
        ({"$pull": {"a": None}}, {"a": [None, 1]}, {"a": [1]}),
        ({"$pull": {"a": 1}}, {}, {}),
        ({"$pullAll": {"a": [1, "x"]}}, {"a": [1, 2, "x", 1.0]}, {"a": [2]}),
        ({"$pop": {"a": 1}}, {"a": [1, 2, 3]}, {"a": [1, 2]}),
        ({"$pop": {"a": -1}}, {"a": [1, 2, 3]}, {"a": [2, 3]}),
        ({"$pop": {"a": 1}}, {"a": []}, {"a": []}),
        ({"$pop": {"a": 1}}, {}, {}),
        ({"$push": {"a.b": 1}}, {"a": {"b": [0]}, "c": [1]}, {"a": {"b": [0, 1]}, "c": [1]}),
        ({"$pull": {"a.0.b": 1}}, {"a": [{"b": [1, 2]}]}, {"a": [{"b": [2]}]}),
        ({"$inc": {"a.0.n": 1}}, {"a": [{"n": 1}, {"n": 5}]}, {"a": [{"n": 2}, {"n": 5}]}),
        ({"$pop": {"a.b": 1}}, {"a": {"b": [1, 2]}}, {"a": {"b": [1]}}),
        ({"$unset": {"a.b.c": 1}}, {"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": 2}}}),
        ({"$set": {"_id": 1, "a": 2}}, {"_id": 1}, {"_id": 1, "a": 2}),
        ({"$set": {"_id": 1.0}}, {"_id": 1}, {"_id": 1.0}),
    ],
)
def test_apply_update(update: dict[str, Any], document: dict[str, Any], expected: Any) -> None:
    before = copy.deepcopy(document)
    result = _apply(update, document)
    if expected is None:
        expected = _EXPECTED_BY_UPDATE[repr(update)]
    assert result == expected
    assert document == before, "apply_update must not modify its input"


_EXPECTED_BY_UPDATE: dict[str, Any] = {
    # Documents compare field-order-sensitively, as in MongoDB: a new element is added.
    repr({"$addToSet": {"a": {"x": 1, "y": 2}}}): {"a": [{"y": 2, "x": 1}, {"x": 1, "y": 2}]},
    # A field document is a query on element documents; scalars never match it.
    repr({"$pull": {"a": {"b": 1}}}): {"a": [{"b": 2}, 1]},
    repr({"$pull": {"a": {"b": {"$gt": 1}}}}): {"a": [{"b": 1}]},
}


def test_set_on_insert_applies_only_when_inserting() -> None:
    update = parse_update({"$setOnInsert": {"created": 1}, "$set": {"n": 1}})
    assert apply_update(update, {"_id": 1}) == {"_id": 1, "n": 1}
    assert apply_update(update, {}, inserting=True) == {"n": 1, "created": 1}


def test_current_date_timestamp_and_default_clock() -> None:
    import bson  # pymongo is in the test extra; the engine itself never imports it

    result = _apply({"$currentDate": {"t": {"$type": "timestamp"}}}, {})
    assert isinstance(result["t"], bson.Timestamp)
    stamped = apply_update(parse_update({"$currentDate": {"d": True}}), {})
    assert stamped["d"].tzinfo is UTC
    assert stamped["d"].microsecond % 1000 == 0


def test_one_clock_reading_per_update() -> None:
    result = apply_update(parse_update({"$currentDate": {"a": True, "b": True}}), {})
    assert result["a"] == result["b"]


def test_set_values_are_copied_into_the_document() -> None:
    value = {"nested": [1]}
    update = parse_update({"$set": {"a": value}})
    result = apply_update(update, {})
    result["a"]["nested"].append(2)
    assert value == {"nested": [1]}
    assert apply_update(update, {}) == {"a": {"nested": [1]}}


@pytest.mark.parametrize(
    ("update", "document", "path", "operator", "fragment"),
    [
        ({"$inc": {"a": 1}}, {"a": "x"}, "a", "$inc", "needs a number"),
        ({"$inc": {"a": 1}}, {"a": True}, "a", "$inc", "needs a number"),
        ({"$mul": {"a": 2}}, {"a": None}, "a", "$mul", "needs a number"),
        ({"$push": {"a": 1}}, {"a": 1}, "a", "$push", "needs an array"),
        ({"$addToSet": {"a": 1}}, {"a": {"b": 1}}, "a", "$addToSet", "needs an array"),
        ({"$pull": {"a": 1}}, {"a": "s"}, "a", "$pull", "needs an array"),
        ({"$pullAll": {"a": [1]}}, {"a": 2}, "a", "$pullAll", "needs an array"),
        ({"$pop": {"a": 1}}, {"a": 2}, "a", "$pop", "needs an array"),
        ({"$set": {"a.b": 1}}, {"a": 5}, "a.b", "$set", "Cannot create field"),
        ({"$set": {"a.b": 1}}, {"a": [1]}, "a.b", "$set", "Cannot create field"),
        ({"$inc": {"a.b": 1}}, {"a": [{"b": 1}]}, "a.b", "$inc", "Cannot create field"),
        ({"$rename": {"a.b": "c"}}, {"a": [{"b": 1}]}, "a.b", "$rename", "through an array"),
        ({"$rename": {"a": "c.d"}}, {"a": 1, "c": []}, "a", "$rename", "through an array"),
        ({"$set": {"_id": 2}}, {"_id": 1}, "_id", "$set", "immutable"),
        ({"$max": {"_id": 2}}, {"_id": 1}, "_id", "$max", "immutable"),
        ({"$set": {"_id.k": 2}}, {"_id": {"k": 1}}, "_id", "$set", "immutable"),
    ],
)
def test_apply_refusals(
    update: dict[str, Any],
    document: dict[str, Any],
    path: str,
    operator: str | None,
    fragment: str,
) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        _apply(update, document)
    assert fragment in str(raised.value)
    assert raised.value.path == path
    assert raised.value.operator == operator


def test_id_may_be_set_when_inserting_without_one_from_the_filter() -> None:
    assert _apply({"$set": {"_id": 2}}, {"a": 1}, inserting=True) == {"a": 1, "_id": 2}
    with pytest.raises(InvalidQueryError, match="immutable"):  # the seed's _id, from the filter
        _apply({"$set": {"_id": 2}}, {"_id": 1}, inserting=True)


# -- replacements ----------------------------------------------------------------------------


def test_replacement_keeps_the_stored_id_first() -> None:
    parsed = parse_replacement({"b": 1, "a": {"x": [1]}})
    assert apply_update(parsed, {"_id": 7, "old": True}) == {"_id": 7, "b": 1, "a": {"x": [1]}}
    assert apply_update(parse_replacement({"a": 1, "_id": 7}), {"_id": 7}) == {"_id": 7, "a": 1}
    assert apply_update(parsed, {}) == {"b": 1, "a": {"x": [1]}}


def test_replacement_cannot_change_the_id() -> None:
    with pytest.raises(InvalidQueryError, match="immutable") as raised:
        apply_update(parse_replacement({"_id": 8}), {"_id": 7})
    assert raised.value.path == "_id"


def test_replacement_is_copied() -> None:
    source = {"a": [1]}
    result = apply_update(parse_replacement(source), {"_id": 1})
    result["a"].append(2)
    assert source == {"a": [1]}


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [
        ({"$set": {"a": 1}}, "$set", "not update operators"),
        ({"$a": 1}, "$a", "dollar ($) prefixed field '$a' is not allowed at the top level"),
        ({"": 1}, "", "must not be empty"),
        ({"a": [{"": 1}]}, "a.0.", "must not be empty"),
        ({1: "x"}, "1", "must be strings"),
    ],
)
def test_invalid_replacements(document: dict[Any, Any], path: str, fragment: str) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        parse_replacement(document)
    assert fragment in str(raised.value)
    assert raised.value.path == path


@pytest.mark.parametrize(
    "document",
    [
        {"field with spaces": 1},
        {"ключ": {"字段": ["é"]}},
        {"a": [[{"b": None}]], "t": NOW, "bin": b"\x00", "d": 1.5},
        {},
    ],
)
def test_valid_replacements(document: dict[str, Any]) -> None:
    assert parse_replacement(document) == ReplacementUpdate(document)


def test_replacement_must_be_a_mapping() -> None:
    with pytest.raises(InvalidQueryError, match="must be a document"):
        parse_replacement(1)  # type: ignore[arg-type]
    with pytest.raises(InvalidQueryError, match="not a pipeline"):
        parse_replacement([{"$set": {"a": 1}}])  # type: ignore[arg-type]


# -- upsert seeds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter", "seed"),
    [
        ({}, {}),
        ({"a": 1}, {"a": 1}),
        ({"a": {"$eq": 1}}, {"a": 1}),
        ({"a.b": 1, "c": "x"}, {"a": {"b": 1}, "c": "x"}),
        ({"$and": [{"a": 1}, {"$and": [{"b": 2}]}]}, {"a": 1, "b": 2}),
        ({"a": {"$gt": 1}, "b": 2}, {"b": 2}),
        ({"$or": [{"a": 1}, {"b": 2}]}, {}),
        ({"a": {"$in": [1]}}, {}),
        ({"a": {"$regex": "x"}}, {}),
        ({"a": {"x": [1]}}, {"a": {"x": [1]}}),
        ({"_id": "k", "n": None}, {"_id": "k", "n": None}),
        ({"a": {"$elemMatch": {"b": 1}}}, {}),
    ],
)
def test_upsert_seed(filter: dict[str, Any], seed: dict[str, Any]) -> None:
    assert upsert_seed(parse_filter(filter)) == seed


def test_upsert_seed_refuses_overlapping_equalities() -> None:
    with pytest.raises(InvalidQueryError, match="'a'") as raised:
        upsert_seed(parse_filter({"a": 1, "$and": [{"a.b": 2}]}))
    assert raised.value.path == "a.b"


def test_upsert_seed_copies_values() -> None:
    filter = {"a": {"x": [1]}}
    node = parse_filter(filter)
    upsert_seed(node)["a"]["x"].append(2)
    assert upsert_seed(node) == {"a": {"x": [1]}}


def test_upsert_flow_seed_then_update() -> None:
    node = parse_filter({"name": "n", "age": {"$gt": 1}})
    update = parse_update({"$set": {"x": 1}, "$setOnInsert": {"created": True}})
    assert apply_update(update, upsert_seed(node), inserting=True) == {
        "name": "n",
        "x": 1,
        "created": True,
    }


# -- positional paths ------------------------------------------------------------------------


def _positional(update: dict[str, Any], document: dict[str, Any], **options: Any) -> Any:
    from lexigram_nosql.query.filter import parse_filter

    parsed = parse_update(update, array_filters=options.get("array_filters"))
    assert isinstance(parsed, OperatorUpdate)
    if "query" in options:
        parsed = dataclasses.replace(parsed, query=parse_filter(options["query"]))
    return apply_update(parsed, document, inserting=options.get("inserting", False))


def test_positional_paths_resolve_against_the_stored_document() -> None:
    document = {"_id": 1, "a": [{"b": 1}, {"b": 5}, {"b": 9}]}
    assert _positional({"$set": {"a.$.b": 0}}, document, query={"a.b": {"$gt": 3}}) == {
        "_id": 1,
        "a": [{"b": 1}, {"b": 0}, {"b": 9}],
    }
    assert _positional({"$inc": {"a.$[].b": 1}}, document)["a"] == [{"b": 2}, {"b": 6}, {"b": 10}]
    assert _positional({"$set": {"a.$[x].b": 0}}, document, array_filters=[{"x.b": {"$gte": 5}}])[
        "a"
    ] == [{"b": 1}, {"b": 0}, {"b": 0}]
    assert document["a"][1] == {"b": 5}  # the stored document is left untouched


@pytest.mark.parametrize(
    ("update", "document", "options", "fragment"),
    [
        ({"$set": {"a.$": 1}}, {"a": [1]}, {"query": {"b": 1}}, "did not find the match"),
        ({"$set": {"a.$": 1}}, {"a": [1]}, {"query": {"a": 1}, "inserting": True}, "match"),
        ({"$set": {"a.$[]": 1}}, {"a": 1}, {}, "non-array"),
        ({"$set": {"a.$[].b": 1}}, {"x": 1}, {}, "must exist"),
        ({"$set": {"a.$[]": 1, "a.0": 2}}, {"a": [1]}, {}, "conflict"),
    ],
)
def test_positional_refusals(
    update: dict[str, Any], document: dict[str, Any], options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidQueryError, match=fragment):
        _positional(update, document, **options)


def test_pipeline_updates_keep_the_stored_id() -> None:
    update = parse_update([{"$replaceWith": {"n": {"$add": ["$n", 1]}}}])
    assert apply_update(update, {"_id": 7, "n": 1, "x": 2}) == {"_id": 7, "n": 2}
    with pytest.raises(InvalidQueryError, match="immutable field '_id'"):
        apply_update(parse_update([{"$set": {"_id": 8}}]), {"_id": 7})


def test_a_top_level_dollar_name_only_in_the_document_an_upsert_inserts() -> None:
    update = parse_update({"$set": {"$hotel": 1, "a.$b": 2}})
    assert apply_update(update, {}, inserting=True) == {"$hotel": 1, "a": {"$b": 2}}
    with pytest.raises(InvalidQueryError, match="dollar") as raised:
        apply_update(update, {"_id": 1})
    assert raised.value.path == "$hotel"
    assert apply_update(parse_update({"$set": {"a.$b": 3}}), {"_id": 1}) == {
        "_id": 1,
        "a": {"$b": 3},
    }
    assert apply_update(parse_update({"$unset": {"$x": ""}}), {"_id": 1, "$x": 1}) == {"_id": 1}


# -- paths checked once are not checked again: the same parse, the same errors ---------------

_UPDATE_PATHS = st.sampled_from(
    ["n", "a.b", "_id", "_id.x", "_idx", "a..b", "", "$x", "a.$b", "a.$", "a.$[]", "a.$[i]", "a.0"]
)
_OPERANDS = st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=3) | st.none()
_UPDATE_DOCUMENTS = st.dictionaries(
    st.sampled_from(["$set", "$inc", "$unset", "$min", "$rename", "$setOnInsert"]),
    st.dictionaries(_UPDATE_PATHS, _OPERANDS | _UPDATE_PATHS, min_size=1, max_size=3),
    min_size=1,
    max_size=3,
)


def _parse_outcome(update: dict[str, Any], **options: Any) -> Any:
    try:
        return repr(parse_update(update, **options))
    except InvalidQueryError as exc:
        return ("error", type(exc), str(exc), exc.path, exc.operator)


@settings(deadline=None)
@given(_UPDATE_DOCUMENTS, st.sampled_from([None, [{"i": 1}]]))
def test_an_update_parses_the_same_with_its_paths_remembered_or_not(
    update: dict[str, Any], array_filters: Any
) -> None:
    PLAIN_PATHS.clear()
    first = _parse_outcome(update, array_filters=array_filters)
    for path in ("n", "a.b", "_id", "_id.x", "_idx", "a.0"):
        PLAIN_PATHS.add(path)
    assert _parse_outcome(update, array_filters=array_filters) == first


def test_the_filter_is_attached_only_where_positional_paths_need_it() -> None:
    query = parse_filter({"a.b": 1})
    plain = parse_update({"$set": {"a.b": 2}}, query=query)
    assert isinstance(plain, OperatorUpdate)
    assert (plain.query, plain.raw_array_filters) == (None, ())
    first = parse_update({"$set": {"a.$": 2}}, query=query)
    assert isinstance(first, OperatorUpdate)
    assert (first.query, first.raw_array_filters) == (query, ())
    filters = [{"i.b": 1}]
    each = parse_update({"$set": {"a.$[i]": 2}}, array_filters=filters, query=query)
    assert isinstance(each, OperatorUpdate)
    assert (each.query, each.raw_array_filters) == (query, ({"i.b": 1},))
    unbound = parse_update({"$set": {"a.$": 2}})
    assert isinstance(unbound, OperatorUpdate) and unbound.query is None
