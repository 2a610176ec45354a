"""Shared fixtures: ``store`` runs a test once per available backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import create_store
from tests.support.backends import backend_modules, load_services_env, services_required

load_services_env()
BACKENDS = backend_modules()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, ids=[b.ID for b in BACKENDS], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Any:
    module = request.param
    reason = module.unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"{module.ID} test server is required but {reason}")
        pytest.skip(f"{module.ID}: {reason}")
    for fragment, why in getattr(module, "NOT_APPLICABLE", {}).items():
        if fragment in request.node.nodeid:
            pytest.skip(f"{module.ID} does not apply: {why}")
    for fragment, why in module.KNOWN_GAPS.items():
        if fragment in request.node.name:
            request.applymarker(
                pytest.mark.xfail(reason=f"{module.ID} test server: {why}", strict=True)
            )
    return module


@pytest.fixture
async def store(backend: Any) -> AsyncIterator[Any]:
    """A connected store of the parametrized backend, emptied before and after the test."""
    # A backend module may build its store itself (an in-process test double needs a client).
    make = getattr(backend, "create_store", create_store)
    instance = make(backend.settings(f"test_{uuid.uuid4().hex[:8]}"))
    await instance.connect()
    try:
        await backend.reset(instance)
        yield instance
        await backend.reset(instance)
    finally:
        await instance.disconnect()
