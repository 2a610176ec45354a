"""A ``find``'s cursor options (``CursorOptions``) as the driver's ``find`` takes them."""

from __future__ import annotations

from typing import Any, Final

from lexigram_nosql.backends.mongodb.ids import id_to_server
from lexigram_nosql.query.requests import CursorOptions, FindQuery

__all__ = ["cursor_kwargs", "tails"]


def tails(query: FindQuery) -> bool:
    """Whether the find's cursor is tailable (``CursorType.TAILABLE`` or ``TAILABLE_AWAIT``)."""
    return query.cursor is not None and bool(query.cursor.cursor_type & _TAILABLE)


_TAILABLE: Final = 2


def cursor_kwargs(cursor: CursorOptions) -> dict[str, Any]:
    """A find's cursor options as PyMongo's keywords; the ``_id`` of an index bound
    (``min``/``max``) converted as a filter's is."""
    sent = cursor.driver_kwargs()
    for bound in ("min", "max"):
        keys = sent.get(bound)
        if keys is not None and "_id" in keys:
            sent[bound] = {**keys, "_id": id_to_server(keys["_id"])}
    return sent
