"""Documents to DynamoDB attribute values and back, checked before any request is sent.

DynamoDB numbers are decimals of up to 38 significant digits, so ints and floats are sent as
their exact decimal text (``repr`` of a float is the shortest text that reads back as the same
float: no binary noise). DynamoDB does not keep the int/float distinction of an integral value
(``2.0`` is stored as ``2``), so hidden markers say where integral floats are and they read
back as floats (``floats.py``). Datetimes are stored as ISO-8601 UTC
strings of a fixed width (``2024-05-01T12:00:00.123000+00:00``, milliseconds as in MongoDB),
so string order is time order
and other tools read them; a string in exactly that form reads back as an aware UTC datetime.
DynamoDB keeps no order of attributes or map keys, so the field order (which MongoDB's
document equality depends on) is kept in a hidden ``__lx:o`` attribute of an item or map
whose names are not already sorted (``order.py``). Key attributes of type ``S`` hold
the type-keeping key text of ``lexigram_nosql.backends.keys`` (``"\\x00n42"`` is the number
42), so ``_id`` keeps MongoDB's freedom of type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final

from lexigram_nosql.backends.dynamodb.floats import (
    decode_paths,
    encode_paths,
    list_paths,
    map_paths,
    restore,
)
from lexigram_nosql.backends.dynamodb.order import HIDDEN_PREFIX, ORDER, order_text, ordered_names
from lexigram_nosql.backends.keys import (
    KEY_TAG,
    check_stored_id,
    integral_float,
    key_text,
    key_value,
)
from lexigram_nosql.errors import DocumentTooLargeError, InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.dates import utc_millis
from lexigram_nosql.query.values import bson_class

__all__ = [
    "HIDDEN_PREFIX",
    "FLOAT_ID",
    "FLOATS",
    "LIST_FLOATS",
    "MAP_FLOATS",
    "ITEM_SIZE_LIMIT",
    "KEY_TAG",
    "ORDER",
    "VERSION",
    "AttributeValue",
    "decode_item",
    "decode_key",
    "decode_value",
    "encode_item",
    "encode_key",
    "encode_scalar",
    "encode_value",
    "float_attributes",
    "format_datetime",
    "is_datetime_text",
    "item_size",
    "normalize_value",
    "order_value",
    "restore_floats",
]

AttributeValue = dict[str, Any]
"""The low-level client's typed value: ``{"S": "x"}``, ``{"N": "1.5"}``, ``{"M": {...}}``."""

ITEM_SIZE_LIMIT = 400 * 1024
"""DynamoDB's item size limit (attribute names and values, UTF-8)."""

KEY_BYTES_LIMIT = 2048
"""DynamoDB's limit on a partition key value (a sort key holds 1024 bytes, which DynamoDB
itself enforces)."""

