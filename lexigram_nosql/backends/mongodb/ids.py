"""How ``_id`` values cross the MongoDB boundary.

Callers see ids as plain values: a generated ``_id`` is an ObjectId stored natively and handed
back as its 24-hex string, and a 24-hex string used as an ``_id`` (in a document, a filter
condition, an upsert seed) is sent as the ObjectId it spells, so ``insert_one`` then
``find_one({"_id": returned_id})`` always finds the document. Any other ``_id`` (an int, a
non-hex string, a sub-document) is stored and matched as given.

Only ids are converted: the top-level ``_id`` of every document read back. An ObjectId stored
elsewhere in a document (written by another tool) is returned as ``bson.ObjectId``, unchanged,
so reading a document and writing it back never changes its field types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from bson import ObjectId

__all__ = [
    "id_from_server",
    "id_to_server",
    "document_from_server",
    "document_to_server",
    "filter_to_server",
    "pipeline_to_server",
    "update_to_server",
]

# Operators whose operand is one value compared with the field (converted when it is an id).
_VALUE_OPERATORS: Final = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
# Operators whose operand is a list of such values.
_LIST_OPERATORS: Final = frozenset({"$in", "$nin", "$all"})
_LOGICAL: Final = frozenset({"$and", "$or", "$nor"})
# Stages after which ``_id`` may no longer be the stored document's id.
_ID_PRESERVING_STAGES: Final = frozenset({"$match", "$sort", "$skip", "$limit"})


def id_to_server(value: Any) -> Any:
    """The ObjectId a 24-hex string spells; any other value unchanged."""
    if type(value) is str and len(value) == 24:
        try:
            binary = bytes.fromhex(value)
        except ValueError:
            return value
        # fromhex skips whitespace: 24 characters may spell fewer than 12 bytes. The
        # ObjectId is built from its bytes, its constructor's shortest path (every call by
        # id makes one).
        return ObjectId(binary) if len(binary) == 12 else value
    return value


def id_from_server(value: Any) -> Any:
    """An ObjectId as its 24-hex string; any other value unchanged."""
    return str(value) if type(value) is ObjectId else value


def document_from_server(document: dict[str, Any]) -> dict[str, Any]:
    """Convert the top-level ``_id`` in place (documents come fresh from the driver)."""
    identity = document.get("_id")
    if type(identity) is ObjectId:
        document["_id"] = str(identity)
    return document


def document_to_server(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with its ``_id`` converted; a missing ``_id`` is left missing."""
    converted = dict(document)
    if "_id" in converted:
        converted["_id"] = id_to_server(converted["_id"])
    return converted


def filter_to_server(filter: Mapping[str, Any]) -> Mapping[str, Any]:
    """The filter with every ``_id`` condition's ids converted (through ``$and``/``$or``/
    ``$nor`` and the operators ``$eq $ne $gt $gte $lt $lte $in $nin $all $not``).

    The input is returned as is when nothing in it changes, and copied once otherwise: this
    runs for every call, most often on a filter of one or two fields.
    """
    if len(filter) == 1 and type(identity := filter.get("_id")) is str:
        converted_id = id_to_server(identity)  # by far the most usual filter: by id
        return filter if converted_id is identity else {"_id": converted_id}
    converted: dict[str, Any] | None = None
    for key, condition in filter.items():
        if key == "_id":
            value = _condition_to_server(condition)
        elif key in _LOGICAL and isinstance(condition, Sequence) and not isinstance(condition, str):
            value = [filter_to_server(c) if isinstance(c, Mapping) else c for c in condition]
        else:
            continue
        if value is not condition:
            if converted is None:
                converted = dict(filter)
            converted[key] = value
    return filter if converted is None else converted


def _condition_to_server(condition: Any) -> Any:
    if type(condition) is str:  # the usual _id: no operators to look through
        return id_to_server(condition)
    if isinstance(condition, Mapping) and any(str(k).startswith("$") for k in condition):
        converted: dict[str, Any] = {}
        for op, operand in condition.items():
            if op in _VALUE_OPERATORS:
                converted[op] = id_to_server(operand)
            elif op in _LIST_OPERATORS and isinstance(operand, Sequence):
                converted[op] = [id_to_server(v) for v in operand]
            elif op == "$not":
                converted[op] = _condition_to_server(operand)
            else:
                converted[op] = operand
        return converted
    return id_to_server(condition)


def update_to_server(update: Mapping[str, Any], *, replacement: bool) -> Mapping[str, Any]:
    """A replacement with its ``_id`` converted, or an operator update whose ``$set`` /
    ``$setOnInsert`` of ``_id`` (the id an upsert creates) is converted."""
    if replacement:
        return document_to_server(update)
    if "$set" not in update and "$setOnInsert" not in update:
        return update  # the usual update: nothing that can write an _id
    converted: dict[str, Any] | None = None
    for op in ("$set", "$setOnInsert"):
        fields = update.get(op)
        if isinstance(fields, Mapping) and "_id" in fields:
            converted = converted if converted is not None else dict(update)
            converted[op] = document_to_server(fields)
    return update if converted is None else converted


def pipeline_to_server(stages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The pipeline with ids converted in the ``$match`` stages that still see stored
    documents (those before any stage that can reshape ``_id``, such as ``$group``)."""
    converted: list[Mapping[str, Any]] = []
    leading = True
    for stage in stages:
        name = next(iter(stage), "")
        leading = leading and name in _ID_PRESERVING_STAGES
        if leading and name == "$match" and isinstance(stage[name], Mapping):
            converted.append({name: filter_to_server(stage[name])})
        else:
            converted.append(stage)
    return converted
