"""Documents and ids as Firestore stores them, checked before any request is sent.

Firestore keeps ``_id`` outside the document body: it is the document id, a string that
keeps the ``_id``'s type (see ``encode_id``), so an int, a float, a datetime, a UUID, an
embedded document, null and ``""`` are ids as in MongoDB. Values map one to one (null,
bool, 64-bit int, float, string, bytes, timestamp, array, map) with two refusals MongoDB does
not have: an array directly inside an array, and integers outside 64 bits. Both raise
``UnsupportedQueryError`` naming the path, before anything is written.

Firestore keeps no order of fields (its maps are sorted, the client hands them over in any
order), and MongoDB's document equality depends on it, so the order is kept in a hidden
``__lx:o`` string, the names joined by NUL (which no field name holds; one string costs far
less to send, index and read than an array of names): always for the document's top-level
fields, and inside a map only when its keys are not sorted (the order read back without
one). Every write that sends whole values writes the order with them. A ``$set``/``$unset``
by ``_id`` sent without a read (``direct.py``) leaves it as it is: a name it holds keeps its
place, and fields set since (which it does not hold) read back after the others, sorted, as
MongoDB appends the new fields of one update (in lexicographic order). Documents stored
before the order was kept (none at the top level) read back sorted, as they always did.

Timestamps come back as timezone-aware UTC ``datetime`` objects truncated to milliseconds,
as MongoDB stores them (the shared validation already writes them so; a naive one is taken
to be UTC).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Final

from lexigram_nosql.backends.keys import (
    check_stored_id,
    integral_float,
    key_text,
    key_value,
    read_back,
)
from lexigram_nosql.errors import DocumentTooLargeError, InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.dates import utc_millis
from lexigram_nosql.query.values import bson_class

__all__ = [
    "BACKEND",
    "FLOAT_ID",
    "ORDER",
    "decode_document",
    "decode_id",
    "decode_snapshot",
    "decode_value",
    "encode_body",
    "encode_fields",
    "encode_id",
    "encodable",
    "field_order",
    "id_from_value",
    "is_plain_number",
    "order_text",
    "reserved_field",
    "storage_size",
    "stored_id",
    "stored_value",
    "too_large_error",
]

BACKEND: Final = "firestore"

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_ID_BYTES: Final = 1500
HIDDEN_PREFIX: Final = "__lx:"
"""Field names the backend keeps for itself (never returned, refused from users)."""
FLOAT_ID: Final = HIDDEN_PREFIX + "i"
"""Present when ``_id`` is a float its document id reads back as an int (``7.0``)."""
ORDER: Final = HIDDEN_PREFIX + "o"
"""The field names of the document (or of a map whose keys are not sorted), in order, joined
by NUL."""
_TOP_LEVEL_HIDDEN: Final = (ORDER, FLOAT_ID)
_FLOAT_ID_SIZE: Final = len(FLOAT_ID) + 1 + 1  # its name and a boolean
_SEPARATOR: Final = "\x00"
_MAX_DEPTH: Final = 20
"""Firestore's deepest nesting of maps and arrays in a document."""
#: Firestore's maximum document size.
MAX_DOCUMENT_BYTES: Final = 1_048_576
_ESCAPED: Final = re.compile("%(25|2F|00)")
#: First characters of the string ids that are not their own document id: ``~`` (escaped),
#: NUL (a tagged key), ``.`` (``.``/``..``) and ``_`` (``__reserved__``), by ``_needs_escape``.
_ESCAPED_FIRST: Final = frozenset("~\x00._")


def encode_id(value: Any, *, collection: str | None = None) -> str:
    """The Firestore document id for an ``_id`` value of any type MongoDB accepts.

    The id is the value's type-keeping key text (``lexigram_nosql.backends.keys``: a plain
    string is itself, ``7`` is ``"\\x00n7"``), made a valid Firestore id: text Firestore
    would refuse (empty, ``.``/``..``, ``__reserved__``, containing ``/``), starting with ``~``
    or holding a NUL (every non-string key) is stored as ``~`` + the text with ``%``, ``/``
    and NUL percent-encoded. ``decode_id`` reverses both steps.
    """
    if type(value) is str and _own_id(value):
        return value
    check_stored_id(value, backend=BACKEND)
    encoded = _escape(key_text(value, backend=BACKEND))
    if len(encoded.encode("utf-8")) > _MAX_ID_BYTES:
        raise UnsupportedQueryError(
            f"_id {value!r:.60} is longer than Firestore's {_MAX_ID_BYTES}-byte document ids "
            "once encoded",
            backend=BACKEND,
            path="_id",
            collection=collection,
        )
    return encoded


