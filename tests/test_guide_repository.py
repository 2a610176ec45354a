"""The user guide's repository, soft-delete, specification and migration examples, as written
(with the README's import mapping), on every available backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import (
    AddField,
    Application,
    ConfigurationError,
    CreateIndex,
    MigrationError,
    MigrationManager,
    NoSQLModule,
    UnsupportedQueryError,
)
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.repository import DocumentRepository
from lexigram_nosql.specification import AndExpr, FieldEq

# -- "Document Repository": an entity class mapped both ways ------------------------------


class User:
    """The guide's entity: built with ``User(**doc)``, written with ``to_dict()``."""

    def __init__(
        self,
        name: str,
        email: str = "",
        status: str = "active",
        role: str = "user",
        _id: str | None = None,
    ) -> None:
        self._id = _id
        self.name = name
        self.email = email
        self.status = status
        self.role = role

    def to_dict(self) -> dict[str, Any]:
        doc = {"name": self.name, "email": self.email, "status": self.status, "role": self.role}
        return doc if self._id is None else {"_id": self._id, **doc}


class UserRepository(DocumentRepository[User, str]):
    collection_name = "users"

    async def _document_to_entity(self, doc: dict) -> User:  # type: ignore[type-arg]
        return User(**doc)

    async def _entity_to_document(self, entity: User) -> dict:  # type: ignore[type-arg]
        return entity.to_dict()


async def test_document_repository_maps_entities(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store)
    saved = await repo.save(User("Ada", "ada@example.com"))
    assert saved._id is not None
    found = await repo.get(saved._id)
    assert found is not None and (found.name, found.email) == ("Ada", "ada@example.com")


# -- "Write Path": the identity-mapped repository and UserService --------------------------


class DictUserRepository(DocumentRepository[dict, str]):  # type: ignore[type-arg]
    collection_name = "users"

    async def _document_to_entity(self, doc: dict) -> dict:  # type: ignore[type-arg]
        return doc

    async def _entity_to_document(self, entity: dict) -> dict:  # type: ignore[type-arg]
        return entity


class UserService:
    def __init__(self, repo: DictUserRepository) -> None:
        self.repo = repo

    async def create_user(self, name: str, email: str) -> dict:  # type: ignore[type-arg]
        return await self.repo.save({"name": name, "email": email})

    async def find_by_email(self, email: str) -> dict | None:  # type: ignore[type-arg]
        users = await self.repo.find_by_filter({"email": email})
        return users[0] if users else None

    async def delete_user(self, user_id: str) -> bool:
        return await self.repo.delete(user_id)


async def test_write_path_user_service(store: DocumentStoreProtocol) -> None:
    service = UserService(DictUserRepository(store))
    created = await service.create_user("Ada", "ada@example.com")
    assert created["name"] == "Ada" and created["_id"]
    assert await service.find_by_email("ada@example.com") == created
    assert await service.delete_user(created["_id"]) is True
    assert await service.find_by_email("ada@example.com") is None
    assert await service.delete_user(created["_id"]) is False


# -- "Soft Delete" ---------------------------------------------------------------------------


class SoftUserRepository(DocumentRepository[User, str]):
    collection_name = "users"

    def __init__(self, store: DocumentStoreProtocol) -> None:
        super().__init__(store, soft_delete=True)

    async def _document_to_entity(self, doc: dict) -> User:  # type: ignore[type-arg]
        return User(**doc)

    async def _entity_to_document(self, entity: User) -> dict:  # type: ignore[type-arg]
        return entity.to_dict()


async def test_soft_delete_marks_and_hides(store: DocumentStoreProtocol) -> None:
    repo = SoftUserRepository(store)
    user = await repo.save(User("Ada"))
    assert user._id is not None
    assert await repo.delete(user._id)
    raw = await store.collection("users").find_one({"_id": user._id})
    assert raw is not None and raw["_deleted"] is True, "marked, not removed"
    assert await repo.get(user._id) is None
    assert await repo.find_by_filter({"name": "Ada"}) == []
    assert await repo.count() == 0


# -- "Specifications" ------------------------------------------------------------------------


async def find_active_admins(repo: UserRepository) -> list[User]:
    active = FieldEq("status", "active")
    admin = FieldEq("role", "admin")
    combined = active & admin
    return await repo.find_by_spec(combined)


async def test_find_active_admins(store: DocumentStoreProtocol) -> None:
    repo = UserRepository(store)
    await repo.save(User("Ada", role="admin"))
    await repo.save(User("Bob", role="admin", status="inactive"))
    await repo.save(User("Cy"))
    assert [u.name for u in await find_active_admins(repo)] == ["Ada"]
    both = AndExpr(FieldEq("status", "active"), FieldEq("role", "admin"))
    assert [u.name for u in await repo.find_by_spec(both)] == ["Ada"]


# -- "Migrations": MigrationManager(db_name="myapp") inside a booted application ------------


@pytest.fixture
async def myapp(backend: Any) -> AsyncIterator[DocumentStoreProtocol]:
    """A booted application whose store is ``myapp`` (by database where the driver has one,
    else by name), on the parametrized backend."""
    entry = {**backend.settings(f"m{uuid.uuid4().hex[:6]}"), "name": "myapp", "primary": True}
    if entry["driver"] == "mongodb":
        entry["mongodb"] = {**entry["mongodb"], "database": "myapp"}
    async with Application.boot(
        config={"nosql": {"backends": [entry]}}, modules=[NoSQLModule], environ={}
    ) as app:
        store = app.modules[0].stores["myapp"]  # type: ignore[attr-defined]
        await backend.reset(store)
        try:
            yield store
        finally:
            await backend.reset(store)


async def test_the_guide_migration(myapp: DocumentStoreProtocol) -> None:
    await myapp.collection("users").insert_one({"email": "ada@example.com"})

    manager = MigrationManager(db_name="myapp")
    manager.add(CreateIndex("users", [("email", 1)], unique=True))
    manager.add(AddField("users", "avatar_url", default=""))
    if not myapp.capabilities.unique_indexes:
        # Refused, not faked: recorded as failed, and the next migration is not applied.
        with pytest.raises(MigrationError) as caught:
            await manager.apply()
        assert isinstance(caught.value.__cause__, UnsupportedQueryError)
        assert caught.value.__cause__.backend == myapp.driver
        assert [s.state for s in await manager.status()] == ["failed", "pending"]
        return
    await manager.apply()

    assert manager.store is myapp
    indexes = {i.name: i for i in await myapp.collection("users").list_indexes()}
    assert indexes["email_1"].unique
    user = await myapp.collection("users").find_one({"email": "ada@example.com"})
    assert user is not None and user["avatar_url"] == ""


async def test_db_name_needs_a_booted_application() -> None:
    manager = MigrationManager(db_name="nowhere")
    with pytest.raises(ConfigurationError, match="nowhere"):
        await manager.apply()
