"""Writes as DynamoDB requests: UpdateExpressions where the operators allow, a diff of the
document otherwise, each guarded by a condition on the values that were read.

Every update first reads the document (the filter must be checked, and ``modified_count``
needs the old value). The engine computes the new document; then:

* operators DynamoDB evaluates atomically on the server (``$set``, ``$unset``, integer
  ``$inc``, plain ``$push``, ``$currentDate``) become ``SET``/``REMOVE`` with ``if_not_exists``
  and ``list_append``, guarded only by the attributes the filter reads;
* anything else (``$mul``, ``$min``, ``$pull``, ``$rename``, float arithmetic...) writes the
  changed top-level attributes, guarded by the values read of the filter's and the changed
  attributes: if another writer got there first the condition fails and the caller re-reads
  and retries, so every update stays atomic per document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lexigram_nosql.backends.dynamodb.codec import (
    FLOATS,
    LIST_FLOATS,
    MAP_FLOATS,
    ORDER,
    VERSION,
    AttributeValue,
    encode_item,
    encode_value,
    format_datetime,
    order_value,
)
from lexigram_nosql.backends.dynamodb.floats import list_paths
from lexigram_nosql.backends.dynamodb.planner import Placeholders
from lexigram_nosql.backends.dynamodb.tables import (
    SHADOW_PREFIX,
    TTL_ATTRIBUTE,
    TableInfo,
    shadow_values,
    ttl_value,
)
from lexigram_nosql.query.ast import (
    And,
    Condition,
    ElemMatch,
    Expr,
    FilterNode,
    Nor,
    Not,
    OperatorUpdate,
    Or,
    UpdateOp,
)

__all__ = [
    "WriteRequest",
    "full_item",
    "next_version",
    "compile_update",
    "delete_request",
    "diff_update",
    "filter_attributes",
    "put_request",
]

Purpose = Literal["insert", "update", "delete", "guard"]


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One item write: ``Put``/``Update``/``Delete`` with the low-level client's arguments
    (``TableName`` included), as sent alone or inside ``TransactWriteItems``. ``purpose``
    decides what a failed condition means (insert: a duplicate key; guard: a duplicate value
    of the unique index named in ``key``, ``(index, {path: value})``; else: a conflict)."""

    action: Literal["Put", "Update", "Delete"]
    params: dict[str, Any]
    purpose: Purpose
    key: Any = None
    item_key: dict[str, AttributeValue] | None = None
    """The item's key attributes (which item a transaction writes)."""
    item: dict[str, AttributeValue] | None = None
    """The whole item after the write (None for a delete): what reads inside a transaction
    see, and what a second write of the same item in a transaction is merged into."""
    guards: tuple[WriteRequest, ...] = ()
    """Unique-index guard writes that must commit together with this one."""


def next_version(old_item: Mapping[str, AttributeValue] | None) -> AttributeValue:
    """The version an item has after one more write."""
    current = old_item.get(VERSION) if old_item is not None else None
    return {"N": str(int(current["N"]) + 1 if current else 1)}


def full_item(
    info: TableInfo,
    document: Mapping[str, Any],
    old_item: Mapping[str, AttributeValue] | None,
) -> dict[str, AttributeValue]:
    """The whole item for ``document``: encoded, with index and version attributes (a new
    item, ``old_item`` None, has no version: its absence is version 0 to a transaction,
    and every item inserted is that much smaller)."""
    item = encode_item(document, info.key_types)
    item.update(shadow_values(info, document))
    expiry = ttl_value(info, document)
    if expiry is not None:
        item[TTL_ATTRIBUTE] = expiry
    if old_item is not None:
        item[VERSION] = next_version(old_item)
    return item


def filter_attributes(node: FilterNode) -> set[str] | None:
    """The top-level attributes a filter reads; None when it may read any (``$expr``)."""
    if isinstance(node, (Condition, ElemMatch)):
        return {node.path.split(".", 1)[0]}
    if isinstance(node, (And, Or, Nor)):
        found: set[str] = set()
        for clause in node.clauses:
            attributes = filter_attributes(clause)
            if attributes is None:
                return None
            found |= attributes
        return found
    if isinstance(node, Not):
        return filter_attributes(node.clause)
    if isinstance(node, Expr):
        return None
    return set()


def _guard(
    info: TableInfo,
    old_item: Mapping[str, AttributeValue],
    attributes: set[str] | None,
    names: Placeholders,
) -> str:
    """``attribute_exists(key)`` and, for each attribute, its value as read (or absent)."""
    parts = [f"attribute_exists({names.name(info.partition_key)})"]
    chosen = set(old_item) if attributes is None else attributes
    for attribute in sorted(chosen - info.key_names):
        name = names.name(attribute)
        if attribute in old_item:
            parts.append(f"{name} = {names.value(old_item[attribute])}")
        else:
            parts.append(f"attribute_not_exists({name})")
    return " AND ".join(parts)


