"""The registry of backends the shared suite runs against.

Each backend has a module ``tests/support/backend_<id>.py`` defining:

- ``ID``: the pytest parameter id (``"memory"``, ``"dynamodb"``, ``"mongodb-pymongo"``...);
- ``unavailable() -> str | None``: why its test server is not reachable (None when it is);
- ``settings(name: str) -> dict``: a store entry for ``create_store``;
- ``async reset(store) -> None``: remove everything a test left behind;
- ``KNOWN_GAPS: dict[str, str]``: test-name substring -> why the *test server* (not our code)
  gets it wrong; such tests are marked strict xfail, so a real server flips them;
- optionally ``create_store(entry) -> store``, used instead of ``lexigram_nosql.create_store``
  (``backend_mongodb_mongomock`` plugs an in-process client into the MongoDB store);
- optionally ``NOT_APPLICABLE: dict[str, str]``: test-id substring -> why the backend cannot
  take part (reported as a skip with that reason), e.g. a test double that stores built from
  configuration cannot reach.

With ``LEXIGRAM_NOSQL_REQUIRE_SERVICES=1`` (set by ``make test``) an unreachable server is an
error; otherwise its tests are skipped with the reason shown.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

BACKEND_MODULES = (
    "memory",
    "mongodb_pymongo",
    "mongodb_motor",
    "mongodb_mongomock",
    "dynamodb",
    "firestore",
    "sqlite",
)

SERVICES_ENV = Path(__file__).resolve().parents[2] / ".services" / "env"


def load_services_env() -> None:
    """Read the connection settings ``scripts/services.sh up`` wrote (env vars win)."""
    if not SERVICES_ENV.exists():
        return
    for line in SERVICES_ENV.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


def backend_modules() -> list[ModuleType]:
    """The backend support modules that exist (backends land one issue at a time)."""
    modules = []
    for name in BACKEND_MODULES:
        try:
            modules.append(importlib.import_module(f"tests.support.backend_{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.support.backend_{name}":
                raise
    return modules


def services_required() -> bool:
    return os.environ.get("LEXIGRAM_NOSQL_REQUIRE_SERVICES") == "1"
