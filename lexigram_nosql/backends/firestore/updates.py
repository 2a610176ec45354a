"""Which updates Firestore can apply by itself, and the field writes that do it.

``$set`` (field paths), ``$unset`` (``DELETE_FIELD``), ``$inc`` (``Increment``) and
``$addToSet`` (``ArrayUnion``) run natively when the stored document has the shape MongoDB
would accept them on: every map on the way is a map (not an array, which MongoDB would index
into), ``$inc`` meets a number or nothing, ``$addToSet`` an array or nothing and adds scalars
(Firestore compares maps regardless of key order, MongoDB does not). Everything else
(``$push``, ``$pull``, ``$pop``, ``$min``, ``$max``, ``$mul``, ``$rename``, replacements, and
the shapes above) is computed by the shared engine and written whole, guarded by the
document's update time, so it stays atomic per document.

Field order (see ``codec``) goes with the writes: an update whose native writes add or remove
top-level fields also writes the document's new order, and is then guarded by the update time
of the version read (the order is written whole); one that changes the order of an embedded
document is written whole instead, with the orders the new values carry.

This module imports no driver: it describes the writes; the store turns them into sentinels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from lexigram_nosql.backends.firestore.codec import (
    ORDER,
    is_plain_number,
    order_text,
    stored_value,
)
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.ast import OperatorUpdate, Update, UpdateOp
from lexigram_nosql.query.identity import same_stored

__all__ = ["FieldWrite", "native_writes", "order_writes", "replacement_writes"]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

WriteKind = Literal["set", "delete", "increment", "union"]


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """One entry of ``DocumentReference.update``: a field path and what to do there."""

    segments: tuple[str, ...]
    kind: WriteKind
    value: Any = None


def native_writes(
    update: Update, current: dict[str, Any], after: dict[str, Any]
) -> list[FieldWrite] | None:
    """The field writes turning ``current`` into ``after`` (``update`` applied) natively, or
    None when the engine's document must be written whole (see the module docstring)."""
    if (
        not isinstance(update, OperatorUpdate)
        or not update.fields
        or update.positional
        or update.dollar_top_level
    ):
        return None
    writes: list[FieldWrite] = []
    for field in update.fields:
        segments = tuple(field.path.split("."))
        if segments[0] == "_id" or not _maps_on_the_way(current, segments):
            return None
        existing = _lookup(current, segments)
        if len(segments) > 1 and not _orders_kept(current, after, segments):
            return None
        if field.op is UpdateOp.SET:
            try:
                writes.append(FieldWrite(segments, "set", stored_value(field.operand)))
            except (UnsupportedQueryError, InvalidQueryError):
                return None
        elif field.op is UpdateOp.UNSET:
            writes.append(FieldWrite(segments, "delete"))
        elif field.op is UpdateOp.INC:
            step = field.operand
            if not is_plain_number(step):
                return None
            if existing is _ABSENT:
                writes.append(FieldWrite(segments, "set", step))
                continue
            if not is_plain_number(existing):
                return None  # MongoDB refuses $inc on a non-number; the engine says so
            if (
                isinstance(step, int)
                and isinstance(existing, int)
                and not _INT64_MIN <= existing + step <= _INT64_MAX
            ):
                return None  # Firestore would saturate; MongoDB overflows to a double
            writes.append(FieldWrite(segments, "increment", step))
        elif field.op is UpdateOp.ADD_TO_SET:
            items = list(field.operand)
            if existing is not _ABSENT and not isinstance(existing, list):
                return None
            if not all(_scalar(item) for item in items):
                return None
            writes.append(FieldWrite(segments, "union", items))
        else:
            return None
    writes.extend(order_writes(current, after))
    return writes


def order_writes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldWrite]:
    """The write of the document's order when an update adds or removes top-level fields
    (none otherwise); written whole, so the write must be guarded by the version read."""
    names = [key for key in after if key != "_id"]
    if names == [key for key in before if key != "_id"]:
        return []
    return [_order_write(names)]


def _order_write(names: list[str]) -> FieldWrite:
    if names:
        return FieldWrite((ORDER,), "set", order_text(tuple(names)))
    return FieldWrite((ORDER,), "delete")


def replacement_writes(
    before: dict[str, Any], after: dict[str, Any], body: dict[str, Any]
) -> list[FieldWrite]:
    """Top-level writes turning ``before`` into ``after`` (``_id`` aside; ``body``: ``after``
    as stored): changed fields are set whole, vanished ones deleted, and the order written
    whole (documents stored before it was kept get theirs). Sent with an update-time
    precondition."""
    writes = [
        FieldWrite((key,), "set", body[key])
        for key, value in after.items()
        if key != "_id" and (key not in before or not same_stored(before[key], value))
    ]
    writes.extend(
        FieldWrite((key,), "delete") for key in before if key != "_id" and key not in after
    )
    writes.append(_order_write([key for key in after if key != "_id"]))
    return writes


class _Absent:
    __slots__ = ()


_ABSENT: Final = _Absent()


def _lookup(document: dict[str, Any], segments: tuple[str, ...]) -> Any:
    node: Any = document
    for segment in segments:
        if not isinstance(node, dict) or segment not in node:
            return _ABSENT
        node = node[segment]
    return node


def _orders_kept(before: dict[str, Any], after: dict[str, Any], segments: tuple[str, ...]) -> bool:
    """Whether every embedded document on the way to a written path keeps its stored order
    (its names unchanged, or sorted before and after: no order list either way)."""
    for depth in range(1, len(segments)):
        old, new = _lookup(before, segments[:depth]), _lookup(after, segments[:depth])
        if not isinstance(new, dict):
            continue
        names = list(new)
        if isinstance(old, dict) and list(old) == names:
            continue
        if names != sorted(names) or (isinstance(old, dict) and list(old) != sorted(old)):
            return False
    return True


def _maps_on_the_way(document: dict[str, Any], segments: tuple[str, ...]) -> bool:
    """Every existing value above the target is a map (Firestore creates missing ones)."""
    node: Any = document
    for segment in segments[:-1]:
        if segment not in node:
            return True
        node = node[segment]
        if not isinstance(node, dict):
            return False
    return True


def _scalar(value: Any) -> bool:
    if value is None or isinstance(value, (bool, str, bytes, datetime)):
        return True
    return is_plain_number(value)
