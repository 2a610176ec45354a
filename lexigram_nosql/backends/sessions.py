"""``session=``: PyMongo code passes its ``ClientSession`` to every call of a transaction;
here the session is what ``async with store.transaction() as session`` gives.

A store's transaction is a context variable (every call of the store inside the block joins
it), so the session adds nothing to which transaction a call runs in: it is checked, so that
a call never runs outside the transaction its code names. A session of another store, one
whose block has ended, one used outside its block, or any other object (a raw PyMongo
session) is refused by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lexigram_nosql.errors import InvalidQueryError

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["TransactionSession", "check_session"]


class TransactionSession:
    """One ``store.transaction()`` block's session: pass it as ``session=`` as PyMongo code
    passes its ``ClientSession`` (or leave it out: the block's calls join anyway)."""

    __slots__ = ("_handle", "_store")

    def __init__(self, store: BaseDocumentStore[Any], handle: Any) -> None:
        self._store = store
        self._handle = handle

    @property
    def store(self) -> BaseDocumentStore[Any]:
        return self._store

    @property
    def in_transaction(self) -> bool:
        """True inside its block (PyMongo's ``ClientSession.in_transaction``)."""
        return self._store.current_transaction() is self._handle

    def __repr__(self) -> str:
        state = "active" if self.in_transaction else "inactive here"
        return f"<TransactionSession store={self._store.name!r} {state}>"


def check_session(store: BaseDocumentStore[Any], session: Any, method: str) -> None:
    """Refuse a ``session`` that is not ``store``'s transaction in this context."""
    if not isinstance(session, TransactionSession):
        raise InvalidQueryError(
            f"{method}: session= takes the session of `async with store.transaction() as "
            f"session` (store {store.name!r}), got {type(session).__name__}",
            store=store.name,
            operator="session",
        )
    if session.store is not store:
        raise InvalidQueryError(
            f"{method}: the session is store {session.store.name!r}'s transaction, not store "
            f"{store.name!r}'s",
            store=store.name,
            operator="session",
        )
    if not session.in_transaction:
        raise InvalidQueryError(
            f"{method}: the session's transaction is not open here: use it inside its "
            f"`async with store.transaction()` block (store {store.name!r})",
            store=store.name,
            operator="session",
        )
