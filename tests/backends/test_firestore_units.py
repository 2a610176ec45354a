"""Firestore pieces that need no emulator: values, native updates, the error table, laziness."""

from __future__ import annotations

import inspect
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import google.api_core.exceptions as gx
import pytest

from lexigram_nosql import (
    ConcurrencyError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    DuplicateKeyError,
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    UnsupportedQueryError,
    create_store,
)
from lexigram_nosql.backends.firestore.codec import (
    ORDER,
    decode_document,
    decode_id,
    decode_value,
    encode_body,
    encode_id,
    stored_value,
)
from lexigram_nosql.backends.firestore.errors import EXCEPTION_MAP, map_firestore_exception
from lexigram_nosql.backends.firestore.updates import (
    FieldWrite,
    native_writes,
    replacement_writes,
)
from lexigram_nosql.query.update import apply_update, parse_update

# -- values ------------------------------------------------------------------------------


def test_arrays_directly_inside_arrays_are_refused_naming_the_path() -> None:
    with pytest.raises(UnsupportedQueryError) as info:
        encode_body({"_id": "x", "a": {"grid": [[1]]}})
    assert info.value.path == "a.grid.0" and info.value.backend == "firestore"
    encode_body({"a": [{"inner": [1]}]})  # an array in a map in an array is fine


def test_integers_beyond_64_bits_and_unknown_types_are_refused() -> None:
    with pytest.raises(UnsupportedQueryError, match="64-bit"):
        encode_body({"n": 2**63})
    encode_body({"n": 2**63 - 1})
    with pytest.raises(UnsupportedQueryError, match="set"):
        encode_body({"s": {1, 2}})


def test_documents_over_one_mebibyte_are_refused_before_sending() -> None:
    encode_body({"_id": "x", "s": "y" * 1_000_000})
    with pytest.raises(DocumentTooLargeError, match="1048576"):
        encode_body({"_id": "x", "s": "y" * 600_000, "t": ["z" * 500_000]})


def test_field_names_firestore_reserves_are_refused() -> None:
    with pytest.raises(UnsupportedQueryError, match="__name__"):
        encode_body({"__meta__": 1})


def test_ids_of_every_type_map_to_valid_document_ids_and_back() -> None:
    for value in (5, 1.5, None, {"a": "x/y"}, "", ".", "..", "__x__", "a/b", "~t", "%2F"):
        doc_id = encode_id(value)
        assert doc_id and "/" not in doc_id and doc_id not in (".", "..")
        assert not (doc_id.startswith("__") and doc_id.endswith("__"))
        assert decode_id(doc_id) == value
    assert encode_id("plain-id") == "plain-id", "plain string ids are stored as they were"


def test_ids_too_long_for_firestore_are_refused_naming_it() -> None:
    with pytest.raises(UnsupportedQueryError) as info:
        encode_id("x" * 1501)
    assert info.value.backend == "firestore" and info.value.path == "_id"


def test_timestamps_come_back_as_plain_aware_utc_datetimes() -> None:
    from google.api_core.datetime_helpers import DatetimeWithNanoseconds

    stored = DatetimeWithNanoseconds(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    decoded = decode_value({"when": stored})["when"]
    assert type(decoded) is datetime
    assert decoded == datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), "MongoDB keeps ms"
    shifted = datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert decode_value(shifted).tzinfo is UTC


def o(*names: str) -> str:
    """A stored order: the names joined by NUL."""
    return "\x00".join(names)


def test_maps_without_an_order_list_come_back_with_sorted_keys() -> None:
    """Firestore keeps maps sorted: a map stored in sorted order needs no list, and documents
    stored before the lists existed read back as they always did."""
    assert list(decode_value({"b": 1, "a": {"z": 1, "y": 2}})) == ["a", "b"]
    assert list(decode_value({"b": 1, "a": {"z": 1, "y": 2}})["a"]) == ["y", "z"]
    assert list(decode_document("d", {"b": 1, "a": 2})) == ["_id", "a", "b"]


def test_field_order_is_stored_where_sorting_cannot_recover_it() -> None:
    body = encode_body({"_id": 1.0, "b": {"y": 1, "x": [{"q": 1, "p": 2}]}, "a": {"m": 1}})
    assert body[ORDER] == o("b", "a"), "always at the top level"
    assert body["b"][ORDER] == o("y", "x")
    assert body["b"]["x"][0][ORDER] == o("q", "p"), "maps in arrays too"
    assert ORDER not in body["a"], "a sorted map reads back right without one"
    assert encode_body({"_id": "e"}) == {}, "nothing to order"
    decoded = decode_document("~%00n1", body)
    assert list(decoded) == ["_id", "b", "a"] and decoded["_id"] == 1.0
    assert list(decoded["b"]) == ["y", "x"] and list(decoded["b"]["x"][0]) == ["q", "p"]
    assert ORDER not in str(decoded)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"x": 1, "y": 1, ORDER: o("y", "x")}, ["y", "x"]),
        ({"x": 1, "y": 1, "n": 1, "m": 1, ORDER: o("y", "x")}, ["y", "x", "m", "n"]),
        ({"y": 1, ORDER: o("y", "x")}, ["y"]),
        ({"x": 1, "y": 1, "__lx:i": True, ORDER: o("y", "x")}, ["y", "x"]),
        ({"y": 1, "x": 1}, ["x", "y"]),
    ],
    ids=["whole", "set-since", "unset-since", "float-id", "stored-before"],
)
def test_fields_read_back_in_the_stored_order(stored: dict[str, Any], expected: list[str]) -> None:
    """Fields the order does not hold (set by a write sent without a read) come after the
    ones it does, sorted; a document without one (stored before it was kept) reads sorted."""
    assert list(decode_document("~%00n7", stored))[1:] == expected


