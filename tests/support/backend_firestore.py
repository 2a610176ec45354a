"""Firestore on Google's emulator (``scripts/services.sh up firestore``).

Every store gets its own emulator project, so tests never see each other's documents; reset
empties that project with the emulator's ``DELETE .../documents`` endpoint.
"""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

ID = "firestore"
EMULATOR_ENV = "LEXIGRAM_NOSQL_TEST_FIRESTORE_EMULATOR_HOST"
KNOWN_GAPS: dict[str, str] = {}

_RUN = uuid.uuid4().hex[:6]


def emulator_host() -> str | None:
    return os.environ.get(EMULATOR_ENV)


def unavailable() -> str | None:
    host = emulator_host()
    if not host:
        return f"{EMULATOR_ENV} is not set (run `scripts/services.sh up firestore`)"
    name, _, port = host.rpartition(":")
    try:
        with socket.create_connection((name, int(port)), timeout=1.0):
            return None
    except (OSError, ValueError) as exc:
        return f"the Firestore emulator at {host} does not answer ({exc})"


def project_for(name: str) -> str:
    """An emulator project of its own for each store (lower case, as project ids are)."""
    return f"lexigram-{_RUN}-{name.lower().replace('_', '-')}"[:30].rstrip("-")


def settings(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "driver": "firestore",
        "firestore": {"project": project_for(name), "emulator_host": emulator_host()},
    }


def clear_project(host: str, project: str) -> None:
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents",
        method="DELETE",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


async def reset(store: Any) -> None:
    section = store.settings.firestore
    await asyncio.to_thread(clear_project, section.emulator_host, section.project)


async def connected_store(settings: dict[str, Any]) -> AsyncIterator[Any]:
    """A fixture body: the store connected, emptied and closed after the test, which skips
    (or fails, when the test servers are required) without the emulator."""
    from lexigram_nosql import create_store
    from tests.support.backends import services_required

    reason = unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"firestore test server is required but {reason}")
        pytest.skip(f"firestore: {reason}")
    instance = create_store(settings)
    await instance.connect()
    try:
        yield instance
    finally:
        await reset(instance)
        await instance.disconnect()


def count_rpcs(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the RPCs ``store`` sends from now on, in order."""
    from benchmarks.overhead_backends._timing import FIRESTORE_RPCS

    sent: list[str] = []
    api = store.client._firestore_api
    for name in FIRESTORE_RPCS:
        original = getattr(api, name)

        def counted(*args: Any, __name: str = name, __call: Any = original, **kwargs: Any) -> Any:
            sent.append(__name)
            return __call(*args, **kwargs)

        monkeypatch.setattr(api, name, counted)
    return sent
