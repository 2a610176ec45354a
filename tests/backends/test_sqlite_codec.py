"""The SQLite store's codecs: documents round-trip with their types, and index keys order
and compare exactly as the engine's ``sort_key`` (MongoDB's cross-type order)."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lexigram_nosql.backends.index_spec import IndexSpec
from lexigram_nosql.backends.sqlite.codec import (
    decode_document,
    encode_document,
    encode_key,
    next_prefix,
)
from lexigram_nosql.backends.sqlite.schema import IndexInfoRow
from lexigram_nosql.backends.sqlite.writes import (
    _entries_by_json_path,
    decoded_entries,
    stored_entries,
)
from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ordering import sort_key

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, places=None).filter(lambda d: d.is_finite()),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=3), children, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(values, values)
@pytest.mark.slow
def test_keys_order_and_compare_as_the_engine_does(a: Any, b: Any) -> None:
    key_a, key_b = encode_key(a), encode_key(b)
    assert (key_a < key_b) == (sort_key(a) < sort_key(b))
    assert (key_a == key_b) == (sort_key(a) == sort_key(b))


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_keys_concatenate_without_ambiguity(a: Any, b: Any) -> None:
    """Compound keys are concatenations: the first component decides first."""
    if sort_key(a) != sort_key(b):
        assert (encode_key(a) + encode_key(b) < encode_key(b) + encode_key(a)) == (
            sort_key(a) < sort_key(b)
        )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=4).filter(lambda s: "." not in s), values))
@pytest.mark.slow
def test_documents_round_trip_with_their_types(document: dict[str, Any]) -> None:
    decoded = decode_document(encode_document(document))
    assert decoded == document
    assert encode_key(decoded) == encode_key(document)


def test_ids_of_different_types_never_share_a_key() -> None:
    assert encode_key(7) != encode_key("7")
    assert encode_key(7) == encode_key(7.0) == encode_key(Decimal("7.00"))
    assert encode_key(True) != encode_key(1)
    assert encode_key(0.1) != encode_key(Decimal("0.1"))  # MongoDB compares exact values
    assert encode_key(b"7") != encode_key("7")


def test_values_json_cannot_hold_keep_their_types() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5, 6000)
    document = {
        "_id": uuid.UUID(int=5),
        "when": datetime(2024, 1, 2, tzinfo=UTC),
        "naive": naive,
        "price": Decimal("19.990"),
        "blob": b"\x00\xff",
        "pattern": re.compile("^a", re.I),
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 2**80,
        "dollar": {"$not_an_operator": 1},
        "nested": [{"$x": [b"y"]}],
    }
    decoded = decode_document(encode_document(document))
    assert decoded["naive"] == naive and decoded["naive"].tzinfo is None
    assert decoded["when"].tzinfo is not None
    assert str(decoded["price"]) == "19.990"
    assert decoded["nan"] != decoded["nan"]
    for key in ("_id", "when", "blob", "pattern", "inf", "big", "dollar", "nested"):
        assert decoded[key] == document[key] and type(decoded[key]) is type(document[key])


def test_bson_values_round_trip_when_pymongo_is_installed() -> None:
    bson = pytest.importorskip("bson")
    document = {
        "oid": bson.ObjectId(),
        "long": bson.Int64(5),
        "dec": bson.Decimal128("1.5"),
        "bin": bson.Binary(b"x", 4),
        "ts": bson.Timestamp(5, 1),
        "min": bson.MinKey(),
        "max": bson.MaxKey(),
        "code": bson.Code("f()"),
        "code_scope": bson.Code("f(x)", {"x": 1}),
        "ref": bson.DBRef("users", 7, "app", extra=True),
        "regex": bson.Regex("^a", "i"),
    }
    decoded = decode_document(encode_document(document))
    for key, value in document.items():
        assert decoded[key] == value and type(decoded[key]) is type(value), key
    assert encode_key(bson.Int64(5)) == encode_key(5)


def test_a_value_nothing_can_store_is_refused_naming_its_path() -> None:
    with pytest.raises(InvalidQueryError) as info:
        encode_document({"a": [{"b": object()}]})
    assert info.value.path == "a.0.b"


def test_next_prefix_bounds_every_extension() -> None:
    for prefix in (b"\x04", b"\x04\xff", b"\x05\x00\xff\xff"):
        assert prefix + b"\xff" * 8 < next_prefix(prefix)
        assert prefix < next_prefix(prefix)
    assert next_prefix(b"\x04\xff") == b"\x05"


_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(),  # NaN and infinities are JSON's too (as json writes them)
        st.text(max_size=6),  # non-ASCII and control characters escaped
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=3).filter(lambda k: k[0] != "$"), children),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=3).filter(lambda k: k[0] != "$"), _json_values))
def test_plain_documents_are_stored_as_the_json_module_writes_them(document: Any) -> None:
    """The stored text of a plain document is exactly ``json``'s compact text (files written
    by earlier versions read the same), whatever encoder object writes it."""
    expected = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode(document)
    assume('"$' not in expected)  # a string that looks like a tag takes the tagged form
    assert encode_document(document) == expected


# -- building an index: one field read by SQLite's JSON functions ---------------------------

_field_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(),  # NaN and infinities make the document text invalid JSON to SQLite
        st.text(max_size=5),  # quotes, backslashes, controls, non-ASCII: escaped
        st.datetimes(timezones=st.just(UTC)),  # a tagged document
        st.binary(max_size=3),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=2), children, max_size=2),
    ),
    max_leaves=5,
)
_indexed = st.lists(
    st.one_of(st.fixed_dictionaries({}, optional={"f": _field_values, "g": st.integers()})),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(_indexed, st.sampled_from([1, -1]), st.booleans())
def test_index_entries_read_by_json_path_are_the_decoded_documents_entries(
    documents: list[dict[str, Any]], direction: int, sparse: bool
) -> None:
    """Building an index on one field reads it with ``doc -> '$.f'`` where SQLite can: each
    document gets exactly the keys decoding it whole gives."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE c1 (seq INTEGER PRIMARY KEY, doc TEXT)")
    connection.executemany(
        "INSERT INTO c1 (doc) VALUES (?)", [(encode_document(d),) for d in documents]
    )
    index = IndexInfoRow("f_1", "x1", IndexSpec((("f", direction),), "f_1", sparse=sparse))
    expected = list(decoded_entries(connection, "c1", index))
    assert list(_entries_by_json_path(connection, "c1", index, "f")) == expected
    assert list(stored_entries(connection, "c1", index)) == expected


def test_javascript_code_keys_sort_between_regex_and_max_key_as_the_engine_does() -> None:
    bson = pytest.importorskip("bson")
    ordered = [
        "x",
        bson.Regex("~~", ""),
        bson.Code(""),
        bson.Code("x"),
        bson.Code("", {}),
        bson.Code("", {"a": 1}),
        bson.MaxKey(),
    ]
    keys = [encode_key(value) for value in ordered]
    assert keys == sorted(keys)
    assert [sort_key(value) for value in ordered] == sorted(sort_key(v) for v in ordered)
    assert encode_key(bson.Code("x")) != encode_key("x")