_MAX_DEPTH = 32
_EXACT = Context(prec=400)  # the default 28 digits would round DynamoDB's 38 away
FLOAT_ID = HIDDEN_PREFIX + "i"
"""Present when ``_id`` is a float its key text reads back as an int (``7.0``)."""
FLOATS = HIDDEN_PREFIX + "f"
"""The hidden string set of the top-level fields holding a float (or an array holding an
integral float, see ``LIST_FLOATS``): the reader turns such ints back into floats, and
``direct.py`` conditions ``$inc`` on it."""
LIST_FLOATS = HIDDEN_PREFIX + "e:"
"""Prefix of the hidden attribute of a top-level array field listing where its integral
floats are (``floats.py``)."""
MAP_FLOATS = HIDDEN_PREFIX + "d"
"""The hidden key of a map listing where its own integral floats are (``floats.py``)."""
VERSION = HIDDEN_PREFIX + "v"
"""The hidden write counter of an item, bumped by every write of this package to an
existing document (an inserted one has none: version 0), so a transaction can tell that a
document changed since it read it."""
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00")


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC, e.g. ``2024-05-01T12:00:00.123000+00:00``: milliseconds as MongoDB
    keeps them, written in the fixed six-digit form earlier versions stored. A naive datetime
    is taken as UTC (as PyMongo does)."""
    return utc_millis(value).isoformat(timespec="microseconds")


def normalize_value(value: Any) -> Any:
    """The value as it reads back (datetimes aware in UTC, dates as strings, tuples as
    lists), so the engine compares filter and update operands with what is stored."""
    if isinstance(value, datetime):
        return utc_millis(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: normalize_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize_value(v) for v in value]
    return value


def _number_text(value: int | float | Decimal, path: str) -> str:
    if type(value) is int and -_INT_BOUND < value < _INT_BOUND:
        return str(value)  # at most 38 digits: every such int is a DynamoDB number
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise UnsupportedQueryError(
                f"Field {path!r} is {value!r}: DynamoDB cannot store NaN or infinity",
                backend="dynamodb",
                path=path,
            )
        text = repr(value)
    else:
        text = str(value)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - repr/str of numbers always parse
        raise InvalidQueryError(f"Field {path!r} is not a number: {value!r}", path=path) from exc
    if not number.is_finite():
        raise UnsupportedQueryError(
            f"Field {path!r} is {value!r}: DynamoDB cannot store NaN or infinity",
            backend="dynamodb",
            path=path,
        )
    if number != 0:
        digits = number.normalize(_EXACT).as_tuple()
        exponent = int(digits.exponent) + len(digits.digits) - 1
        if len(digits.digits) > 38 or not -130 <= exponent <= 125:
            raise UnsupportedQueryError(
                f"Field {path!r} holds {value!r}, outside DynamoDB's numbers (38 significant "
                "digits, magnitude 1e-130 to 1e126)",
                backend="dynamodb",
                path=path,
            )
    return text


def encode_scalar(value: Any, path: str = "value") -> AttributeValue | None:
    """A scalar's attribute value, or None when ``value`` is a map or list."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if type(value) is str:
        return {"S": value}
    if isinstance(value, str):
        return None if bson_class(value) else {"S": value}  # bson.Code: refused
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number_text(value, path)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        if getattr(value, "subtype", 0):
            return None  # a bson.Binary of another subtype: refused by encode_value
        return {"B": bytes(value)}
    if isinstance(value, datetime):
        return {"S": format_datetime(value)}
    if isinstance(value, date):
        return {"S": value.isoformat()}
    return None


def encode_value(value: Any, path: str = "value", depth: int = 0) -> AttributeValue:
    """Any storable value's attribute value; refuses what DynamoDB cannot hold."""
    scalar = encode_scalar(value, path)
    if scalar is not None:
        return scalar
    if depth >= _MAX_DEPTH:
        raise UnsupportedQueryError(
            f"Field {path!r} nests deeper than DynamoDB's {_MAX_DEPTH} levels",
            backend="dynamodb",
            path=path,
        )
    if isinstance(value, Mapping):
        encoded: dict[str, AttributeValue] = {}
        for key, item in value.items():
            child = f"{path}.{key}"
            _check_name(key, child)
            encoded[key] = encode_value(item, child, depth + 1)
        order = order_value(list(value))
        if order is not None:
            encoded[ORDER] = order
        floats = map_paths(value)
        if floats:
            encoded[MAP_FLOATS] = {"S": encode_paths(floats)}
        return {"M": encoded}
    if isinstance(value, (list, tuple)):
        return {"L": [encode_value(v, f"{path}.{i}", depth + 1) for i, v in enumerate(value)]}
    raise UnsupportedQueryError(
        f"Field {path!r} holds a {type(value).__name__}, which DynamoDB cannot store (it "
        "stores null, booleans, numbers, strings, bytes, datetimes, lists and maps; store a "
        "UUID or an ObjectId as its string)",
        backend="dynamodb",
        path=path,
    )