def put_request(
    info: TableInfo,
    document: Mapping[str, Any],
    *,
    purpose: Purpose,
    old_item: Mapping[str, AttributeValue] | None = None,
    guard: set[str] | None = None,
) -> WriteRequest:
    """Write a whole document: an insert (refused if the key exists) or a replacement
    (only while the guarded attributes still hold the values read)."""
    item = full_item(info, document, old_item)
    if old_item is None:
        # The same condition for every insert, spelled out (insert_many builds thousands).
        params: dict[str, Any] = {
            "TableName": info.table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#n0)",
            "ExpressionAttributeNames": {"#n0": info.partition_key},
        }
    else:
        names = Placeholders()
        condition = _guard(info, old_item, guard, names)
        params = {
            "TableName": info.table,
            "Item": item,
            "ConditionExpression": condition,
            **names.arguments(condition),
        }
    return WriteRequest("Put", params, purpose, document.get("_id"), info.key_of(item), item)


def delete_request(
    info: TableInfo, old_item: Mapping[str, AttributeValue], guard: set[str] | None, key: Any
) -> WriteRequest:
    """Delete a document only while the filter's attributes hold the values read."""
    names = Placeholders()
    condition = _guard(info, old_item, guard, names)
    params = {
        "TableName": info.table,
        "Key": info.key_of(old_item),
        "ConditionExpression": condition,
        **names.arguments(condition),
    }
    return WriteRequest("Delete", params, "delete", key, info.key_of(old_item), None)


def _segments(path: str) -> list[str] | None:
    parts = path.split(".")
    if any(not p or p.isdigit() for p in parts):
        return None
    return parts


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def compile_update(
    info: TableInfo,
    update: OperatorUpdate,
    old_document: Mapping[str, Any],
    old_item: Mapping[str, AttributeValue],
    guard: set[str] | None,
    now: datetime,
) -> WriteRequest | None:
    """An UpdateItem evaluated by DynamoDB, or None when an operator needs the engine."""
    if update.positional or update.dollar_top_level:
        # $, $[] and $[x] resolve against the stored document, and a top-level $-prefixed
        # field is allowed only when an upsert inserts: both are decided by the engine.
        return None
    names = Placeholders()
    sets: list[str] = []
    removes: list[str] = []
    parents: set[str] = set()
    paths: list[str] = []
    added: list[str] = []
    floats_added: list[str] = []
    floats_removed: list[str] = []
    old_order = old_item.get(ORDER)
    indexed = [index.field for index in info.shadow_indexes] + list(info.kept_paths)
    for field_update in update.fields:
        if field_update.op is UpdateOp.SET_ON_INSERT:
            continue  # only applies when an upsert inserts
        path = field_update.path
        segments = _segments(path)
        if (
            segments is None
            or segments[0] in info.key_names
            or segments[0].startswith(SHADOW_PREFIX)
        ):
            return None
        if any(_overlaps(path, other) for other in paths + indexed):
            return None
        paths.append(path)
        current: Any = old_document
        for depth, segment in enumerate(segments[:-1]):
            current = current.get(segment) if isinstance(current, Mapping) else None
            if not isinstance(current, Mapping):
                return None  # DynamoDB cannot create intermediate maps
            parents.add(".".join(segments[: depth + 1]))
        value = current.get(segments[-1]) if isinstance(current, Mapping) else None
        if segments[-1] not in current and field_update.op is not UpdateOp.UNSET:
            # A new field goes last in document order: the item's hidden order is rewritten
            # with it; a map's cannot be, so new nested fields take the diff.
            if len(segments) > 1:
                return None
            added.append(segments[0])
        target = ".".join(names.name(s) for s in segments)
        op, operand = field_update.op, field_update.operand
        if not _markers_kept(old_item, segments, op, operand):
            return None
        if len(segments) == 1 and op is not UpdateOp.INC and op is not UpdateOp.PUSH:
            # (an int $inc keeps an int; a $push keeps the array's markers)
            (floats_added if isinstance(operand, float) else floats_removed).append(path)
        if op is UpdateOp.SET:
            sets.append(f"{target} = {names.value(encode_value(operand, path))}")
        elif op is UpdateOp.UNSET:
            removes.append(target)
        elif op is UpdateOp.INC:
            if not _is_int(operand) or not (_is_int(value) or segments[-1] not in current):
                return None  # float arithmetic must match the engine's binary floats
            zero = names.value({"N": "0"})
            number = names.value(encode_value(operand, path))
            sets.append(f"{target} = if_not_exists({target}, {zero}) + {number}")
        elif op is UpdateOp.CURRENT_DATE and operand == "date":
            sets.append(f"{target} = {names.value({'S': format_datetime(now)})}")
        elif (
            op is UpdateOp.PUSH
            and _plain_push(operand)
            and (value is None or isinstance(value, list))
        ):
            if value is None and segments[-1] in current:
                return None  # $push onto null is an error the engine reports
            empty = names.value({"L": []})
            items = names.value(encode_value(list(operand.each), path))
            sets.append(f"{target} = list_append(if_not_exists({target}, {empty}), {items})")
        else:
            return None
    if not sets and not removes:
        return None
    if floats_added and floats_removed:
        return None  # one expression cannot both ADD to and DELETE from the set
    version = names.name(VERSION)
    sets.append(
        f"{version} = if_not_exists({version}, {names.value({'N': '0'})}) + "
        f"{names.value({'N': '1'})}"
    )
    order_guard = None
    if added:
        # New fields go last; the order attribute is rewritten under the condition that it
        # is still what was read (another writer adding fields meanwhile: re-read, retry).
        order_name = names.name(ORDER)
        order = order_value([*old_document, *added])
        if order is None:  # still sorted: no order attribute (REMOVE is a no-op if none)
            removes.append(order_name)
        else:
            sets.append(f"{order_name} = {names.value(order)}")
        if old_order is None:
            order_guard = f"attribute_not_exists({order_name})"
        else:
            order_guard = f"{order_name} = {names.value(old_order)}"
    floats = names.name(FLOATS)
    expression = " ".join(
        part
        for part in (
            f"SET {', '.join(sets)}" if sets else "",
            f"REMOVE {', '.join(removes)}" if removes else "",
            f"ADD {floats} {names.value({'SS': floats_added})}" if floats_added else "",
            f"DELETE {floats} {names.value({'SS': floats_removed})}" if floats_removed else "",
        )
        if part
    )
    condition = _guard(info, old_item, guard, names)
    if order_guard is not None:
        condition += f" AND {order_guard}"
    for parent in sorted(parents):
        typed = ".".join(names.name(s) for s in parent.split("."))
        condition += f" AND attribute_type({typed}, {names.value({'S': 'M'})})"
    params = {
        "TableName": info.table,
        "Key": info.key_of(old_item),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        **names.arguments(expression, condition),
    }
    return WriteRequest("Update", params, "update", old_document.get("_id"), info.key_of(old_item))


