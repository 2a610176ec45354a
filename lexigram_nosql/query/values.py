"""What kind of BSON value a Python value is, and which documents may be stored.

The engine never imports a driver: BSON classes (``bson.ObjectId``, ``Decimal128``...) are
recognised by their module and class name, so documents read through pymongo work in the
engine whether or not pymongo is installed.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.dates import utc_millis

__all__ = [
    "BSON_TYPE_NAMES",
    "MAX_STORED_NESTING",
    "bson_class",
    "canonical_type_name",
    "check_document",
    "check_field_name",
    "check_nesting",
    "copy_value",
    "is_plain_document",
    "is_nan",
    "is_number",
    "to_python_number",
    "type_name",
]

#: ``$type`` names with their BSON numbers (MongoDB's alias table), plus ``"number"``.
BSON_TYPE_NAMES: Final[dict[str, int]] = {
    "double": 1,
    "string": 2,
    "object": 3,
    "array": 4,
    "binData": 5,
    "undefined": 6,
    "objectId": 7,
    "bool": 8,
    "date": 9,
    "null": 10,
    "regex": 11,
    "dbPointer": 12,
    "javascript": 13,
    "symbol": 14,
    "javascriptWithScope": 15,
    "int": 16,
    "timestamp": 17,
    "long": 18,
    "decimal": 19,
    "minKey": -1,
    "maxKey": 127,
}
_NAME_BY_NUMBER: Final = {number: name for name, number in BSON_TYPE_NAMES.items()}

MAX_NESTING: Final = 200
"""The deepest nesting of documents and arrays a query or document may have (MongoDB's
``maxBSONDepth`` default); deeper input is refused before the recursive parsers see it."""

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1


def bson_class(value: Any) -> str | None:
    """The class name of a ``bson`` value (``"ObjectId"``, ``"Int64"``...), else ``None``."""
    cls = type(value)
    if cls.__module__.split(".", 1)[0] == "bson":
        return cls.__name__
    return None


_BSON_NAMES: Final = {
    "ObjectId": "objectId",
    "Int64": "long",
    "Decimal128": "decimal",
    "Binary": "binData",
    "Timestamp": "timestamp",
    "Regex": "regex",
    "MinKey": "minKey",
    "MaxKey": "maxKey",
    "Code": "javascript",
    "DBRef": "object",
    "DatetimeMS": "date",
}


def type_name(value: Any) -> str | None:
    """The BSON type name of ``value`` as ``$type`` spells it; ``None`` for a missing value."""
    cls = type(value)
    if cls is str:
        return "string"
    if cls is bool:
        return "bool"
    if cls is int:
        return "int" if _INT32_MIN <= value <= _INT32_MAX else "long"
    if cls is float:
        return "double"
    if cls is dict:
        return "object"
    if cls is list:
        return "array"
    if value is None:
        return "null"
    bson_name = bson_class(value)
    if bson_name is not None and bson_name in _BSON_NAMES:
        return _BSON_NAMES[bson_name]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT32_MIN <= value <= _INT32_MAX else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binData"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, re.Pattern):
        return "regex"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return None


def canonical_type_name(spec: Any, *, path: str) -> str:
    """A ``$type`` operand (a name, a BSON number or ``"number"``) as its canonical name."""
    if isinstance(spec, str):
        if spec == "number" or spec in BSON_TYPE_NAMES:
            return spec
        raise InvalidQueryError(
            f"$type on {path!r} names an unknown BSON type {spec!r}", path=path, operator="$type"
        )
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        if isinstance(spec, float) and not spec.is_integer():
            raise InvalidQueryError(
                f"$type on {path!r} needs an integral type number, got {spec!r}",
                path=path,
                operator="$type",
            )
        number = int(spec)
        if number in _NAME_BY_NUMBER:
            return _NAME_BY_NUMBER[number]
    raise InvalidQueryError(
        f"$type on {path!r} needs a BSON type name or number, got {spec!r}",
        path=path,
        operator="$type",
    )


def is_number(value: Any) -> bool:
    """Whether ``value`` is in MongoDB's number bracket (int, long, double, decimal; not bool)."""
    cls = type(value)
    if cls is int or cls is float:
        return True
    if cls is bool:
        return False
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return True
    return bson_class(value) == "Decimal128"


