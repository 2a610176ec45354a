"""The index methods of every collection (``create_index``, ``create_indexes``,
``list_indexes``, ``index_information``, ``drop_index``, ``drop_indexes``), and ``drop``, with
PyMongo's signatures, validated once; backends implement the ``_`` primitives. A mixin of
``BaseCollection`` (``collection.py``).

Each takes PyMongo's ``session`` and ``comment``. The session, as every call's, must be the one
``store.transaction()`` gave (``backends/sessions.py``): inside the block an index call runs as
any call there does. On MongoDB the server's rules apply (it creates an index in a transaction
only on a new, empty collection, and lists or drops none there). The memory and SQLite stores
change indexes within their transactions, rolled back with them; DynamoDB's and Firestore's
index changes cannot be (a table's indexes, guard items built outside the transaction), so
there an index change inside a transaction is refused by name rather than left standing after
a rollback. ``comment`` labels the command: MongoDB receives it as PyMongo sends it; the other
backends have no place for it, and it changes nothing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from lexigram_nosql.backends.command_options import with_comment
from lexigram_nosql.backends.guard import OperationGuard
from lexigram_nosql.backends.index_model import IndexModel, index_spec
from lexigram_nosql.backends.index_spec import IndexSpec, default_index_name, index_keys
from lexigram_nosql.backends.sessions import check_session
from lexigram_nosql.contracts import IndexInfo, IndexList
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.types import IndexKeys

if TYPE_CHECKING:
    from lexigram_nosql.backends.store import BaseDocumentStore

__all__ = ["IndexMethods"]


class IndexMethods(abc.ABC):
    """Index management over a backend's ``_create_index``/``_list_indexes``/``_drop_index``."""

    _store: BaseDocumentStore[Any]
    _name: str

    _catalog_in_transactions: ClassVar[bool] = True
    """Whether index and collection changes (``drop_collection``) join the store's
    transaction, rolled back with it; a backend whose changes would outlive a rollback sets
    False and refuses them inside one."""

    @abc.abstractmethod
    def _operation(self, name: str) -> OperationGuard: ...

    @abc.abstractmethod
    def _backend_name(self) -> str:
        """The driver's name, for refusals."""

    _KEY_INDEXES: frozenset[str] = frozenset({"_id_"})
    """Names of the indexes ``drop_indexes`` keeps (the one on the key, as MongoDB's ``_id_``)."""

    async def create_index(
        self, keys: IndexKeys, session: Any = None, comment: Any = None, **kwargs: Any
    ) -> str:
        """PyMongo's ``create_index``: ``keys`` as ``"field"``, a list of fields and
        ``(field, 1 | -1)`` pairs, or a mapping; options by MongoDB's names (``name``,
        ``unique``, ``sparse``, ``expireAfterSeconds``, ``partialFilterExpression``; see
        ``index_model.py``). Returns the index's name."""
        self._catalog_change("create_index", session)
        async with self._operation("create_index"):  # it names the collection in errors
            spec = index_spec(keys, kwargs, backend=self._backend_name())
            return await with_comment(comment, self._create_index(spec))

    async def create_indexes(
        self, indexes: Sequence[Any], session: Any = None, comment: Any = None
    ) -> list[str]:
        """PyMongo's ``create_indexes``: each ``IndexModel`` (ours, or PyMongo's own) in
        order, every one checked before the first is created; returns their names."""
        specs = [_spec_of(model, self._backend_name()) for model in indexes]
        self._catalog_change("create_indexes", session)
        async with self._operation("create_indexes"):
            return [await with_comment(comment, self._create_index(spec)) for spec in specs]

    async def list_indexes(self, session: Any = None, comment: Any = None) -> IndexList:
        """The collection's indexes, ``_id_`` first (none when the collection does not
        exist, as in MongoDB); a list that ``async for`` and ``to_list()`` read too."""
        if session is not None:
            check_session(self._store, session, "list_indexes")
        async with self._operation("list_indexes"):
            return IndexList(await with_comment(comment, self._list_indexes()))

    async def index_information(
        self, session: Any = None, comment: Any = None
    ) -> dict[str, dict[str, Any]]:
        """PyMongo's ``index_information()``: each index by name, as MongoDB describes it
        (``key``, then ``unique``, ``sparse``, ``expireAfterSeconds``,
        ``partialFilterExpression`` where set)."""
        if session is not None:
            check_session(self._store, session, "index_information")
        indexes = await self.list_indexes(comment=comment)
        return {info.name: info.document() for info in indexes}

    def _catalog_change(self, method: str, session: Any) -> None:
        """Check ``session``; refuse an index or collection change inside a transaction
        this backend cannot roll it back with."""
        if session is not None:
            check_session(self._store, session, method)
        if not self._catalog_in_transactions and self._store.current_transaction() is not None:
            backend = self._backend_name()
            raise UnsupportedQueryError(
                f"{method} inside store.transaction(): {backend}'s index and collection changes "
                "are not part of its transactions and would stay after a rollback (MongoDB "
                "itself creates indexes in a transaction only on a new, empty collection, and "
                "drops none): make the change before or after the transaction",
                backend=backend,
                operator=method,
                collection=self._name,
            )

    async def drop_index(
        self,
        index_or_name: str | IndexKeys,
        session: Any = None,
        comment: Any = None,
    ) -> None:
        """PyMongo's ``drop_index``: by name, or by keys, which name the index they would
        name by default (an index created with a ``name`` is dropped by that name); ``"*"``
        drops all but ``_id_``, as MongoDB's ``dropIndexes`` does."""
        if isinstance(index_or_name, str):
            name = index_or_name
            if not name:
                raise InvalidQueryError("index name must be a non-empty string, got ''")
        else:
            name = default_index_name(index_keys(index_or_name))
        if name == "*":
            await self.drop_indexes(session, comment)
            return
        self._catalog_change("drop_index", session)
        async with self._operation("drop_index"):
            if name == "_id_":
                raise InvalidQueryError(
                    "The _id index cannot be dropped (as in MongoDB)", operator="drop_index"
                )
            await with_comment(comment, self._drop_index(name))

    async def drop_indexes(self, session: Any = None, comment: Any = None) -> None:
        """PyMongo's ``drop_indexes``: every index but the one on ``_id``."""
        self._catalog_change("drop_indexes", session)
        async with self._operation("drop_indexes"):
            await with_comment(comment, self._drop_all_indexes())

    async def drop(self, session: Any = None, comment: Any = None) -> None:
        """PyMongo's ``Collection.drop``: ``store.drop_collection(name)``, its documents and
        indexes gone."""
        await self._store.drop_collection(self._name, session, comment)

    async def _drop_all_indexes(self) -> None:
        for info in await self._list_indexes():
            if info.name not in self._KEY_INDEXES:
                await self._drop_index(info.name)

    @abc.abstractmethod
    async def _create_index(self, spec: IndexSpec) -> str: ...

    @abc.abstractmethod
    async def _list_indexes(self) -> list[IndexInfo]: ...

    @abc.abstractmethod
    async def _drop_index(self, name: str) -> None: ...


def _spec_of(model: Any, backend: str) -> IndexSpec:
    """An ``IndexModel``'s spec; PyMongo's own model is read from its ``document``."""
    if isinstance(model, IndexModel):
        return model.spec
    document = getattr(model, "document", None)
    if isinstance(document, Mapping) and "key" in document:
        options = {k: v for k, v in document.items() if k != "key"}
        return index_spec(document["key"], options, backend=backend)
    raise InvalidQueryError(
        f"create_indexes takes IndexModel instances, got {type(model).__name__}",
        operator="create_indexes",
    )
