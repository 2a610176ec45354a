"""``check_document``, the one pass every stored value goes through, against a plain
statement of the value model: its loops are written for speed (a type lookup per value,
paths spelled out lazily), so a property test pins them to the model on tricky values."""

from __future__ import annotations

import copy
import re
import uuid
from collections import OrderedDict, namedtuple
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.dates import utc_millis
from lexigram_nosql.query.values import MAX_STORED_NESTING, check_document, is_plain_document

bson = pytest.importorskip("bson")

Pair = namedtuple("Pair", "a b")


class Items(list[Any]):
    """A list subclass: stored as an array, as PyMongo encodes it."""


class Opaque:
    """A value no backend can store (one instance: copies of a document share it)."""

    def __deepcopy__(self, memo: Any) -> Opaque:
        return self


OPAQUE = Opaque()


_BSON_SCALARS = (
    bson.ObjectId("0123456789abcdef01234567"),
    bson.Int64(5),
    bson.Decimal128("1.10"),
    bson.Binary(b"\x01", 0x80),
    bson.Regex("^a", "i"),
    bson.Timestamp(1700000000, 1),
    bson.MinKey(),
    bson.MaxKey(),
    bson.Code("return 1"),
)


def model(value: Any, path: str | None = None, depth: int = 1) -> Any:
    """The value model, written plainly: what check_document must return (or refuse, by
    path) for ``value`` at nesting ``depth``."""
    if isinstance(value, Mapping) and not isinstance(value, bson.DBRef):
        if depth > MAX_STORED_NESTING:
            raise InvalidQueryError("too deep", path=path)
        out = {}
        for name, item in value.items():
            if not isinstance(name, str) or not name or "\x00" in name:
                raise InvalidQueryError("bad name", path=f"{path}.{name}" if path else str(name))
            out[name] = model(item, f"{path}.{name}" if path else name, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if depth > MAX_STORED_NESTING:
            raise InvalidQueryError("too deep", path=path)
        return [
            model(item, f"{path}.{i}" if path else str(i), depth + 1)
            for i, item in enumerate(value)
        ]
    where = path or "value"
    if isinstance(value, datetime):
        return utc_millis(value)
    if isinstance(value, bool) or value is None or isinstance(value, (str, float, bytes)):
        return value
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return value
        raise InvalidQueryError("int beyond 64 bits", path=where)
    if isinstance(value, (uuid.UUID, re.Pattern)) or type(value).__module__.startswith("bson"):
        return value
    raise InvalidQueryError("not storable", path=where)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not True, a tuple is not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return bool(list(a) == list(b)) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return bool(b != b)
    if isinstance(a, datetime):
        return bool(a == b and a.tzinfo == b.tzinfo)
    return bool(a == b)


leaves = st.one_of(
    st.text(max_size=3),
    st.integers(min_value=-(2**63) - 2, max_value=2**63 + 1),
    st.sampled_from([-(2**63), 2**63 - 1, 0, -1, True, False, None]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=3),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=2))])),
    st.sampled_from(
        [uuid.UUID(int=7), re.compile("^a"), Decimal("1.5"), date(2024, 1, 1), {1, 2}, OPAQUE]
    ),
    st.sampled_from(_BSON_SCALARS),
)
names = st.one_of(
    st.text(min_size=1, max_size=3),
    st.sampled_from(["$a", "a.b", "_id", "", "$", ".", "a\x00b"]),
    st.sampled_from([1, None, 2.5]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(names, children, max_size=4),
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.tuples(children, children).map(lambda t: Pair(*t)),
        st.lists(children, max_size=3).map(Items),
        st.dictionaries(st.text(min_size=1, max_size=2), children, max_size=3).map(OrderedDict),
    )


documents = st.dictionaries(names, st.recursive(leaves, _containers, max_leaves=12), max_size=5)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_check_document_is_the_value_model(document: dict[Any, Any]) -> None:
    """Same result (types included) or the same refusal at the same path; the input is
    never changed, and is returned itself when nothing needed normalising."""
    before = copy.deepcopy(document)
    try:
        expected = model(document)
    except InvalidQueryError as refusal:
        with pytest.raises(InvalidQueryError) as raised:
            check_document(document, where="the document")
        assert raised.value.path == refusal.path
    else:
        result = check_document(document, where="the document")
        assert same(result, expected)
        if same(document, expected):
            assert result is document
    assert same(document, before)


_plain_leaves = st.one_of(
    st.text(max_size=3),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.none(),
    st.binary(max_size=2),
)
_plain_names = st.text(min_size=1, max_size=3).filter(lambda name: "\x00" not in name)
plain_documents = st.dictionaries(
    _plain_names,
    st.recursive(
        _plain_leaves,
        lambda children: st.one_of(
            st.dictionaries(_plain_names, children, max_size=4), st.lists(children, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=5,
)
# Mostly plain documents (insert_many's usual ones), with now and then anything at all.
_mostly_plain = st.dictionaries(
    st.one_of(_plain_names, names),
    st.recursive(
        st.one_of(_plain_leaves, leaves),
        lambda children: st.one_of(
            st.dictionaries(st.one_of(_plain_names, names), children, max_size=4),
            st.lists(children, max_size=4),
            _containers(children),
        ),
        max_leaves=12,
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(plain_documents)
def test_documents_of_plain_values_are_plain(document: dict[str, Any]) -> None:
    assert is_plain_document(document)
    assert check_document(document, where="the document") is document


@settings(max_examples=500, deadline=None)
@given(st.one_of(documents, _mostly_plain))
def test_a_plain_document_is_one_check_document_returns_as_it_is(document: dict[Any, Any]) -> None:
    """``is_plain_document``, insert_many's quick way, answers True only for a document
    ``check_document`` accepts and returns itself (names seen in earlier examples included:
    the names it remembers persist between examples)."""
    if is_plain_document(document):
        assert check_document(document, where="the document") is document


def test_the_usual_documents_are_plain() -> None:
    """The quick way is taken for the documents applications insert most (else it only
    adds cost): flat fields, arrays of scalars, embedded documents, arrays of documents."""
    assert is_plain_document({"n": 1, "name": "user 1", "tags": ["a", "b"], "score": 0.5})
    assert is_plain_document({"a": {"b": [1, {"c": None}], "d": b"x"}, "e": [[True], []]})
    assert is_plain_document({"big": 2**63 - 1, "small": -(2**63), "f": float("nan")})


@pytest.mark.parametrize(
    "document",
    [
        {"": 1},
        {"a\x00": 1},
        {1: 1},
        {"n": 2**63},
        {"n": [-(2**63) - 1]},
        {"when": datetime(2024, 1, 1)},
        {"a": (1, 2)},
        {"a": [1, OrderedDict(b=1)]},
        {"a": {"b": {1, 2}}},
        {"a": Items([1])},
        {"a": [["x", Decimal(1)]]},
    ],
)
def test_anything_check_document_refuses_or_converts_is_not_plain(document: Any) -> None:
    assert not is_plain_document(document)


@pytest.mark.parametrize("kind", [list, tuple, Items, lambda items: Pair(*items)])
def test_sequences_of_every_kind_are_stored_as_lists(kind: Any) -> None:
    """A tuple, a list subclass, a namedtuple: arrays, as PyMongo encodes them (a namedtuple
    used to recurse forever)."""
    stored = check_document({"a": kind([1, datetime(2024, 1, 1)])}, where="the document")
    assert same(stored, {"a": [1, datetime(2024, 1, 1, tzinfo=UTC)]})


@pytest.mark.parametrize("container", ["dict", "list"])
def test_nesting_stops_at_mongodb_depth_with_the_path(container: str) -> None:
    """At the limit, a document is stored (and plain, the quick way); one level more is
    refused by name."""

    def nested(levels: int) -> Any:
        value: Any = 1
        for _ in range(levels - 1):
            value = {"a": value} if container == "dict" else [value]
        return {"a": value}

    assert check_document(nested(MAX_STORED_NESTING), where="the document")
    assert is_plain_document(nested(MAX_STORED_NESTING))
    assert not is_plain_document(nested(MAX_STORED_NESTING + 1))
    with pytest.raises(InvalidQueryError, match="more than 100 levels") as raised:
        check_document(nested(MAX_STORED_NESTING + 1), where="the document")
    assert raised.value.path is not None