def to_python_number(value: Any) -> int | float | Decimal:
    """A number as a Python ``int``, ``float`` or ``Decimal`` (``Decimal128`` unwrapped)."""
    cls = type(value)
    if cls is int or cls is float:
        return value  # type: ignore[no-any-return]
    if bson_class(value) == "Decimal128":
        result: Decimal = value.to_decimal()
        return result
    if isinstance(value, bool):
        raise TypeError("bool is not a number here")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (float, Decimal)):
        return value
    raise TypeError(f"{type(value).__name__} is not a number")


def is_nan(value: Any) -> bool:
    """Whether a number is NaN (float or Decimal)."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    if bson_class(value) == "Decimal128":
        return bool(value.to_decimal().is_nan())
    return False


def check_field_name(name: Any, *, where: str, path: str | None = None) -> None:
    """Refuse a stored field name that is not a non-empty string without a null character
    (BSON writes names NUL-terminated: neither PyMongo nor MongoDB takes one).

    ``$``-prefixed and dotted names are stored as MongoDB 5.0+ stores them; where they are
    not allowed (top level of a replacement, update paths) the caller says so."""
    if type(name) is str and name and "\x00" not in name:
        return
    location = f"{path}.{name}" if path else str(name)
    if not isinstance(name, str):
        raise InvalidQueryError(
            f"Field names must be strings; {where} has the key {name!r}", path=location
        )
    if name:
        raise InvalidQueryError(
            f"Field names must not contain the null character; {where} has the key {name!r}",
            path=location,
        )
    raise InvalidQueryError(
        f"Field names must not be empty; {where} has an empty key"
        + (f" under {path!r}" if path else ""),
        path=location,
    )


def check_nesting(value: Any, *, where: str, depth: int = 1) -> None:
    """Refuse ``value`` when documents and arrays nest deeper than ``MAX_NESTING`` (``value``
    itself being at level ``depth`` of what ``where`` names).

    Iterative on purpose: the parsers recurse once per level, so without this a hostile or
    generated query would end in ``RecursionError`` instead of a named error.
    """
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, depth = stack.pop()
        cls = type(item)
        if cls is dict:
            children: Any = item.values()
        elif cls is list or cls is tuple:
            children = item
        elif cls in _FLAT:
            continue
        elif isinstance(item, Mapping):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > MAX_NESTING:
            raise InvalidQueryError(
                f"{where[:1].upper()}{where[1:]} nests documents and arrays more than "
                f"{MAX_NESTING} levels deep"
            )
        stack.extend((child, depth + 1) for child in children if type(child) not in _FLAT)


def check_document(value: Any, *, where: str, path: str | None = None, depth: int = 1) -> Any:
    """Check a value to be stored, in one pass, and return it as every backend stores it.

    The pass checks every field name, the nesting (at most ``MAX_STORED_NESTING`` levels)
    and every value against MongoDB's value model (what PyMongo can encode): anything else
    (a ``set``, a ``datetime.date``, a ``Decimal``, an int beyond 64 bits, an arbitrary
    object) raises ``InvalidQueryError`` naming its path, before anything is written.
    Datetimes come back aware, in UTC, truncated to milliseconds (a naive one is UTC, as in
    PyMongo), in a copy of the containers that hold them; the input is never changed, and
    is returned as is when nothing needed normalising.
    """
    cls = type(value)
    if cls is dict:
        return _checked_mapping(value, where, path, depth)
    if cls is list:
        return _checked_array(value, where, path, depth)
    if isinstance(value, Mapping):
        return _checked_mapping(value, where, path, depth)
    if isinstance(value, (list, tuple)):
        return _checked_array(value, where, path, depth)
    return _stored_leaf(value, where, path or "value", depth - 1)


# Every write passes through the two loops below, once per stored value: they are written
# for the common case (exact str/int/float/bool/None/bytes leaves, dict and list
# containers), which costs one type lookup per value and no call; paths are only spelled out
# for containers and values that need a closer look.


def _checked_mapping(value: Mapping[Any, Any], where: str, path: str | None, depth: int) -> Any:
    if depth > MAX_STORED_NESTING:
        raise _too_deep(where, path)
    changed: dict[str, Any] | None = None
    for name, item in value.items():
        if type(name) is not str or not name or "\x00" in name:
            check_field_name(name, where=where, path=path)
        kind = type(item)
        if kind in _STORED_AS_IS or (kind is int and _INT64_MIN <= item <= _INT64_MAX):
            continue
        new = _checked_child(item, kind, where, f"{path}.{name}" if path else name, depth)
        if new is not item:
            if changed is None:
                changed = dict(value)
            changed[name] = new
    if changed is not None:
        return changed
    return value if type(value) is dict else dict(value)


def _checked_array(value: Sequence[Any], where: str, path: str | None, depth: int) -> Any:
    if depth > MAX_STORED_NESTING:
        raise _too_deep(where, path)
    copied: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if kind in _STORED_AS_IS or (kind is int and _INT64_MIN <= item <= _INT64_MAX):
            continue
        new = _checked_child(item, kind, where, f"{path}.{index}" if path else str(index), depth)
        if new is not item:
            if copied is None:
                copied = list(value)
            copied[index] = new
    if copied is not None:
        return copied
    return value if type(value) is list else list(value)


def _checked_child(item: Any, kind: type, where: str, path: str, depth: int) -> Any:
    """A value inside a container at nesting ``depth`` that is not a plain leaf."""
    if kind is dict:
        return _checked_mapping(item, where, path, depth + 1)
    if kind is list:
        return _checked_array(item, where, path, depth + 1)
    return _stored_leaf(item, where, path, depth)


def _stored_leaf(value: Any, where: str, path: str, depth: int = 0) -> Any:
    """A value that is not a plain str/float/bool/None/bytes: checked, and normalised
    (``depth``: the nesting of the container holding it)."""
    if isinstance(value, datetime):
        return utc_millis(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        raise InvalidQueryError(
            f"Field {path!r} in {where} holds {value}, outside the 64-bit integers MongoDB "
            "stores (use a string, or bson.Decimal128 for exact big numbers)",
            path=path,
        )
    if isinstance(value, (str, float, bytes, uuid.UUID, re.Pattern)):
        return value
    if isinstance(value, Mapping):
        return _checked_mapping(value, where, path, depth + 1)
    if isinstance(value, (list, tuple)):  # subclasses too (a namedtuple): BSON arrays
        return _checked_array(value, where, path, depth + 1)
    if bson_class(value) in _BSON_STORED:
        return value
    hint = _HINTS.get(type(value), "")
    raise InvalidQueryError(
        f"Field {path!r} in {where} holds a {type(value).__name__} ({value!r:.60}), which "
        f"MongoDB cannot store{hint}",
        path=path,
    )


def is_plain_document(value: dict[Any, Any], depth: int = 1) -> bool:
    """Whether ``check_document`` would return ``value`` itself (``value`` at nesting
    ``depth``), found the quick way for the commonest documents; ``False`` means only that
    ``check_document`` must look (it names what is wrong, or normalises a datetime).

    Plain: a dict of fields named as stored names must be, holding str, float, bool, None,
    bytes, 64-bit ints, and dicts and lists of those, exact types only (a subclass, a tuple
    or a datetime is ``check_document``'s to copy or convert). One look per value: names
    already checked in an earlier document are known (``_CHECKED_NAMES``), and an array of
    plain leaves, the usual one, is looked through without a call.
    """
    if depth > MAX_STORED_NESTING:
        return False
    if not _CHECKED_NAMES.issuperset(value) and not _remember_names(value):
        return False
    for item in value.values():
        kind = type(item)
        if kind in _STORED_AS_IS or (kind is int and _INT64_MIN <= item <= _INT64_MAX):
            continue
        if kind is list:
            for leaf in item:
                kind = type(leaf)
                if kind in _STORED_AS_IS or (kind is int and _INT64_MIN <= leaf <= _INT64_MAX):
                    continue
                break
            else:
                continue
            if _plain_array(item, depth + 1):
                continue
        elif kind is dict and is_plain_document(item, depth + 1):
            continue
        return False
    return True


def _plain_array(value: list[Any], depth: int) -> bool:
    if depth > MAX_STORED_NESTING:
        return False
    for item in value:
        kind = type(item)
        if kind in _STORED_AS_IS or (kind is int and _INT64_MIN <= item <= _INT64_MAX):
            continue
        if kind is list and _plain_array(item, depth + 1):
            continue
        if kind is dict and is_plain_document(item, depth + 1):
            continue
        return False
    return True


def _remember_names(value: dict[Any, Any]) -> bool:
    """Whether every name in ``value`` may be stored; if so, they are known from now on."""
    for name in value:
        if type(name) is not str or not name or "\x00" in name:
            return False
    if len(_CHECKED_NAMES) > _CHECKED_NAMES_LIMIT:
        _CHECKED_NAMES.clear()  # bounded: names that are data (ids, dates) churn it
    _CHECKED_NAMES.update(value)
    return True


def _too_deep(where: str, path: str | None) -> InvalidQueryError:
    return InvalidQueryError(
        f"{where[:1].upper()}{where[1:]} nests documents and arrays more than "
        f"{MAX_STORED_NESTING} levels deep" + (f" at {path!r}" if path else ""),
        path=path,
    )


MAX_STORED_NESTING: Final = 100
"""The deepest nesting of documents and arrays MongoDB stores (each one adds a level)."""

_CHECKED_NAMES: Final[set[str]] = set()
"""Field names found fit to store (strings, not empty, no NUL) in an earlier document: a
document's names are most often those of the documents before it."""
_CHECKED_NAMES_LIMIT: Final = 10_000

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

# Leaf types stored and read back unchanged on every backend: no check needed.
_STORED_AS_IS: Final = frozenset({str, float, bool, type(None), bytes})

# bson classes PyMongo encodes (DatetimeMS: a date outside Python's datetime range).
_BSON_STORED: Final = frozenset(
    {
        "ObjectId",
        "Int64",
        "Decimal128",
        "Binary",
        "Regex",
        "Code",
        "Timestamp",
        "MinKey",
        "MaxKey",
        "DBRef",
        "DatetimeMS",
    }
)

_HINTS: Final[dict[type, str]] = {
    Decimal: " (use bson.Decimal128, or a float)",
    date: " (use a datetime, e.g. datetime(d.year, d.month, d.day))",
    set: " (use a list)",
    frozenset: " (use a list)",
    bytearray: " (use bytes)",
}


def copy_value(value: Any) -> Any:
    """A deep copy of a JSON-like value; immutable leaves (str, numbers, datetimes) are shared."""
    cls = type(value)
    if cls is dict:
        return {key: copy_value(item) for key, item in value.items()}
    if cls is list:
        return [copy_value(item) for item in value]
    if cls in _IMMUTABLE:
        return value
    if isinstance(value, Mapping):
        return {key: copy_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_value(item) for item in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value  # BSON scalars (ObjectId, Decimal128...) and patterns are immutable


# Types nothing nests in, told apart without the ``Mapping`` check.
_FLAT: Final = frozenset({str, int, float, bool, type(None), bytes})

_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None), bytes, Decimal, datetime})