def diff_update(
    info: TableInfo,
    old_item: Mapping[str, AttributeValue],
    new_document: Mapping[str, Any],
    guard: set[str] | None,
) -> WriteRequest:
    """Write the changed top-level attributes of ``new_document``, guarded by the values
    read of the filter's attributes and of every attribute written."""
    new_item = full_item(info, new_document, old_item)
    changed = {k for k, v in new_item.items() if old_item.get(k) != v}
    removed = {k for k in old_item if k not in new_item}
    names = Placeholders()
    sets = [f"{names.name(k)} = {names.value(new_item[k])}" for k in sorted(changed)]
    removes = [names.name(k) for k in sorted(removed)]
    expression = " ".join(
        part
        for part in (
            f"SET {', '.join(sets)}" if sets else "",
            f"REMOVE {', '.join(removes)}" if removes else "",
        )
        if part
    )
    attributes = None if guard is None else guard | changed | removed
    condition = _guard(info, old_item, attributes, names)
    params = {
        "TableName": info.table,
        "Key": info.key_of(old_item),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        **names.arguments(expression, condition),
    }
    return WriteRequest(
        "Update", params, "update", new_document.get("_id"), info.key_of(old_item), new_item
    )


def _markers_kept(
    old_item: Mapping[str, AttributeValue], segments: list[str], op: UpdateOp, operand: Any
) -> bool:
    """Whether an expression can write this path and leave the integral-float markers
    (``floats.py``) true: not where a marker must change (a new integral float inside an
    array or an embedded document, or a field of a map that has a marker), which the
    engine's write of the whole attribute recomputes."""
    values = operand.each if op is UpdateOp.PUSH else operand
    if isinstance(values, (list, tuple)) and list_paths(values):
        return False
    if len(segments) == 1:
        return op is UpdateOp.PUSH or LIST_FLOATS + segments[0] not in old_item
    if isinstance(operand, float) and operand.is_integer():
        return False
    parent: Any = old_item.get(segments[0])
    for segment in segments[1:-1]:
        parent = parent.get("M", {}).get(segment) if isinstance(parent, Mapping) else None
    return not (isinstance(parent, Mapping) and MAP_FLOATS in parent.get("M", {}))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_push(operand: Any) -> bool:
    return (
        getattr(operand, "position", 0) is None
        and getattr(operand, "slice", 0) is None
        and getattr(operand, "sort", 0) is None
    )
