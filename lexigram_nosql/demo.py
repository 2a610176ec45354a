"""``lexigram-nosql demo``: the user guide's flows, end to end, on the configured stores.

Runs on ``config/nosql.yaml`` (two embedded memory stores, ``primary`` and ``analytics``, and
the SQLite store ``journal``, whose file keeps a journal of demo runs) so it needs nothing
installed or running; point ``--config`` at another file to run the same flows
on MongoDB, DynamoDB or Firestore. Every step prints what it did, so the output reads as a
walkthrough of the guide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from lexigram_nosql.config.loader import DEFAULT_CONFIG_PATH, ConfigSource, load_config
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.di import Named
from lexigram_nosql.health import HealthService
from lexigram_nosql.migrations import AddField, CreateIndex, MigrationManager
from lexigram_nosql.pipeline import AggregationOp, AggregationPipeline
from lexigram_nosql.providers import Application, NoSQLModule
from lexigram_nosql.repository import DocumentRepository
from lexigram_nosql.specification import FieldEq

__all__ = ["DEMO_CONFIG", "default_config", "run_demo"]

DEMO_CONFIG: dict[str, Any] = {
    "nosql": {
        "backends": [
            {"name": "primary", "driver": "memory", "primary": True},
            {"name": "analytics", "driver": "memory", "critical": False},
        ]
    }
}
"""Used when no ``--config`` is given and ``config/nosql.yaml`` is not in the working
directory (the same two stores as that file)."""

Printer = Callable[[str], None]


# -- the guide's classes, as a user would write them -------------------------------------------


class UserRepository(DocumentRepository[dict[str, Any], str]):
    """The guide's write-path repository: plain dicts in and out, soft delete on."""

    collection_name = "users"

    def __init__(self, store: DocumentStoreProtocol) -> None:
        super().__init__(store, soft_delete=True)

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


class UserService:
    """The guide's service: built by the container, which builds its repository."""

    def __init__(self, repo: UserRepository) -> None:
        self.repo = repo

    async def create_user(self, name: str, email: str, **fields: Any) -> dict[str, Any]:
        return await self.repo.save({"name": name, "email": email, **fields})

    async def find_by_email(self, email: str) -> dict[str, Any] | None:
        users = await self.repo.find_by_filter({"email": email})
        return users[0] if users else None

    async def delete_user(self, user_id: str) -> bool:
        return await self.repo.delete(user_id)


class DashboardService:
    """The guide's multi-store service: the primary store, and the one named analytics."""

    def __init__(
        self,
        primary: DocumentStoreProtocol,
        analytics: Annotated[DocumentStoreProtocol, Named("analytics")],
    ) -> None:
        self.primary = primary
        self.analytics = analytics

    async def record(self, user: dict[str, Any], action: str, score: int) -> None:
        await self.analytics.collection("events").insert_one(
            {"user": user["name"], "action": action, "score": score, "status": "active"}
        )

    async def activity(self) -> list[dict[str, Any]]:
        pipeline = (
            AggregationPipeline()
            .match({"status": "active"})
            .group("user", {"events": AggregationOp.SUM(1), "avg_score": {"$avg": "$score"}})
            .sort([("events", -1), ("_id", 1)])
        )
        events = self.analytics.collection("events")
        return [row async for row in events.aggregate(pipeline.build())]


# -- the walkthrough ------------------------------------------------------------------------------


def default_config() -> ConfigSource:
    """``config/nosql.yaml`` when the working directory has it, else ``DEMO_CONFIG``."""
    return DEFAULT_CONFIG_PATH if Path(DEFAULT_CONFIG_PATH).exists() else DEMO_CONFIG