def stored_id(value: Any) -> Any:
    """``_id`` as it reads back from Firestore (see ``keys.read_back``)."""
    return read_back(value, backend=BACKEND)


def id_from_value(value: Any) -> str | None:
    """The Firestore id a stored ``_id`` equal to ``value`` would have, or None when no
    document can have it (so a filter on it matches nothing)."""
    if type(value) is str and _own_id(value):
        return value
    try:
        encoded = _escape(key_text(value, backend=BACKEND))
    except UnsupportedQueryError:
        return None
    return encoded if len(encoded.encode("utf-8")) <= _MAX_ID_BYTES else None


def decode_id(doc_id: str) -> Any:
    """The ``_id`` users see for a Firestore document id."""
    if not doc_id.startswith("~"):
        return doc_id
    return key_value(_ESCAPED.sub(_unescape, doc_id[1:]))


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPES[match.group(1)]


_EMPTY_STRING_KEY: Final = key_text("", backend=BACKEND)
_UNESCAPES: Final = {"25": "%", "2F": "/", "00": "\x00"}


def _own_id(text: str) -> bool:
    """Whether a string ``_id`` is its own document id (the usual case, decided without
    building its key text): nothing to tag or escape, and within the limit whatever its
    UTF-8."""
    return (
        0 < len(text) <= _MAX_ID_BYTES // 4
        and text[0] not in _ESCAPED_FIRST
        and "/" not in text
        and "\x00" not in text
    )


def _escape(text: str) -> str:
    if text == _EMPTY_STRING_KEY:
        return "~"  # how earlier versions stored the empty string id: keep finding those
    if _needs_escape(text):
        return "~" + text.replace("%", "%25").replace("/", "%2F").replace("\x00", "%00")
    return text


def _needs_escape(text: str) -> bool:
    return (
        not text
        or text[0] == "~"
        or "/" in text
        or "\x00" in text
        or text in (".", "..")
        or (text.startswith("__") and text.endswith("__"))
    )


def encode_body(document: Mapping[str, Any], *, collection: str | None = None) -> dict[str, Any]:
    """The document without ``_id``, every value checked storable and the whole within
    Firestore's 1 MiB document limit (``DocumentTooLargeError`` before anything is sent).
    One pass: the common leaves are sized where they are checked."""
    body: dict[str, Any] = {}
    size = 0
    for key, value in document.items():
        if key == "_id":
            continue
        if key[:1] == "_":  # every reserved name starts with one
            _check_key(key, key, collection)
        cls = type(value)
        if cls is str:
            size += len(value) + 1 if value.isascii() else len(value.encode("utf-8")) + 1
        elif (cls is int and _INT64_MIN <= value <= _INT64_MAX) or cls is float:
            size += 8
        elif cls is bool or value is None:
            size += 1
        else:
            value = _stored(value, key, collection, in_array=False)
            size += storage_size(value)
        body[key] = value
        size += len(key) + 1 if key.isascii() else len(key.encode("utf-8")) + 1
    if body:
        text, order_size = _order_entry(tuple(body))
        body[ORDER] = text
        size += order_size
    _id = document.get("_id")
    if type(_id) is float and integral_float(_id):
        body[FLOAT_ID] = True  # the document id reads back as an int: mark the float
        size += _FLOAT_ID_SIZE
    size += _string_size(_id if type(_id) is str else str(document.get("_id", ""))) + 48
    if size > MAX_DOCUMENT_BYTES:
        raise too_large_error(document.get("_id"), collection, f"needs about {size} bytes")
    return body


@functools.lru_cache(maxsize=4096)
def _order_entry(names: tuple[str, ...]) -> tuple[str, int]:
    """A document order's stored text and the bytes its field takes (once per shape)."""
    text = order_text(names)
    return text, _string_size(ORDER) + _string_size(text)


def encode_fields(
    fields: Mapping[str, Any], *, document_id: Any, collection: str | None = None
) -> dict[str, Any]:
    """Top-level fields written without the rest of their document (an update sent with no
    read), as stored: each value checked storable, as ``encode_body`` checks it, and the
    fields alone within the 1 MiB limit. Whether the whole document stays within it only
    Firestore knows then (``DocumentTooLargeError`` from its answer)."""
    stored: dict[str, Any] = {}
    size = _string_size(str(document_id)) + 48
    for key, value in fields.items():
        if key[:1] == "_":  # every reserved name starts with one
            _check_key(key, key, collection)
        if not _plain_scalar(value):
            value = _stored(value, key, collection, in_array=False)
        stored[key] = value
        size += _string_size(key) + storage_size(value)
    if size > MAX_DOCUMENT_BYTES:
        raise too_large_error(document_id, collection, f"needs at least {size} bytes")
    return stored


