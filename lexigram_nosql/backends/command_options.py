"""PyMongo's per-command options, checked once for every backend: ``comment``, ``hint``,
``collation``, ``max_time_ms`` (``maxTimeMS``), ``session`` and ``let``.

MongoDB receives each as PyMongo sends it, so a user's comment and hint reach the server
(profiler, logs, command monitoring). Elsewhere each means what the backend can honour
exactly, and nothing is silently different:

- ``comment`` labels a command for MongoDB's tools: no other backend has a place for it, and
  it changes no result, so it is accepted and dropped there;
- ``hint`` picks an index: validated in form; on the engine's backends it is checked against
  the collection's indexes as MongoDB checks it (``OptionMethods._check_hint``);
- ``collation`` changes comparisons: the simple (binary) collation is what every other backend
  does, and any other is refused there by name (``UnsupportedQueryError``), never compared
  binary while the user asked for case-insensitive;
- ``max_time_ms`` bounds the call: sent as ``maxTimeMS`` to MongoDB, and everywhere it shortens the
  operation's deadline, and running out raises ``OperationTimeoutError``;
- ``session`` must be the one ``store.transaction()`` gave (``backends/sessions.py``);
- ``let`` (variables for ``$expr``, pipeline updates and aggregation stages): each value is
  evaluated once and bound (``push_variables``) while the engine evaluates the call.

Calls without a filter (``insert_one``, ``bulk_write``...) have no request object to carry
their options to the backend: ``within`` holds them for the call's duration.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from lexigram_nosql.backends.guard import OperationGuard, StreamGuard
from lexigram_nosql.backends.sessions import check_session
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.expressions import pop_variables, push_variables
from lexigram_nosql.query.options import (
    CURSOR_OPTIONS,
    CURSOR_TYPES,
    FIND_OPTIONS,
    command_options,
    cursor_options,
    is_simple_collation,
    variables,
)
from lexigram_nosql.query.requests import CommandOptions, CursorOptions, FindQuery

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore
    from lexigram_nosql.contracts import IndexInfo

__all__ = [
    "OptionMethods",
    "current_call_options",
    "refuse_collation",
    "time_bound",
    "with_comment",
    "within",
]

T = TypeVar("T")


_call_options: ContextVar[CommandOptions | None] = ContextVar(
    "lexigram_nosql_call_options", default=None
)


def refuse_collation(method: str, collation: Mapping[str, Any], backend: str) -> None:
    """A backend comparing binary cannot honour another collation: say so, never ignore it."""
    raise UnsupportedQueryError(
        f"{method}: collation {dict(collation)!r} is not supported on {backend}, which compares "
        "strings binary (the simple collation, {'locale': 'simple'}); store a normalized "
        "copy of the field (e.g. lower-cased) and query that instead",
        backend=backend,
        operator="collation",
    )


async def within(options: CommandOptions | None, call: Awaitable[T]) -> T:
    """Await ``call`` with ``options`` as the current call's (calls without a filter)."""
    token = _call_options.set(options)
    try:
        return await call
    finally:
        _call_options.reset(token)


def with_comment(comment: Any, call: Awaitable[T]) -> Awaitable[T]:
    """``call`` labelled with ``comment`` where given (calls whose only option it is: the
    index calls, ``drop_collection``); MongoDB sends it, the other backends have no place
    for it."""
    return call if comment is None else within(CommandOptions(comment=comment), call)


def time_bound(timeout_s: float, options: CommandOptions) -> float:
    """A call's deadline in seconds: its ``max_time_ms`` where shorter than ``timeout_s``."""
    return min(timeout_s, options.max_time_ms / 1000) if options.max_time_ms else timeout_s


def current_call_options() -> CommandOptions | None:
    """The options of the call running in this context (``within``), or None."""
    return _call_options.get()


