"""Running a write again when it lost a race with another writer, the same way on every
backend.

Backends without server-side updates write optimistically: they read a document, decide the
write, and send it conditioned on what they read (DynamoDB's condition expressions,
Firestore's update-time preconditions, a transaction conflict on guard items, a document that
stopped matching between finding it and updating it). When another writer got there first,
the attempt raises ``LostRace`` and ``retry_lost_races`` runs it again from a fresh read,
after a short jittered pause so that the writers that collided do not collide again. The
store setting ``conflict_retries`` bounds how often; past it the operation raises
``ConcurrencyError`` naming the operation, collection and store, chained to the last race.

Not retried here: a whole transaction that lost its commit (the caller's code runs again,
``store.run_transaction``), and SQLite's ``busy_retries`` (waiting for another process's lock,
on the writer thread: nothing was read, so nothing was lost).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from lexigram_nosql.errors import ConcurrencyError
from lexigram_nosql.query.ast import ReplacementUpdate, Update

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["LostRace", "find_one_and_name", "retry_lost_races"]

T = TypeVar("T")

_FIRST_PAUSE_S: Final = 0.005
_MAX_PAUSE_S: Final = 0.25
_NO_KEY: Final = object()


class LostRace(Exception):
    """Raised by an attempt whose write lost a race with another writer: run it again.

    Raise it ``from`` the driver's exception, so the final ``ConcurrencyError`` shows the
    last conflict. It never leaves ``retry_lost_races``."""


async def retry_lost_races(
    store: BaseDocumentStore[Any],
    operation: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    collection: str | None = None,
    key: Any = _NO_KEY,
) -> T:
    """``await attempt()``, again while it raises ``LostRace``, at most ``conflict_retries``
    times more (``0``: the first lost race fails the operation)."""
    retries = store.settings.conflict_retries
    lost: LostRace | None = None
    for retry in range(retries + 1):
        if retry:
            await asyncio.sleep(random.uniform(0, min(_FIRST_PAUSE_S * 2**retry, _MAX_PAUSE_S)))
        try:
            return await attempt()
        except LostRace as exc:
            lost = exc
    target = f"collection {collection!r} of store {store.name!r}"
    if collection is None:
        target = f"store {store.name!r}"
    if key is not _NO_KEY:
        target = f"the document with _id {key!r} in {target}"
    raise ConcurrencyError(
        f"{operation} on {target} lost the race with another writer "
        f"{retries + 1} time{'s' if retries else ''} (conflict_retries={retries}); "
        "retry later",
        key=None if key is _NO_KEY else key,
        store=store.name,
        collection=collection,
    ) from (lost.__cause__ if lost is not None and lost.__cause__ is not None else lost)


def find_one_and_name(update: Update | None) -> str:
    """The public name of a ``_find_one_and_modify`` call, for its ``ConcurrencyError``."""
    if update is None:
        return "find_one_and_delete"
    if isinstance(update, ReplacementUpdate):
        return "find_one_and_replace"
    return "find_one_and_update"