def too_large_error(document_id: Any, collection: str | None, detail: str) -> DocumentTooLargeError:
    """The refusal of a write that would take a document over Firestore's size limit."""
    return DocumentTooLargeError(
        f"Document {document_id!r} of collection {collection!r} {detail} in Firestore, over "
        f"its limit of {MAX_DOCUMENT_BYTES} bytes",
        collection=collection,
    )


def storage_size(value: Any) -> int:
    """Bytes Firestore counts for a value (its documented storage-size rules)."""
    cls = type(value)
    if cls is str:
        return len(value) + 1 if value.isascii() else len(value.encode("utf-8")) + 1
    fixed = _FIXED_SIZES.get(cls)
    if fixed is not None:
        return fixed
    total = 0
    if cls is dict:
        for key, item in value.items():
            total += _string_size(str(key)) + storage_size(item)
        return total
    if cls is list:
        for item in value:
            total += storage_size(item)
        return total
    return _general_storage_size(value)


#: Sizes of the fixed-size values, by exact type (subclasses take the general way).
_FIXED_SIZES: Final[dict[type, int]] = {type(None): 1, bool: 1, int: 8, float: 8, datetime: 8}


def _general_storage_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float, datetime)):
        return 8
    if isinstance(value, str):
        return _string_size(value)
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(_string_size(str(k)) + storage_size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(storage_size(item) for item in value)
    return 16


def _string_size(text: str) -> int:
    return len(text) + 1 if text.isascii() else len(text.encode("utf-8")) + 1


def encodable(value: Any) -> bool:
    """Whether ``value`` can be sent to Firestore (in a filter or a write)."""
    try:
        _stored(value, "", None, in_array=False)
    except (UnsupportedQueryError, InvalidQueryError):
        return False
    return True


def stored_value(value: Any) -> Any:
    """``value`` as Firestore stores it (maps whose keys are not sorted carry their order), so
    a filter compares it with stored values; raises as a write of it would."""
    return _stored(value, "", None, in_array=False)


def reserved_field(name: str) -> bool:
    """A field name users cannot store here: this backend's own, or Firestore's ``__x__``."""
    return name.startswith(HIDDEN_PREFIX) or (
        name.startswith("__") and name.endswith("__") and len(name) >= 4
    )


def _check_key(key: str, path: str, collection: str | None) -> None:
    if not reserved_field(key):
        return
    if key.startswith(HIDDEN_PREFIX):
        raise UnsupportedQueryError(
            f"Field {path!r}: names starting with {HIDDEN_PREFIX!r} are reserved by the "
            "Firestore backend",
            backend=BACKEND,
            path=path,
            collection=collection,
        )
    raise UnsupportedQueryError(
        f"Field {path!r}: Firestore reserves field names of the form __name__",
        backend=BACKEND,
        path=path,
        collection=collection,
    )


def _stored(
    value: Any, path: str, collection: str | None, *, in_array: bool, depth: int = 1
) -> Any:
    """``value`` as stored (maps with their order where it is not sorted), checked."""
    cls = type(value)
    if cls is list and not in_array and depth <= _MAX_DEPTH:  # the common container first
        return _stored_items(value, path, collection, depth)
    if _plain_scalar(value):
        return value
    if isinstance(value, (bool, float)) or (isinstance(value, str) and not bson_class(value)):
        return value  # subclasses; bson.Code is a str, refused below
    if isinstance(value, bytes):
        if getattr(value, "subtype", 0):  # a bson.Binary of another subtype than bytes
            raise UnsupportedQueryError(
                f"Field {path!r} holds binary data of subtype {value.subtype}, which "  # type: ignore[attr-defined]
                "Firestore cannot keep (it stores plain bytes)",
                backend=BACKEND,
                path=path,
                collection=collection,
            )
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise UnsupportedQueryError(
                f"Field {path!r} holds {value}, outside Firestore's 64-bit integers",
                backend=BACKEND,
                path=path,
                collection=collection,
            )
        return value
    if isinstance(value, datetime):
        return value
    if isinstance(value, (Mapping, list, tuple)) and depth > _MAX_DEPTH:
        raise UnsupportedQueryError(
            f"Field {path!r} nests maps and arrays deeper than Firestore's {_MAX_DEPTH} levels",
            backend=BACKEND,
            path=path,
            collection=collection,
        )
    if isinstance(value, Mapping):
        stored: dict[str, Any] = {}
        previous = ""
        ordered = True
        for key, item in value.items():
            if type(key) is not str or reserved_field(key):
                child = f"{path}.{key}" if path else str(key)
                if not isinstance(key, str):
                    raise InvalidQueryError(f"Field names must be strings; {child!r} is not")
                _check_key(key, child, collection)
            if key < previous:
                ordered = False
            previous = key
            if _plain_scalar(item):
                stored[key] = item
            else:
                child = f"{path}.{key}" if path else key
                stored[key] = _stored(item, child, collection, in_array=False, depth=depth + 1)
        if not ordered:
            stored[ORDER] = order_text(tuple(value))
        return stored
    if isinstance(value, (list, tuple)):
        if in_array:
            raise UnsupportedQueryError(
                f"Field {path!r} holds an array directly inside an array, which Firestore "
                "cannot store (wrap the inner array in a map, e.g. {'values': [...]})",
                backend=BACKEND,
                path=path,
                collection=collection,
            )
        return _stored_items(value, path, collection, depth)
    raise UnsupportedQueryError(
        f"Field {path!r} holds a {type(value).__name__}, which Firestore cannot store "
        "(it stores None, bool, int, float, str, bytes, datetime, list and dict; store a "
        "UUID or an ObjectId as its string)",
        backend=BACKEND,
        path=path,
        collection=collection,
    )


def _stored_items(value: Sequence[Any], path: str, collection: str | None, depth: int) -> list[Any]:
    """An array's items as stored (none of them an array)."""
    return [
        item
        if _plain_scalar(item)
        else _stored(item, f"{path}.{index}", collection, in_array=True, depth=depth + 1)
        for index, item in enumerate(value)
    ]


def _plain_scalar(value: Any) -> bool:
    """A value stored as it is with nothing to check (the common leaves, exact types)."""
    cls = type(value)
    if cls is str or cls is float or cls is bool or value is None:
        return True
    return cls is int and _INT64_MIN <= value <= _INT64_MAX


def decode_document(doc_id: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored document as users read it: ``_id`` first, then the fields."""
    document: dict[str, Any] = {"_id": decode_id(doc_id)}
    if data:
        hidden = 0
        for name in _TOP_LEVEL_HIDDEN:
            if name in data:
                hidden += 1
        for key in field_order(data.get(ORDER), data.keys(), hidden):
            document[key] = decode_value(data[key])
        if FLOAT_ID in data:
            document["_id"] = float(document["_id"])
    return document


def decode_snapshot(snapshot: Any) -> dict[str, Any]:
    """The document an existing snapshot holds, as users read it. Its fields are read without
    the deep copy ``to_dict()`` makes of every value (decoding builds new containers anyway,
    and a document read costs about a third less); ``to_dict()`` where a client keeps them
    elsewhere."""
    data = getattr(snapshot, "_data", None)
    if type(data) is not dict:
        data = snapshot.to_dict()
    return decode_document(snapshot.id, data)


def decode_value(value: Any) -> Any:
    """Firestore's Python values as plain ones (``DatetimeWithNanoseconds`` -> ``datetime``),
    maps in their order (their list, else sorted as Firestore keeps them)."""
    if isinstance(value, dict):
        names = field_order(value[ORDER], value.keys(), 1) if ORDER in value else sorted(value)
        return {key: decode_value(value[key]) for key in names}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if isinstance(value, datetime):
        return utc_millis(value)  # a plain datetime (not DatetimeWithNanoseconds), UTC, ms
    return value


@functools.lru_cache(maxsize=4096)
def order_text(names: tuple[str, ...]) -> str:
    """The stored form of an order: documents of one shape share it (built once per shape)."""
    return _SEPARATOR.join(names)


@functools.lru_cache(maxsize=4096)
def _listed(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The names an order text holds, and their set (parsed once per shape)."""
    names = tuple(text.split(_SEPARATOR))
    return names, frozenset(names)


def field_order(order: Any, stored: AbstractSet[str], hidden: int) -> Sequence[str]:
    """The user's names of a stored map (its ``stored`` names, ``hidden`` of them the
    backend's) in their order: as ``order`` (its ORDER field) holds them, then any it does not
    hold, sorted (see the module docstring); all sorted without an order."""
    if type(order) is not str:
        return sorted(n for n in stored if not n.startswith(HIDDEN_PREFIX))
    listed, distinct = _listed(order)
    if len(distinct) == len(listed) and len(listed) + hidden == len(stored) and distinct <= stored:
        return listed  # the usual case: the order holds every field, once
    names = [n for n in dict.fromkeys(listed) if n in stored]
    placed = set(names)
    names.extend(sorted(n for n in stored if n not in placed and not n.startswith(HIDDEN_PREFIX)))
    return names


def is_plain_number(value: Any) -> bool:
    """An int or float that Firestore orders as MongoDB does (bool and NaN excluded)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _INT64_MIN <= value <= _INT64_MAX
    return isinstance(value, float) and not math.isnan(value)