def test_filter_values_take_the_stored_form() -> None:
    assert stored_value({"x": 1, "y": 2}) == {"x": 1, "y": 2}
    assert stored_value({"y": 2, "x": 1}) == {"y": 2, "x": 1, ORDER: o("y", "x")}
    assert stored_value(({"b": 1, "a": 1},)) == [{"b": 1, "a": 1, ORDER: o("b", "a")}]


# -- updates -----------------------------------------------------------------------------


def native(update: dict[str, Any], current: dict[str, Any]) -> list[FieldWrite] | None:
    parsed = parse_update(update)
    try:
        after = apply_update(parsed, current)
    except NoSQLError:
        after = current  # the engine refuses it: native writes must not be chosen either
    return native_writes(parsed, current, after)


def test_set_unset_inc_add_to_set_run_natively() -> None:
    writes = native(
        {"$set": {"a.b": 1}, "$unset": {"c": ""}, "$inc": {"n": 2}, "$addToSet": {"t": "x"}},
        {"_id": "d", "a": {}, "c": 1, "n": 1, "t": []},
    )
    assert writes == [
        FieldWrite(("a", "b"), "set", 1),
        FieldWrite(("c",), "delete"),
        FieldWrite(("n",), "increment", 2),
        FieldWrite(("t",), "union", ["x"]),
        FieldWrite((ORDER,), "set", o("a", "n", "t")),
    ]


def test_shapes_mongodb_treats_differently_go_through_the_engine() -> None:
    assert native({"$set": {"a.0": 1}}, {"a": [5]}) is None, "MongoDB indexes into arrays"
    assert native({"$inc": {"n": 1}}, {"n": "x"}) is None, "MongoDB refuses $inc on a string"
    assert native({"$addToSet": {"t": 1}}, {"t": "x"}) is None, "not an array"
    assert native({"$addToSet": {"t": {"k": 1}}}, {"t": []}) is None, "map equality differs"
    assert native({"$inc": {"n": 1}}, {"n": 2**63 - 1}) is None, "Firestore would saturate"
    assert native({"$push": {"t": 1}}, {"t": []}) is None
    assert native({"$max": {"n": 1}}, {"n": 0}) is None


def test_inc_on_a_missing_field_sets_it_and_appends_it_to_the_order() -> None:
    assert native({"$inc": {"n": 3}}, {"m": 1}) == [
        FieldWrite(("n",), "set", 3),
        FieldWrite((ORDER,), "set", o("m", "n")),
    ]


def test_native_writes_keep_the_field_order() -> None:
    assert native({"$set": {"a.x": 1}}, {"a": {"x": 0, "w": 1}}) == [
        FieldWrite(("a", "x"), "set", 1)
    ], "an existing field keeps its place"
    assert native({"$set": {"a.z": 1}}, {"a": {"x": 0}}) is not None, "still sorted"
    assert native({"$set": {"a.b": 1}}, {"a": {"x": 0}}) is None, "a's order needs a list"
    assert native({"$unset": {"a.y": 1}}, {"a": {"y": 0, "x": 1}}) is None, "its list changes"
    assert native({"$set": {"n.b": 1, "n.a": 1}}, {}) == [
        FieldWrite(("n", "a"), "set", 1),
        FieldWrite(("n", "b"), "set", 1),
        FieldWrite((ORDER,), "set", "n"),
    ], "one update creates a map's fields by name (MongoDB's processing order): sorted"
    assert native({"$set": {"v": {"b": 1, "a": 2}}}, {"v": 0}) == [
        FieldWrite(("v",), "set", {"b": 1, "a": 2, ORDER: o("b", "a")})
    ], "a value is written in its stored form"
    assert native({"$set": {"n": 1}, "$unset": {"m": 1}}, {"m": 1, "k": 1}) == [
        FieldWrite(("m",), "delete"),
        FieldWrite(("n",), "set", 1),
        FieldWrite((ORDER,), "set", o("k", "n")),
    ], "the order is written whole when the names change"