def encode_key(value: Any, key_type: str, attribute: str) -> AttributeValue:
    """A key attribute's value: native when the type matches, the type-keeping key text
    (``lexigram_nosql.backends.keys``) for ``S`` keys, so any ``_id`` MongoDB accepts is a
    key. Raises ``UnsupportedQueryError`` when it cannot be a key."""
    if key_type == "S":
        text = key_text(value, backend="dynamodb", path=attribute)
        if len(text.encode()) > KEY_BYTES_LIMIT:
            raise UnsupportedQueryError(
                f"Key {attribute!r} is {len(text.encode())} bytes as a DynamoDB key; DynamoDB "
                f"keys hold at most {KEY_BYTES_LIMIT} bytes",
                backend="dynamodb",
                path=attribute,
            )
        return {"S": text}
    if key_type == "N":
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return {"N": _number_text(value, attribute)}
    elif key_type == "B" and isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    raise UnsupportedQueryError(
        f"Key attribute {attribute!r} has DynamoDB type {key_type} and cannot hold "
        f"{type(value).__name__} {value!r}",
        backend="dynamodb",
        path=attribute,
    )


def decode_key(value: AttributeValue) -> Any:
    """The inverse of ``encode_key``."""
    text = value.get("S")
    if text is None:
        return decode_value(value)
    return key_value(text)


