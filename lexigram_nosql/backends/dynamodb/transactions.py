"""``store.transaction()`` on DynamoDB: writes are buffered, then sent as one
``TransactWriteItems`` (all or nothing) when the block exits.

Reads inside the block see the committed data, not the block's own buffered writes: DynamoDB
has no interactive transactions. Each buffered write carries the condition of the values its
operation read, so a document changed by someone else in between cancels the whole
transaction with ``ConcurrencyError`` instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from lexigram_nosql.backends.dynamodb.updates import WriteRequest
from lexigram_nosql.errors import (
    ConcurrencyError,
    DuplicateKeyError,
    NoSQLError,
    TransactionError,
)

__all__ = ["MAX_TRANSACTION_ACTIONS", "TransactionBuffer", "cancellation_error"]

MAX_TRANSACTION_ACTIONS: Final = 100
"""DynamoDB's limit of actions in one ``TransactWriteItems``."""


@dataclass(slots=True)
class TransactionBuffer:
    """The writes of one ``transaction()`` block, in order."""

    store: str
    writes: list[WriteRequest] = field(default_factory=list)

    def add(self, write: WriteRequest) -> None:
        if len(self.writes) >= MAX_TRANSACTION_ACTIONS:
            raise TransactionError(
                f"A transaction on store {self.store!r} can write at most "
                f"{MAX_TRANSACTION_ACTIONS} documents (DynamoDB's TransactWriteItems limit); "
                "split the work into smaller transactions",
                store=self.store,
            )
        self.writes.append(write)

    def request(self) -> dict[str, Any]:
        """The ``TransactWriteItems`` arguments."""
        return {"TransactItems": [{w.action: w.params} for w in self.writes]}


def cancellation_error(buffer: TransactionBuffer, response: Mapping[str, Any]) -> NoSQLError:
    """Ours for a cancelled transaction, from the reason DynamoDB gives for each action: a
    failed insert condition is a duplicate key, any other failed condition or a conflicting
    transaction a concurrent change, anything else a ``TransactionError``."""
    reasons = response.get("CancellationReasons") or []
    failed = [
        (index, reason.get("Code", "Unknown"))
        for index, reason in enumerate(reasons)
        if reason.get("Code") not in (None, "None")
    ]
    for index, code in failed:
        write = buffer.writes[index] if index < len(buffer.writes) else None
        table = write.params.get("TableName") if write else None
        if code == "ConditionalCheckFailed" and write is not None and write.purpose == "insert":
            return DuplicateKeyError(
                f"Transaction on store {buffer.store!r} cancelled: a document with _id "
                f"{write.key!r} already exists in table {table!r}",
                index="_id_",
                key=write.key,
                store=buffer.store,
                code=code,
            )
        if code in ("ConditionalCheckFailed", "TransactionConflict"):
            return ConcurrencyError(
                f"Transaction on store {buffer.store!r} cancelled: the document with _id "
                f"{write.key if write else None!r} in table {table!r} changed since it was "
                f"read ({code}); retry the transaction",
                key=write.key if write else None,
                store=buffer.store,
            )
    codes = ", ".join(f"action {i}: {c}" for i, c in failed) or "no reason given"
    error = TransactionError(
        f"Transaction on store {buffer.store!r} was cancelled by DynamoDB ({codes})",
        store=buffer.store,
    )
    error.code = failed[0][1] if failed else None
    return error
