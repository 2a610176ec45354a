"""MongoDB's cross-type comparison and sort order (MinKey < null < numbers < strings < ...).

Every value maps to a key tuple whose first item is its type bracket::

    MinKey < null (and missing) < numbers < symbol, string < object < array < binData
           < ObjectId < bool < date < timestamp < regex < JavaScript code < MaxKey

Within a bracket, numbers compare by value across int, float and Decimal (NaN first),
strings by code point (the order of their UTF-8 bytes), documents field by field (type, then
name, then value, so field order matters as it does in MongoDB), arrays element by element,
binary data by length then subtype then bytes. Keys are hashable, so equal values (``1`` and
``1.0``) share a key, which is what ``$in``, ``$addToSet`` and ``distinct`` rely on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.query.paths import MISSING, path_getter
from lexigram_nosql.types import Document

__all__ = [
    "compare_values",
    "document_sort_key",
    "field_sort_key",
    "is_nan_key",
    "sort_key",
    "values_equal",
]

MINKEY: Final = 1
NULL: Final = 2
NUMBER: Final = 3
STRING: Final = 4
OBJECT: Final = 5
ARRAY: Final = 6
BINARY: Final = 7
OBJECT_ID: Final = 8
BOOL: Final = 9
DATE: Final = 10
TIMESTAMP: Final = 11
REGEX: Final = 12
CODE: Final = 13
MAXKEY: Final = 14
_UNKNOWN: Final = 15

_NULL_KEY: Final = (NULL,)
_NAN_KEY: Final = (NUMBER, 0)
# Sorting by a field holding ``[]`` places it before null, as MongoDB does.
_EMPTY_ARRAY_SORT_KEY: Final = (MINKEY, 5)


def _null_key(value: Any) -> tuple[Any, ...]:
    return _NULL_KEY


def _int_key(value: Any) -> tuple[Any, ...]:
    return (NUMBER, 1, value)


def _float_key(value: float) -> tuple[Any, ...]:
    if value != value:
        return _NAN_KEY
    return (NUMBER, 1, value)


def _decimal_key(value: Decimal) -> tuple[Any, ...]:
    if value.is_nan():
        return _NAN_KEY
    return (NUMBER, 1, value)


def _str_key(value: str) -> tuple[Any, ...]:
    return (STRING, value)


def _bool_key(value: bool) -> tuple[Any, ...]:
    return (BOOL, bool(value))


def _dict_key(value: Any) -> tuple[Any, ...]:
    fields = []
    for name, item in value.items():
        key = sort_key(item)
        fields.append((key[0], name, key))
    return (OBJECT, tuple(fields))


def _list_key(value: Any) -> tuple[Any, ...]:
    return (ARRAY, tuple([sort_key(item) for item in value]))


def _bytes_key(value: Any) -> tuple[Any, ...]:
    return (BINARY, len(value), int(getattr(value, "subtype", 0)), bytes(value))


def _datetime_key(value: datetime) -> tuple[Any, ...]:
    # Naive datetimes are UTC (what pymongo returns by default), so both kinds compare.
    return (DATE, value if value.tzinfo is not None else value.replace(tzinfo=UTC))


def _pattern_key(value: re.Pattern[Any]) -> tuple[Any, ...]:
    return (REGEX, str(value.pattern), _flags_text(value.flags))


def _flags_text(flags: int) -> str:
    text = ""
    for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
        if flags & flag:
            text += letter
    return text


_KEYS: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    type(None): _null_key,
    type(MISSING): _null_key,
    bool: _bool_key,
    int: _int_key,
    float: _float_key,
    Decimal: _decimal_key,
    str: _str_key,
    dict: _dict_key,
    list: _list_key,
    tuple: _list_key,
    bytes: _bytes_key,
    bytearray: _bytes_key,
    datetime: _datetime_key,
    re.Pattern: _pattern_key,
}


def _code_key(value: Any) -> tuple[Any, ...]:
    # JavaScript code, then code with a scope (BSON types 13 and 15).
    if value.scope is None:
        return (CODE, 0, str(value))
    return (CODE, 1, str(value), sort_key(value.scope))


def _bson_key(name: str) -> Callable[[Any], tuple[Any, ...]] | None:
    if name == "ObjectId":
        return lambda value: (OBJECT_ID, value.binary)
    if name == "Int64":
        return _int_key
    if name == "Decimal128":
        return lambda value: _decimal_key(value.to_decimal())
    if name == "Binary":
        return _bytes_key
    if name == "Timestamp":
        return lambda value: (TIMESTAMP, value.time, value.inc)
    if name == "Regex":
        return lambda value: (REGEX, str(value.pattern), str(value.flags))
    if name == "Code":  # a str subclass, but its own BSON type (never equal to a string)
        return _code_key
    if name == "MinKey":
        return lambda value: (MINKEY,)
    if name == "MaxKey":
        return lambda value: (MAXKEY,)
    if name == "DatetimeMS":
        return lambda value: (DATE, value.as_datetime())
    return None


def _resolve(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """Find (and remember) the key function for a type met for the first time."""
    function: Callable[[Any], tuple[Any, ...]] | None = None
    if cls.__module__.split(".", 1)[0] == "bson":
        function = _bson_key(cls.__name__)
    if function is None:
        for base, candidate in (
            (bool, _bool_key),
            (int, _int_key),
            (float, _float_key),
            (Decimal, _decimal_key),
            (str, _str_key),
            (dict, _dict_key),
            (list, _list_key),
            (tuple, _list_key),
            (bytes, _bytes_key),
            (datetime, _datetime_key),
        ):
            if issubclass(cls, base):
                function = candidate
                break
    if function is None:
        from collections.abc import Mapping

        if issubclass(cls, Mapping):
            function = _dict_key
        else:
            # Not a BSON value: order it after everything, stably, rather than fail a sort.
            def function(value: Any) -> tuple[Any, ...]:
                return (_UNKNOWN, type(value).__qualname__, repr(value))

    _KEYS[cls] = function
    return function


def sort_key(value: Any) -> Any:
    """A key for ``sorted`` that orders values as ``compare_values`` does.

    Keys are hashable tuples; equal keys mean equal values in MongoDB's sense (``1 == 1.0``,
    ``True != 1``, documents equal only with their fields in the same order).
    """
    function = _KEYS.get(type(value))
    if function is None:
        function = _resolve(type(value))
    return function(value)


def compare_values(a: Any, b: Any) -> int:
    """-1, 0 or 1, ordering ``a`` and ``b`` as MongoDB does across and within types."""
    key_a, key_b = sort_key(a), sort_key(b)
    if key_a < key_b:
        return -1
    return 1 if key_a > key_b else 0


def values_equal(a: Any, b: Any) -> bool:
    """Whether MongoDB considers ``a`` and ``b`` equal (what ``$eq`` tests on one value)."""
    cls = type(a)
    if cls is type(b) and (cls is str or cls is int):
        return bool(a == b)
    return bool(sort_key(a) == sort_key(b))


class _Descending:
    """Wraps a key so that ``sorted`` orders it in reverse inside a tuple of keys."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)

    def __gt__(self, other: _Descending) -> bool:
        return bool(other.key > self.key)

    def __eq__(self, other: object) -> bool:
        try:
            return bool(self.key == other.key)  # type: ignore[attr-defined]
        except AttributeError:
            return False

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"_Descending({self.key!r})"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _descending_key(key: tuple[Any, ...]) -> Any:
    """A key ordering in reverse of ``key``: native tuples for scalars, so sorts stay fast."""
    rank = key[0]
    if rank == NUMBER:
        return (-NUMBER, 0) if len(key) == 2 else (-NUMBER, -1, -key[2])
    if rank == STRING:
        # Negated code points with a terminator that sorts above every code point, so a
        # string sorts before its own prefixes ("ab" before "a"), as reversing requires.
        return (-STRING, 0, (*[-ord(char) for char in key[1]], 1))
    if len(key) == 1:
        return (-rank, 1)
    if rank == BOOL:
        return (-BOOL, 0, not key[1])
    if rank == DATE:
        return (-DATE, 0, -((key[1] - _EPOCH) // _MICROSECOND))
    return (-rank, 0, _Descending(key))


_MICROSECOND: Final = timedelta(microseconds=1)


def field_sort_key(values: list[Any], descending: bool) -> Any:
    """The sort key of one field from the values its path reaches.

    An array contributes its elements: its smallest for an ascending sort, its largest for a
    descending one (MongoDB's rule); ``[]`` sorts before null; a missing field sorts as null.
    """
    keys: list[Any] = []
    for value in values:
        if isinstance(value, list):
            if value:
                keys.extend(sort_key(item) for item in value)
            else:
                keys.append(_EMPTY_ARRAY_SORT_KEY)
        else:
            keys.append(sort_key(value))
    if not keys:
        return _descending_key(_NULL_KEY) if descending else _NULL_KEY
    if descending:
        return _descending_key(max(keys))
    return min(keys)


def document_sort_key(sort: Sequence[tuple[str, int]]) -> Callable[[Document], Any]:
    """A key for ``sorted`` implementing a sort specification, with array-field semantics."""
    getters = [(path_getter(path), direction < 0) for path, direction in sort]
    if len(getters) == 1:
        getter, descending = getters[0]

        def single_key(document: Document) -> Any:
            values = getter(document)
            if len(values) == 1:
                value = values[0]
                if not isinstance(value, list):
                    key = sort_key(value)
                    return _descending_key(key) if descending else key
            return field_sort_key(values, descending)

        return single_key

    def key(document: Document) -> Any:
        keys = []
        for getter, descending in getters:
            values = getter(document)
            value = values[0] if len(values) == 1 else values
            if value is values or isinstance(value, list):
                keys.append(field_sort_key(values, descending))
            else:
                scalar_key = sort_key(value)
                keys.append(_descending_key(scalar_key) if descending else scalar_key)
        return tuple(keys)

    return key


def is_nan_key(key: tuple[Any, ...]) -> bool:
    """Whether a key is the NaN key (NaN sorts before every number but equals only NaN)."""
    return key == _NAN_KEY
