"""``FirestoreTransaction``: the state of one open transaction (buffered writes, the block's
own documents, this process's document locks).

Its own module so that the collection (which reads and writes through it) does not depend on
the store: the store builds collections, and the dependency runs store -> group -> collection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from lexigram_nosql.errors import ConcurrencyError
from lexigram_nosql.types import Document

if TYPE_CHECKING:
    from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore

__all__ = ["LOCK_WAIT_S", "FirestoreTransaction"]

#: How long a transaction waits for a document another transaction of this process read.
LOCK_WAIT_S: Final = 10.0


@dataclass(slots=True)
class FirestoreTransaction:
    """An open transaction: the client's ``AsyncTransaction``, the writes to send with the
    commit, and the block's own documents (``collection -> id -> document``, ``None`` for
    deleted) so that reads inside the block see them.

    Writes are handed to the client only at commit: it refuses any read once a write is
    buffered, and the server applies them at commit anyway."""

    transaction: Any
    pending: dict[str, dict[str, Document | None]] = field(default_factory=dict)
    operations: list[tuple[str, Any, dict[str, Any] | None]] = field(default_factory=list)

    held: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def writes(self, collection: str) -> dict[str, Document | None]:
        return self.pending.setdefault(collection, {})

    async def lock(
        self, store: FirestoreDocumentStore, collection: str, doc_ids: list[str]
    ) -> None:
        """Take this process's lock on documents read by id, until commit or rollback.

        Transactions in one process that read the same document then take turns instead of
        making Firestore abort all but one (on the emulator each abort costs seconds). A
        lock not granted within ``LOCK_WAIT_S`` (two transactions waiting on each other)
        raises ``ConcurrencyError``: the transaction is rolled back and can be run again.
        """
        for doc_id in sorted(doc_ids):
            key = (collection, doc_id)
            if key in self.held:
                continue
            lock = store.document_lock(collection, doc_id)
            try:
                await asyncio.wait_for(lock.acquire(), LOCK_WAIT_S)
            except TimeoutError as exc:
                raise ConcurrencyError(
                    f"A transaction on store {store.name!r} waited {LOCK_WAIT_S:g}s for document "
                    f"{doc_id!r} of collection {collection!r}, held by another transaction of "
                    "this process; it was rolled back. Run it again.",
                    store=store.name,
                    collection=collection,
                    key=doc_id,
                ) from exc
            self.held[key] = lock

    def release(self) -> None:
        for lock in self.held.values():
            lock.release()
        self.held.clear()

    def buffer(self, kind: str, reference: Any, body: dict[str, Any] | None = None) -> None:
        """Queue ``create``, ``set`` or ``delete`` of ``reference`` for the commit."""
        self.operations.append((kind, reference, body))

    def flush(self) -> None:
        for kind, reference, body in self.operations:
            if kind == "delete":
                self.transaction.delete(reference)
            elif kind == "create":
                self.transaction.create(reference, body)
            else:
                self.transaction.set(reference, body)
        self.operations.clear()
