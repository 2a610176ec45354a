"""Values as the memory store keeps them: isolated copies, generated ids, hashable keys.

Stored documents are never mutated in place: every write stores a fresh copy, so a reference
to a stored document is a stable snapshot of it (``find`` streams rely on this).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Any, Final

__all__ = ["clone", "clone_document", "stored_copy"]

# Values that cannot be changed in place, so a copy may share them.
_IMMUTABLE: Final = (
    str,
    int,
    float,
    bool,
    type(None),
    bytes,
    datetime,
    date,
    dt_time,
    timedelta,
    Decimal,
    uuid.UUID,
    re.Pattern,
)


def clone_document(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a document (see ``clone``)."""
    copied: dict[str, Any] = clone(document)
    return copied


def clone(value: Any) -> Any:
    """A deep copy of a JSON-like value (tuples become lists, as BSON stores them); much
    faster than ``copy.deepcopy`` because immutable leaves are shared."""
    kind = type(value)
    if kind is dict:
        return {key: clone(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [clone(item) for item in value]
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clone(item) for item in value]
    return copy.deepcopy(value)


def stored_copy(document: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A deep copy of a document to store, and its size as BSON would count it (slightly
    over rather than under): one pass for both, so the memory store can refuse a document
    over MongoDB's 16 MiB as the server would."""
    total = [0]
    copied = _sized_document(document, total)
    return copied, total[0]


def _sized_document(document: Mapping[str, Any], total: list[int]) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    size = 5  # int32 length + trailing NUL
    for key, item in document.items():
        size += 2 + (len(key) if key.isascii() else len(key.encode()))
        kind = type(item)
        if kind is str:
            size += 5 + (len(item) if item.isascii() else len(item.encode()))
        elif kind is int or kind is float or kind is datetime:
            size += 8
        else:
            item, item_size = _sized_other(item, kind, total)
            size += item_size
        copied[key] = item
    total[0] += size
    return copied


def _sized_list(items: Any, total: list[int]) -> list[Any]:
    """An array, sized as BSON stores it: a document keyed "0", "1"... (counted without
    building that document)."""
    copied: list[Any] = []
    size = 5 + _index_keys_size(len(items))
    for item in items:
        kind = type(item)
        if kind is str:
            size += 5 + (len(item) if item.isascii() else len(item.encode()))
        elif kind is int or kind is float or kind is datetime:
            size += 8
        else:
            item, item_size = _sized_other(item, kind, total)
            size += item_size
        copied.append(item)
    total[0] += size
    return copied


def _sized_other(item: Any, kind: type, total: list[int]) -> tuple[Any, int]:
    """The copy of a value that is not a str or a number, and the bytes it adds to its
    container (a nested container adds its own to ``total``)."""
    if kind is dict:
        return _sized_document(item, total), 0
    if kind is list or kind is tuple:
        return _sized_list(item, total), 0
    return clone(item), _leaf_size(item)


def _index_keys_size(count: int) -> int:
    """The bytes of the keys "0" to str(count - 1), each with its type byte and NUL."""
    size = 2 * count
    low, digits = 0, 1
    while low < count:
        high = min(count, 10**digits)
        size += (high - low) * digits
        low, digits = high, digits + 1
    return size


def _leaf_size(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return 5 + len(value)
    if isinstance(value, str):
        return 5 + len(value.encode())
    if isinstance(value, Mapping):
        return 0  # counted by the caller's copy of it
    if isinstance(value, re.Pattern):
        return 2 + len(value.pattern.encode()) + 8
    return 16  # bool, None, UUID, ObjectId, Decimal128 and the other BSON scalars
