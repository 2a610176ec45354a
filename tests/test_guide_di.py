"""The user guide's configuration and injection examples, as written (with the README's import
mapping), on every available backend: the named-stores YAML, ``DashboardService``, the
aggregation through ``async with app.container.resolve(...)``, the write-path ``UserService``
over a container-built ``UserRepository``, the soft-delete repository and the specification
query."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from lexigram_nosql import AggregationOp, AggregationPipeline, Application, NoSQLModule, load_config
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.di import Named
from lexigram_nosql.repository import DocumentRepository
from lexigram_nosql.specification import FieldEq

# The guide's "Multi-Backend (Named Stores)" YAML, verbatim.
GUIDE_YAML = """\
nosql:
  backends:
    - name: primary
      driver: mongodb
      primary: true
      mongodb:
        uri: mongodb://localhost:27017
        database: app
    - name: analytics
      driver: mongodb
      mongodb:
        uri: mongodb://analytics:27017
        database: analytics
"""


def test_the_guide_yaml_validates_as_written(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(GUIDE_YAML)
    settings = load_config(path, environ={})
    assert [(s.name, s.primary) for s in settings.backends] == [
        ("primary", True),
        ("analytics", False),
    ]
    assert settings.store("analytics").mongodb.uri == "mongodb://analytics:27017"  # type: ignore[attr-defined]


@pytest.fixture
async def app(backend: Any) -> AsyncIterator[Any]:
    """The guide's two named stores, on the parametrized backend."""
    tag = uuid.uuid4().hex[:6]  # short: some backends derive bounded ids from names
    entries = [
        {**backend.settings(f"g{tag}_app"), "name": "primary", "primary": True},
        {**backend.settings(f"g{tag}_analytics"), "name": "analytics"},
    ]
    async with Application.boot(
        config={"nosql": {"backends": entries}}, modules=[NoSQLModule], environ={}
    ) as booted:
        module = booted.modules[0]
        for store in module.stores.values():
            await backend.reset(store)
        try:
            yield booted
        finally:
            for store in module.stores.values():
                await backend.reset(store)


# -- the guide's classes, verbatim but for imports ----------------------------------------------


class DashboardService:
    def __init__(
        self,
        primary: DocumentStoreProtocol,
        analytics: Annotated[DocumentStoreProtocol, Named("analytics")],
    ) -> None:
        self.primary = primary
        self.analytics = analytics


class UserRepository(DocumentRepository[dict, str]):  # type: ignore[type-arg]
    collection_name = "users"

    async def _document_to_entity(self, doc: dict) -> dict:  # type: ignore[type-arg]
        return doc

    async def _entity_to_document(self, entity: dict) -> dict:  # type: ignore[type-arg]
        return entity


class UserService:
    def __init__(self, repo: UserRepository) -> None:
        self.repo = repo

    async def create_user(self, name: str, email: str) -> dict:  # type: ignore[type-arg]
        return await self.repo.save({"name": name, "email": email})

    async def find_by_email(self, email: str) -> dict | None:  # type: ignore[type-arg]
        users = await self.repo.find_by_filter({"email": email})
        return users[0] if users else None

    async def delete_user(self, user_id: str) -> bool:
        return await self.repo.delete(user_id)


@dataclasses.dataclass
class User:
    name: str
    status: str
    role: str
    _id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        if doc["_id"] is None:
            del doc["_id"]
        return doc


class SoftUserRepository(DocumentRepository[User, str]):
    collection_name = "users"

    def __init__(self, store: DocumentStoreProtocol) -> None:
        super().__init__(store, soft_delete=True)

    async def _document_to_entity(self, doc: dict) -> User:  # type: ignore[type-arg]
        return User(**doc)

    async def _entity_to_document(self, entity: User) -> dict:  # type: ignore[type-arg]
        return entity.to_dict()


async def find_active_admins(repo: SoftUserRepository) -> list[User]:
    active = FieldEq("status", "active")
    admin = FieldEq("role", "admin")
    combined = active & admin
    return await repo.find_by_spec(combined)


# -- the flows ----------------------------------------------------------------------------------


async def test_dashboard_service_gets_both_named_stores(app: Any) -> None:
    dashboard = await app.container.resolve(DashboardService)
    assert dashboard.primary.name == "primary"
    assert dashboard.analytics.name == "analytics"
    await dashboard.analytics.collection("events").insert_one({"kind": "view"})
    assert await dashboard.primary.collection("events").count_documents({}) == 0
    assert await dashboard.analytics.collection("events").count_documents({}) == 1


async def test_aggregation_through_async_with_resolve(
    app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    primary = await app.container.resolve(DocumentStoreProtocol)
    await primary.collection("results").insert_many(
        [
            {"status": "active", "score": 10},
            {"status": "active", "score": 20},
            {"status": "inactive", "score": 99},
        ]
    )

    # The guide's snippet:
    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group("_id", {"count": {"$sum": 1}, "avg_score": {"$avg": "$score"}})
    )
    async with app.container.resolve(DocumentStoreProtocol) as store:
        async for doc in store.collection("results").aggregate(pipeline.build()):
            print(doc)

    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 2  # grouped by each document's own _id
    assert store is primary


async def test_guide_total_pipeline_runs_on_the_named_store(app: Any) -> None:
    analytics = await app.container.resolve(DocumentStoreProtocol, name="analytics")
    await analytics.collection("users").insert_many(
        [{"status": "active"}, {"status": "active"}, {"status": "gone"}]
    )
    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group("_id", {"total": AggregationOp.SUM(1)})
        .sort([("total", -1)])
    )
    rows = [row async for row in analytics.collection("users").aggregate(pipeline.build())]
    assert [row["total"] for row in rows] == [1, 1]


async def test_user_service_write_path(app: Any) -> None:
    service = await app.container.resolve(UserService)
    assert service.repo.store.name == "primary"
    created = await service.create_user("Ada", "ada@example.com")
    found = await service.find_by_email("ada@example.com")
    assert found is not None and found["name"] == "Ada"
    assert await service.delete_user(created["_id"]) is True
    assert await service.find_by_email("ada@example.com") is None


async def test_soft_delete_repository_and_specifications(app: Any) -> None:
    repo = await app.container.resolve(SoftUserRepository)
    ada = await repo.save(User("Ada", "active", "admin"))
    await repo.save(User("Grace", "active", "admin"))
    await repo.save(User("Linus", "active", "user"))
    assert sorted(u.name for u in await find_active_admins(repo)) == ["Ada", "Grace"]
    assert ada._id is not None
    await repo.delete(ada._id)
    assert [u.name for u in await find_active_admins(repo)] == ["Grace"]
    raw = await repo.store.collection("users").find_one({"name": "Ada"})
    assert raw is not None and raw["_deleted"] is True
