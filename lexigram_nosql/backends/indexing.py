"""The index methods of every collection (``create_index``, ``list_indexes``,
``index_information``, ``drop_index``), validated once; backends implement the ``_``
primitives. A mixin of ``BaseCollection`` (``collection.py``)."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from lexigram_nosql.backends.guard import OperationGuard
from lexigram_nosql.backends.index_spec import IndexSpec, one_partial_filter
from lexigram_nosql.contracts import IndexInfo
from lexigram_nosql.errors import InvalidQueryError

__all__ = ["IndexMethods"]


class IndexMethods(abc.ABC):
    """Index management over a backend's ``_create_index``/``_list_indexes``/``_drop_index``."""

    @abc.abstractmethod
    def _operation(self, name: str) -> OperationGuard: ...

    async def create_index(
        self,
        keys: str | Sequence[tuple[str, int]],
        *,
        unique: bool = False,
        sparse: bool = False,
        name: str | None = None,
        expire_after_seconds: int | None = None,
        partial_filter_expression: Mapping[str, Any] | None = None,
        partialFilterExpression: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an index; a partial one (``partialFilterExpression``, PyMongo's spelling,
        or ``partial_filter_expression``) holds only the documents its filter matches."""
        async with self._operation("create_index"):  # it names the collection in errors
            spec = IndexSpec.build(
                keys,
                unique=unique,
                sparse=sparse,
                name=name,
                expire_after_seconds=expire_after_seconds,
                partial_filter_expression=one_partial_filter(
                    partial_filter_expression, partialFilterExpression
                ),
            )
            return await self._create_index(spec)

    async def list_indexes(self) -> list[IndexInfo]:
        async with self._operation("list_indexes"):
            return await self._list_indexes()

    async def index_information(self) -> dict[str, dict[str, Any]]:
        """PyMongo's ``index_information()``: each index by name, as MongoDB describes it
        (``key``, then ``unique``, ``sparse``, ``expireAfterSeconds``,
        ``partialFilterExpression`` where set)."""
        return {info.name: info.document() for info in await self.list_indexes()}

    async def drop_index(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidQueryError(f"index name must be a non-empty string, got {name!r}")
        async with self._operation("drop_index"):
            await self._drop_index(name)

    @abc.abstractmethod
    async def _create_index(self, spec: IndexSpec) -> str: ...

    @abc.abstractmethod
    async def _list_indexes(self) -> list[IndexInfo]: ...

    @abc.abstractmethod
    async def _drop_index(self, name: str) -> None: ...
