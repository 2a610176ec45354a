"""Documents to DynamoDB items and back: exact numbers, datetimes, order, and refusals that
happen before any request."""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.backends.dynamodb.codec import (
    ITEM_SIZE_LIMIT,
    ORDER,
    _item,
    _plain_item,
    _Unusual,
    decode_item,
    decode_key,
    decode_value,
    encode_item,
    encode_key,
    encode_value,
    item_size,
)
from lexigram_nosql.errors import (
    DocumentTooLargeError,
    InvalidQueryError,
    NoSQLError,
    UnsupportedQueryError,
)

KEYS = {"_id": "S"}


def round_trip(document: dict[str, Any]) -> dict[str, Any]:
    return decode_item(encode_item(document, KEYS), frozenset(KEYS))


@pytest.mark.parametrize("value", [0.1, 1e-7, -0.5, 123.456, 2.5e-300 * 1e200, 1 / 3])
def test_floats_are_sent_as_their_shortest_exact_decimal(value: float) -> None:
    encoded = encode_value(value)
    assert encoded == {"N": repr(value)}
    decoded = decode_value(encoded)
    assert decoded == value and type(decoded) is float


def test_server_normalised_numbers_read_back_as_the_same_values() -> None:
    # DynamoDB answers "1e-07" as "0.0000001" and "1.0" as "1".
    assert decode_value({"N": "0.0000001"}) == 1e-7
    assert decode_value({"N": "1"}) == 1 and type(decode_value({"N": "1"})) is int
    assert decode_value({"N": "100000000000000000000"}) == 10**20


def test_large_ints_round_trip_up_to_38_digits() -> None:
    assert decode_value(encode_value(10**37 + 1)) == 10**37 + 1
    with pytest.raises(UnsupportedQueryError, match="38 significant"):
        encode_value(10**38 + 1, "n")
    with pytest.raises(UnsupportedQueryError, match="magnitude") as info:
        encode_value(1e-200, "tiny")
    assert info.value.backend == "dynamodb"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN")])
