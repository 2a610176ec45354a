"""Updates by ``_id`` sent without reading the document: one commit, as a raw Firestore user's
``update()``.

An ``update_one``/``update_many`` (and the bulk ``UpdateOne``/``UpdateMany``, which run through
them) whose filter is exactly one ``_id`` and whose update only ``$set``\\ s or ``$unset``\\ s
top-level fields is one ``update()`` in a batch commit. Its exists precondition tells a missing
document (``matched_count`` 0); the write result tells whether anything changed: Firestore
returns the document's previous update time for a write that changed nothing (a same-value
``$set``, an ``$unset`` of a missing field), else the commit time, so ``modified_count`` is
MongoDB's without a read. No order is written (writing it needs the document's, so a read;
see ``codec``): a field the stored order holds keeps its place, one it does not hold (a new
field) reads back after those, sorted among the others added since; the values sent are in
their stored form, so embedded documents keep their order.

Everything else reads first (``writes.py``), because only the stored document can say what
MongoDB would do:

* a dotted path: ``$set`` of ``a.b`` through a scalar ``a`` is MongoDB's error, where a
  Firestore field path would replace the scalar with a map;
* a value that is not plain Python (``bson.Int64``...): Firestore would call it equal to the
  stored value where MongoDB's comparison of types would not;
* a field a unique index reads, in its keys or its partial filter: its guard documents move
  with the value, under the update time of the version read;
* ``_id``, the backend's reserved names (``__lx:`` marks, ``__x__``), upserts, ``$`` paths,
  array filters, other operators, and writes inside ``store.transaction()`` (buffered there).

Nothing else the backend keeps needs the read: the float-id mark hangs on ``_id`` (never
written here), other indexes keep no records on Firestore (it indexes every field itself), a
collection group's ``_path`` is computed when read, and field names go out as quoted
``FieldPath`` strings, so any name reaches its own field.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.firestore.codec import (
    decode_id,
    encode_fields,
    reserved_field,
    too_large_error,
)
from lexigram_nosql.backends.firestore.errors import refused_for_size
from lexigram_nosql.backends.firestore.guards import unique_specs
from lexigram_nosql.backends.firestore.updates import FieldWrite
from lexigram_nosql.backends.firestore.writes import field_updates
from lexigram_nosql.contracts import UpdateResult
from lexigram_nosql.query.ast import Condition, FilterNode, OperatorUpdate, Update, UpdateOp
from lexigram_nosql.query.requests import FilterQuery

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.collection import FirestoreCollection

__all__ = ["direct_writes", "update_by_id"]

#: Leaf types Firestore stores and compares exactly as MongoDB would (exact types only).
_PLAIN_LEAVES: Final = frozenset({str, int, float, bool, type(None), bytes, datetime})


async def update_by_id(
    coll: FirestoreCollection, query: FilterQuery, update: Update, *, upsert: bool
) -> UpdateResult | None:
    """The update done in one commit, or None when it needs the general read-modify-write
    (see the module docstring for when)."""
    from google.api_core import exceptions as gx

    writes = None if upsert else direct_writes(update)
    if writes is None or coll._transaction() is not None:
        return None
    doc_id = _pinned_id(coll, query.node)
    if doc_id is None:
        return None
    uniques = await unique_specs(coll._store, coll._name)
    if any(_reads(spec, write.segments[0]) for spec in uniques for write in writes):
        return None
    document_id = decode_id(doc_id)
    values = {write.segments[0]: write.value for write in writes if write.kind == "set"}
    stored = encode_fields(values, document_id=document_id, collection=coll._name)
    writes = [
        FieldWrite(write.segments, "set", stored[write.segments[0]])
        if write.kind == "set"
        else write
        for write in writes
    ]
    batch = coll._client.batch()
    batch.update(coll._document(doc_id), field_updates(writes))  # carries exists=True
    try:
        results = await batch.commit()
    except gx.NotFound as exc:
        if "to update" not in str(exc).lower():
            raise  # not the precondition (a missing database): the operation maps it
        return UpdateResult(0, 0)
    except gx.InvalidArgument as exc:
        if refused_for_size(str(exc)):
            raise too_large_error(document_id, coll._name, "would not fit") from exc
        raise
    return UpdateResult(1, int(results[0].update_time == batch.commit_time))


def direct_writes(update: Update) -> list[FieldWrite] | None:
    """The top-level field writes of a ``$set``/``$unset``-only update that needs no read, or
    None."""
    if (
        not isinstance(update, OperatorUpdate)
        or not update.fields
        or update.positional
        or update.array_filters
        or update.raw_array_filters
        or update.dollar_top_level
    ):
        return None
    writes: list[FieldWrite] = []
    for field in update.fields:
        name = field.path
        if not name or "." in name or name == "_id" or reserved_field(name):
            return None
        if field.op is UpdateOp.SET and _plain(field.operand):
            writes.append(FieldWrite((name,), "set", field.operand))
        elif field.op is UpdateOp.UNSET:
            writes.append(FieldWrite((name,), "delete"))
        else:
            return None
    return writes


def _pinned_id(coll: FirestoreCollection, node: FilterNode) -> str | None:
    """The one document id a filter made only of an ``_id`` condition can match."""
    if not isinstance(node, Condition) or node.path != "_id":
        return None
    ids = coll._id_lookup(node)
    return ids[0] if ids is not None and len(ids) == 1 else None


def _reads(spec: IndexSpec, name: str) -> bool:
    """Whether the index reads top-level field ``name`` (or inside it)."""
    return any(path == name or path.startswith(name + ".") for path in spec.paths)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return True
    if kind is dict:
        return all(_plain(item) for item in value.values())
    if kind is list:
        return all(_plain(item) for item in value)
    return False
