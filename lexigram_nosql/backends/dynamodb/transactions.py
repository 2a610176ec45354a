"""``store.transaction()`` on DynamoDB: writes are buffered, then sent as one
``TransactWriteItems`` (all or nothing) when the block exits.

DynamoDB has no interactive transactions, so the buffer provides what the block needs:

* reads inside the block see the block's own writes (an overlay of the buffered items on
  what the server returns), and otherwise the committed data;
* a document written twice in the block is sent once, as its final state, under the
  condition of the first write (DynamoDB refuses two actions on one item);
* every written document must still have the version the block first read (the hidden
  ``__lx:v`` counter every write of this package bumps): a concurrent writer cancels the
  transaction with ``ConcurrencyError`` instead of having its write lost, as MongoDB's
  snapshot isolation reports a write conflict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from lexigram_nosql.backends.dynamodb.codec import VERSION, AttributeValue
from lexigram_nosql.backends.dynamodb.updates import WriteRequest
from lexigram_nosql.backends.unique import duplicate_error
from lexigram_nosql.errors import (
    ConcurrencyError,
    DuplicateKeyError,
    NoSQLError,
    TransactionError,
)

__all__ = ["MAX_TRANSACTION_ACTIONS", "TransactionBuffer", "cancellation_error"]

MAX_TRANSACTION_ACTIONS: Final = 100
"""DynamoDB's limit of actions in one ``TransactWriteItems``."""

Slot = tuple[str, tuple[tuple[str, str], ...]]
"""A table and an item key, hashable."""


def slot_of(table: str, key: Mapping[str, AttributeValue]) -> Slot:
    return table, tuple(sorted((name, repr(value)) for name, value in key.items()))


@dataclass(slots=True)
class TransactionBuffer:
    """The writes of one ``transaction()`` block, in order, with what they leave behind."""

    store: str
    writes: list[WriteRequest] = field(default_factory=list)
    positions: dict[Slot, int] = field(default_factory=dict)
    overlay: dict[Slot, dict[str, AttributeValue] | None] = field(default_factory=dict)
    """Each written item as the block left it (None: deleted)."""
    versions: dict[Slot, AttributeValue | None] = field(default_factory=dict)
    """The version of each item when the block first read it."""

    def add(self, write: WriteRequest) -> None:
        slot = slot_of(write.params["TableName"], write.item_key or {})
        if write.purpose == "guard" and write.action == "Put" and self.overlay.get(slot):
            collection, index, key = write.key
            raise duplicate_error(index, key, store=self.store, collection=collection)
        position = self.positions.get(slot)
        if position is not None:
            self.writes[position] = _merge(self.writes[position], write)
        else:
            if len(self.writes) >= MAX_TRANSACTION_ACTIONS:
                raise TransactionError(
                    f"A transaction on store {self.store!r} can write at most "
                    f"{MAX_TRANSACTION_ACTIONS} documents (DynamoDB's TransactWriteItems "
                    "limit); split the work into smaller transactions",
                    store=self.store,
                )
            self.positions[slot] = len(self.writes)
            self.writes.append(write)
        self.overlay[slot] = write.item

    def record_read(self, table: str, item: Mapping[str, AttributeValue], key: Any) -> None:
        """Remember the version of a committed item the block read. Reading it again at
        another version means the block's view is stale: a conflict, as in MongoDB, where
        the block would keep reading its snapshot and fail on writing."""
        slot = slot_of(table, key)
        if slot in self.overlay:
            return
        version = item.get(VERSION)
        if slot not in self.versions:
            self.versions[slot] = version
        elif self.versions[slot] != version:
            raise ConcurrencyError(
                f"Transaction on store {self.store!r}: a document of table {table!r} changed "
                "after the transaction first read it; retry the transaction",
                store=self.store,
            )

    def request(self) -> dict[str, Any]:
        """The ``TransactWriteItems`` arguments: each write, conditioned on the version the
        block read of its item."""
        actions = []
        for slot, position in self.positions.items():
            write = self.writes[position]
            params = dict(write.params)
            if slot in self.versions and write.purpose != "insert":
                params = _require_version(params, self.versions[slot])
            actions.append({write.action: params})
        return {"TransactItems": actions}


def _used(params: Mapping[str, Any], *expressions: str) -> dict[str, Any]:
    """The names and values ``expressions`` use, from a request's placeholders."""
    used = set(re.findall(r"[#:][A-Za-z0-9_]+", " ".join(expressions)))
    out: dict[str, Any] = {}
    names = {k: v for k, v in params.get("ExpressionAttributeNames", {}).items() if k in used}
    values = {k: v for k, v in params.get("ExpressionAttributeValues", {}).items() if k in used}
    if names:
        out["ExpressionAttributeNames"] = names
    if values:
        out["ExpressionAttributeValues"] = values
    return out


def _merge(first: WriteRequest, second: WriteRequest) -> WriteRequest:
    """One action with the final state of the item, under the first write's condition (the
    only one about the committed item)."""
    table = first.params["TableName"]
    condition = first.params.get("ConditionExpression", "")
    guard = (
        {"ConditionExpression": condition, **_used(first.params, condition)} if condition else {}
    )
    if second.item is None:
        params = {"TableName": table, "Key": first.item_key, **guard}
        return replace(first, action="Delete", params=params, item=None)
    params = {"TableName": table, "Item": second.item, **guard}
    return replace(first, action="Put", params=params, item=second.item)


def _require_version(params: dict[str, Any], version: AttributeValue | None) -> dict[str, Any]:
    names = dict(params.get("ExpressionAttributeNames", {}))
    values = dict(params.get("ExpressionAttributeValues", {}))
    names["#lxversion"] = VERSION
    if version is None:
        check = "attribute_not_exists(#lxversion)"
    else:
        values[":lxversion"] = version
        check = "#lxversion = :lxversion"
    condition = params.get("ConditionExpression")
    params = dict(params)
    params["ConditionExpression"] = f"({condition}) AND {check}" if condition else check
    params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return params


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
        if code == "ConditionalCheckFailed" and write is not None and write.purpose == "guard":
            collection, index_name, key = write.key
            return duplicate_error(index_name, key, store=buffer.store, collection=collection)
        if code == "ConditionalCheckFailed" and write is not None and write.purpose == "insert":
            return DuplicateKeyError(
                f"Transaction on store {buffer.store!r} cancelled: a document with _id "
                f"{write.key!r} already exists in table {table!r}",
                index="_id_",
                key={"_id": write.key},
                store=buffer.store,
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
