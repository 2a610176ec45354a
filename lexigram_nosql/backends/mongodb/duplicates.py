"""A MongoDB duplicate-key report (error 11000) read into the fields every backend's
``DuplicateKeyError`` carries: ``index`` (the index's name) and ``key`` (``{field: value}``).

Servers have said it several ways, and each is read:

- MongoDB 4.2+: ``keyPattern`` and ``keyValue`` in the error document, and the errmsg
  ``E11000 duplicate key error collection: db.c index: email_1 dup key: { email: "a@x" }``;
- MongoDB 3.4 to 4.0: that errmsg alone, with the field names left out
  (``dup key: { : "a@x" }``);
- MongoDB 3.2 and older: ``E11000 duplicate key error index: db.c.$email_1 dup key: ...``,
  the index named after its namespace;
- CongoDB (the wire test server): ``keyPattern`` and ``keyValue`` with the errmsg
  ``Duplicate key error: _id 5f...``.

Values in an errmsg are read when they are plain (strings, numbers, booleans, null,
ObjectIds); otherwise ``key`` is None and the message quotes the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from bson import ObjectId

from lexigram_nosql.backends.mongodb.ids import id_from_server
from lexigram_nosql.errors import DuplicateKeyError

__all__ = ["duplicate_key_error", "read_duplicate"]

# "index: email_1 dup key" (3.4+) or "index: db.c.$email_1 dup key" (3.2 and older)
_INDEX: Final = re.compile(r"\bindex: (?:\S*\.\$)?(?P<index>\S+?)(?: dup key|$|\s)")
_DUP_KEY: Final = re.compile(r"dup key: (?P<key>\{.*\})\s*$", re.DOTALL)
_CONGODB: Final = re.compile(r"^Duplicate key error: (?P<field>\S+) (?P<value>.+)$")
_NAME: Final = re.compile(r"\s*(?P<name>[^:,{}]*?)\s*:\s*")
_SCALAR: Final = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # a string, JSON-escaped
    r"|ObjectId\('(?P<oid>[0-9a-fA-F]{24})'\)"
    r"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
    r"|true|false|null"
)


def read_duplicate(details: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """``(index name, {field: value})`` from a duplicate-key error document; either is
    None when the server did not say it."""
    message = str(details.get("errmsg") or "")
    pattern = details.get("keyPattern")
    pattern = dict(pattern) if isinstance(pattern, Mapping) else None
    found = _INDEX.search(message)
    index = found.group("index") if found else None
    if index is None and pattern:
        # The name MongoDB gives an index nobody named; the _id index is always "_id_".
        pairs = "_".join(f"{field}_{direction}" for field, direction in pattern.items())
        index = "_id_" if pattern == {"_id": 1} else pairs
    value = details.get("keyValue")
    key = dict(value) if isinstance(value, Mapping) else _key_in_message(message, pattern)
    if key is not None and "_id" in key:
        key["_id"] = id_from_server(key["_id"])  # as documents read back
    return index, key


def duplicate_key_error(details: Mapping[str, Any] | None, message: str) -> DuplicateKeyError:
    """Our ``DuplicateKeyError`` for a server's report (``message`` the exception's text)."""
    details = details or {}
    index, key = read_duplicate(details)
    said = str(details.get("errmsg") or message)
    if index is None and key is None:
        what = "the server reported a duplicate key without naming the index or the value"
    elif key is None:
        what = f"unique index {index!r} already has a document with this key"
    else:
        named = "a unique index" if index is None else f"unique index {index!r}"
        what = f"{named} already has a document with {key!r}"
    return DuplicateKeyError(
        f"Duplicate key: {what} (MongoDB said: {said})", index=index, key=key, code=11000
    )


def _key_in_message(message: str, pattern: dict[str, Any] | None) -> dict[str, Any] | None:
    congodb = _CONGODB.match(message)
    if congodb is not None:
        return _congodb_key(congodb.group("field"), congodb.group("value"))
    found = _DUP_KEY.search(message)
    if found is None:
        return None
    entries = _entries(found.group("key"))
    if entries is None:
        return None
    names = [name for name, _ in entries]
    if not all(names):  # MongoDB 3.4-4.0 leave the names out: the key pattern has them
        if pattern is None or len(pattern) != len(entries):
            return None
        names = list(pattern)
    return dict(zip(names, (value for _, value in entries), strict=True))


def _congodb_key(field: str, text: str) -> dict[str, Any]:
    """CongoDB writes the value bare: an ObjectId as its hex, a string unquoted."""
    if ObjectId.is_valid(text) and len(text) == 24:
        return {field: text}  # ids go out as their 24-hex text, as id_from_server gives
    scalar = _scalar(text)
    return {field: text if scalar is None else scalar[0]}


def _entries(body: str) -> list[tuple[str, Any]] | None:
    """``[(name, value)]`` of ``{ a: 1, b: "x" }``, or None when a value is not plain."""
    inner = body.strip()[1:-1].strip()
    entries: list[tuple[str, Any]] = []
    position = 0
    while position < len(inner):
        name = _NAME.match(inner, position)
        if name is None:
            return None
        position = name.end()
        value = _SCALAR.match(inner, position)
        if value is None:
            return None
        entries.append((name.group("name"), _value(value)))
        position = value.end()
        rest = inner[position:].lstrip()
        if rest and not rest.startswith(","):
            return None
        position = len(inner) - len(rest) + (1 if rest else 0)
    return entries


def _scalar(text: str) -> tuple[Any] | None:
    found = _SCALAR.fullmatch(text.strip())
    return None if found is None else (_value(found),)


def _value(found: re.Match[str]) -> Any:
    if found.group("oid"):
        return ObjectId(found.group("oid"))
    return json.loads(found.group(0))
