"""Which stores booted applications hold, so ``MigrationManager(db_name="myapp")`` can find
its store without being handed one.

``Application`` registers its connected stores when it boots and unregisters them when it
shuts down (``register_stores`` returns the token to unregister with). A store answers to a
``db_name`` equal to its database (the ``database`` setting of the mongodb and firestore
sections) or to its store name.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable

from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.errors import ConfigurationError

__all__ = [
    "booted_stores",
    "database_name",
    "find_store",
    "register_stores",
    "unregister_stores",
]

_lock = threading.Lock()
_tokens = itertools.count(1)
_registered: dict[int, tuple[DocumentStoreProtocol, ...]] = {}


def register_stores(stores: Iterable[DocumentStoreProtocol]) -> int:
    """Make ``stores`` findable by database or store name; returns the token to unregister."""
    with _lock:
        token = next(_tokens)
        _registered[token] = tuple(stores)
        return token


def unregister_stores(token: int) -> None:
    """Forget the stores registered under ``token`` (unknown tokens are ignored)."""
    with _lock:
        _registered.pop(token, None)


def booted_stores() -> list[DocumentStoreProtocol]:
    """Every registered store, each once, in registration order."""
    with _lock:
        groups = list(_registered.values())
    seen: set[int] = set()
    stores = []
    for store in itertools.chain.from_iterable(groups):
        if id(store) not in seen:
            seen.add(id(store))
            stores.append(store)
    return stores


def database_name(store: DocumentStoreProtocol) -> str | None:
    """The database a store's settings name (mongodb/firestore ``database``), if any."""
    settings = getattr(store, "settings", None)
    section = getattr(settings, store.driver, None)
    database = getattr(section, "database", None)
    return database if isinstance(database, str) else None


def find_store(db_name: str) -> DocumentStoreProtocol:
    """The one booted store whose database (or, failing that, name) is ``db_name``.

    Raises:
        ConfigurationError: no application is booted, no store matches, or several do.
    """
    stores = booted_stores()
    if not stores:
        raise ConfigurationError(
            f"MigrationManager(db_name={db_name!r}) needs a booted application to find its "
            "store, and none is booted; boot the application first, or pass the store "
            "explicitly: MigrationManager(store=...).",
            path="db_name",
        )
    by_database = [s for s in stores if database_name(s) == db_name]
    matches = by_database or [s for s in stores if s.name == db_name]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{s.name} (database {database_name(s) or '-'})" for s in stores)
    if not matches:
        raise ConfigurationError(
            f"No booted store has the database or name {db_name!r}; the stores are: {known}.",
            path="db_name",
        )
    names = ", ".join(repr(s.name) for s in matches)
    raise ConfigurationError(
        f"Several booted stores have the database {db_name!r} ({names}); pass the one to "
        "migrate explicitly: MigrationManager(store=...).",
        path="db_name",
    )
