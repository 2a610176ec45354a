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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.unique import entries, guard_id, spec_from_json, spec_to_json

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore

__all__ = [
    "GUARD_COLLECTION",
    "INDEX_COLLECTION",
    "GuardChanges",
    "delete_guards",
    "guard_changes",
    "load_specs",
    "save_specs",
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
    if not snapshot.exists:
        return {}
    data = snapshot.to_dict() or {}
    specs = [spec_from_json(item) for item in json.loads(data.get("specs", "[]"))]
    return {spec.name: spec for spec in specs}


async def save_specs(
    store: FirestoreDocumentStore, collection: str, specs: Mapping[str, IndexSpec]
) -> None:
    reference = _index_document(store, collection)
    if not specs:
        await reference.delete()
        return
    text = json.dumps([spec_to_json(spec) for spec in specs.values()])
    await reference.set({"collection": collection, "specs": text})


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