def test_nan_and_infinity_are_refused(value: Any) -> None:
    with pytest.raises(UnsupportedQueryError, match="NaN or infinity") as info:
        encode_item({"_id": "a", "x": {"y": value}}, KEYS)
    assert info.value.path == "x.y"


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"_id": "a", "m": {"": 1}}, "m."),
        ({"_id": "a", "l": [{"ok": {"": 2}}]}, "l.0.ok."),
        ({"_id": "a", "__lx:o": 1}, "__lx:o"),
    ],
)
def test_empty_nested_and_reserved_names_are_refused(document: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        encode_item(document, KEYS)
    assert info.value.path == path


def test_an_item_over_400_kb_is_refused_with_its_size() -> None:
    encode_item({"_id": "a", "s": "x" * (ITEM_SIZE_LIMIT - 1000)}, KEYS)
    with pytest.raises(DocumentTooLargeError, match="400 KB"):
        encode_item({"_id": "a", "s": "x" * ITEM_SIZE_LIMIT}, KEYS)


def test_datetimes_are_iso_utc_strings_and_read_back_as_aware_utc() -> None:
    paris = timezone(timedelta(hours=2))
    stamp = datetime(2024, 5, 17, 10, 30, 15, 123000, tzinfo=paris)
    encoded = encode_value(stamp)
    assert encoded == {"S": "2024-05-17T08:30:15.123000+00:00"}
    assert decode_value(encoded) == stamp
    assert decode_value(encoded).tzinfo == UTC
    naive = encode_value(datetime(2024, 1, 1))
    assert naive == {"S": "2024-01-01T00:00:00.000000+00:00"}  # naive means UTC
    assert decode_value({"S": "2024-01-01"}) == "2024-01-01"  # only the exact form converts


def test_field_order_of_items_and_maps_survives() -> None:
    document = {"_id": "a", "z": 1, "b": {"y": 1, "x": 2}, "a": [{"q": 1, "p": 2}]}
    item = encode_item(document, KEYS)
    assert ORDER in item
    back = round_trip(document)
    assert list(back) == ["_id", "z", "b", "a"]
    assert list(back["b"]) == ["y", "x"]
    assert list(back["a"][0]) == ["q", "p"]
    assert ORDER in item["b"]["M"]


def test_sorted_maps_carry_no_order_list() -> None:
    assert ORDER not in encode_value({"a": 1, "b": 2})["M"]


def test_an_item_carries_an_order_only_when_its_fields_are_not_sorted() -> None:
    """Sorted names read back sorted without it; any other order costs a few bytes."""
    assert ORDER not in encode_item({"_id": "a", "b": 1, "c": 2}, KEYS)
    assert list(round_trip({"_id": "a", "b": 1, "c": 2})) == ["_id", "b", "c"]
    document = {"_id": "k", "n": 1, "name": "x", "group": 2, "tags": [], "score": 0.5}
    order = encode_item(document, KEYS)[ORDER]["S"]
    assert len(order) == 1 + len(document)  # a header, then one character per field
    assert list(round_trip(document)) == list(document)
    assert list(round_trip({"b": 1, "_id": "a", "A": 2})) == ["b", "_id", "A"]


def test_the_json_order_of_earlier_versions_still_reads() -> None:
    old = {
        "z": {"N": "1"},
        "_id": {"S": "a"},
        "m": {"M": {"y": {"N": "1"}, "x": {"N": "2"}, ORDER: {"S": '["y","x"]'}}},
        ORDER: {"S": '["_id","z","m","gone"]'},  # "gone" was unset by key since
        "__lx:v": {"N": "3"},
    }
    back = decode_item(old, frozenset(KEYS))
    assert back == {"_id": "a", "z": 1, "m": {"y": 1, "x": 2}}
    assert list(back) == ["_id", "z", "m"] and list(back["m"]) == ["y", "x"]


def test_a_removed_field_leaves_the_others_in_order() -> None:
    """$unset by key removes the attribute without rewriting the order (one request)."""
    item = encode_item({"_id": "a", "z": 1, "m": 2, "b": 3}, KEYS)
    del item["m"]
    assert list(decode_item(item, frozenset(KEYS))) == ["_id", "z", "b"]


def test_names_the_order_does_not_place_follow_sorted() -> None:
    item = encode_item({"_id": "a", "z": 1, "b": 3}, KEYS)
    item["k2"] = item["k1"] = {"S": "written by another tool"}
    names = list(decode_item(item, frozenset(KEYS)))
    assert names[:3] == ["_id", "z", "b"] and sorted(names[3:]) == ["k1", "k2"]


@pytest.mark.parametrize("fields", [2, 12, 60, 400])
def test_any_number_of_fields_keeps_its_order(fields: int) -> None:
    document = {"_id": "a", **{f"f{(i * 7919) % fields}": i for i in range(fields)}}
    assert list(round_trip(document)) == list(document)
    nested = {"_id": "a", "m": {k: v for k, v in reversed(list(document.items()))}}
    assert list(round_trip(nested)["m"]) == list(nested["m"])


@pytest.mark.parametrize("text", ["", "~", "0x", "z1", "[", '["a"', "\x00"])
def test_an_order_attribute_that_is_not_ours_reads_as_sorted(text: str) -> None:
    item = {"_id": {"S": "a"}, "b": {"N": "1"}, "a": {"N": "2"}, ORDER: {"S": text}}
    assert set(decode_item(item, frozenset(KEYS))) == {"_id", "a", "b"}


@pytest.mark.parametrize(
    "value", [5, 5.5, True, False, None, b"\x00\xff", "plain", datetime(2024, 1, 1, tzinfo=UTC)]
)
def test_string_keys_hold_any_scalar_and_read_back_unchanged(value: Any) -> None:
    encoded = encode_key(value, "S", "_id")
    assert "S" in encoded
    assert decode_key(encoded) == value
    assert type(decode_key(encoded)) is type(value)


def test_equal_numbers_are_the_same_key_as_in_mongodb() -> None:
    assert encode_key(1, "S", "_id") == encode_key(1.0, "S", "_id")
    assert encode_key(1, "S", "_id") != encode_key(True, "S", "_id")
    assert encode_key(1, "S", "_id") != encode_key("1", "S", "_id")


def test_string_keys_hold_documents_uuids_and_empty_strings() -> None:
    for value in ({"a": 1, "b": [2]}, uuid.UUID(int=5), "", "\x00tagged"):
        assert decode_key(encode_key(value, "S", "_id")) == value


def test_a_regex_cannot_be_a_key() -> None:
    with pytest.raises(UnsupportedQueryError) as info:
        encode_key(re.compile("a"), "S", "_id")
    assert info.value.backend == "dynamodb"


@pytest.mark.parametrize(("value", "key_type"), [("x", "N"), (1, "B")])
def test_values_that_cannot_be_keys_are_unsupported(value: Any, key_type: str) -> None:
    with pytest.raises(UnsupportedQueryError, match=f"type {key_type}"):
        encode_key(value, key_type, "_id")


def test_a_missing_key_attribute_is_unsupported() -> None:
    with pytest.raises(UnsupportedQueryError, match="'tenant'"):
        encode_item({"_id": "a"}, {"tenant": "S"})


# -- the fast encoder against the general one ----------------------------------------------

_EDGES = [1e-129, 1e-130, 9.99e-131, 1e-131, 1e125, 9.99e125, 1e126, 5e-324, -0.0, 0.0]
_EDGES += [10**38 - 1, -(10**38) + 1, 10**38, -(10**38), float("nan"), float("-inf")]

_leaves = st.one_of(
    st.text(max_size=4),
    st.integers(min_value=-(10**38) - 1, max_value=10**38 + 1),
    st.sampled_from([10**38 - 1, -(10**38) + 1, 10**38, 2**63 - 1, -(2**63), True, False, None]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(_EDGES),
    st.binary(max_size=3),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-3))])),
    st.sampled_from(
        [Decimal("1.5"), bytearray(b"x"), uuid.UUID(int=1), datetime(2024, 1, 1).date()]
    ),
)
_names = st.one_of(
    st.text(min_size=1, max_size=3),
    st.sampled_from(["", "__lx:x", "$a", "a.b", "_id", "Z", "é"]),
    st.just(1),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(_names, children, max_size=4),
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
    )


