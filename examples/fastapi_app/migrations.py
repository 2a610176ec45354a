"""Migrations applied at startup by ``MigrationsModule``: once per store, even when several
instances start together (the manager holds a lease lock)."""

from __future__ import annotations

from dependency_injector import containers

from lexigram_nosql import (
    AddField,
    Container,
    CreateIndex,
    DocumentStoreProtocol,
    MigrationManager,
)


def user_migrations(store: DocumentStoreProtocol) -> MigrationManager:
    manager = MigrationManager(store=store)
    manager.add(CreateIndex("users", [("email", 1)], unique=True), name="unique emails")
    manager.add(AddField("users", "newsletter", default=False), name="newsletter flag")
    return manager


class MigrationsModule:
    """An ``Application`` module: once the stores are up, bring the users store's schema up
    to date (``Application.boot`` starts modules in order, so list it after ``NoSQLModule``)."""

    def __init__(self) -> None:
        self._container: Container | None = None

    def install(self, container: Container | containers.Container) -> None:
        if not isinstance(container, Container):
            raise TypeError("MigrationsModule needs a lexigram_nosql.Container")
        self._container = container

    async def startup(self) -> None:
        if self._container is None:
            raise RuntimeError("MigrationsModule.startup() before install()")
        store = await self._container.resolve(DocumentStoreProtocol)
        await user_migrations(store).apply()

    async def shutdown(self) -> None:
        return None
