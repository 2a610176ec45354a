"""How the SQLite store writes values: documents as tagged JSON, index keys as ordered bytes.

**Documents** are JSON text. Strings, ints, floats (NaN and infinities included), booleans,
null, documents and arrays are JSON's own (field order kept); every other value is a
one-field document whose name starts with ``$`` (``{"$date": microseconds}``...). Stored
field names never start with ``$`` unless escaped as ``{"$o": {...}}``, so a tag is never
confused with user data. A document holding any tag is stored with a leading ``!`` so that
plain documents decode with one ``json.loads`` and no per-object hook.

**Keys** are bytes whose ``memcmp`` order (SQLite's order for BLOBs) is MongoDB's
cross-type order (``query/ordering.py``), and which are equal exactly when MongoDB calls two
values equal (``1``, ``1.0`` and ``Decimal("1")`` share a key; ``1`` and ``"1"`` do not).
Every key is self-delimiting, so keys concatenate into compound-index keys. Numbers are
keyed by their exact decimal value, so a float and a Decimal compare as MongoDB compares
them.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.errors import DocumentTooLargeError, InvalidQueryError
from lexigram_nosql.query.values import bson_class

__all__ = [
    "EMPTY_ARRAY_KEY",
    "bracket_bounds",
    "component",
    "decode_document",
    "encode_document",
    "encode_key",
    "next_prefix",
]

# -- documents ---------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_PLAIN_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_TAGGED: Final = "!"

_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class _NotPlain(Exception):
    """A value JSON does not know: the document takes the tagged path."""


def _not_plain(value: Any) -> Any:
    raise _NotPlain


def _compact_encoder(default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """``JSONEncoder(separators=(",", ":"), check_circular=False, default=default).encode``,
    with its C encoder built once: ``encode`` builds it again on every call, which costs a
    third of encoding a small document, on every document written."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C accelerator
        return json.JSONEncoder(separators=(",", ":"), check_circular=False, default=default).encode
    encoder = make(
        None, default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_dumps_plain = _compact_encoder(_not_plain)
_loads = json.JSONDecoder().decode


def encode_document(document: Mapping[str, Any]) -> str:
    """The stored text of a document; a value JSON cannot hold exactly becomes a tag, and a
    value nothing here can store is refused naming its path."""
    text = _plain_text(document)
    if text is None:
        text = _TAGGED + _dumps(_tagged(document, ""))
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLargeError(
            f"The document with _id {document.get('_id')!r:.60} is {len(text)} characters as "
            f"stored; the SQLite store keeps MongoDB's limit of {MAX_DOCUMENT_CHARS} (16 MiB)",
            code="BSONObjectTooLarge",
        )
    return text


MAX_DOCUMENT_CHARS: Final = 16 * 1024 * 1024
"""The largest stored text of one document: MongoDB's 16 MiB document limit."""


def _plain_text(document: Mapping[str, Any]) -> str | None:
    """The document as plain JSON, or None when some value needs a tag."""
    if type(document) is not dict:
        return None
    # Without bson loaded, no subclass JSON would flatten (Int64, Code) can exist: the C
    # encoder alone decides, and any value it does not know sends us to the tagged path.
    if "bson" in sys.modules and not _is_plain(document):
        return None
    try:
        text: str = _dumps_plain(document)
    except _NotPlain:
        return None
    return None if '"$' in text else text  # a "$" field name needs escaping


def decode_document(text: str) -> dict[str, Any]:
    """The document ``encode_document`` stored."""
    if text[:1] != _TAGGED:
        document: dict[str, Any] = _loads(text)
        return document
    return _untag(_loads(text[1:]))  # type: ignore[no-any-return]


def _is_plain(container: Any) -> bool:
    """Whether JSON alone keeps every value in ``container`` (a dict or a list) exactly
    (exact types only: a subclass such as ``bson.Int64`` needs its tag)."""
    plain = _PLAIN_SCALARS
    for item in container.values() if type(container) is dict else container:
        cls = type(item)
        if cls in plain:
            continue
        if (cls is not dict and cls is not list) or not _is_plain(item):
            return False
    return True


def _tagged(value: Any, path: str) -> Any:
    cls = type(value)
    if cls in _PLAIN_SCALARS:
        return value
    if cls is dict or (isinstance(value, Mapping) and bson_class(value) is None):
        out = {key: _tagged(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if any(key[:1] == "$" for key in out):
            return {"$o": out}
        return out
    if cls is list or cls is tuple:
        return [_tagged(item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value)]
    tag = _tag(value)
    if tag is None:
        raise InvalidQueryError(
            f"The sqlite store cannot store a {type(value).__name__} at {path or 'the top'!r}; "
            "use a BSON value type (str, int, float, bool, None, datetime, bytes, Decimal, "
            "dict, list...)",
            path=path or None,
        )
    return tag


def _tag(value: Any) -> dict[str, Any] | None:
    name = bson_class(value)
    if name is not None:
        return _bson_tag(name, value)
    if isinstance(value, bool):
        return None  # bool subclasses are not BSON
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return {"$dateN": (value.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND}
        return {"$date": (value - _EPOCH) // _MICROSECOND}
    if isinstance(value, (bytes, bytearray)):
        return {"$bin": [base64.b64encode(bytes(value)).decode("ascii"), 0]}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, re.Pattern):
        return {"$re": [str(value.pattern), int(value.flags)]}
    if isinstance(value, int):
        return {"$int": str(int(value))}
    if isinstance(value, float):
        return {"$float": float(value)}
    if isinstance(value, str):
        return {"$str": str(value)}
    return None


def _bson_tag(name: str, value: Any) -> dict[str, Any] | None:
    if name == "ObjectId":
        return {"$oid": str(value)}
    if name == "Int64":
        return {"$long": int(value)}
    if name == "Decimal128":
        return {"$dec128": str(value)}
    if name == "Binary":
        return {"$bin": [base64.b64encode(bytes(value)).decode("ascii"), int(value.subtype)]}
    if name == "Timestamp":
        return {"$ts": [value.time, value.inc]}
    if name == "Regex":
        return {"$bsonre": [str(value.pattern), value.flags]}
    if name == "MinKey":
        return {"$minKey": 1}
    if name == "MaxKey":
        return {"$maxKey": 1}
    if name == "Code":
        scope = value.scope
        return {"$code": [str(value), None if scope is None else _tagged(dict(scope), "scope")]}
    if name == "DBRef":
        extra = {k: _tagged(v, k) for k, v in value.as_doc().items() if k[:1] != "$"}
        return {"$dbref": [value.collection, _tagged(value.id, "$id"), value.database, extra]}
    if name == "DatetimeMS":
        return _tag(value.as_datetime())
    return None


def _untag(value: Any) -> Any:
    cls = type(value)
    if cls is list:
        return [_untag(item) for item in value]
    if cls is not dict:
        return value
    if len(value) == 1:
        (key, item), *_ = value.items()
        if key[:1] == "$":
            if key == "$o":
                return {k: _untag(v) for k, v in item.items()}
            return _DECODERS[key](item)
    return {key: _untag(item) for key, item in value.items()}


def _bson(name: str) -> Any:
    import bson  # only documents written with bson values need it

    return getattr(bson, name)


def _binary(item: list[Any]) -> Any:
    data = base64.b64decode(item[0])
    return data if item[1] == 0 else _bson("Binary")(data, item[1])


_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    "$date": lambda item: _EPOCH + item * _MICROSECOND,
    "$dateN": lambda item: (_EPOCH + item * _MICROSECOND).replace(tzinfo=None),
    "$bin": _binary,
    "$dec": Decimal,
    "$uuid": uuid.UUID,
    "$re": lambda item: re.compile(item[0], item[1]),
    "$int": int,
    "$float": float,
    "$str": str,
    "$oid": lambda item: _bson("ObjectId")(item),
    "$long": lambda item: _bson("Int64")(item),
    "$dec128": lambda item: _bson("Decimal128")(item),
    "$ts": lambda item: _bson("Timestamp")(item[0], item[1]),
    "$bsonre": lambda item: _bson("Regex")(item[0], item[1]),
    "$minKey": lambda item: _bson("MinKey")(),
    "$maxKey": lambda item: _bson("MaxKey")(),
    "$code": lambda item: _bson("Code")(item[0], None if item[1] is None else _untag(item[1])),
    "$dbref": lambda item: _bson("DBRef")(item[0], _untag(item[1]), item[2], **_untag(item[3])),
}

# -- keys --------------------------------------------------------------------------------

# Type brackets, in MongoDB's order (query/ordering.py); the first byte of every key.
_MINKEY: Final = 0x01
_EMPTY_ARRAY: Final = 0x02  # sorting by a field holding [] places it before null
_NULL: Final = 0x03
_NUMBER: Final = 0x04
_STRING: Final = 0x05
_OBJECT: Final = 0x06
_ARRAY: Final = 0x07
_BINARY: Final = 0x08
_OBJECT_ID: Final = 0x09
_BOOL: Final = 0x0A
_DATE: Final = 0x0B
_TIMESTAMP: Final = 0x0C
_REGEX: Final = 0x0D
_MAXKEY: Final = 0x0E
_CODE: Final = bytes([_REGEX, 0xFF])
"""JavaScript code: the regex bracket's last keys (UTF-8 never holds 0xFF), so the order of
keys written before code could be an ``_id`` is kept."""

# Inside the number bracket.
_NAN: Final = b"\x00"
_NEG_INF: Final = b"\x01"
_NEGATIVE: Final = 0x02
_ZERO: Final = b"\x03"
_POSITIVE: Final = 0x04
_POS_INF: Final = b"\x05"

_EXPONENT_BIAS: Final = 2**31
_DATE_BIAS: Final = 2**63

NULL_KEY: Final = bytes([_NULL])
_STRING_BYTE: Final = bytes([_STRING])
EMPTY_ARRAY_KEY: Final = bytes([_EMPTY_ARRAY])
"""What an index records for ``[]`` (MongoDB indexes it apart from null)."""


def _escaped(text: str) -> bytes:
    """A string's UTF-8 bytes, self-delimited: 0x00 becomes 0x00 0xFF, then 0x00 0x00."""
    data = text.encode("utf-8", "surrogatepass")
    if b"\x00" in data:
        data = data.replace(b"\x00", b"\x00\xff")
    return data + b"\x00\x00"


def _number_key(value: int | float | Decimal) -> bytes:
    if isinstance(value, float):
        if value != value:
            return bytes([_NUMBER]) + _NAN
        if value in (float("inf"), float("-inf")):
            return bytes([_NUMBER]) + (_POS_INF if value > 0 else _NEG_INF)
        # Integral floats key like ints; others by their exact binary value as a decimal.
        value = int(value) if value.is_integer() and abs(value) < 2**53 else Decimal(value)
    if isinstance(value, Decimal):
        if value.is_nan():
            return bytes([_NUMBER]) + _NAN
        if value.is_infinite():
            return bytes([_NUMBER]) + (_NEG_INF if value < 0 else _POS_INF)
        sign, digits_tuple, exponent = value.as_tuple()
        digits = "".join(map(str, digits_tuple)).lstrip("0")
        if not digits:
            return bytes([_NUMBER]) + _ZERO
        assert isinstance(exponent, int)
        magnitude = len(digits) + exponent  # value = 0.digits x 10**magnitude
        negative = bool(sign)
    else:
        if value == 0:
            return bytes([_NUMBER]) + _ZERO
        negative = value < 0
        digits = str(-value if negative else value)
        magnitude = len(digits)
    digits = digits.rstrip("0")
    body = (magnitude + _EXPONENT_BIAS).to_bytes(4, "big") + digits.encode("ascii") + b"\x00"
    if negative:
        return bytes([_NUMBER, _NEGATIVE]) + body.translate(_COMPLEMENT)
    return bytes([_NUMBER, _POSITIVE]) + body


def encode_key(value: Any) -> bytes:
    """The ordered key of one value (see the module docstring)."""
    cls = type(value)
    if cls is str:
        data: bytes = value.encode("utf-8", "surrogatepass")
        if b"\x00" in data:
            data = data.replace(b"\x00", b"\x00\xff")
        return _STRING_BYTE + data + b"\x00\x00"  # _escaped, inlined: every _id is keyed
    if cls is int or cls is float:
        return _number_key(value)
    if cls is bool:
        return bytes([_BOOL, 1 if value else 0])
    if value is None:
        return NULL_KEY
    if cls is dict or (isinstance(value, Mapping) and bson_class(value) is None):
        parts = [bytes([_OBJECT])]
        for name, item in value.items():
            key = encode_key(item)
            parts.append(key[:1] + _escaped(name) + key)
        parts.append(b"\x00")
        return b"".join(parts)
    if cls is list or cls is tuple:
        return b"".join([bytes([_ARRAY]), *(encode_key(item) for item in value), b"\x00"])
    return _other_key(value)


def _other_key(value: Any) -> bytes:
    name = bson_class(value)
    if name is not None:
        return _bson_key(name, value)
    if isinstance(value, bool):
        return bytes([_BOOL, 1 if value else 0])
    if isinstance(value, (int, float, Decimal)):
        return _number_key(value)
    if isinstance(value, str):
        return bytes([_STRING]) + _escaped(str(value))
    if isinstance(value, datetime):
        return _date_key(value)
    if isinstance(value, (bytes, bytearray)):
        return _binary_key(bytes(value), 0)
    if isinstance(value, re.Pattern):
        return bytes([_REGEX]) + _escaped(str(value.pattern)) + _escaped(_flags(value.flags))
    if isinstance(value, uuid.UUID):
        return _binary_key(value.bytes, 4)
    raise InvalidQueryError(f"A {type(value).__name__} cannot be an index key or _id")


def _bson_key(name: str, value: Any) -> bytes:
    if name == "ObjectId":
        return bytes([_OBJECT_ID]) + bytes(value.binary)
    if name == "Int64":
        return _number_key(int(value))
    if name == "Decimal128":
        return _number_key(value.to_decimal())
    if name == "Binary":
        return _binary_key(bytes(value), int(value.subtype))
    if name == "Timestamp":
        stamp: bytes = value.time.to_bytes(4, "big") + value.inc.to_bytes(4, "big")
        return bytes([_TIMESTAMP]) + stamp
    if name == "Regex":
        return bytes([_REGEX]) + _escaped(str(value.pattern)) + _escaped(str(value.flags))
    if name == "MinKey":
        return bytes([_MINKEY])
    if name == "MaxKey":
        return bytes([_MAXKEY])
    if name == "Code":  # after every regex (whose next byte is never 0xFF), before MaxKey
        if value.scope is None:
            return _CODE + b"\x01" + _escaped(str(value))
        return _CODE + b"\x02" + _escaped(str(value)) + encode_key(value.scope)
    if name == "DatetimeMS":
        return _date_key(value.as_datetime())
    raise InvalidQueryError(f"A bson {name} cannot be an index key or _id")


def _date_key(value: datetime) -> bytes:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    micros = (aware - _EPOCH) // _MICROSECOND
    return bytes([_DATE]) + (micros + _DATE_BIAS).to_bytes(8, "big")


def _binary_key(data: bytes, subtype: int) -> bytes:
    return bytes([_BINARY]) + len(data).to_bytes(4, "big") + bytes([subtype]) + data


def _flags(flags: int) -> str:
    letters = (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X))
    return "".join(letter for letter, flag in letters if flags & flag)


_COMPLEMENT: Final = bytes(255 - b for b in range(256))


def component(key: bytes, direction: int) -> bytes:
    """``key`` as one component of an index key: complemented for a descending path."""
    return key.translate(_COMPLEMENT) if direction < 0 else key


def next_prefix(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with ``prefix`` (a key
    prefix starts with a type bracket, never 0xFF, so one always exists)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        raise ValueError("no byte string follows every extension of 0xFF...")
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def bracket_bounds(value: Any) -> tuple[bytes, bytes]:
    """``[low, high)`` holding every key of ``value``'s type bracket (range operators only
    match within one bracket: ``{"$gt": 5}`` never matches a string)."""
    first = encode_key(value)[:1]
    if first == EMPTY_ARRAY_KEY:
        first = bytes([_ARRAY])
    return first, next_prefix(first)
