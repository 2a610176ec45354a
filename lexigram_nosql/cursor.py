"""``DocumentCursor``: what ``find`` and ``aggregate`` return, an async iterator of documents
that also has the cursor methods code ported from PyMongo's async API or Motor calls:
``to_list``, ``next``, ``close``, ``await`` (PyMongo's async ``aggregate`` is awaited for its
cursor: ``async for doc in await orders.aggregate(pipeline)``), and on a ``find`` the
modifiers ``sort``, ``skip``, ``limit`` and ``batch_size``
(``await users.find(query).sort("joined", -1).limit(20).to_list()``).

``async for`` reads the underlying stream directly (``__aiter__`` returns it), so a cursor
adds nothing per document. A modifier, allowed only before the first read as in PyMongo,
replaces the not yet started stream with one of the changed query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.types import Document

if TYPE_CHECKING:  # the query engine loads on first use, not with the package
    from lexigram_nosql.query.requests import FindQuery

__all__ = ["DocumentCursor", "DocumentStream"]

DocumentStream = AsyncGenerator[Document, None]
"""A guarded stream of documents (``StreamGuard.documents``), which a cursor reads."""

Reopen = Callable[["FindQuery"], DocumentStream]


class DocumentCursor(AsyncIterator[Document]):
    """The documents of one ``find`` or ``aggregate``, read once, in order."""

    __slots__ = ("_documents", "_query", "_reopen", "_started")

    def __init__(
        self,
        documents: AsyncGenerator[Document, None],
        query: FindQuery | None = None,
        reopen: Reopen | None = None,
    ) -> None:
        self._documents = documents
        self._query = query
        self._reopen = reopen
        self._started = False

    def __aiter__(self) -> AsyncGenerator[Document, None]:
        self._started = True
        return self._documents

    def __anext__(self) -> Awaitable[Document]:
        self._started = True
        return self._documents.__anext__()

    def __await__(self) -> Generator[Any, None, DocumentCursor]:
        """The cursor itself, for code written against PyMongo's async API, whose
        ``aggregate`` is a coroutine (``cursor = await collection.aggregate(pipeline)``)."""
        yield from ()
        return self

    async def next(self) -> Document:
        """The next document (PyMongo's ``AsyncCursor.next``); ``StopAsyncIteration`` after
        the last."""
        self._started = True
        return await self._documents.__anext__()

    async def to_list(self, length: int | None = None) -> list[Document]:
        """The next ``length`` documents (all that are left with None), as PyMongo's and
        Motor's ``to_list``; the cursor goes on from there."""
        if length is not None and (type(length) is not int or length < 1):
            raise InvalidQueryError(
                f"to_list length must be a positive integer or None, got {length!r}"
            )
        self._started = True
        documents: list[Document] = []
        async for document in self._documents:
            documents.append(document)
            if length is not None and len(documents) >= length:
                break
        return documents

    async def close(self) -> None:
        """Stop reading (PyMongo's ``Cursor.close``): the read ends, its resources freed."""
        await self._documents.aclose()

    async def aclose(self) -> None:
        """``close()`` under the name async generators use (``contextlib.aclosing``)."""
        await self._documents.aclose()

    # -- modifiers of a find, before its first read (PyMongo's Cursor methods) ---------

    def sort(self, key_or_list: Any, direction: int | None = None) -> DocumentCursor:
        """Order by ``key_or_list`` (a field and ``direction``, or a list of pairs)."""
        from lexigram_nosql.query.requests import parse_sort

        order = key_or_list if direction is None else [(key_or_list, direction)]
        return self._refined("sort", sort=parse_sort(order))

    def skip(self, skip: int) -> DocumentCursor:
        from lexigram_nosql.query.requests import check_count

        check_count("skip", skip)
        return self._refined("skip", skip=skip)

    def limit(self, limit: int) -> DocumentCursor:
        """At most ``limit`` documents (0: no limit; a negative one as its absolute value,
        as ``find(limit=-n)``)."""
        from lexigram_nosql.query.requests import check_count

        if type(limit) is int and limit < 0:
            limit = -limit
        check_count("limit", limit)
        return self._refined("limit", limit=limit)

    def batch_size(self, batch_size: int) -> DocumentCursor:
        from lexigram_nosql.query.requests import check_server_hints

        check_server_hints(batch_size, None)
        return self._refined("batch_size", batch_size=batch_size or None)

    def _refined(self, method: str, **changes: Any) -> DocumentCursor:
        if self._query is None or self._reopen is None:
            raise InvalidQueryError(
                f"{method}() is a find cursor's; an aggregation orders and limits with its "
                "$sort, $skip and $limit stages"
            )
        if self._started:
            raise InvalidQueryError(f"{method}() must come before the cursor is first read")
        self._query = dataclasses.replace(self._query, **changes)
        self._documents = self._reopen(self._query)
        return self