_ids = st.one_of(
    st.text(max_size=3), st.integers(-5, 5), st.sampled_from([7.0, 7.5, {"a": 1}, None])
)
_documents = st.builds(
    lambda identity, body: body if identity is _NO_ID else {"_id": identity, **body},
    st.one_of(st.just(_NO_ID := object()), _ids),
    st.dictionaries(_names, st.recursive(_leaves, _containers, max_leaves=10), max_size=5),
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_the_fast_encoder_gives_the_general_encoders_item_and_size(document: Any) -> None:
    """Whatever the fast encoder takes, it encodes (and sizes) as the general one; what it
    leaves is left whole, so refusals keep naming their paths."""
    try:
        expected: Any = _item(document, KEYS)
        size = item_size(expected)
    except NoSQLError as refusal:
        expected, size = refusal, None
    try:
        fast, fast_size = _plain_item(document, KEYS)
    except _Unusual:
        return
    except NoSQLError as refusal:  # the key attribute's own checks, shared by both
        assert type(refusal) is type(expected) and str(refusal) == str(expected)
        return
    assert not isinstance(expected, NoSQLError), (
        f"the fast encoder took what is refused: {expected}"
    )
    assert fast == expected
    assert fast_size == size


@pytest.mark.parametrize("value", _EDGES, ids=repr)
def test_both_encoders_agree_on_dynamodbs_number_bounds(value: Any) -> None:
    document = {"_id": "n", "v": value, "in": [value]}
    try:
        expected: Any = _item(document, KEYS)
    except UnsupportedQueryError:
        with pytest.raises(_Unusual):
            _plain_item(document, KEYS)
        return
    with contextlib.suppress(_Unusual):
        assert _plain_item(document, KEYS) == (expected, item_size(expected))


@pytest.mark.parametrize("levels", [31, 32, 33])
def test_both_encoders_stop_at_dynamodbs_nesting(levels: int) -> None:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    document = {"_id": "deep", "v": value}
    if levels <= 32:
        assert _plain_item(document, KEYS)[0] == _item(document, KEYS)
    else:
        with pytest.raises(_Unusual):
            _plain_item(document, KEYS)
        with pytest.raises(UnsupportedQueryError, match="nests deeper"):
            encode_item(document, KEYS)


def test_plain_documents_take_the_fast_encoder() -> None:
    """The common shapes are the fast encoder's: a test of its agreement is not vacuous."""
    document = {
        "_id": "u1",
        "name": "Zoë",
        "n": -12,
        "score": 0.25,
        "tags": ["a", ("b", 1e-7)],
        "at": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "raw": b"\x00",
        "nested": {"z": None, "a": True},
    }
    item, size = _plain_item(document, KEYS)
    assert item == _item(document, KEYS)
    assert size == item_size(item)


# -- integral floats -----------------------------------------------------------------------


def _as_dynamodb_returns(value: Any) -> Any:
    """An attribute value as DynamoDB answers it: numbers without trailing zeros ("2.0" is
    "2"), which is why integral floats need markers."""
    if isinstance(value, dict):
        if set(value) == {"N"}:
            return {"N": format(Decimal(value["N"]).normalize(), "f")}
        return {k: _as_dynamodb_returns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_dynamodb_returns(v) for v in value]
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


_numbers = st.one_of(
    st.integers(-3, 3), st.sampled_from([2.0, -1.0, 0.5, 1e20, 3.0, 0.0]), st.text(max_size=1)
)
_number_documents = st.dictionaries(
    st.sampled_from(["a", "b", "é", "x.y", "$d"]),
    st.recursive(
        _numbers,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(["p", "q", "0"]), children, max_size=3),
        ),
        max_leaves=8,
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(_number_documents)
def test_ints_and_floats_read_back_with_their_type_at_any_depth(body: dict[str, Any]) -> None:
    document = {"_id": "n", **body}
    for encode in (_item, lambda d, k: _plain_item(d, k)[0]):
        item = _as_dynamodb_returns(encode(document, KEYS))
        assert _typed(decode_item(item, frozenset(KEYS))) == _typed(document)


def test_items_without_float_markers_read_back_as_before() -> None:
    """Items written before the markers: integral numbers read back as ints; the top-level
    float list of the version before (``__lx:f``) already tells top-level floats."""
    plain = {"_id": {"S": "a"}, "v": {"N": "2"}, "l": {"L": [{"N": "2"}]}}
    assert _typed(decode_item(plain, frozenset(KEYS))) == _typed({"_id": "a", "v": 2, "l": [2]})
    listed = {**plain, "__lx:f": {"SS": ["v"]}}
    assert _typed(decode_item(listed, frozenset(KEYS))) == _typed({"_id": "a", "v": 2.0, "l": [2]})


def test_documents_without_integral_floats_carry_no_markers() -> None:
    item = encode_item({"_id": "a", "v": 2, "f": 0.5, "l": [1, 0.5], "m": {"x": 1.5}}, KEYS)
    assert set(item) == {"_id", "v", "f", "l", "m", ORDER, "__lx:f"}
    assert item["__lx:f"] == {"SS": ["f"]}
    assert set(item["m"]["M"]) == {"x"}
