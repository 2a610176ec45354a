"""The service's entities and their repositories."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lexigram_nosql import DocumentRepository


@dataclass
class User:
    name: str
    email: str
    newsletter: bool = False  # added by the "newsletter flag" migration
    _id: str | None = None


@dataclass
class Order:
    user_id: str
    items: list[str]
    status: str = "open"
    _id: str | None = None
    _version: int | None = None


class UserRepository(DocumentRepository[User, str]):
    """Users live in the primary store (``users``); deleting one only marks it."""

    collection_name = "users"
    store_name = "users"
    soft_delete = True

    async def _document_to_entity(self, doc: dict[str, Any]) -> User:
        return User(**doc)

    async def _entity_to_document(self, entity: User) -> dict[str, Any]:
        return _without_none_id(asdict(entity))


class OrderRepository(DocumentRepository[Order, str]):
    """Orders live in the ``orders`` store; every save checks the version it read."""

    collection_name = "orders"
    store_name = "orders"
    versioned = True

    async def _document_to_entity(self, doc: dict[str, Any]) -> Order:
        return Order(**doc)

    async def _entity_to_document(self, entity: Order) -> dict[str, Any]:
        return _without_none_id(asdict(entity))


def _without_none_id(doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("_id") is None:
        doc.pop("_id", None)  # new entity: the repository assigns the id
    return doc