def test_replacement_writes_set_changed_fields_delete_vanished_ones_and_the_order() -> None:
    after = {"_id": "x", "a": 1, "b": 5, "m": {"k": 1, "j": 2}}
    writes = replacement_writes(
        {"_id": "x", "m": {"j": 2, "k": 1}, "a": 1, "b": 2, "c": 3}, after, encode_body(after)
    )
    assert writes == [
        FieldWrite(("b",), "set", 5),
        FieldWrite(("m",), "set", {"k": 1, "j": 2, ORDER: o("k", "j")}),
        FieldWrite(("c",), "delete"),
        FieldWrite((ORDER,), "set", o("a", "b", "m")),
    ]


# -- errors ------------------------------------------------------------------------------


def google_exception_classes() -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(gx, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == gx.__name__
    ]


def test_every_google_api_core_exception_is_mapped_explicitly() -> None:
    missing = [cls.__name__ for cls in google_exception_classes() if cls not in EXCEPTION_MAP]
    assert missing == []


def make(cls: type[BaseException], message: str = "boom") -> BaseException:
    try:
        return cls(message)
    except TypeError:
        return cls(message, None)  # type: ignore[call-arg]  # RetryError(message, cause)


def test_every_mapped_exception_becomes_one_of_ours() -> None:
    for cls in google_exception_classes():
        mapped = map_firestore_exception(make(cls), lambda s: s)
        assert isinstance(mapped, NoSQLError), cls


@pytest.mark.parametrize(
    ("exc", "ours"),
    [
        (gx.AlreadyExists("dup"), DuplicateKeyError),
        (gx.Aborted("contention"), ConcurrencyError),
        (gx.FailedPrecondition("the document was updated"), ConcurrencyError),
        (gx.FailedPrecondition("The query requires an index"), UnsupportedQueryError),
        (gx.NotFound("no document"), DocumentNotFoundError),
        (gx.InvalidArgument("bad filter"), InvalidQueryError),
        (gx.InvalidArgument("exceeds the maximum allowed size"), DocumentTooLargeError),
        (gx.InvalidArgument("maximum entity size is 1048576 bytes"), DocumentTooLargeError),
        (
            gx.InvalidArgument('The value of property "x" is longer than 1048487 bytes'),
            DocumentTooLargeError,
        ),
        (gx.ServiceUnavailable("down"), NoSQLConnectionError),
        (gx.DeadlineExceeded("slow"), NoSQLConnectionError),
        (gx.PermissionDenied("no"), NoSQLConnectionError),
        (gx.ResourceExhausted("quota"), NoSQLConnectionError),
    ],
)
def test_error_table(exc: BaseException, ours: type[NoSQLError]) -> None:
    mapped = map_firestore_exception(exc, lambda s: s)
    assert type(mapped) is ours
    assert str(exc.args[0]) in str(mapped)


def test_messages_are_redacted_and_foreign_errors_left_alone() -> None:
    mapped = map_firestore_exception(
        gx.NotFound("token s3cret"), lambda s: s.replace("s3cret", "***")
    )
    assert mapped is not None and "s3cret" not in str(mapped)
    assert map_firestore_exception(ValueError("x"), lambda s: s) is None


# -- laziness and configuration ----------------------------------------------------------


def test_creating_the_package_and_backend_module_does_not_import_the_client() -> None:
    code = (
        "import sys, lexigram_nosql, lexigram_nosql.backends.firestore\n"
        "from lexigram_nosql import create_store\n"
        "create_store({'name': 'x', 'driver': 'firestore'})\n"
        "print(any(m.startswith('google.cloud.firestore') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_repr_and_address_name_the_emulator() -> None:
    store = create_store(
        {"name": "fs", "driver": "firestore", "firestore": {"emulator_host": "127.0.0.1:9"}}
    )
    assert "firestore://127.0.0.1:9/lexigram-local/(default)" in repr(store)
    assert store.capabilities.unique_indexes is True
    assert "$in" in store.capabilities.pushdown and "$regex" not in store.capabilities.pushdown


# -- merging parallel queries ---------------------------------------------------------------


async def test_merge_reads_streams_concurrently_and_propagates_errors() -> None:
    import asyncio
    import contextlib

    from lexigram_nosql.backends.firestore.merge import merge

    closed: list[str] = []

    async def stream(name: str, delay: float, fail: bool = False) -> Any:
        try:
            for i in range(3):
                await asyncio.sleep(delay)
                yield f"{name}{i}"
            if fail:
                raise RuntimeError(f"{name} broke")
        finally:
            closed.append(name)

    items = [i async for i in merge([stream("a", 0.003), stream("b", 0.001)])]
    assert sorted(items) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert items[0] == "b0", "the faster stream is not held back by the slower one"

    with pytest.raises(RuntimeError, match="b broke"):
        async for _ in merge([stream("a", 0.01), stream("b", 0.001, fail=True)]):
            pass

    closed.clear()
    async with contextlib.aclosing(merge([stream("a", 0.001), stream("b", 0.001)])) as early:
        async for _ in early:
            break
    assert sorted(closed) == ["a", "b"], "leaving early stops every stream"
