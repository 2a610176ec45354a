"""Unique indexes on Firestore: guard documents (see ``backends/unique.py``).

* ``__lx_unique/{hash}``: one guard per indexed value, the hash of (collection, index,
  canonical value); fields ``collection``, ``index``, ``value`` (the canonical text) and
  ``owner`` (the document id). A write that adds a value ``create()``\\ s its guard in the
  same commit as the document (a batch commit is atomic: if the guard exists, nothing is
  written), a write that drops one deletes it.
* ``__lx_indexes/{hash of the collection}``: the collection's ``create_index`` specs, read
  once per process when the collection is first written, so every process enforces them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.retry import LostRace, retry_lost_races
from lexigram_nosql.backends.unique import (
    duplicate_error,
    entries,
    guard_id,
)
from lexigram_nosql.errors import DuplicateKeyError

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore
    from lexigram_nosql.backends.firestore.transaction import FirestoreTransaction

__all__ = [
    "GUARD_COLLECTION",
    "INDEX_COLLECTION",
    "GuardChanges",
    "add_guards",
    "delete_guards",
    "guard_changes",
    "guard_in_transaction",
    "guard_reference",
    "held_guard_error",
    "change_specs",
    "forget_specs",
    "load_specs",
    "unique_specs",
]

GUARD_COLLECTION: Final = "__lx_unique"
INDEX_COLLECTION: Final = "__lx_indexes"
_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class GuardChanges:
    """The guards a write creates (id, body, index, ``{path: value}``) and deletes (ids)."""

    creates: tuple[tuple[str, dict[str, Any], str, dict[str, Any]], ...]
    deletes: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.creates or self.deletes)


def guard_changes(
    collection: str,
    specs: tuple[IndexSpec, ...],
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    owner: str,
) -> GuardChanges:
    creates = []
    deletes = []
    for spec in specs:
        before = entries(spec, old)
        after = entries(spec, new)
        for text in before.keys() - after.keys():
            deletes.append(guard_id(collection, spec.name, text))
        for text in after.keys() - before.keys():
            body = {"collection": collection, "index": spec.name, "value": text, "owner": owner}
            creates.append((guard_id(collection, spec.name, text), body, spec.name, after[text]))
    return GuardChanges(tuple(creates), tuple(deletes))


def _index_document(store: FirestoreDocumentStore, collection: str) -> Any:
    digest = hashlib.sha256(collection.encode()).hexdigest()
    return store.client.collection(INDEX_COLLECTION).document(digest)


async def load_specs(store: FirestoreDocumentStore, collection: str) -> dict[str, IndexSpec]:
    snapshot = await _index_document(store, collection).get()
    return _specs(snapshot)


def _specs(snapshot: Any) -> dict[str, IndexSpec]:
    if not snapshot.exists:
        return {}
    data = snapshot.to_dict() or {}
    specs = [IndexSpec.from_json(item) for item in json.loads(data.get("specs", "[]"))]
    return {spec.name: spec for spec in specs}


async def change_specs(
    store: FirestoreDocumentStore,
    collection: str,
    change: Callable[[dict[str, IndexSpec]], dict[str, IndexSpec]],
) -> dict[str, IndexSpec]:
    """Apply ``change`` to the collection's recorded indexes, preconditioned on the record's
    update time, so two processes creating or dropping indexes at once both land (the loser
    reads again); returns what is recorded now."""
    from google.api_core import exceptions

    reference = _index_document(store, collection)

    async def attempt() -> dict[str, IndexSpec]:
        snapshot = await reference.get()
        specs = change(_specs(snapshot))
        body = {
            "collection": collection,
            "specs": json.dumps([s.to_json() for s in specs.values()]),
        }
        try:
            if not snapshot.exists:
                if specs:
                    await reference.create(body)
            else:
                option = store.client.write_option(last_update_time=snapshot.update_time)
                if specs:
                    await reference.update(body, option=option)
                else:
                    await reference.delete(option=option)
        except (exceptions.AlreadyExists, exceptions.FailedPrecondition) as exc:
            raise LostRace from exc
        return specs

    return await retry_lost_races(store, "create_index/drop_index", attempt, collection=collection)


async def forget_specs(store: FirestoreDocumentStore, collection: str) -> None:
    """Delete the collection's record (the collection is being dropped)."""
    await _index_document(store, collection).delete()


async def delete_guards(store: FirestoreDocumentStore, collection: str, index: str | None) -> None:
    """Delete the guards of one index of ``collection`` (every index when None)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = store.client.collection(GUARD_COLLECTION).where(
        filter=FieldFilter("collection", "==", collection)
    )
    if index is not None:
        query = query.where(filter=FieldFilter("index", "==", index))
    while True:
        page = [s.reference async for s in query.select([]).limit(_PAGE).stream()]
        if not page:
            return
        batch = store.client.batch()
        for reference in page:
            batch.delete(reference)
        await batch.commit()


# -- guards of one write (used by ``writes.py``) -----------------------------------------


async def unique_specs(store: FirestoreDocumentStore, collection: str) -> tuple[IndexSpec, ...]:
    """The unique indexes a write to ``collection`` must keep guards for."""
    known = store.known_unique_indexes(collection)
    if known is None:
        await store.loaded_indexes(collection)
        known = store.known_unique_indexes(collection)
    return known or ()


def guard_reference(client: Any, guard: str) -> Any:
    """The guard document ``guard`` (one per indexed value)."""
    return client.collection(GUARD_COLLECTION).document(guard)


def add_guards(client: Any, batch: Any, changes: GuardChanges) -> None:
    """Put the guard writes in the same batch as the document, so both commit or neither."""
    for guard, body, _, _ in changes.creates:
        batch.create(guard_reference(client, guard), body)
    for guard in changes.deletes:
        batch.delete(guard_reference(client, guard))


async def held_guard_error(
    store: FirestoreDocumentStore, collection: str, changes: GuardChanges, owner: str
) -> DuplicateKeyError | None:
    """After a commit failed with AlreadyExists: the error for the first guard another
    document holds (None when none is held any more: the commit can be tried again)."""
    references = [guard_reference(store.client, guard) for guard, _, _, _ in changes.creates]
    held = {
        snapshot.id
        async for snapshot in store.client.get_all(references)
        if snapshot.exists and (snapshot.to_dict() or {}).get("owner") != owner
    }
    for guard, _, index, key in changes.creates:
        if guard in held:
            return duplicate_error(index, key, store=store.name, collection=collection)
    return None


async def guard_in_transaction(
    store: FirestoreDocumentStore,
    collection: str,
    handle: FirestoreTransaction,
    changes: GuardChanges,
) -> None:
    """Check each new value inside the transaction (its own writes, then the committed
    guards, read in the transaction), then buffer the guard writes for the commit."""
    pending = handle.writes(GUARD_COLLECTION)
    for guard, _, index, key in changes.creates:
        if guard in pending:
            taken = pending[guard] is not None
        else:
            snapshot = await guard_reference(store.client, guard).get(
                transaction=handle.transaction
            )
            taken = snapshot.exists
        if taken:
            raise duplicate_error(index, key, store=store.name, collection=collection)
    for guard in changes.deletes:
        handle.buffer("delete", guard_reference(store.client, guard))
        pending[guard] = None
    for guard, body, _, _ in changes.creates:
        handle.buffer(
            "set" if guard in pending else "create", guard_reference(store.client, guard), body
        )
        pending[guard] = body
