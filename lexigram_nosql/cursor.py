"""``DocumentCursor``: what ``find`` and ``aggregate`` return, an async iterator of documents
that also has the cursor methods code ported from PyMongo's async API or Motor calls:
``to_list``, ``next``, ``close``, ``await`` (PyMongo's async ``aggregate`` is awaited for its
cursor: ``async for doc in await orders.aggregate(pipeline)``), and on a ``find`` the
modifiers ``sort``, ``skip``, ``limit`` and ``batch_size``
(``await users.find(query).sort("joined", -1).limit(20).to_list()``), and ``clone``,
``rewind`` and ``explain``.

``async for`` reads the underlying stream directly (``__aiter__`` returns it), so a cursor
adds nothing per document. A modifier, allowed only before the first read as in PyMongo,
replaces the not yet started stream with one of the changed query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.types import Document, ReadOptions

if TYPE_CHECKING:  # the query engine loads on first use, not with the package
    from lexigram_nosql.query.requests import FindQuery

__all__ = ["DocumentCursor", "DocumentStream"]

DocumentStream = AsyncGenerator[Document, None]
"""A guarded stream of documents (``StreamGuard.documents``), which a cursor reads."""


_NO_TIMEOUT, _PARTIAL, _OPLOG_REPLAY = 16, 128, 8
_TAILABLE_AWAIT = 2 | 32
_CURSOR_TYPE_BITS = 2 | 32 | 64
_KNOWN_FLAGS = _CURSOR_TYPE_BITS | _NO_TIMEOUT | _PARTIAL | _OPLOG_REPLAY | 4


class FindSource(Protocol):
    """What a ``find`` cursor reads from: its collection."""

    def _find_stream(self, query: FindQuery) -> DocumentStream:
        """The find's stream, guarded: opened again when a modifier changes the query."""

    async def _explain(self, query: FindQuery) -> Document:
        """How the collection runs ``query`` (the cursor's ``explain``)."""

    async def distinct(
        self, key: str, filter: Mapping[str, Any] | None = None, **options: Unpack[ReadOptions]
    ) -> list[Any]:
        """The collection's ``distinct`` (the cursor's)."""


