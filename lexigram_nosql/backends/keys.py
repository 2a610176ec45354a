"""Key text: any ``_id`` (or unique-index value) as one string that keeps its type.

DynamoDB keys and Firestore document ids are strings, while a MongoDB ``_id`` may be an int,
a float, an embedded document, a datetime, a UUID, ``""`` or null. ``key_text`` maps every
such value to a string, and ``key_value`` maps it back:

- a non-empty string that does not start with NUL is its own key text, so documents stored
  with plain string ids by earlier versions keep working;
- every other value is NUL, a one-letter tag, then a body: ``"\\x00n7"`` is the number 7,
  ``"\\x00s"`` the empty string, ``"\\x00d2024-05-01T12:00:00.000Z"`` a datetime.

Values MongoDB calls equal get the same text, so a lookup by key finds them: ``7``, ``7.0``
and ``Int64(7)`` are all ``"\\x00n7"`` (an integral number reads back as an int, so a
backend marks a float ``_id`` such as ``7.0`` beside the key: ``integral_float``), and a
datetime is keyed in UTC at millisecond precision, as MongoDB stores it. An ObjectId is keyed
(and read back) as its 24-hex string, this package's id policy.

Tags: ``s`` string, ``n`` number, ``t``/``f`` booleans, ``z`` null, ``x`` bytes, ``u`` UUID,
``b`` other binary subtypes, ``d`` datetime, ``o`` embedded document, ``a`` array (inside a
document), ``-``/``+`` MinKey/MaxKey.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.dates import utc_millis

__all__ = ["KEY_TAG", "check_id", "integral_float", "key_text", "key_value", "read_back"]

KEY_TAG: Final = "\x00"
"""First character of the key text of every value that is not a plain string."""

_EXACT: Final = Context(prec=400)  # enough for any float's exact decimal expansion


def check_id(value: Any) -> None:
    """Refuse an ``_id`` MongoDB refuses: an array, a regular expression, or undefined."""
    if isinstance(value, (list, tuple)):
        raise InvalidQueryError(
            f"_id cannot be an array (got {value!r}); use a document or a scalar", path="_id"
        )
    cls = type(value)
    bson_name = cls.__name__ if cls.__module__.split(".", 1)[0] == "bson" else None
    if bson_name in ("Regex", "Undefined") or cls.__name__ == "Pattern":
        raise InvalidQueryError(f"_id cannot be a regular expression (got {value!r})", path="_id")


def check_stored_id(value: Any, *, backend: str) -> None:
    """``check_id``, and refuse an ``_id`` that would read back as another type from a key:
    a ``Decimal128`` keys as the number it equals (so a filter on it finds an int), but as a
    stored ``_id`` it would come back as an int or a float."""
    check_id(value)
    if type(value).__name__ == "Decimal128" and type(value).__module__.startswith("bson"):
        raise UnsupportedQueryError(
            f"_id {value!r} is a Decimal128, which {backend} cannot store (BSON-only values; "
            "it would read back as a float); use an int, a float or a string",
            backend=backend,
            path="_id",
        )


def key_text(value: Any, *, backend: str, path: str = "_id") -> str:
    """The type-keeping key text of ``value`` (see the module docstring).

    Raises ``UnsupportedQueryError`` naming ``backend`` for a value no key can hold (a regular
    expression, a timestamp, JavaScript code, a type outside MongoDB's); callers looking a
    value up treat that as "matches nothing".
    """
    cls = type(value)
    if cls is str:
        return value if value and value[0] != KEY_TAG else KEY_TAG + "s" + value  # type: ignore[no-any-return]
    if cls is int or cls is float:
        return KEY_TAG + "n" + _number(value)
    return _tagged(value, backend, path)


def _tagged(value: Any, backend: str, path: str) -> str:
    if value is None:
        return KEY_TAG + "z"
    if isinstance(value, bool):
        return KEY_TAG + ("t" if value else "f")
    cls = type(value)
    bson_name = cls.__name__ if cls.__module__.split(".", 1)[0] == "bson" else None
    if isinstance(value, str) and bson_name is None:  # never JavaScript code (a str subclass)
        return key_text(str(value), backend=backend, path=path)
    if isinstance(value, (int, float, Decimal)):
        return KEY_TAG + "n" + _number(value)
    if bson_name == "Decimal128":
        return KEY_TAG + "n" + _number(value.to_decimal())
    if bson_name == "ObjectId":
        return str(value)
    if isinstance(value, datetime):
        stamp = utc_millis(value).isoformat(timespec="milliseconds")
        return KEY_TAG + "d" + stamp.removesuffix("+00:00") + "Z"
    if isinstance(value, uuid.UUID):
        return KEY_TAG + "u" + value.hex
    if bson_name == "Binary":
        subtype = value.subtype
        if subtype == 4 and len(value) == 16:
            return KEY_TAG + "u" + bytes(value).hex()
        if subtype != 0:
            return KEY_TAG + "b" + f"{subtype:02x}" + bytes(value).hex()
        return KEY_TAG + "x" + bytes(value).hex()
    if isinstance(value, (bytes, bytearray)):
        return KEY_TAG + "x" + bytes(value).hex()
    if isinstance(value, Mapping):
        pairs = [
            [str(k), key_text(v, backend=backend, path=f"{path}.{k}")] for k, v in value.items()
        ]
        return KEY_TAG + "o" + json.dumps(pairs, separators=(",", ":"))
    if isinstance(value, (list, tuple)):
        items = [key_text(v, backend=backend, path=f"{path}.{i}") for i, v in enumerate(value)]
        return KEY_TAG + "a" + json.dumps(items, separators=(",", ":"))
    if bson_name == "MinKey":
        return KEY_TAG + "-"
    if bson_name == "MaxKey":
        return KEY_TAG + "+"
    raise UnsupportedQueryError(
        f"{path!r} holds {value!r}, a {cls.__name__}, which cannot be part of a key on this "
        "backend (keys hold strings, numbers, booleans, null, bytes, UUIDs, datetimes, "
        "ObjectIds and documents or arrays of those)",
        backend=backend,
        path=path,
    )


def _number(value: Any) -> str:
    """Canonical text of a number: equal numbers (``7``, ``7.0``) get the same text."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
    elif isinstance(value, Decimal):
        if value.is_nan():
            return "NaN"
        if value.is_infinite():
            return "inf" if value > 0 else "-inf"
        text = str(value)
    else:
        return str(int(value))
    number = Decimal(text).normalize(_EXACT)
    return format(number, "f") if number != 0 else "0"


def integral_float(value: Any) -> bool:
    """Whether ``value`` is a float whose key text reads back as an int (``7.0``): the
    backends keep a one-bit marker beside such an ``_id`` so it reads back as a float."""
    return type(value) is float and value.is_integer()


def read_back(value: Any, *, backend: str) -> Any:
    """``_id`` as it reads back (an ObjectId as its 24-hex string, a datetime in UTC to the
    millisecond; a float stays a float, see ``integral_float``): what ``inserted_id``
    reports."""
    if type(value) is str or type(value) is float:
        return value
    return key_value(key_text(value, backend=backend))


def key_value(text: str) -> Any:
    """The value a key text stands for (the inverse of ``key_text``)."""
    if not text or text[0] != KEY_TAG:
        return text
    tag, body = text[1:2], text[2:]
    try:
        return _DECODERS[tag](body)
    except (KeyError, ValueError, InvalidOperation, TypeError):
        return text  # not ours (written by another tool): the text as stored


def _decode_number(body: str) -> int | float:
    if body in ("NaN", "inf", "-inf"):
        return float(body)
    number = Decimal(body)
    if number == number.to_integral_value() and -(2**63) <= number < 2**63:
        return int(number)
    return float(body)


def _decode_binary(body: str) -> Any:
    from bson.binary import Binary  # only data written through MongoDB's tools has these

    return Binary(bytes.fromhex(body[2:]), int(body[:2], 16))


def _decode_bound(body: str, name: str) -> Any:
    import bson

    return getattr(bson, name)()


def _decode_datetime(body: str) -> datetime:
    return datetime.fromisoformat(body.removesuffix("Z")).replace(tzinfo=UTC)


_DECODERS: Final[dict[str, Any]] = {
    "s": lambda body: body,
    "n": _decode_number,
    "t": lambda body: True,
    "f": lambda body: False,
    "z": lambda body: None,
    "x": bytes.fromhex,
    "u": lambda body: uuid.UUID(hex=body),
    "b": _decode_binary,
    "d": _decode_datetime,
    "o": lambda body: {k: key_value(v) for k, v in json.loads(body)},
    "a": lambda body: [key_value(v) for v in json.loads(body)],
    "-": lambda body: _decode_bound(body, "MinKey"),
    "+": lambda body: _decode_bound(body, "MaxKey"),
}