class OptionMethods(abc.ABC):
    """A collection's side of the options (a mixin of ``BaseCollection``): check them,
    refuse what the backend cannot honour, bound the call by ``max_time_ms``."""

    _store: BaseDocumentStore[Any]
    _name: str

    _sends_options: ClassVar[bool] = False
    """Whether the server takes PyMongo's options itself (MongoDB)."""

    @abc.abstractmethod
    def _backend_name(self) -> str:
        """The driver's name, for refusals."""

    @abc.abstractmethod
    async def _list_indexes(self) -> list[IndexInfo]: ...

    def _engine_operation(
        self, name: str, options: CommandOptions, timeout_s: float | None
    ) -> OperationGuard:
        """The operation's wrapper doing what the server would: check the ``hint``, bind
        ``let``'s variables for the engine's evaluation."""
        hint = options.hint
        check = None if hint is None else (lambda: self._check_hint(name, hint))
        bound = None if options.let is None else variables(name, options.let)
        return _EngineGuard(self._store, name, self._name, timeout_s, check, bound)

    async def _check_hint(self, method: str, hint: Any) -> None:
        """Refuse a hint naming no index of this collection, as MongoDB does ("hint provided
        does not correspond to an existing index"); a collection that does not exist has
        none and plans nothing, so any hint goes there, as in MongoDB. A sparse or partial
        index holds only some documents, and MongoDB's hinted read sees only those: the
        engine cannot run that exactly, so such a hint is refused by name."""
        indexes = await self._list_indexes()
        named = next((index for index in indexes if _names(hint, index)), None)
        if named is None and indexes:
            raise InvalidQueryError(
                f"{method}: hint provided does not correspond to an existing index of "
                f"collection {self._name!r}: {hint!r} (its indexes: "
                f"{', '.join(index.name for index in indexes)})",
                operator="hint",
                collection=self._name,
            )
        if named is not None and (named.sparse or named.partial_filter_expression is not None):
            raise UnsupportedQueryError(
                f"{method}: hint {named.name!r} names a sparse or partial index, through which "
                "MongoDB reads only the documents the index holds; "
                f"{self._backend_name()} reads every match, so it cannot run the hint "
                "exactly: leave the hint out, or put the index's condition in the filter",
                backend=self._backend_name(),
                operator="hint",
                collection=self._name,
            )

    async def _as_the_server_would(
        self, method: str, options: CommandOptions, documents: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        """A stream's documents (or batches), once its hint is checked, each fetched with
        ``let``'s variables bound (set and reset within one fetch, in the reader's context)."""
        if options.hint is not None:
            await self._check_hint(method, options.hint)
        bound = None if options.let is None else variables(method, options.let)
        fetch = documents.__anext__
        try:
            while True:
                token = None if bound is None else push_variables(bound)
                try:
                    item = await fetch()
                except StopAsyncIteration:
                    return
                finally:
                    if token is not None:
                        pop_variables(token)
                yield item
        finally:  # a reader that stops early closes the backend's stream now, not at GC
            aclose = getattr(documents, "aclose", None)
            if aclose is not None:
                await aclose()

    def _options(
        self, method: str, given: Mapping[str, Any], accepted: frozenset[str]
    ) -> CommandOptions | None:
        """The call's checked options (None: none set): the session must be this store's
        open transaction, and a collation this backend cannot honour is refused."""
        options = command_options(method, given, accepted)
        if options is not None:
            if options.session is not None:
                check_session(self._store, options.session, method)
            self._honour(method, options)
        return options

    def _find_call_options(
        self, given: Mapping[str, Any], method: str = "find"
    ) -> tuple[CommandOptions | None, CursorOptions | None]:
        """``find``'s options: the per-command ones (``_options``) and the cursor's."""
        if not CURSOR_OPTIONS.intersection(given):
            return self._options(method, given, FIND_OPTIONS), None
        command = {k: v for k, v in given.items() if k not in CURSOR_OPTIONS}
        options = self._options(method, command, FIND_OPTIONS) if command else None
        return options, cursor_options(method, given)

    def _with_find_options(
        self, method: str, query: FindQuery, given: Mapping[str, Any]
    ) -> FindQuery:
        """``query`` with a one-shot read's options (``find_one``, which takes ``find``'s
        as PyMongo's does), all checked now: there is no cursor to chain a hint onto."""
        options, cursor = self._find_call_options(given, method)
        if options is not None:
            query = dataclasses.replace(
                query, filter=dataclasses.replace(query.filter, options=options)
            )
        if cursor is None:
            return query
        self._honour_cursor(method, cursor)
        bound = _unhinted_bound(options, cursor)
        if bound is not None:
            _refuse_unhinted_bounds(method, bound, self._name)
        return dataclasses.replace(query, cursor=cursor)

    def _honour_cursor(self, method: str, cursor: CursorOptions) -> None:
        """Refuse the cursor options that would change the result where the server does not
        take them: ``no_cursor_timeout``, ``allow_partial_results`` and ``oplog_replay``
        change none (no cursor is reaped for idling, no shard is missing, MongoDB 4.4+
        ignores the last)."""
        if self._sends_options:
            return
        backend = self._backend_name()
        if cursor.cursor_type:
            raise UnsupportedQueryError(
                f"{method}: cursor_type {CURSOR_TYPES[cursor.cursor_type]} is MongoDB's (a "
                f"tailable cursor on a capped collection, or an exhaust stream); {backend} "
                "reads with CursorType.NON_TAILABLE only",
                backend=backend,
                operator="cursor_type",
                collection=self._name,
            )
        for name in ("min", "max", "max_scan", "return_key", "show_record_id", "snapshot"):
            if getattr(cursor, name):
                raise UnsupportedQueryError(
                    f"{method}: {name} is MongoDB's ({_CURSOR_MEANINGS[name]}); {backend} "
                    "cannot run it exactly, so it is refused rather than ignored",
                    backend=backend,
                    operator=name,
                    collection=self._name,
                )

    def _honour(self, method: str, options: CommandOptions) -> None:
        """Refuse what this backend cannot honour (a collation other than the simple one)."""
        if not self._sends_options and not is_simple_collation(options.collation):
            refuse_collation(method, options.collation or {}, self._backend_name())

    def _open_hinted(
        self,
        method: str,
        options: CommandOptions | None,
        open_stream: Callable[[], Any],
        cursor: CursorOptions | None = None,
    ) -> Callable[[], Any]:
        """``open_stream``, with its hint checked and its variables bound where the server
        does not do it. A cursor's ``min``/``max`` need a hint, checked at the first read
        as PyMongo checks it (a cursor's modifiers may give the hint after them)."""
        bound = None if cursor is None else _unhinted_bound(options, cursor)
        if bound is not None:
            return lambda: _refuse_unhinted_bounds(method, bound, self._name)
        if self._sends_options or options is None:
            return open_stream
        if options.hint is None and options.let is None:
            return open_stream
        return lambda: self._as_the_server_would(method, options, open_stream())

    def _time_bound(self, options: CommandOptions) -> float:
        """The deadline in seconds: ``max_time_ms`` where shorter than the store's."""
        return time_bound(self._store.settings.operation_timeout_s, options)

    def _stream(self, name: str, options: CommandOptions | None) -> StreamGuard:
        """The store's wrapper of a streamed read, ``max_time_ms`` bounding each fetch."""
        if options is None or not options.max_time_ms:
            return self._store.stream(name, self._name)
        return StreamGuard(self._store, name, self._name, self._time_bound(options))


class _EngineGuard(OperationGuard):
    """An operation that, once started, checks its hint (``check``) and binds ``let``'s
    variables (``bound``) for its duration."""

    __slots__ = ("_bound", "_check", "_variables_token")

    def __init__(
        self,
        store: BaseDocumentStore[Any],
        name: str,
        collection: str,
        timeout_s: float | None,
        check: Callable[[], Awaitable[None]] | None,
        bound: Mapping[str, Any] | None,
    ) -> None:
        super().__init__(store, name, collection, timeout_s)
        self._check = check
        self._bound = bound
        self._variables_token: Any = None

    def __aenter__(self) -> Awaitable[None]:
        return self._enter()

    async def _enter(self) -> None:
        await OperationGuard.__aenter__(self)
        try:
            if self._check is not None:
                await self._check()
        except BaseException as exc:
            await OperationGuard.__aexit__(self, type(exc), exc, exc.__traceback__)
            raise
        if self._bound is not None:
            self._variables_token = push_variables(self._bound)

    def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> Awaitable[None]:
        if self._variables_token is not None:
            pop_variables(self._variables_token)
            self._variables_token = None
        return OperationGuard.__aexit__(self, exc_type, exc, tb)


def _unhinted_bound(options: CommandOptions | None, cursor: CursorOptions) -> str | None:
    """``"min"`` or ``"max"`` when the cursor bounds an index's keys without a hint naming the
    index (PyMongo refuses it), else None."""
    if options is not None and options.hint is not None:
        return None
    return "min" if cursor.min is not None else "max" if cursor.max is not None else None


def _refuse_unhinted_bounds(method: str, bound: str, collection: str) -> NoReturn:
    raise InvalidQueryError(
        f"{method}: min and max bound an index's keys, so they need a hint naming that "
        "index, as PyMongo requires",
        operator=bound,
        collection=collection,
    )


_CURSOR_MEANINGS = {
    "min": "the inclusive lower bound of the hinted index's keys",
    "max": "the exclusive upper bound of the hinted index's keys",
    "max_scan": "at most that many documents scanned, a partial result",
    "return_key": "the index keys instead of the documents",
    "show_record_id": "each document's storage record id added as $recordId",
    "snapshot": "a snapshot read mode MongoDB 4.0 removed",
}


def _names(hint: Any, index: IndexInfo) -> bool:
    """Whether ``hint`` (a name, or keys as pairs or a mapping) names ``index``."""
    if isinstance(hint, str):
        return hint == index.name
    pairs = hint.items() if isinstance(hint, Mapping) else hint
    return [(key, value) for key, value in pairs] == [tuple(key) for key in index.keys]