async def run_demo(config: ConfigSource | None = None, *, out: Printer = print) -> None:
    """Walk the guide's flows on ``config`` (default: ``config/nosql.yaml``, else
    ``DEMO_CONFIG``), printing each step."""
    if config is None:
        config = default_config()
    shown = str(config) if not isinstance(config, dict) else "built-in: two memory stores"
    settings = load_config(config)

    out("lexigram-nosql demo")
    out("===================")
    out(f"\n1. Configuration ({shown})")
    for entry in settings.backends:
        role = "primary" if entry is settings.primary else "named"
        out(f"   - {entry.name}: {getattr(entry, 'driver', '?')} at {entry.address()} ({role})")

    out("\n2. Boot: Application.boot(config=..., modules=[NoSQLModule])")
    async with Application.boot(config=settings, modules=[NoSQLModule]) as app:
        module = next(m for m in app.modules if isinstance(m, NoSQLModule))
        connected = [name for name, store in module.stores.items() if store.is_connected]
        out(f"   connected: {', '.join(connected) or '(none yet: lazy)'}")

        out("\n3. Constructor injection")
        dashboard = await app.container.resolve(DashboardService)
        out("   DashboardService(primary: DocumentStoreProtocol,")
        out('                    analytics: Annotated[DocumentStoreProtocol, Named("analytics")])')
        out(f"   -> primary={dashboard.primary.name!r}, analytics={dashboard.analytics.name!r}")
        users = await app.container.resolve(UserService)
        out(f"   UserService(repo: UserRepository) -> repo on store {users.repo.store.name!r}")

        out("\n4. Writes (users in primary, events in analytics)")
        people = [
            ("Ada", "ada@example.com", "admin", [7, 9, 8]),
            ("Grace", "grace@example.com", "admin", [10, 6]),
            ("Linus", "linus@example.com", "user", [5]),
        ]
        created = []
        for name, email, role, scores in people:
            user = await users.create_user(name, email, role=role, status="active")
            created.append(user)
            for score in scores:
                await dashboard.record(user, "login", score)
            out(f"   saved user {name} (_id {user['_id']}) and {len(scores)} event(s)")

        out("\n5. Queries")
        found = await users.find_by_email("grace@example.com")
        out(f"   find_by_email('grace@example.com') -> {found and found['name']}")
        admins = await users.repo.find_by_spec(
            FieldEq("status", "active") & FieldEq("role", "admin")
        )
        out(f"   active admins (FieldEq & FieldEq) -> {sorted(u['name'] for u in admins)}")
        deleted = await users.delete_user(created[2]["_id"])
        remaining = await users.repo.count()
        out(f"   delete_user(Linus) -> {deleted}; users still visible: {remaining} (soft delete)")
        stored = await dashboard.primary.collection("users").count_documents({})
        out(f"   documents kept in the collection: {stored} (one marked _deleted: true)")

        out("\n6. Aggregation on analytics")
        out("   match(status=active) | group(user, events=SUM(1), avg_score=$avg) | sort")
        for row in await dashboard.activity():
            out(f"   {row['_id']:<6} events={row['events']} avg_score={row['avg_score']:.2f}")

        out("\n7. Migrations: MigrationManager(db_name=...) finds the booted store by name")
        manager = MigrationManager(db_name=dashboard.primary.name)
        manager.add(CreateIndex("users", [("email", 1)], unique=True))
        manager.add(AddField("users", "avatar_url", default=""))
        for result in await manager.apply():
            out(f"   {result.action}: {result.id} {result.name}")
        for status in await manager.status():
            out(f"   status {status.id}: {status.state}")
        with_avatar = await dashboard.primary.collection("users").count_documents(
            {"avatar_url": ""}
        )
        out(f"   users with avatar_url set by AddField: {with_avatar}")
        again = await manager.apply()
        out(f"   apply() again: {len(again)} migration(s) applied (each runs once)")

        for store in module.stores.values():
            if store.driver == "sqlite":
                await _journal(store, out)

        out("\n8. Health (application/health+json)")
        health = await app.container.resolve(HealthService)
        report = await health.check()
        out(_indent(json.dumps(report.to_dict(), indent=2)))

    out("\n9. Shutdown: every store disconnected, in reverse order")
    out(
        "   "
        + ", ".join(
            f"{n}: {'connected' if s.is_connected else 'closed'}" for n, s in module.stores.items()
        )
    )


async def _journal(store: DocumentStoreProtocol, out: Printer) -> None:
    """Log this run in a SQLite store and show the runs the file kept from before."""
    from datetime import UTC, datetime

    out(f"\n7b. Persistence: store {store.name!r} (sqlite) keeps a journal of demo runs")
    runs = store.collection("demo_runs")
    await runs.create_index("run", unique=True)
    earlier = [doc async for doc in runs.find(sort=[("run", 1)])]
    for doc in earlier:
        out(f"   kept from an earlier run: run {doc['run']} at {doc['at']:%Y-%m-%d %H:%M:%S} UTC")
    if not earlier:
        out("   no earlier run in this file: run the demo again to see this one kept")
    number = (earlier[-1]["run"] + 1) if earlier else 1
    await runs.insert_one({"run": number, "at": datetime.now(UTC)})
    out(f"   recorded run {number}; the file now holds {await runs.count_documents({})} run(s)")


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
