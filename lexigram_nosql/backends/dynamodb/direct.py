"""Writes whose filter pins one item by its key, sent as ONE request without a read.

``update_one({"_id": k}, ...)``, ``replace_one``, ``delete_one`` and ``find_one_and_*`` with
such a filter need no read when DynamoDB can check MongoDB's rules itself:

* ``$set``/``$currentDate`` of an existing top-level field, ``$unset``, and ``$inc`` by an
  integer of a field holding an integer become one ``UpdateItem``. Its condition states the
  rules: the item exists, each ``$set`` field exists (a new field must go last in the hidden
  field order, which needs the read), each ``$inc`` field is a number
  (``attribute_type(#f, :N)``) and not a float (absent from the hidden list of float-typed
  fields ``__lx:f``: DynamoDB adds decimals, MongoDB adds binary floats, so
  ``0.1 + 0.2`` must be computed by the engine). ``ReturnValues`` gives what
  ``modified_count`` (the old values of ``$set`` fields) or ``find_one_and_update`` need;
  without ``$set``, that the condition held is answer enough.
* A replacement is one ``PutItem`` under ``attribute_exists(key)``; a delete one
  ``DeleteItem`` (``ReturnValues=ALL_OLD`` tells whether there was a document).

When the condition fails the caller makes one read, which tells "no such document" from
"the rules need the engine" (a type error to report, a new field, a float), and goes the
read-modify-write way. Writes inside a transaction, and writes that move unique-index guards
or hidden index attributes, always go that way.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from lexigram_nosql.backends.dynamodb.codec import (
    FLOAT_ID,
    FLOATS,
    HIDDEN_PREFIX,
    ITEM_SIZE_LIMIT,
    LIST_FLOATS,
    VERSION,
    AttributeValue,
    decode_item,
    decode_value,
    encode_value,
    format_datetime,
    item_size,
    restore_floats,
)
from lexigram_nosql.backends.dynamodb.errors import error_code
from lexigram_nosql.backends.dynamodb.floats import list_paths
from lexigram_nosql.backends.dynamodb.planner import Placeholders, plan_read
from lexigram_nosql.backends.dynamodb.tables import TableInfo
from lexigram_nosql.backends.dynamodb.updates import full_item
from lexigram_nosql.backends.keys import integral_float
from lexigram_nosql.contracts import DeleteResult, ReturnDocument, UpdateResult
from lexigram_nosql.errors import DocumentTooLargeError
from lexigram_nosql.query.ast import (
    Condition,
    FieldOp,
    FilterNode,
    OperatorUpdate,
    ReplacementUpdate,
    Update,
    UpdateOp,
)
from lexigram_nosql.query.identity import same_stored
from lexigram_nosql.query.ordering import values_equal
from lexigram_nosql.query.values import is_number
from lexigram_nosql.types import Document

__all__ = [
    "BlindUpdate",
    "blind_update",
    "delete_by_key",
    "modify_by_key",
    "update_by_key",
    "float_fields",
    "is_float",
    "pinned_key",
    "was_modified",
]

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_BLIND: Final = frozenset({UpdateOp.SET, UpdateOp.UNSET, UpdateOp.INC, UpdateOp.CURRENT_DATE})


def is_float(value: Any) -> bool:
    return isinstance(value, float)


def float_fields(document: Mapping[str, Any]) -> list[str]:
    """The top-level fields of ``document`` holding a float, for ``FLOATS``."""
    return [name for name, value in document.items() if isinstance(value, float)]


def pinned_key(info: TableInfo, node: FilterNode) -> dict[str, AttributeValue] | None:
    """The key of the one item a filter that is only ``{partition_key: value}`` names."""
    if not (
        isinstance(node, Condition)
        and node.op is FieldOp.EQ
        and node.path == info.partition_key
        and info.sort_key is None
    ):
        return None
    plan = plan_read(node, info)
    if plan.operation != "GetItem" or not plan.exact or len(plan.keys) != 1:
        return None
    return dict(plan.keys[0])


@dataclass(frozen=True, slots=True)
class BlindUpdate:
    """An ``UpdateItem`` that applies an update under MongoDB's rules, and what a success
    tells: with ``reads_old`` the old values of the ``$set`` fields decide whether anything
    changed (``ReturnValues=UPDATED_OLD``); without, the condition held, which already says
    it (``modifies``)."""

    params: dict[str, Any]
    reads_old: bool
    modifies: bool


def blind_update(
    info: TableInfo, key: Mapping[str, AttributeValue], update: OperatorUpdate, now: datetime
) -> BlindUpdate | None:
    """The ``UpdateItem`` that applies ``update`` under MongoDB's rules (see the module
    docstring), or None when it needs the document.

    The request is kept as small as the rules allow (each name and value is work for the
    client and the server on every call): every condition on a field implies that the item
    exists, so none is spelled out for the key; ``$inc`` and the version are ``ADD``s sharing
    their values."""
    if update.positional:
        return None
    names = Placeholders()
    reserved = info.derived_fields
    conditions: list[str] = []
    sets: list[str] = []
    adds: list[str] = []
    removes: list[str] = []
    floats_added: list[str] = []
    floats_removed: list[str] = []
    seen: set[str] = set()
    changes: list[str] = []  # at least one must hold, else nothing would change
    always_changes = False
    reads_old = False
    size = 0
    numbers: dict[str, str] = {}  # number text -> its value placeholder

    def number(text: str) -> str:
        placeholder = numbers.get(text)
        if placeholder is None:
            placeholder = numbers[text] = names.value({"N": text})
        return placeholder

    for field in update.fields:
        if field.op is UpdateOp.SET_ON_INSERT:
            continue
        path = field.path
        if (
            field.op not in _BLIND
            or "." in path
            or path in seen
            or path in reserved
            or path in info.key_names
            or path.startswith(HIDDEN_PREFIX)
        ):
            return None
        seen.add(path)
        target = names.name(path)
        operand = field.operand
        if field.op is UpdateOp.SET:
            if isinstance(operand, (list, tuple)):
                if list_paths(operand):
                    return None  # its integral floats need a marker the engine's write makes
                # The old value's marker goes: UPDATED_OLD returns it for modified_count.
                removes.append(names.name(LIST_FLOATS + path))
            encoded = encode_value(operand, path)
            size += item_size({path: encoded})
            value = names.value(encoded)
            sets.append(f"{target} = {value}")
            conditions.append(f"attribute_exists({target})")
            changes.append(f"{target} <> {value}")
            (floats_added if is_float(operand) else floats_removed).append(path)
            reads_old = True
        elif field.op is UpdateOp.CURRENT_DATE:
            if operand != "date":
                return None
            sets.append(f"{target} = {names.value({'S': format_datetime(now)})}")
            conditions.append(f"attribute_exists({target})")
            floats_removed.append(path)
            always_changes = True
        elif field.op is UpdateOp.UNSET:
            removes.append(target)
            changes.append(f"attribute_exists({target})")
            floats_removed.append(path)
        else:  # $inc: an integer onto an integer, as exact in decimal as in binary
            if not isinstance(operand, int) or isinstance(operand, bool):
                return None
            floats = names.name(FLOATS)
            conditions.append(
                f"attribute_type({target}, {names.value({'S': 'N'})}) "
                f"AND NOT contains({floats}, {names.value({'S': path})})"
            )
            # ADD onto a number is its sum, as SET #f = #f + :v (the condition: a number).
            adds.append(f"{target} {number(encode_value(operand, path)['N'])}")
            always_changes = always_changes or operand != 0
    if not sets and not removes and not adds:
        return None
    if floats_added and floats_removed:
        return None  # one expression cannot both ADD to and DELETE from the set
    if size > ITEM_SIZE_LIMIT:
        raise DocumentTooLargeError(
            f"The update of the document with key {key!r} sets {size} bytes; DynamoDB's "
            f"limit for an item is {ITEM_SIZE_LIMIT} bytes (400 KB)"
        )
    if not always_changes and changes:
        # An update that changes nothing writes nothing (as MongoDB): the condition fails,
        # and the read that follows finds the document unchanged.
        conditions.append(f"({' OR '.join(changes)})")
    if not conditions:  # pragma: no cover - every operator above adds one
        conditions.append(f"attribute_exists({names.name(info.partition_key)})")
    adds.append(f"{names.name(VERSION)} {number('1')}")  # ADD onto nothing: 1
    if floats_added:
        adds.append(f"{names.name(FLOATS)} {names.value({'SS': floats_added})}")
    clauses = [f"SET {', '.join(sets)}"] if sets else []
    if removes:
        clauses.append(f"REMOVE {', '.join(removes)}")
    clauses.append(f"ADD {', '.join(adds)}")
    if floats_removed:
        clauses.append(f"DELETE {names.name(FLOATS)} {names.value({'SS': floats_removed})}")
    params = {
        "TableName": info.table,
        "Key": dict(key),
        "UpdateExpression": " ".join(clauses),
        "ConditionExpression": " AND ".join(conditions),
        # Every name and value made above is used: no need to filter them.
        "ExpressionAttributeNames": names.names,
        "ExpressionAttributeValues": names.values,
    }
    return BlindUpdate(params, reads_old, always_changes or bool(changes))


def was_modified(update: OperatorUpdate, old: Mapping[str, AttributeValue]) -> bool:
    """Whether the update changed the document, from the ``UPDATED_OLD`` attributes."""
    floats = old.get(FLOATS)
    for field in update.fields:
        if field.op is UpdateOp.SET_ON_INSERT:
            continue
        previous = old.get(field.path)
        if field.op is UpdateOp.UNSET:
            if previous is not None:
                return True
        elif field.op is UpdateOp.INC:
            if field.operand != 0:
                return True
        elif field.op is UpdateOp.SET:
            if previous is None:
                return True
            value = {field.path: decode_value(previous)}
            if floats is not None:
                restore_floats(value, floats.get("SS", ()), old)
            if not same_stored(value[field.path], field.operand):
                return True
        else:
            return True
    return False


# -- the requests --------------------------------------------------------------------------


async def conditional(method: Any, params: dict[str, Any]) -> dict[str, Any] | None:
    """Send one conditional request; None when its condition failed."""
    try:
        response: dict[str, Any] = await method(**params)
    except Exception as exc:
        code = error_code(exc)
        if code == _CONDITION_FAILED:
            return None
        if code == "ValidationException" and "size has exceeded" in str(exc):
            raise DocumentTooLargeError(
                f"The write of the document with key {params.get('Key')!r} would make it "
                f"larger than DynamoDB's item limit ({ITEM_SIZE_LIMIT} bytes); nothing was "
                "written"
            ) from exc
        raise
    return response


async def update_by_key(
    client: Any,
    info: TableInfo,
    key: dict[str, AttributeValue],
    node: FilterNode,
    update: Update,
    now: datetime,
) -> UpdateResult | None:
    """``update_one`` by key as one request; None when it needs the read."""
    if isinstance(update, ReplacementUpdate):
        replaced = await replace_by_key(client, info, key, node, update)
        if replaced is None:
            return None
        return UpdateResult(1, int(not same_stored(replaced[0], replaced[1])))
    if not isinstance(update, OperatorUpdate):
        return None  # a pipeline computes from the stored document
    blind = blind_update(info, key, update, now)
    if blind is None:
        return None
    if not blind.reads_old:
        # No $set: that the condition held already says whether it changed anything, and
        # an answer without attributes is less for the client to parse.
        if await conditional(client.update_item, blind.params) is None:
            return None
        return UpdateResult(1, int(blind.modifies))
    params = {**blind.params, "ReturnValues": "UPDATED_OLD"}
    response = await conditional(client.update_item, params)
    if response is None:
        return None
    return UpdateResult(1, int(was_modified(update, response.get("Attributes", {}))))


async def replace_by_key(
    client: Any,
    info: TableInfo,
    key: dict[str, AttributeValue],
    node: FilterNode,
    update: ReplacementUpdate,
) -> tuple[Document, Document] | None:
    """A replacement by key as one ``PutItem``: (before, after), or None when it needs the
    read (no such document, a changed ``_id`` to report, unique guards to move)."""
    identifier = getattr(node, "operand", None)
    given = update.document
    if info.uniques or ("_id" in given and not values_equal(given["_id"], identifier)):
        return None
    new: Document = {"_id": identifier, **{k: v for k, v in given.items() if k != "_id"}}
    item = full_item(info, new, None)
    # A replacement does not know the version it replaces: a random one, so that a
    # transaction that read an earlier version cannot mistake it for its own.
    item[VERSION] = {"N": str(random.getrandbits(62))}
    condition, names = "attribute_exists(#k)", {"#k": info.partition_key}
    if is_number(identifier):
        # 3 and 3.0 are one key; the item must already be of the id type written (the
        # float marker), or the read path keeps the stored one, as MongoDB keeps the _id.
        names["#f"] = FLOAT_ID
        present = (
            "attribute_exists(#f)" if integral_float(identifier) else "attribute_not_exists(#f)"
        )
        condition = f"{condition} AND {present}"
    params = {
        "TableName": info.table,
        "Item": item,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ReturnValues": "ALL_OLD",
    }
    response = await conditional(client.put_item, params)
    if response is None:
        return None
    old = decode_item(response.get("Attributes", {}), info.key_names)
    return old, decode_item(item, info.key_names)


async def modify_by_key(
    client: Any,
    info: TableInfo,
    key: dict[str, AttributeValue],
    node: FilterNode,
    update: Update | None,
    return_document: ReturnDocument,
    now: datetime,
) -> tuple[bool, Document | None]:
    """``find_one_and_*`` by key as one request: (done, the document to return); not done
    when it needs the read."""
    after = return_document is ReturnDocument.AFTER
    if update is None:
        if info.uniques:
            return False, None
        response = await client.delete_item(TableName=info.table, Key=key, ReturnValues="ALL_OLD")
        old = response.get("Attributes")
        return True, decode_item(old, info.key_names) if old else None
    if isinstance(update, ReplacementUpdate):
        replaced = await replace_by_key(client, info, key, node, update)
        if replaced is None:
            return False, None
        return True, replaced[1] if after else replaced[0]
    if not isinstance(update, OperatorUpdate):
        return False, None
    blind = blind_update(info, key, update, now)
    if blind is None:
        return False, None
    returned = "ALL_NEW" if after else "ALL_OLD"
    response = await conditional(client.update_item, {**blind.params, "ReturnValues": returned})
    if response is None:
        return False, None
    return True, decode_item(response.get("Attributes", {}), info.key_names)


async def delete_by_key(
    client: Any, info: TableInfo, key: dict[str, AttributeValue]
) -> DeleteResult:
    """``delete_one`` by key: one ``DeleteItem`` under ``attribute_exists`` of the key."""
    params = {
        "TableName": info.table,
        "Key": key,
        "ConditionExpression": "attribute_exists(#k)",
        "ExpressionAttributeNames": {"#k": info.partition_key},
    }
    return DeleteResult(int(await conditional(client.delete_item, params) is not None))
