"""The store ``MigrationManager(db_name="myapp")`` migrates, found through the container of a
booted application (``lexigram_nosql.di.booted``): no list of stores is kept beside it.

A store answers to a ``db_name`` equal to its database (the ``database`` setting of the
mongodb and firestore sections) or, failing that, to its store name. The application whose
body the lookup runs in is asked first; when it has no such store (or the lookup runs outside
every application's body: a request task, a thread), every booted application is, and exactly
one store must answer.
"""

from __future__ import annotations

from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.di.booted import booted_containers, current_container
from lexigram_nosql.di.container import Container
from lexigram_nosql.errors import ConfigurationError

__all__ = ["database_name", "find_store"]


def database_name(store: DocumentStoreProtocol) -> str | None:
    """The database a store's settings name (mongodb/firestore ``database``), if any."""
    settings = getattr(store, "settings", None)
    section = getattr(settings, store.driver, None)
    database = getattr(section, "database", None)
    return database if isinstance(database, str) else None


def find_store(db_name: str) -> DocumentStoreProtocol:
    """The one store of a booted application whose database (or, failing that, name) is
    ``db_name``.

    Raises:
        ConfigurationError: no application is booted, no store matches, or several do.
    """
    containers = booted_containers()
    if not containers:
        raise ConfigurationError(
            f"MigrationManager(db_name={db_name!r}) finds its store through a booted "
            "application, and none is booted (or it has shut down); use it inside "
            "`async with Application.boot(...)`, or pass the store: MigrationManager(store=...).",
            path="db_name",
        )
    current = current_container()
    if current is not None:
        mine = _matching(_stores(current), db_name)
        if mine:
            return _one(mine, db_name)
    everywhere = [store for container in containers for store in _stores(container)]
    matches = _matching(everywhere, db_name)
    if not matches:
        known = ", ".join(f"{s.name} (database {database_name(s) or '-'})" for s in everywhere)
        raise ConfigurationError(
            f"MigrationManager(db_name={db_name!r}): no store of a booted application has the "
            f"database or name {db_name!r}; the stores are: {known or '(none)'}.",
            path="db_name",
        )
    return _one(matches, db_name)


def _stores(container: Container) -> list[DocumentStoreProtocol]:
    """The stores bound in ``container``, by name (each once)."""
    found: dict[int, DocumentStoreProtocol] = {}
    for name in container.names(DocumentStoreProtocol):
        store = container.provider_for(DocumentStoreProtocol, name=name)()
        found.setdefault(id(store), store)
    return list(found.values())


def _matching(stores: list[DocumentStoreProtocol], db_name: str) -> list[DocumentStoreProtocol]:
    by_database = [s for s in stores if database_name(s) == db_name]
    return by_database or [s for s in stores if s.name == db_name]


def _one(matches: list[DocumentStoreProtocol], db_name: str) -> DocumentStoreProtocol:
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(repr(s.name) for s in matches)
    raise ConfigurationError(
        f"MigrationManager(db_name={db_name!r}): several stores have the database or name "
        f"{db_name!r} ({names}); pass the one to migrate: MigrationManager(store=...).",
        path="db_name",
    )
