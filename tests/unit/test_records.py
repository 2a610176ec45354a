"""``fast_init`` and ``builder``: a frozen dataclass built more cheaply behaves as before."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import pytest

from lexigram_nosql.contracts import UpdateResult
from lexigram_nosql.query.ast import Condition, FieldOp, OperatorUpdate
from lexigram_nosql.query.requests import FilterQuery, FindQuery
from lexigram_nosql.records import builder, fast_init


def _record(fast: bool, *, slots: bool = True) -> Any:
    @dataclass(frozen=True, slots=slots)
    class Record:
        a: int
        b: tuple[int, ...] = ()
        c: list[int] = field(default_factory=list)
        _: KW_ONLY
        d: str = "d"

    return fast_init(Record) if fast else Record


def test_the_signature_and_the_values_are_the_dataclass_s() -> None:
    plain, fast = _record(False), _record(True)
    assert str(inspect.signature(fast.__init__)) == str(inspect.signature(plain.__init__))
    for args, kwargs in [((1,), {}), ((1, (2,), [3]), {"d": "x"}), ((), {"a": 1, "c": [4]})]:
        assert repr(fast(*args, **kwargs)) == repr(plain(*args, **kwargs))
    with pytest.raises(TypeError):
        fast(1, (2,), [3], "x")  # d is keyword-only
    with pytest.raises(TypeError):
        fast()  # a is required
    assert fast(1).c is not fast(1).c  # the factory runs per instance


def test_the_record_stays_frozen_hashable_and_replaceable() -> None:
    fast = _record(True)
    record = fast(1, (2,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.a = 2
    assert record == fast(1, (2,))
    assert dataclasses.replace(record, a=5) == fast(5, (2,))
    assert fast.__init__.__qualname__.endswith("Record.__init__")


def test_what_it_does_not_reproduce_is_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Hidden:
        a: int
        b: int = field(default=0, init=False)

    @dataclass(frozen=True)
    class Post:
        a: int

        def __post_init__(self) -> None: ...

    for cls in (Mutable, Hidden, Post):
        with pytest.raises(TypeError, match="fast_init"):
            fast_init(cls)


def test_per_call_records_use_it() -> None:
    """The records every single-document call builds (no generated frozen ``__init__``)."""
    for cls in (Condition, OperatorUpdate, FilterQuery, FindQuery, UpdateResult):
        assert "_set" in cls.__init__.__code__.co_names
    assert Condition("a", FieldOp.EQ, 1) == Condition(path="a", op=FieldOp.EQ, operand=1)
    assert FilterQuery.build({"a": 1}).raw == {"a": 1}


_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((1,), {}),
    ((1, (2,), [3]), {"d": "x"}),
    ((), {"a": 1, "c": [4]}),
]


@pytest.mark.parametrize("slots", [True, False])
def test_a_builder_builds_what_the_class_builds(slots: bool) -> None:
    cls = _record(True, slots=slots)
    build = builder(cls)
    assert list(inspect.signature(build).parameters.values()) == list(
        inspect.signature(cls).parameters.values()
    )
    for args, kwargs in _CALLS:
        built, called = build(*args, **kwargs), cls(*args, **kwargs)
        assert type(built) is cls
        assert built == called
        assert hash(dataclasses.replace(built, c=())) == hash(dataclasses.replace(called, c=()))
        assert repr(built) == repr(called)
    with pytest.raises(TypeError):
        build(1, (2,), [3], "x")  # d is keyword-only
    with pytest.raises(TypeError):
        build()  # a is required
    assert build(1).c is not build(1).c  # the factory runs per instance


@pytest.mark.parametrize("slots", [True, False])
def test_a_built_record_stays_frozen_copyable_and_picklable(slots: bool) -> None:
    record = builder(_record(True, slots=slots))(1, (2,), d="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.a = 2
    assert dataclasses.replace(record, a=5).a == 5
    assert copy.copy(record) == record
    assert copy.deepcopy(record) == record
    if slots:  # a class defined in a function does not pickle without slots' __getstate__
        assert pickle.loads(pickle.dumps(Condition("a", FieldOp.EQ, 1))) == builder(Condition)(
            "a", FieldOp.EQ, 1
        )


def test_a_builder_fills_fields_a_frozen_base_declares() -> None:
    @dataclass(frozen=True, slots=True)
    class Base:
        a: int

    @dataclass(frozen=True, slots=True)
    class Child(Base):
        b: int = 2

    built = builder(Child)(1)
    assert type(built) is Child
    assert built == Child(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.a = 3


def test_a_builder_refuses_what_fast_init_refuses() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True)
    class Post:
        a: int

        def __post_init__(self) -> None: ...

    for cls in (Mutable, Post):
        with pytest.raises(TypeError, match="builder"):
            builder(cls)
    with pytest.raises(TypeError, match="builder"):
        builder(len)
