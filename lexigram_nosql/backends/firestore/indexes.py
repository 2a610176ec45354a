"""Indexes of a ``FirestoreCollection``: specs recorded in ``__lx_indexes`` (Firestore indexes
single fields itself and takes composite indexes from gcloud), and for a unique index its
guards (``guards.py``), built from every stored document before the spec is recorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.firestore.codec import BACKEND
from lexigram_nosql.backends.firestore.guards import delete_guards, guard_changes, guard_reference
from lexigram_nosql.backends.firestore.wire import run_query
from lexigram_nosql.backends.firestore.writes import batches
from lexigram_nosql.backends.unique import duplicate_error, find_duplicates
from lexigram_nosql.contracts import IndexInfo
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.collection import FirestoreCollection

__all__ = ["create_index", "drop_index", "list_indexes"]

logger = logging.getLogger("lexigram_nosql")


async def create_index(coll: FirestoreCollection, spec: IndexSpec) -> str:
    if spec.expire_after_seconds is not None:
        raise UnsupportedQueryError(
            f"Firestore expires documents through a TTL policy on a timestamp field, set "
            f"with gcloud (`gcloud firestore fields ttls update`), not through index "
            f"{spec.name!r} on collection {coll._name!r}",
            backend=BACKEND,
            operator="create_index",
            collection=coll._name,
        )
    if spec.keys == (("_id", 1),):
        return "_id_"  # the document id: it always exists
    recorded = await coll._store.loaded_indexes(coll._name)
    if spec.exists_in(recorded.values(), collection=coll._name):
        return spec.name
    if spec.unique:
        await _build_guards(coll, spec)
    await coll._store.change_indexes(coll._name, lambda specs: {**specs, spec.name: spec})
    if len(spec.keys) > 1:
        logger.info(
            "Recorded composite index %s on %s.%s; Firestore needs it deployed "
            "(firestore.indexes.json or gcloud) before queries that use it",
            spec.name,
            coll._store.name,
            coll._name,
        )
    return spec.name


async def _build_guards(coll: FirestoreCollection, spec: IndexSpec) -> None:
    """The guards of every stored document, or ``DuplicateKeyError`` naming the values
    several documents share, with nothing written."""
    documents = [
        (doc_id, document)
        async for doc_id, _, document in run_query(coll._reference(), None, coll._key)
    ]
    duplicates = find_duplicates(spec, documents)
    if duplicates:
        raise duplicate_error(
            spec.name,
            duplicates[0],
            store=coll._store.name,
            collection=coll._name,
            building=True,
        )
    guards = [
        (guard, body)
        for doc_id, document in documents
        for guard, body, _, _ in guard_changes(coll._name, (spec,), None, document, doc_id).creates
    ]
    for chunk in batches(guards):
        batch = coll._client.batch()
        for guard, body in chunk:
            batch.set(guard_reference(coll._client, guard), body)
        await batch.commit()


async def list_indexes(coll: FirestoreCollection) -> list[IndexInfo]:
    """``_id_`` and the recorded indexes; none for a collection that does not exist (no
    document, no index), as MongoDB lists them."""
    recorded = await coll._store.loaded_indexes(coll._name)
    if not recorded and not [s async for s in coll._reference().limit(1).select([]).stream()]:
        return []
    return [IndexInfo("_id_", [("_id", 1)], unique=True), *(s.info for s in recorded.values())]


async def drop_index(coll: FirestoreCollection, name: str) -> None:
    if name == "_id_":
        raise InvalidQueryError(
            f"The _id_ index of collection {coll._name!r} cannot be dropped",
            operator="drop_index",
            collection=coll._name,
        )
    dropped = (await coll._store.loaded_indexes(coll._name)).get(name)
    if dropped is None:
        raise InvalidQueryError(
            f"Collection {coll._name!r} of store {coll._store.name!r} has no index {name!r}",
            operator="drop_index",
            collection=coll._name,
        )
    await coll._store.change_indexes(
        coll._name, lambda specs: {n: s for n, s in specs.items() if n != name}
    )
    if dropped.unique:
        await delete_guards(coll._store, coll._name, name)
