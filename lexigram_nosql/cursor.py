"""``DocumentCursor``: what ``find`` and ``aggregate`` return, an async iterator of documents
that also has the cursor methods code ported from PyMongo's async API or Motor calls
(``await collection.find(query).to_list(None)``, ``to_list(length=n)``, ``close()``).

``async for`` reads the underlying stream directly (``__aiter__`` returns it), so a cursor
adds nothing per document.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.types import Document

__all__ = ["DocumentCursor"]


class DocumentCursor(AsyncIterator[Document]):
    """The documents of one ``find`` or ``aggregate``, read once, in order."""

    __slots__ = ("_documents",)

    def __init__(self, documents: AsyncGenerator[Document, None]) -> None:
        self._documents = documents

    def __aiter__(self) -> AsyncGenerator[Document, None]:
        return self._documents

    def __anext__(self) -> Awaitable[Document]:
        return self._documents.__anext__()

    async def to_list(self, length: int | None = None) -> list[Document]:
        """The next ``length`` documents (all that are left with None), as PyMongo's and
        Motor's ``to_list``; the cursor goes on from there."""
        if length is not None and (type(length) is not int or length < 1):
            raise InvalidQueryError(
                f"to_list length must be a positive integer or None, got {length!r}"
            )
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
