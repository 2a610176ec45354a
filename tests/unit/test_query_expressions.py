"""Aggregation expressions: parsing, MongoDB evaluation semantics and validation errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.expressions import (
    bind_variables,
    bson_type_name,
    evaluate,
    is_truthy,
    parse_expression,
)
from lexigram_nosql.query.paths import MISSING

DOC: dict[str, Any] = {
    "_id": 1,
    "a": 5,
    "b": 2,
    "f": 2.5,
    "s": "Hello",
    "n": None,
    "arr": [1, 2, 3],
    "docs": [{"x": 1}, {"y": 2}, {"x": 3}, 7, [{"x": 4}]],
    "sub": {"c": {"d": "deep"}, "0": "zero-key"},
    "when": datetime(2024, 3, 9, 14, 5, 7, 123000),
    "flag": True,
    "zero": 0,
    "empty": [],
}


def ev(expression: Any, document: dict[str, Any] | None = None) -> Any:
    return evaluate(parse_expression(expression), DOC if document is None else document)


# -- field paths and variables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$a", 5),
        ("$sub.c.d", "deep"),
        ("$nope", MISSING),
        ("$a.b", MISSING),  # through a scalar
        ("$n", None),
        ("$docs.x", [1, 3, [4]]),  # arrays map, missing skipped, scalars dropped
        ("$arr.0", []),  # numeric segments are field names in aggregation
        ("$sub.0", "zero-key"),
        ("$$ROOT.a", 5),
        ("$$CURRENT.sub.c", {"d": "deep"}),
        ("$$REMOVE", MISSING),
        ("plain string", "plain string"),
        (42, 42),
        (None, None),
    ],
)
def test_field_paths_variables_and_literals(expression: Any, expected: Any) -> None:
    assert ev(expression) == expected


def test_root_variable_is_the_whole_document() -> None:
    assert ev("$$ROOT") is DOC


def test_missing_and_null_are_distinct() -> None:
    assert ev("$nope") is MISSING
    assert ev("$n") is None


def test_literal_is_not_evaluated() -> None:
    assert ev({"$literal": "$a"}) == "$a"
    assert ev({"$literal": {"$add": [1, 2]}}) == {"$add": [1, 2]}


def test_expression_objects_and_arrays() -> None:
    assert ev({"total": {"$add": ["$a", "$b"]}, "name": "$s", "gone": "$nope"}) == {
        "total": 7,
        "name": "Hello",
    }
    # A missing element of an array expression becomes null, as in MongoDB.
    assert ev(["$a", "$nope", 3]) == [5, None, 3]


def test_explicit_variables_and_bound_variables() -> None:
    compiled = parse_expression({"$add": ["$$x", "$a"]})
    assert evaluate(compiled, DOC, {"x": 10}) == 15
    with bind_variables({"x": 1}):
        assert evaluate(compiled, DOC) == 6
        with bind_variables({"y": 2}):
            assert evaluate(parse_expression({"$add": ["$$x", "$$y"]}), DOC) == 3


def test_undefined_variable_fails_at_evaluation() -> None:
    compiled = parse_expression("$$unknown")
    with pytest.raises(InvalidQueryError, match="undefined variable"):
        evaluate(compiled, DOC)


def test_variable_with_path() -> None:
    assert evaluate(parse_expression("$$v.k"), DOC, {"v": {"k": 3}}) == 3


# -- arithmetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$add": ["$a", "$b", 1]}, 8),
        ({"$add": ["$a", "$f"]}, 7.5),
        ({"$add": []}, 0),
        ({"$add": ["$a", None]}, None),
        ({"$add": ["$a", "$nope"]}, None),
        ({"$subtract": ["$a", "$b"]}, 3),
        ({"$subtract": ["$a", None]}, None),
        ({"$multiply": ["$a", "$b", "$f"]}, 25.0),
        ({"$multiply": ["$a", "$nope"]}, None),
        ({"$divide": ["$a", "$b"]}, 2.5),
        ({"$divide": [10, 5]}, 2.0),
        ({"$divide": [None, 5]}, None),
        ({"$mod": [7, 3]}, 1),
        ({"$mod": [-7, 3]}, -1),  # the dividend's sign, not Python's
        ({"$mod": [7, -3]}, 1),
        ({"$mod": [7.5, 2]}, 1.5),
        ({"$abs": -3}, 3),
        ({"$abs": [-2.5]}, 2.5),
        ({"$abs": "$nope"}, None),
        ({"$ceil": 1.2}, 2.0),
        ({"$floor": -1.2}, -2.0),
        ({"$ceil": 4}, 4),
        ({"$round": 2.5}, 2.0),  # half to even
        ({"$round": 3.5}, 4.0),
        ({"$round": [3.14159, 2]}, 3.14),
        ({"$round": [1234, -2]}, 1200),
        ({"$round": [None, 1]}, None),
    ],
)
def test_arithmetic(expression: Any, expected: Any) -> None:
    result = ev(expression)
    assert result == expected
    assert type(result) is type(expected)


def test_add_number_to_date_adds_milliseconds() -> None:
    assert ev({"$add": ["$when", 1000]}) == DOC["when"] + timedelta(seconds=1)


def test_subtract_dates_gives_milliseconds_and_date_minus_number_gives_date() -> None:
    later = {"t1": datetime(2024, 1, 1, 0, 0, 1), "t0": datetime(2024, 1, 1)}
    assert ev({"$subtract": ["$t1", "$t0"]}, later) == 1000
    assert ev({"$subtract": ["$t1", 1000]}, later) == datetime(2024, 1, 1)


def test_int64_overflow_becomes_double() -> None:
    assert ev({"$add": [2**63 - 1, 1]}) == float(2**63)
    assert isinstance(ev({"$multiply": [2**62, 4]}), float)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"$add": ["$s", 1]}, r"\$add only supports numeric or date types, not string"),
        ({"$add": ["$when", "$when"]}, "one date"),
        ({"$subtract": ["$s", 1]}, r"\$subtract only supports"),
        ({"$multiply": [2, "$s"]}, r"\$multiply only supports numeric"),
        ({"$divide": [1, 0]}, "divide by zero"),
        ({"$mod": [1, 0]}, "divide by zero"),
        ({"$abs": "$s"}, r"\$abs only supports numeric"),
        ({"$round": [1.5, 1.5]}, "place"),
    ],
)
def test_arithmetic_type_errors_name_the_operator(expression: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message) as info:
        ev(expression)
    assert info.value.operator == next(iter(expression))


# -- comparison and boolean --------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$eq": ["$a", 5]}, True),
        ({"$eq": ["$a", 5.0]}, True),
        ({"$eq": ["$flag", 1]}, False),  # bool is not a number
        ({"$eq": ["$nope", None]}, False),  # missing is not null in expressions
        ({"$eq": ["$nope", "$other_missing"]}, True),
        ({"$ne": ["$a", 4]}, True),
        ({"$gt": ["$a", "$b"]}, True),
        ({"$gt": ["$s", 100]}, True),  # strings sort after numbers
        ({"$gt": [None, "$nope"]}, True),  # missing sorts below null
        ({"$gte": ["$a", 5]}, True),
        ({"$lt": ["$n", 0]}, True),  # null sorts below numbers
        ({"$lte": ["$b", 1]}, False),
        ({"$cmp": ["$a", "$b"]}, 1),
        ({"$cmp": ["$b", "$a"]}, -1),
        ({"$cmp": [2, 2.0]}, 0),
        ({"$eq": [{"x": 1, "y": 2}, {"y": 2, "x": 1}]}, False),  # field order matters
        ({"$eq": [[1, 2], [1, 2]]}, True),
    ],
)
def test_comparison(expression: Any, expected: Any) -> None:
    assert ev(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$and": [True, 1, "x", "$arr"]}, True),
        ({"$and": [True, "$zero"]}, False),
        ({"$and": []}, True),
        ({"$or": [False, None, "$nope", 0]}, False),
        ({"$or": [False, "$empty"]}, True),  # an empty array is true
        ({"$or": []}, False),
        ({"$not": ["$n"]}, True),
        ({"$not": "$a"}, False),
        ({"$not": [""]}, False),  # an empty string is true
    ],
)
def test_boolean_operators_use_mongodb_truthiness(expression: Any, expected: bool) -> None:
    assert ev(expression) is expected


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (MISSING, False),
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        ([], True),
        ({}, True),
        ("", True),
        (-1, True),
    ],
)
def test_truthiness(value: Any, truthy: bool) -> None:
    assert is_truthy(value) is truthy


# -- conditionals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$cond": {"if": {"$gt": ["$a", 3]}, "then": "big", "else": "small"}}, "big"),
        ({"$cond": [{"$gt": ["$a", 9]}, "big", "small"]}, "small"),
        ({"$cond": ["$nope", 1, 2]}, 2),
        ({"$ifNull": ["$nope", "default"]}, "default"),
        ({"$ifNull": ["$n", "default"]}, "default"),
        ({"$ifNull": ["$zero", "default"]}, 0),
        ({"$ifNull": ["$nope", "$n", "$a", 9]}, 5),
        ({"$ifNull": ["$nope", "$n"]}, None),
    ],
)
def test_conditionals(expression: Any, expected: Any) -> None:
    assert ev(expression) == expected


def test_cond_evaluates_only_the_chosen_branch() -> None:
    assert ev({"$cond": [True, 1, {"$divide": [1, 0]}]}) == 1


def test_cond_document_form_requires_every_branch() -> None:
    with pytest.raises(InvalidQueryError, match=r"requires argument\(s\) \['else'\]"):
        parse_expression({"$cond": {"if": True, "then": 1}})


# -- strings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$concat": ["$s", " ", "world"]}, "Hello world"),
        ({"$concat": ["$s", "$nope"]}, None),
        ({"$concat": ["$s", None]}, None),
        ({"$concat": []}, ""),
        ({"$toLower": "$s"}, "hello"),
        ({"$toUpper": ["$s"]}, "HELLO"),
        ({"$toLower": "$nope"}, ""),
        ({"$toUpper": "$n"}, ""),
        ({"$toUpper": 12}, "12"),
        ({"$substrCP": ["$s", 1, 3]}, "ell"),
        ({"$substrCP": ["héllo", 1, 2]}, "él"),
        ({"$substrCP": ["$s", 2, -1]}, "llo"),
        ({"$substr": ["$s", 0, 2]}, "He"),
        ({"$substrBytes": ["héllo", 0, 3]}, "hé"),
        ({"$substr": ["$nope", 0, 2]}, ""),
        ({"$toString": "$a"}, "5"),
        ({"$toString": "$f"}, "2.5"),
        ({"$toString": 3.0}, "3"),
        ({"$toString": "$flag"}, "true"),
        ({"$toString": "$nope"}, None),
        ({"$toString": "$when"}, "2024-03-09T14:05:07.123Z"),
    ],
)
def test_strings(expression: Any, expected: Any) -> None:
    assert ev(expression) == expected


def test_concat_refuses_non_strings() -> None:
    with pytest.raises(InvalidQueryError, match=r"\$concat only supports strings, not int"):
        ev({"$concat": ["$s", "$a"]})


def test_substr_bytes_refuses_to_split_a_character() -> None:
    with pytest.raises(InvalidQueryError, match="UTF-8"):
        ev({"$substrBytes": ["héllo", 0, 2]})


def test_to_string_refuses_documents() -> None:
    with pytest.raises(InvalidQueryError, match="cannot convert object"):
        ev({"$toString": "$sub"})


# -- arrays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"$size": "$arr"}, 3),
        ({"$size": [[1, 2]]}, 2),
        ({"$size": "$empty"}, 0),
        ({"$arrayElemAt": ["$arr", 0]}, 1),
        ({"$arrayElemAt": ["$arr", -1]}, 3),
        ({"$arrayElemAt": ["$arr", 3]}, MISSING),
        ({"$arrayElemAt": ["$nope", 0]}, None),
        ({"$arrayElemAt": ["$arr", 1.0]}, 2),
        ({"$in": [2, "$arr"]}, True),
        ({"$in": [2.0, "$arr"]}, True),
        ({"$in": [9, "$arr"]}, False),
        ({"$in": ["$nope", [None]]}, False),
        ({"$sum": "$arr"}, 6),
        ({"$sum": ["$a", "$b", "x"]}, 7),
        ({"$avg": "$arr"}, 2.0),
        ({"$avg": "$empty"}, None),
        ({"$max": "$arr"}, 3),
        ({"$min": [4, None, 2]}, 2),
    ],
)
def test_arrays_and_array_reducers(expression: Any, expected: Any) -> None:
    assert ev(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"$size": "$nope"}, r"\$size only supports arrays, not missing"),
        ({"$size": "$a"}, r"\$size only supports arrays, not int"),
        ({"$in": [1, "$a"]}, "second argument"),
        ({"$arrayElemAt": ["$a", 0]}, "first argument"),
        ({"$arrayElemAt": ["$arr", "x"]}, "integer index"),
    ],
)
def test_array_type_errors(expression: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        ev(expression)


# -- $type -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (MISSING, "missing"),
        (None, "null"),
        (True, "bool"),
        (1, "int"),
        (2**40, "long"),
        (1.5, "double"),
        ("x", "string"),
        ({}, "object"),
        ([], "array"),
        (datetime(2020, 1, 1), "date"),
        (b"\x00", "binData"),
    ],
)
def test_bson_type_names(value: Any, name: str) -> None:
    assert bson_type_name(value) == name


def test_bson_classes_have_their_bson_type_names() -> None:
    import bson  # from pymongo, part of the test extra

    assert bson_type_name(bson.Int64(1)) == "long"
    assert bson_type_name(bson.ObjectId()) == "objectId"
    assert bson_type_name(bson.Decimal128("1.5")) == "decimal"


def test_type_operator() -> None:
    assert ev({"$type": "$nope"}) == "missing"
    assert ev({"$type": "$arr"}) == "array"


# -- $dateToString -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format", "expected"),
    [
        ("%Y-%m-%d", "2024-03-09"),
        ("%H:%M:%S.%L", "14:05:07.123"),
        ("%j", "069"),
        ("%w %u", "7 6"),  # Saturday: 7 counting from Sunday=1, 6 in ISO
        ("%G-W%V", "2024-W10"),
        ("%U", "09"),
        ("%z %Z", "+0000 +0"),
        ("%b %B", "Mar March"),
        ("100%%", "100%"),
    ],
)
def test_date_to_string_specifiers(format: str, expected: str) -> None:
    assert ev({"$dateToString": {"date": "$when", "format": format}}) == expected


def test_date_to_string_default_format_is_iso_utc() -> None:
    assert ev({"$dateToString": {"date": "$when"}}) == "2024-03-09T14:05:07.123Z"


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("+05:30", "19:35 +0530"),
        ("-0800", "06:05 -0800"),
        ("UTC", "14:05 +0000"),
    ],
)
def test_date_to_string_timezone_offsets(zone: str, expected: str) -> None:
    spec = {"date": "$when", "format": "%H:%M %z", "timezone": zone}
    assert ev({"$dateToString": spec}) == expected


def test_date_to_string_olson_timezone() -> None:
    spec = {"date": "$when", "format": "%H:%M %Z", "timezone": "Europe/Paris"}
    assert ev({"$dateToString": spec}) == "15:05 +60"


def test_date_to_string_converts_aware_datetimes() -> None:
    aware = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ev({"$dateToString": {"date": "$d", "format": "%H"}}, {"d": aware}) == "10"
    utc = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert ev({"$dateToString": {"date": "$d", "format": "%H"}}, {"d": utc}) == "12"


def test_date_to_string_null_and_on_null() -> None:
    assert ev({"$dateToString": {"date": "$nope"}}) is None
    assert ev({"$dateToString": {"date": "$n", "onNull": "no date"}}) == "no date"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"date": "$when", "format": "%Q"}, "unknown specifier %Q"),
        ({"date": "$when", "format": "50%"}, "unescaped"),
        ({"date": "$when", "timezone": "Mars/Olympus"}, "not an Olson timezone"),
        ({"format": "%Y"}, r"requires argument\(s\) \['date'\]"),
        ({"date": "$when", "locale": "fr"}, "does not accept"),
    ],
)
def test_date_to_string_validation(spec: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        parse_expression({"$dateToString": spec})


def test_date_to_string_refuses_non_dates() -> None:
    with pytest.raises(InvalidQueryError, match="only supports dates"):
        ev({"$dateToString": {"date": "$s"}})


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message", "operator"),
    [
        ({"$frobnicate": 1}, "Unknown expression operator '\\$frobnicate'", "$frobnicate"),
        ({"$add": 1, "other": 2}, "exactly one key", "$add"),
        ({"$subtract": [1]}, "takes 2 argument", "$subtract"),
        ({"$abs": [1, 2]}, "takes 1 argument", "$abs"),
        ({"$ifNull": ["$a"]}, "takes 2 to any", "$ifNull"),
        ({"$function": {"body": "x", "args": [], "lang": "js"}}, "JavaScript", "$function"),
        ({"$accumulator": {}}, "JavaScript", "$accumulator"),
        ({"$where": "1"}, "JavaScript", "$where"),
        ({"$cond": [1, 2]}, "takes 3 arguments", "$cond"),
    ],
)
def test_invalid_operators(expression: Any, message: str, operator: str) -> None:
    with pytest.raises(InvalidQueryError, match=message) as info:
        parse_expression(expression)
    assert info.value.operator == operator


@pytest.mark.parametrize(
    "expression",
    ["$", "$a..b", "$a.$b", "$$", "$$Bad-name", {"a.b": 1}, {"": 1}],
)
def test_invalid_paths_variables_and_field_names(expression: Any) -> None:
    with pytest.raises(InvalidQueryError):
        parse_expression(expression)


def test_nested_errors_are_found_at_parse_time() -> None:
    with pytest.raises(InvalidQueryError, match="Unknown expression operator"):
        parse_expression({"$cond": [{"$eq": [{"$nope": 1}, 1]}, 1, 2]})


def test_compiled_expressions_compare_by_source_with_field_order() -> None:
    assert parse_expression({"$add": ["$a", 1]}) == parse_expression({"$add": ["$a", 1]})
    assert hash(parse_expression({"x": "$a"})) == hash(parse_expression({"x": "$a"}))
    assert parse_expression({"x": 1, "y": 2}) != parse_expression({"y": 2, "x": 1})
    assert parse_expression(1) != parse_expression(True)


def test_parse_expression_is_idempotent() -> None:
    compiled = parse_expression("$a")
    assert parse_expression(compiled) is compiled


def test_evaluate_accepts_raw_expressions() -> None:
    assert evaluate({"$multiply": ["$a", 2]}, {"a": 4}) == 8
