"""The pytest plugin shipped with the package (entry point ``pytest11``, name
``lexigram_nosql``): fixtures for users' own tests, with nothing to import.

- ``nosql_store``: a fresh, connected store per test (a memory store by default);
- ``nosql_app``: an ``Application`` booted from your ``nosql`` config, memory stores in place of
  the configured ones by default.

Settings, each an ini option or an environment variable (the variable wins; a
``@pytest.mark.nosql(...)`` marker wins over both for one test):

- ``nosql_config`` / ``LEXIGRAM_NOSQL_CONFIG``: the config file ``nosql_app`` boots (relative
  to the ini file); default ``config/nosql.yaml`` when it exists, else one memory store;
- ``nosql_backend`` / ``LEXIGRAM_NOSQL_TEST_BACKEND``: ``memory`` (default); ``config`` (the
  stores as configured, on their real servers); or a store settings mapping in YAML
  (``{driver: mongodb, mongodb: {uri: "mongodb://localhost:27017"}}``) that every store uses.
  Off memory, each test gets its own namespace (a MongoDB database, a DynamoDB table prefix,
  a Firestore emulator project) and its collections are dropped afterwards;
- ``nosql_emulate`` / ``LEXIGRAM_NOSQL_TEST_EMULATE``: the ``memory.emulate`` setting of the
  memory stores (marker: ``emulate=``); by default each memory store emulates the backend
  its config names, so it refuses what that backend would.

Async fixtures run through pytest-asyncio (installed by the ``testing`` extra).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from lexigram_nosql.backends import create_store
from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.config.loader import CONFIG_ENV_VAR, interpolate, load_config, read_yaml
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.errors import ConfigurationError
from lexigram_nosql.providers import Application, NoSQLModule

__all__ = ["nosql_app", "nosql_store"]

BACKEND_ENV_VAR = "LEXIGRAM_NOSQL_TEST_BACKEND"
EMULATE_ENV_VAR = "LEXIGRAM_NOSQL_TEST_EMULATE"

_async_fixture: Any
try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - the fixtures then say what to install
    _async_fixture = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("nosql_config", "lexigram-nosql: the config file nosql_app boots", default="")
    parser.addini(
        "nosql_backend",
        "lexigram-nosql: memory (default), config, or a store settings mapping in YAML",
        default="",
    )
    parser.addini(
        "nosql_emulate", "lexigram-nosql: memory.emulate of the memory stores", default=""
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "nosql(emulate=None, config=None, backend=None): settings of the lexigram-nosql "
        "fixtures for this test",
    )


def _setting(request: pytest.FixtureRequest, key: str, ini: str, env: str) -> str | None:
    marker = request.node.get_closest_marker("nosql")
    if marker is not None and marker.kwargs.get(key) is not None:
        return str(marker.kwargs[key])
    value = os.environ.get(env) or request.config.getini(ini)
    return str(value) if value else None


def _backend(request: pytest.FixtureRequest) -> str | dict[str, Any]:
    """``"memory"``, ``"config"``, or a store settings mapping."""
    text = _setting(request, "backend", "nosql_backend", BACKEND_ENV_VAR) or "memory"
    if text in ("memory", "config"):
        return text
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, Mapping) or "driver" not in parsed:
        raise ConfigurationError(
            f"{BACKEND_ENV_VAR} / nosql_backend must be memory, config, or a store settings "
            f"mapping with a driver, got {text!r}",
            path="nosql_backend",
        )
    return dict(parsed)


def _config_path(request: pytest.FixtureRequest) -> Path | None:
    named = _setting(request, "config", "nosql_config", CONFIG_ENV_VAR)
    if named is None:
        default = request.config.rootpath / "config" / "nosql.yaml"
        return default if default.exists() else None
    path = Path(named)
    if not path.is_absolute():
        base = request.config.inipath.parent if request.config.inipath else Path.cwd()
        path = base / path
    return path


def _config(request: pytest.FixtureRequest, backend: str | dict[str, Any]) -> dict[str, Any]:
    """The ``nosql`` section this test boots, its stores as ``_test_store_entry`` takes them.

    Only ``config`` validates the stores as written (their drivers must be installed); on
    memory or one given backend, only each store's name and role are taken from the file, so
    the tests need neither the configured drivers nor their secrets.
    """
    path = _config_path(request)
    if backend == "config":
        settings = (
            load_config(path)
            if path is not None
            else load_config({"nosql": {"driver": "memory"}}, environ={})
        )
        return {
            "backends": [_as_entry(entry) for entry in settings.backends],
            "health": settings.health.model_dump(exclude_unset=True),
        }
    if path is None:
        return {"backends": [{"name": "primary"}], "health": {}}
    document = read_yaml(path)
    section = document.get("nosql") if isinstance(document, Mapping) else None
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"{path} has no `nosql:` section", path="nosql")
    raw = section.get("backends", [section])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NOSQL__")}
    entries = [
        interpolate({k: entry[k] for k in (*_ROLE_KEYS, "driver") if k in entry}, environ, "nosql")
        for entry in raw
        if isinstance(entry, Mapping)
    ]
    return {"backends": entries, "health": dict(section.get("health") or {})}


_ROLE_KEYS = ("name", "primary", "critical", "lazy", "health_timeout_s")
_EMULATED = ("mongodb", "dynamodb", "firestore")


def _test_store_entry(
    entry: dict[str, Any], backend: str | dict[str, Any], emulate: str | None, token: str
) -> dict[str, Any]:
    """``entry`` (a store of the config, as a mapping) as this test runs it."""
    common: dict[str, Any] = {k: entry[k] for k in _ROLE_KEYS if k in entry}
    if isinstance(backend, dict):
        chosen: dict[str, Any] = {**backend, **common}
    elif backend == "config":
        chosen = dict(entry)
    else:
        chosen = {**common, "driver": "memory"}
    if chosen["driver"] == "memory":
        # By default a memory store stands in for the configured backend: it refuses the
        # documents that backend would refuse.
        configured = entry.get("driver")
        if emulate is None and configured in _EMULATED:
            emulate = configured
        if emulate is not None:
            chosen["memory"] = {**chosen.get("memory", {}), "emulate": emulate}
        return chosen
    return _isolated(chosen, token)


def _isolated(entry: dict[str, Any], token: str) -> dict[str, Any]:
    """A namespace of this test's own on a real server."""
    driver = entry["driver"]
    section = dict(entry.get(driver) or {})
    if driver == "mongodb":
        section["database"] = f"{section.get('database', 'app')}_{token}"[:63]
    elif driver == "dynamodb":
        section["table_prefix"] = f"{section.get('table_prefix', '')}t{token}_"
    elif driver == "firestore":
        if not (section.get("emulator_host") or os.environ.get("FIRESTORE_EMULATOR_HOST")):
            raise ConfigurationError(
                f"Store {entry.get('name')!r}: tests run on Firestore only through the emulator "
                "(set firestore.emulator_host or FIRESTORE_EMULATOR_HOST), since a test needs a "
                "project of its own",
                path="firestore.emulator_host",
            )
        section["project"] = f"{section.get('project', 'lexigram-local')}-{token}"
    return {**entry, driver: section}