def _decode_number(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        number = Decimal(text)
        if number == number.to_integral_value() and abs(number) < 10**38:
            return int(number)
        return float(text)
    return int(text)


def _check_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(
            f"Field {path!r} has an empty or non-string name; DynamoDB refuses it", path=path
        )
    if name.startswith(HIDDEN_PREFIX):
        raise InvalidQueryError(
            f"Field {path!r}: names starting with {HIDDEN_PREFIX!r} are reserved by the "
            "DynamoDB backend",
            path=path,
        )


def order_value(names: list[str]) -> AttributeValue | None:
    """The hidden order attribute for fields in this order (``order.py``); None when they
    are sorted, the order they read back in without it."""
    text = order_text(tuple(names))
    return None if text is None else {"S": text}


def is_datetime_text(value: Any) -> bool:
    """Whether ``value`` is a string in the exact form datetimes are stored in (such a string
    reads back as a datetime, so it never equals a stored string)."""
    return isinstance(value, str) and len(value) == 32 and _DATETIME.fullmatch(value) is not None


def decode_value(value: AttributeValue) -> Any:
    """An attribute value as a Python value."""
    ((kind, payload),) = value.items()
    if kind == "S":
        if len(payload) == 32 and _DATETIME.fullmatch(payload):
            return utc_millis(datetime.fromisoformat(payload))
        return payload
    if kind == "N":
        return _decode_number(payload)
    if kind == "M":
        document = {k: decode_value(payload[k]) for k in ordered_names(payload)}
        marker = payload.get(MAP_FLOATS)
        if marker is not None and "S" in marker:
            restore(document, decode_paths(marker["S"]))
        return document
    if kind == "L":
        return [decode_value(v) for v in payload]
    if kind == "BOOL":
        return bool(payload)
    if kind == "NULL":
        return None
    if kind == "B":
        return bytes(payload)
    if kind == "SS":
        return list(payload)
    if kind == "NS":
        return [_decode_number(v) for v in payload]
    if kind == "BS":
        return [bytes(v) for v in payload]
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def encode_item(
    document: Mapping[str, Any], key_types: Mapping[str, str]
) -> dict[str, AttributeValue]:
    """A document as an item; ``key_types`` maps key attribute names to ``S``/``N``/``B``.
    Raises before any request when the item would be refused (size, NaN, empty names)."""
    try:
        item, size = _plain_item(document, key_types)
    except _Unusual:
        # The general encoder: the same item for every value the fast one takes, and the
        # only one that refuses (naming the path).
        item = _item(document, key_types)
        size = item_size(item)
    if size > ITEM_SIZE_LIMIT:
        raise DocumentTooLargeError(
            f"The document with key {document.get('_id')!r} is {size} bytes as a DynamoDB "
            f"item; DynamoDB's limit is {ITEM_SIZE_LIMIT} bytes (400 KB)",
            code="ItemSizeLimit",
        )
    return item


def _item(document: Mapping[str, Any], key_types: Mapping[str, str]) -> dict[str, AttributeValue]:
    item: dict[str, AttributeValue] = {}
    for name, value in document.items():
        _check_name(name, str(name))
        key_type = key_types.get(name)
        if key_type is not None:
            _put_key(item, name, value, key_type)
        else:
            item[name] = encode_value(value, name)
    order = order_value(list(document))
    if order is not None:
        item[ORDER] = order
    item.update(float_attributes({k: v for k, v in document.items() if k not in key_types}))
    for name in key_types:
        if name not in item:
            raise UnsupportedQueryError(
                f"The document has no {name!r}, a key attribute of its DynamoDB table",
                backend="dynamodb",
                path=name,
            )
    return item


def _put_key(item: dict[str, AttributeValue], name: str, value: Any, key_type: str) -> None:
    if name == "_id":
        check_stored_id(value, backend="dynamodb")
        if integral_float(value):
            item[FLOAT_ID] = {"BOOL": True}
    item[name] = encode_key(value, key_type, name)


# -- the fast encoder ----------------------------------------------------------------------
# Every document written goes through ``encode_item``. Most values are exact str, int,
# float, bool, None, bytes, datetime, dict and list: ``_plain_item`` encodes those with one
# type test each, no path strings, and the item's size added up on the way. Anything else
# (a value to refuse, a bson type, a name to check closer) raises ``_Unusual``, and the
# general encoder above starts over. Both give the same item (tests/backends/
# test_dynamodb_codec.py compares them on tricky documents).


class _Unusual(Exception):
    """A value the fast encoder leaves to the general one."""


_FLOAT_LOW: Final = 1e-129
_FLOAT_HIGH: Final = 1e125  # floats strictly inside DynamoDB's magnitudes need no Decimal
_INT_BOUND: Final = 10**38


def _plain_item(
    document: Mapping[str, Any], key_types: Mapping[str, str]
) -> tuple[dict[str, AttributeValue], int]:
    if type(document) is not dict:
        raise _Unusual
    item: dict[str, AttributeValue] = {}
    floats: dict[str, Any] = {}
    size = 0
    for name, value in document.items():
        if type(name) is not str or not name or name.startswith(HIDDEN_PREFIX):
            raise _Unusual
        key_type = key_types.get(name)
        if key_type is not None:
            _put_key(item, name, value, key_type)
            continue
        encoded, value_size = _plain_value(value, 0)
        item[name] = encoded
        size += len(name.encode()) + value_size
        kind = type(value)
        if kind is float or kind is list or kind is tuple:
            floats[name] = value
    for name in key_types:  # sized as item_size sizes them
        if name not in item:
            raise _Unusual  # a key attribute is missing: the general encoder says which
        size += len(name.encode()) + _value_size(item[name])
    if FLOAT_ID in item:
        size += len(FLOAT_ID) + 1
    if floats:
        marks = float_attributes(floats)
        item.update(marks)
        size += item_size(marks)
    text = order_text(tuple(document))
    if text is None:
        return item, size
    item[ORDER] = {"S": text}
    return item, size + len(ORDER) + len(text.encode())


def _plain_value(value: Any, depth: int) -> tuple[AttributeValue, int]:
    """A plain value's attribute value and its ``item_size``; ``_Unusual`` otherwise."""
    kind = type(value)
    if kind is str:
        return {"S": value}, len(value) if value.isascii() else len(value.encode())
    if kind is int:
        if -_INT_BOUND < value < _INT_BOUND:
            text = str(value)
            return {"N": text}, (len(text) - (value < 0) + 1) // 2 + 1
        raise _Unusual
    if kind is float:
        if value == 0 or _FLOAT_LOW <= abs(value) < _FLOAT_HIGH:
            text = repr(value)
            digits = len(text) - text.count("-") - text.count(".") - text.count("e")
            return {"N": text}, (digits - text.count("+") + 1) // 2 + 1
        raise _Unusual
    if kind is bool:
        return {"BOOL": value}, 1
    if value is None:
        return {"NULL": True}, 1
    if kind is dict:
        if depth >= _MAX_DEPTH:
            raise _Unusual
        encoded: dict[str, AttributeValue] = {}
        size = 3
        for key, item in value.items():
            if type(key) is not str or not key or key.startswith(HIDDEN_PREFIX):
                raise _Unusual
            encoded[key], item_bytes = _plain_value(item, depth + 1)
            size += 1 + len(key.encode()) + item_bytes
        order = order_text(tuple(value))
        if order is not None:
            encoded[ORDER] = {"S": order}
            size += 1 + len(ORDER) + len(order.encode())
        floats = map_paths(value)
        if floats:
            marker = encoded[MAP_FLOATS] = {"S": encode_paths(floats)}
            size += 1 + len(MAP_FLOATS) + len(marker["S"].encode())
        return {"M": encoded}, size
    if kind is list or kind is tuple:
        if depth >= _MAX_DEPTH:
            raise _Unusual
        items: list[AttributeValue] = []
        size = 3
        for element in value:
            attribute, element_bytes = _plain_value(element, depth + 1)
            items.append(attribute)
            size += 1 + element_bytes
        return {"L": items}, size
    if kind is datetime:
        text = format_datetime(value)
        return {"S": text}, len(text)
    if kind is bytes:
        return {"B": value}, len(value)
    raise _Unusual


def decode_item(item: Mapping[str, AttributeValue], key_names: frozenset[str]) -> dict[str, Any]:
    """An item as a document; hidden attributes (``__lx:``) are dropped."""
    document: dict[str, Any] = {}
    for name in ordered_names(item):
        value = item[name]
        if name in key_names:
            document[name] = decode_key(value)
            continue
        text = value.get("S")
        # Strings are most values: skip the general decoder unless it may be a datetime.
        document[name] = text if text is not None and len(text) != 32 else decode_value(value)
    if FLOAT_ID in item and "_id" in document:
        document["_id"] = float(document["_id"])
    floats = item.get(FLOATS)
    if floats is not None:
        restore_floats(document, floats.get("SS", ()), item)
    return document


def restore_floats(
    document: dict[str, Any], names: Any, attributes: Mapping[str, AttributeValue]
) -> None:
    """Turn the integral floats of the top-level fields ``names`` (the ``FLOATS`` set) back
    into floats, their array markers read from ``attributes``."""
    for name in names:
        value = document.get(name)
        if type(value) is int:
            document[name] = float(value)
        elif type(value) is list:
            marker = attributes.get(LIST_FLOATS + name)
            if marker is not None and "S" in marker:
                restore(value, decode_paths(marker["S"]))


def float_attributes(document: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The item's ``FLOATS`` set and array markers for ``document`` (none without floats)."""
    names: list[str] = []
    attributes: dict[str, AttributeValue] = {}
    for name, value in document.items():
        if isinstance(value, float):
            names.append(name)
        elif isinstance(value, (list, tuple)):
            paths = list_paths(value)
            if paths:
                names.append(name)
                attributes[LIST_FLOATS + name] = {"S": encode_paths(paths)}
    if names:
        attributes[FLOATS] = {"SS": names}
    return attributes


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """The item's size by DynamoDB's rules (names + values, UTF-8; numbers ~1 byte per two
    digits), slightly over rather than under."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    ((kind, payload),) = value.items()
    if kind == "S":
        return len(str(payload).encode())
    if kind == "N":
        digits: int = sum(ch.isdigit() for ch in str(payload))
        return (digits + 1) // 2 + 1
    if kind == "B":
        return len(bytes(payload))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in payload)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in payload.items())
    return sum(len(str(v)) for v in payload)
