"""Collection names to DynamoDB table names and back.

DynamoDB table names are 3 to 255 characters of ``[A-Za-z0-9_.-]``; MongoDB accepts far more
(``tx``, ``users/u1/orders``, ``日本``). A name that is already a valid table name (with the
store's ``table_prefix``) and starts neither with the marker ``x--`` nor with ``__lx`` (this
package's own tables) is used as is, so tables of plain names keep their names. Any other
name becomes ``x--`` followed by its UTF-8 bytes, letters, digits, ``_`` and ``-`` kept and
every other byte written ``.hh`` (lowercase hex): ``tx`` is table ``x--tx``,
``users/u1/orders`` is ``x--users.2fu1.2forders``.
"""

from __future__ import annotations

import re
from typing import Final

from lexigram_nosql.errors import InvalidQueryError

__all__ = ["MAX_TABLE_NAME", "collection_name", "table_name"]

#: DynamoDB's limits on table names.
MIN_TABLE_NAME: Final = 3
MAX_TABLE_NAME: Final = 255
_MARKER: Final = "x--"
#: Tables of this package's own (``{prefix}__lx_unique``...): a collection never gets one.
_RESERVED: Final = "__lx"
_PLAIN: Final = re.compile(r"[A-Za-z0-9_.\-]+")
_KEPT: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ENCODED: Final = re.compile(r"(?:[A-Za-z0-9_\-]|\.[0-9a-f]{2})+")


def table_name(prefix: str, collection: str, *, store: str) -> str:
    """The table of ``collection``; InvalidQueryError when even encoded it is too long."""
    if (
        _PLAIN.fullmatch(collection)
        and not collection.startswith((_MARKER, _RESERVED))
        and len(prefix) + len(collection) >= MIN_TABLE_NAME
    ):
        table = prefix + collection
    else:
        encoded = "".join(
            chr(byte) if byte in _KEPT else f".{byte:02x}" for byte in collection.encode("utf-8")
        )
        table = prefix + _MARKER + encoded
    if len(table) > MAX_TABLE_NAME:
        raise InvalidQueryError(
            f"Collection name {collection[:40]!r}... is too long for DynamoDB on store "
            f"{store!r}: its table name would be {len(table)} characters, over DynamoDB's "
            f"{MAX_TABLE_NAME} (characters outside A-Z a-z 0-9 _ - take 3 per UTF-8 byte)",
            store=store,
            collection=collection,
            path="collection",
        )
    return table


def collection_name(prefix: str, table: str) -> str | None:
    """The collection stored in ``table``, or None when the table is not one of ours."""
    if not table.startswith(prefix) or len(table) == len(prefix):
        return None
    rest = table[len(prefix) :]
    if not rest.startswith(_MARKER):
        return None if rest.startswith(_RESERVED) else rest
    encoded = rest[len(_MARKER) :]
    if not _ENCODED.fullmatch(encoded):
        return None
    raw = bytearray()
    index = 0
    while index < len(encoded):
        if encoded[index] == ".":
            raw.append(int(encoded[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.append(ord(encoded[index]))
            index += 1
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Only the one spelling table_name gives (``x--.61`` is not ``a``'s table, ``x--a`` is).
    return name if table_name(prefix, name, store="") == table else None
