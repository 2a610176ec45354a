"""Shared fixtures: ``store`` runs a test once per available backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import create_store
from tests.support import gaps, summary
from tests.support.backends import backend_modules, load_services_env, services_required

load_services_env()
BACKENDS = backend_modules()
SUITE_OPERATION_TIMEOUT_S = 300.0


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, ids=[b.ID for b in BACKENDS], indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the test servers' declared gaps (before ``-k`` deselects anything); the fault
    tests, which time outages, run alone (``serial``), not beside the parallel workers; the
    ``slow`` tests go first, so that parallel workers do not wait on one at the end."""
    gaps.apply(items, BACKENDS)
    for item in items:
        if item.nodeid.startswith("tests/faults/"):
            item.add_marker(pytest.mark.serial)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    summary.write(terminalreporter, [b.ID for b in BACKENDS])


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = request.param
    reason = module.unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"{module.ID} test server is required but {reason}")
        pytest.skip(f"{module.ID}: {reason}")
    # A backend module may adapt the test to its server (CongoDB: string ids as ObjectIds).
    prepare = getattr(module, "prepare", None)
    if prepare is not None:
        prepare(monkeypatch)
    return module


@pytest.fixture
async def store(backend: Any) -> AsyncIterator[Any]:
    """A connected store of the parametrized backend, emptied before and after the test."""
    # A backend module may build its store itself (an in-process test double needs a client).
    make = getattr(backend, "create_store", create_store)
    settings = backend.settings(f"test_{uuid.uuid4().hex[:8]}")
    # Correctness cases (a 100,000-value $in fanned out over Firestore queries...) on a loaded
    # machine may take longer than the default deadline; deadlines have tests of their own.
    instance = make({**settings, "operation_timeout_s": SUITE_OPERATION_TIMEOUT_S})
    await instance.connect()
    try:
        await backend.reset(instance)
        yield instance
        await backend.reset(instance)
    finally:
        await instance.disconnect()