def _as_entry(settings: StoreSettingsBase) -> dict[str, Any]:
    """A store's settings as the mapping they were given as (its driver always included)."""
    return settings.model_dump(exclude_unset=True) | settings.model_dump(include={"driver"})


async def _drop_collections(store: DocumentStoreProtocol) -> None:
    if store.driver == "memory" or not store.is_connected:
        return
    for name in await store.list_collections():
        await store.drop_collection(name)


def _need_pytest_asyncio() -> None:
    if _async_fixture is None:  # pragma: no cover
        raise RuntimeError(
            "The lexigram-nosql fixtures need pytest-asyncio: pip install 'lexigram-nosql[testing]'"
        )


def _fixture(function: Any) -> Any:
    if _async_fixture is not None:
        return _async_fixture(function)

    @pytest.fixture(name=function.__name__)  # pragma: no cover
    def unavailable() -> None:
        _need_pytest_asyncio()

    return unavailable  # pragma: no cover


@_fixture
async def nosql_store(request: pytest.FixtureRequest) -> AsyncIterator[DocumentStoreProtocol]:
    """A fresh, connected store named ``primary`` for this test; closed afterwards."""
    backend = _backend(request)
    emulate = _setting(request, "emulate", "nosql_emulate", EMULATE_ENV_VAR)
    token = uuid.uuid4().hex[:8]
    entry: dict[str, Any] = {"name": "primary"}
    if backend == "config":
        stores = _config(request, backend)["backends"]
        entry = next((e for e in stores if e.get("primary")), stores[0])
    store = create_store(_test_store_entry(entry, backend, emulate, token))
    await store.connect()
    try:
        yield store
    finally:
        try:
            await _drop_collections(store)
        finally:
            await store.disconnect()


@_fixture
async def nosql_app(request: pytest.FixtureRequest) -> AsyncIterator[Application]:
    """An ``Application`` booted from the config (see the module docstring), stopped after
    the test; ``await nosql_app.container.resolve(MyService)`` builds your services."""
    backend = _backend(request)
    section = _config(request, backend)
    emulate = _setting(request, "emulate", "nosql_emulate", EMULATE_ENV_VAR)
    token = uuid.uuid4().hex[:8]
    entries = [_test_store_entry(e, backend, emulate, token) for e in section["backends"]]
    test_settings = load_config({"nosql": {**section, "backends": entries}}, environ={})
    async with Application.boot(config=test_settings, modules=[NoSQLModule]) as app:
        try:
            yield app
        finally:
            for module in app.modules:
                if isinstance(module, NoSQLModule):
                    for store in module.stores.values():
                        await _drop_collections(store)
