"""The embedded memory store: collections, transactions and health for driver ``memory``.

Concurrency model: every primitive operation runs without awaiting between reading and
writing, so on one event loop it is atomic by construction. Transactions are serialized: a
store runs one transaction at a time (others wait to begin), and operations outside it wait
until it ends, so a transaction sees a stable snapshot, its uncommitted writes are invisible
to others, and concurrent transactions cannot lose each other's writes. Writes inside a
transaction are applied in place with an undo log, replayed backwards on rollback. Keep
transactions short: the store waits on them. Tasks created inside the block join the
transaction (they inherit its context); a transaction must not wait for a task that started
outside it and uses the same store, since that task waits for the transaction to end.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from lexigram_nosql.backends.base import BaseDocumentStore
from lexigram_nosql.backends.memory.collection import MemoryCollection
from lexigram_nosql.backends.memory.data import CollectionData, MemoryTransaction, Undo
from lexigram_nosql.backends.memory.limits import LimitCheck, limits_for
from lexigram_nosql.config.memory import MemoryStoreSettings
from lexigram_nosql.contracts import Capabilities
from lexigram_nosql.errors import TransactionError
from lexigram_nosql.query.ast import FieldOp, UpdateOp

__all__ = ["ALL_OPERATORS", "MemoryDocumentStore"]

_STAGES: Final = [
    *("$match", "$project", "$addFields", "$set", "$unset", "$group", "$sort", "$skip"),
    *("$limit", "$unwind", "$count", "$sortByCount", "$lookup", "$facet", "$replaceRoot"),
    *("$replaceWith", "$sample"),
]
_ACCUMULATORS: Final = ["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet"]
_LOGICAL: Final = ["$and", "$or", "$nor", "$not", "$elemMatch", "$expr", "$options"]

ALL_OPERATORS: Final = frozenset(
    [op.value for op in FieldOp]
    + [op.value for op in UpdateOp]
    + _STAGES
    + _ACCUMULATORS
    + _LOGICAL
    + ["$each", "$position", "$slice"]
)
"""Everything the memory store runs itself: it is the engine, so it refuses nothing."""


# What the memory store refuses when it emulates a backend (its ``capabilities.refused``).
_EMULATED_REFUSALS: Final[dict[str, frozenset[str]]] = {
    "mongodb": frozenset(),
    "dynamodb": frozenset({"BSON-only values", "NaN and infinity"}),
    "firestore": frozenset({"nested arrays", "BSON-only values"}),
}


class MemoryDocumentStore(BaseDocumentStore[MemoryStoreSettings]):
    """A document store kept in this process's memory, evaluated by the shared engine, with
    real indexes and serialized transactions (see the module docstring)."""

    driver_name = "memory"

    def __init__(self, settings: MemoryStoreSettings) -> None:
        super().__init__(settings)
        self._data: dict[str, CollectionData] = {}
        self._tx_lock = asyncio.Lock()
        self._active_tx: MemoryTransaction | None = None
        self._emulate = settings.memory.emulate
        self.check_limits: LimitCheck = limits_for(self._emulate)
        """Enforces ``memory.emulate``'s limits on each document written."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            driver="memory", pushdown=ALL_OPERATORS, refused=_EMULATED_REFUSALS[self._emulate]
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def _connect(self) -> None:
        return None

    async def _close(self) -> None:
        self._data.clear()

    async def _ping(self) -> dict[str, Any]:
        return {
            "collections": len(self._data),
            "documents": sum(len(data.documents) for data in self._data.values()),
            "indexes": sum(len(data.indexes) for data in self._data.values()),
            "transaction_open": self._active_tx is not None,
        }

    # -- collections ---------------------------------------------------------------------

    def _make_collection(self, name: str) -> MemoryCollection:
        return MemoryCollection(self, name)

    async def _list_collections(self) -> list[str]:
        await self.enter()
        return list(self._data)

    async def _drop_collection(self, name: str) -> None:
        tx = await self.enter()
        data = self._data.pop(name, None)
        if tx is not None and data is not None:
            tx.undo.append(lambda: self._data.__setitem__(name, data))

    def data(self, name: str) -> CollectionData | None:
        """The collection's data, or None when it does not exist (reads see it as empty)."""
        return self._data.get(name)

    def data_for_write(self, name: str, undo: list[Undo] | None) -> CollectionData:
        """The collection's data, created (with an undo entry) if needed."""
        data = self._data.get(name)
        if data is None:
            data = self._data[name] = CollectionData()
            if undo is not None:
                undo.append(lambda: self._data.pop(name, None))
        return data

    # -- transactions --------------------------------------------------------------------

    async def enter(self) -> MemoryTransaction | None:
        """Wait for this operation's turn; return the transaction it joins, if any.

        Inside a transaction the operation proceeds at once; outside, it waits until no
        transaction is open, then runs before any other can begin (no await follows).
        """
        tx: MemoryTransaction | None = self.current_transaction()
        if tx is not None:
            if not tx.active:
                raise TransactionError(
                    f"The transaction this task joined on store {self.name!r} has already "
                    "ended; run the operation inside the `async with store.transaction():` "
                    "block, or after it outside any transaction.",
                    store=self.name,
                )
            return tx
        while self._active_tx is not None:
            async with self._tx_lock:
                pass
        return None

    async def _begin_transaction(self) -> MemoryTransaction:
        await self._tx_lock.acquire()
        tx = MemoryTransaction()
        self._active_tx = tx
        return tx

    async def _commit_transaction(self, handle: Any) -> None:
        self._end(handle)

    async def _abort_transaction(self, handle: Any) -> None:
        tx: MemoryTransaction = handle
        try:
            for undo in reversed(tx.undo):
                undo()
        finally:
            self._end(tx)

    def _end(self, tx: MemoryTransaction) -> None:
        tx.active = False
        tx.undo = []
        if self._active_tx is tx:
            self._active_tx = None
            self._tx_lock.release()
