"""Fixtures of the fault tests: a private server per test (see ``servers.py``) and stores on
it with small client timeouts, so a stopped server shows up in seconds."""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import servers
from tests.support.backends import services_required

# Backend id -> how to start its private server.
SERVERS: dict[str, Callable[[Path], servers.PrivateServer | str]] = {
    "mongodb": servers.congodb,
    "dynamodb": servers.dynamodb,
    "firestore": servers.firestore,
}

CONNECT_TIMEOUT_S = 3.0
HEALTH_TIMEOUT_S = 2.0
OPERATION_TIMEOUT_S = 4.0


def store_settings(backend: str, port: int, *, name: str, lazy: bool = False) -> dict[str, Any]:
    """A store on the private server at ``port``, with client timeouts of a few seconds."""
    common: dict[str, Any] = {
        "name": name,
        "driver": backend,
        "connect_timeout_s": CONNECT_TIMEOUT_S,
        "health_timeout_s": HEALTH_TIMEOUT_S,
        # the deadline, not luck with the client timeouts below, keeps each call under the
        # tests' 6 s bound on a loaded machine
        "operation_timeout_s": OPERATION_TIMEOUT_S,
        "lazy": lazy,
    }
    if backend == "mongodb":
        section: dict[str, Any] = {
            "uri": f"mongodb://127.0.0.1:{port}",
            "database": f"faults_{uuid.uuid4().hex[:8]}",
            "server_selection_timeout_ms": 1000,
            "connect_timeout_ms": 1000,
            "socket_timeout_ms": 2000,
        }
    elif backend == "dynamodb":
        section = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region": "us-east-1",
            "access_key_id": "lexigramfaults",
            "secret_access_key": "lexigramfaultssecret",
            "table_prefix": f"f{uuid.uuid4().hex[:8]}_",
            "read_timeout_s": 2.0,
            "max_attempts": 2,
        }
    else:
        section = {
            "project": f"faults-{uuid.uuid4().hex[:8]}",
            "emulator_host": f"127.0.0.1:{port}",
            "retry_timeout_s": 2.0,
        }
    return {**common, backend: section}


# PyMongo (4.x) leaks one socket when a client is closed while its server monitor is
# connecting: ``pool_shared._async_create_connection`` closes the socket on a connect error but
# not on cancellation. Closing a client whose server is down (a failed connect, a lazy store's
# retry) hits that window now and then; the GC then reports the socket, at a random moment.
PYMONGO_MONITOR_SOCKET = r"ignore:unclosed <socket\.socket:ResourceWarning"


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.filterwarnings(PYMONGO_MONITOR_SOCKET))
        if name == "mongodb"
        else name
        for name in sorted(SERVERS)
    ]
)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[servers.PrivateServer]:
    """A private, not yet started server of each backend; stopped at the end whatever
    happened. Missing java/node/jar: a failure under LEXIGRAM_NOSQL_REQUIRE_SERVICES=1, a
    visible skip otherwise."""
    backend: str = request.param
    found = SERVERS[backend](tmp_path)
    if isinstance(found, str):
        if services_required():
            pytest.fail(f"private {backend} server is required but {found}")
        pytest.skip(f"private {backend} server: {found}")
    try:
        yield found
    finally:
        found.stop()
        if backend == "mongodb":
            collect_pymongo_monitor_sockets()


def collect_pymongo_monitor_sockets() -> None:
    """Collect a socket PyMongo leaked (see PYMONGO_MONITOR_SOCKET) now, with that warning
    silenced, so it cannot fail a later, unrelated test when the GC finds it there."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"unclosed <socket\.socket", ResourceWarning)
        gc.collect()


def backend_of(server: servers.PrivateServer) -> str:
    return {"congodb": "mongodb"}.get(server.name, server.name)
