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

import functools
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.firestore.codec import (
    decode_id,
    encode_fields,
    id_from_value,
    reserved_field,
    too_large_error,
)
from lexigram_nosql.backends.firestore.errors import refused_for_size
from lexigram_nosql.backends.firestore.guards import unique_specs
from lexigram_nosql.contracts import UpdateResult
from lexigram_nosql.query.ast import (
    Condition,
    FieldOp,
    FilterNode,
    OperatorUpdate,
    Update,
    UpdateOp,
)
from lexigram_nosql.query.requests import FilterQuery

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.collection import FirestoreCollection

__all__ = ["update_by_id"]

#: Leaf types Firestore stores and compares exactly as MongoDB would (exact types only).
_PLAIN_LEAVES: Final = frozenset({str, int, float, bool, type(None), bytes, datetime})
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)


def update_by_id(
    coll: FirestoreCollection, query: FilterQuery, update: Update, *, upsert: bool
) -> Coroutine[Any, Any, UpdateResult] | None:
    """The coroutine doing the update in one commit, or None when it needs the general
    read-modify-write (see the module docstring for when). Decided without a coroutine of
    its own once the collection's unique indexes are loaded (the hot path)."""
    if upsert:
        return None
    fields = _direct_fields(update)
    if fields is None or coll._transaction() is not None:
        return None
    doc_id = _pinned_id(coll, query.node)
    if doc_id is None:
        return None
    uniques = coll._store.known_unique_indexes(coll._name)
    if uniques is None:
        return _after_loading(coll, query, update, doc_id, fields)
    if uniques and _guarded(uniques, fields):
        return None
    return _commit(coll, doc_id, _field_updates(coll, doc_id, fields))


async def _after_loading(
    coll: FirestoreCollection, query: FilterQuery, update: Update, doc_id: str, fields: _Fields
) -> UpdateResult:
    """The first write to the collection in this process: its unique indexes read first."""
    from lexigram_nosql.backends.firestore import writes

    if _guarded(await unique_specs(coll._store, coll._name), fields):
        return await writes.update_matching(coll, query, update, multi=False, upsert=False)
    return await _commit(coll, doc_id, _field_updates(coll, doc_id, fields))


async def _commit(coll: FirestoreCollection, doc_id: str, updates: dict[str, Any]) -> UpdateResult:
    batch = coll._client.batch()
    batch.update(coll._document(doc_id), updates)  # carries exists=True
    try:
        results = await batch.commit()
    except Exception as exc:
        from google.api_core import exceptions as gx  # imported only when needed

        if isinstance(exc, gx.NotFound) and "to update" in str(exc).lower():
            return UpdateResult(0, 0)  # the precondition (not a missing database)
        if isinstance(exc, gx.InvalidArgument) and refused_for_size(str(exc)):
            raise too_large_error(decode_id(doc_id), coll._name, "would not fit") from exc
        raise  # the operation maps it
    return UpdateResult(1, int(_written_at(results[0], batch.commit_time)))


def _written_at(result: Any, when: Any) -> bool:
    """Whether a write result's update time is ``when`` (a ``DatetimeWithNanoseconds``),
    compared on the raw timestamp: converting that to a datetime (``result.update_time``)
    costs as much as the rest of the update's own work."""
    stamp = type(result).pb(result).update_time
    return bool(stamp.nanos == when.nanosecond and stamp.seconds == (when - _EPOCH) // _SECOND)


_Fields = tuple[dict[str, Any], list[str]]
"""The fields an update sets (name: value) and the ones it unsets."""


def _direct_fields(update: Update) -> _Fields | None:
    """The top-level fields a ``$set``/``$unset``-only update that needs no read sets and
    unsets, or None."""
    if (
        not isinstance(update, OperatorUpdate)
        or not update.fields
        or update.positional
        or update.array_filters
        or update.raw_array_filters
        or update.dollar_top_level
    ):
        return None
    sets: dict[str, Any] = {}
    unsets: list[str] = []
    for field in update.fields:
        name = field.path
        if not name or "." in name or (name[0] == "_" and (name == "_id" or reserved_field(name))):
            return None
        if field.op is UpdateOp.SET:
            value = field.operand
            if type(value) not in _PLAIN_LEAVES and not _plain(value):
                return None
            sets[name] = value
        elif field.op is UpdateOp.UNSET:
            unsets.append(name)
        else:
            return None
    return sets, unsets


def _field_updates(coll: FirestoreCollection, doc_id: str, fields: _Fields) -> dict[str, Any]:
    """The ``update()`` map: the values set in their stored form (checked storable and
    within the size limit by ``encode_fields``), ``DELETE_FIELD`` for the ones unset."""
    sets, unsets = fields
    updates: dict[str, Any] = {}
    if sets:
        stored = encode_fields(sets, document_id=decode_id(doc_id), collection=coll._name)
        for name, value in stored.items():
            updates[_field_path(name)] = value
    for name in unsets:
        updates[_field_path(name)] = _delete_field()
    return updates


def _guarded(uniques: tuple[IndexSpec, ...], fields: _Fields) -> bool:
    """Whether a unique index reads a field written (its guards must move: read first)."""
    sets, unsets = fields
    return any(_reads(spec, name) for spec in uniques for name in (*sets, *unsets))


def _pinned_id(coll: FirestoreCollection, node: FilterNode) -> str | None:
    """The one document id a filter made only of an ``_id`` condition can match."""
    if not isinstance(node, Condition) or node.path != "_id":
        return None
    if node.op is FieldOp.EQ:
        return id_from_value(node.operand)  # what ``_id_lookup`` answers, without its list
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


class _Unset:
    __slots__ = ()


_UNSET: Final = _Unset()


@functools.lru_cache(maxsize=1024)
def _field_path(name: str) -> str:
    """A top-level field's path for ``update()``, quoted when it must be (so any name reaches
    its own field); rendered once per name."""
    from google.cloud.firestore_v1.field_path import FieldPath

    return str(FieldPath(name).to_api_repr())


@functools.cache
def _delete_field() -> Any:
    from google.cloud.firestore_v1.transforms import DELETE_FIELD

    return DELETE_FIELD