class DocumentCursor(AsyncIterator[Document]):
    """The documents of one ``find`` or ``aggregate``, read once, in order."""

    __slots__ = ("_documents", "_query", "_source", "_started")

    def __init__(
        self,
        documents: AsyncGenerator[Document, None],
        query: FindQuery | None = None,
        source: FindSource | None = None,
    ) -> None:
        self._documents = documents
        self._query = query
        self._source = source
        self._started = False

    @property
    def alive(self) -> bool:
        """Whether the cursor may give more documents (PyMongo's ``alive``): False once it
        is read to its end or closed."""
        return getattr(self._documents, "ag_frame", None) is not None

    @property
    def session(self) -> Any:
        """The ``session=`` the find was given (PyMongo's ``Cursor.session``), or None."""
        options = None if self._query is None else self._query.filter.options
        return None if options is None else options.session

    @property
    def collection(self) -> Any:
        """The collection a ``find`` cursor reads (PyMongo's ``Cursor.collection``); None for
        an aggregation's cursor."""
        return self._source

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

    # -- a find's cursor as a whole ------------------------------------------------------

    def clone(self) -> DocumentCursor:
        """A fresh, unread cursor of the same query and modifiers (PyMongo's ``clone``),
        whatever this one has read."""
        query, source = self._find("clone")
        return DocumentCursor(source._find_stream(query), query, source)

    def __copy__(self) -> DocumentCursor:
        return self.clone()

    async def rewind(self) -> DocumentCursor:
        """Back to the unread state (PyMongo's ``rewind``): the current read is closed, and
        the next one runs the query again, modifiers kept."""
        query, source = self._find("rewind")
        await self._documents.aclose()
        self._documents = source._find_stream(query)
        self._started = False
        return self

    async def explain(self) -> Document:
        """How the query runs: MongoDB's own explain document (as PyMongo's ``explain``,
        verbosity ``allPlansExecution``); elsewhere the plan the backend reports (the
        ``ReadReport`` of ``lexigram_nosql.reads``), after running the query, with its
        counts. This cursor is not read."""
        query, source = self._find("explain")
        return await source._explain(query)

    async def distinct(self, key: str) -> list[Any]:
        """The distinct values of ``key`` among the find's matches (PyMongo's cursor
        ``distinct``: its filter, collation, comment, time bound and session; as there,
        skip, limit and sort do not apply)."""
        query, source = self._find("distinct")
        options = query.filter.options
        given: dict[str, Any] = {}
        if options is not None:
            kept = ("comment", "collation", "max_time_ms", "session")
            given = {name: getattr(options, name) for name in kept}
            given = {name: value for name, value in given.items() if value is not None}
        return await source.distinct(key, query.filter.raw, **given)

    def where(self, code: Any) -> DocumentCursor:
        """PyMongo's ``$where`` filter, which runs JavaScript: refused on every backend, as
        a filter's ``$where`` is."""
        self._find("where")
        raise InvalidQueryError(
            "where() adds a $where filter, and $where runs JavaScript, which lexigram-nosql "
            "refuses everywhere: write the condition as a filter ($expr compares fields)",
            operator="$where",
        )

    def _find(self, method: str) -> tuple[FindQuery, FindSource]:
        """The find's query and collection; an aggregation's cursor has neither."""
        if self._query is None or self._source is None:
            raise InvalidQueryError(
                f"{method}() is a find cursor's; an aggregation's cursor is read once"
            )
        return self._query, self._source

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

    def allow_disk_use(self, allow_disk_use: bool) -> DocumentCursor:
        """Whether MongoDB may spill a large sort to disk (the other backends need not)."""
        from lexigram_nosql.query.requests import check_server_hints

        check_server_hints(None, allow_disk_use)
        return self._refined("allow_disk_use", allow_disk_use=allow_disk_use)

    def hint(self, index: Any) -> DocumentCursor:
        """The index to use, by name or keys, as ``find(hint=)``; None clears it."""
        return self._with_option("hint", index)

    def comment(self, comment: Any) -> DocumentCursor:
        """A label for the command, as ``find(comment=)``."""
        return self._with_option("comment", comment)

    def collation(self, collation: Any) -> DocumentCursor:
        """String comparison rules, as ``find(collation=)``; None clears them."""
        return self._with_option("collation", collation)

    def max_time_ms(self, max_time_ms: int | None) -> DocumentCursor:
        """A time bound in milliseconds, as ``find(max_time_ms=)``; None clears it."""
        return self._with_option("max_time_ms", max_time_ms)

    def min(self, spec: Any) -> DocumentCursor:
        """The inclusive lower bound of the hinted index's keys (``[("field", value)]``), as
        ``find(min=)``: MongoDB's; refused by name elsewhere."""
        return self._with_cursor_option("min", {"min": spec})

    def max(self, spec: Any) -> DocumentCursor:
        """The exclusive upper bound of the hinted index's keys, as ``find(max=)``."""
        return self._with_cursor_option("max", {"max": spec})

    def max_scan(self, max_scan: int | None) -> DocumentCursor:
        """At most ``max_scan`` documents scanned, as ``find(max_scan=)`` (PyMongo's,
        deprecated: MongoDB 4.2 removed it); None or 0 clears it."""
        return self._with_cursor_option("max_scan", {"max_scan": max_scan})

    def max_await_time_ms(self, max_await_time_ms: int | None) -> DocumentCursor:
        """How long MongoDB waits for new documents per batch of a ``TAILABLE_AWAIT``
        cursor; as in PyMongo, ignored unless the cursor is one when this is called (so
        everywhere but MongoDB, which alone has tailable cursors)."""
        from lexigram_nosql.query.requests import CursorOptions

        value = max_await_time_ms
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidQueryError(
                f"max_await_time_ms must be an integer of milliseconds or None, got {value!r}",
                operator="max_await_time_ms",
            )
        query, _ = self._find("max_await_time_ms")
        current = query.cursor or CursorOptions()
        if current.cursor_type != _TAILABLE_AWAIT:
            return self._refined("max_await_time_ms")
        cursor = current._replace(max_await_time_ms=value)
        return self._refined("max_await_time_ms", cursor=cursor)

    def add_option(self, mask: int) -> DocumentCursor:
        """Set PyMongo's query flags by bit mask (``CursorType`` bits, 16 no cursor timeout,
        128 partial results, 8 oplog replay; 4, secondary okay, is what read preferences
        say now and changes nothing). The cursor is returned, and awaiting it gives it too,
        as PyMongo's async ``add_option`` is awaited."""
        return self._flags("add_option", mask, add=True)

    def remove_option(self, mask: int) -> DocumentCursor:
        """Unset PyMongo's query flags by bit mask (see ``add_option``)."""
        return self._flags("remove_option", mask, add=False)

    def _flags(self, method: str, mask: Any, *, add: bool) -> DocumentCursor:
        from lexigram_nosql.query.options import CURSOR_TYPES

        if isinstance(mask, bool) or not isinstance(mask, int) or mask & ~_KNOWN_FLAGS:
            raise InvalidQueryError(
                f"{method}: mask must be an int of PyMongo's query flags (2 tailable, 4 "
                "secondary okay, 8 oplog replay, 16 no cursor timeout, 32 await data, 64 "
                f"exhaust, 128 partial), got {mask!r}",
                operator=method,
            )
        query, _ = self._find(method)
        current = query.cursor
        flags = 0
        if current is not None:
            flags = current.cursor_type
            flags |= _NO_TIMEOUT if current.no_cursor_timeout else 0
            flags |= _PARTIAL if current.allow_partial_results else 0
            flags |= _OPLOG_REPLAY if current.oplog_replay else 0
        flags = flags | mask if add else flags & ~mask
        cursor_type = flags & _CURSOR_TYPE_BITS
        if cursor_type not in CURSOR_TYPES:
            raise InvalidQueryError(
                f"{method}: the flags {flags:#x} make no cursor type of PyMongo's "
                f"({', '.join(f'{v} ({k})' for k, v in CURSOR_TYPES.items())})",
                operator="cursor_type",
            )
        return self._with_cursor_option(
            method,
            {
                "cursor_type": cursor_type,
                "no_cursor_timeout": bool(flags & _NO_TIMEOUT),
                "allow_partial_results": bool(flags & _PARTIAL),
                "oplog_replay": bool(flags & _OPLOG_REPLAY),
            },
        )

    def _with_cursor_option(self, method: str, given: dict[str, Any]) -> DocumentCursor:
        """The find's cursor options with ``given`` changed, checked as ``find`` checks
        them (refused where the backend cannot honour them when the stream is reopened)."""
        from lexigram_nosql.query.options import cursor_options

        query, _ = self._find(method)
        return self._refined(method, cursor=cursor_options(method, given, query.cursor))

    def _with_option(self, name: str, value: Any) -> DocumentCursor:
        """The find's options with ``name`` set to ``value``, checked as ``find`` checks
        them (the collection honours or refuses them when the stream is reopened)."""
        from lexigram_nosql.query.options import command_options

        if self._query is None:
            return self._refined(name)  # refused: an aggregation's cursor
        current = self._query.filter.options
        given = {} if current is None else current._asdict()
        given.pop("session", None)  # the find's own, kept below
        given[name] = value
        options = command_options(name, {k: v for k, v in given.items() if v is not None})
        if current is not None and current.session is not None:
            options = (options or type(current)())._replace(session=current.session)
        filter = dataclasses.replace(self._query.filter, options=options)
        return self._refined(name, filter=filter)

    def _refined(self, method: str, **changes: Any) -> DocumentCursor:
        if self._query is None or self._source is None:
            raise InvalidQueryError(
                f"{method}() is a find cursor's; an aggregation orders and limits with its "
                "$sort, $skip and $limit stages"
            )
        if self._started:
            raise InvalidQueryError(f"{method}() must come before the cursor is first read")
        self._query = dataclasses.replace(self._query, **changes)
        self._documents = self._source._find_stream(self._query)
        return self
