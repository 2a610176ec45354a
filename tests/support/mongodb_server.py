"""The MongoDB server the MongoDB backends are tested against, shared by
``backend_mongodb_pymongo`` and ``backend_mongodb_motor``.

A real server named by ``LEXIGRAM_NOSQL_TEST_MONGODB_URI`` takes precedence; otherwise the
CongoDB test server that ``scripts/services.sh up congodb`` starts
(``LEXIGRAM_NOSQL_TEST_CONGODB_URI``). CongoDB speaks the wire protocol but gets some things
wrong; ``CONGODB_GAPS`` lists them, and they are expected failures only against CongoDB.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

REAL_URI_ENV = "LEXIGRAM_NOSQL_TEST_MONGODB_URI"
CONGODB_URI_ENV = "LEXIGRAM_NOSQL_TEST_CONGODB_URI"

# Conformance test-name fragment -> what CongoDB (not our backend) gets wrong.
CONGODB_GAPS: dict[str, str] = {}


def target() -> tuple[str, str] | None:
    """``(kind, uri)`` of the server to test against: ``"mongodb"`` or ``"congodb"``."""
    real = os.environ.get(REAL_URI_ENV)
    if real:
        return "mongodb", real
    congo = os.environ.get(CONGODB_URI_ENV)
    if congo:
        return "congodb", congo
    return None


def against_congodb() -> bool:
    found = target()
    return found is not None and found[0] == "congodb"


def known_gaps() -> dict[str, str]:
    """The expected failures of the server under test (none for a real MongoDB)."""
    return dict(CONGODB_GAPS) if against_congodb() else {}


def unavailable() -> str | None:
    """Why no MongoDB server can be used, or None when one answers on its port."""
    found = target()
    if found is None:
        return (
            f"neither {REAL_URI_ENV} nor {CONGODB_URI_ENV} is set "
            "(run `scripts/services.sh up congodb`)"
        )
    kind, uri = found
    host, port = _first_host(uri)
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"the {kind} server at {host}:{port} does not answer ({exc})"


def settings(name: str, client: str) -> dict[str, Any]:
    found = target()
    uri = found[1] if found else "mongodb://127.0.0.1:27117"
    return {
        "name": name,
        "driver": "mongodb",
        "mongodb": {
            "uri": uri,
            "database": f"lexigram_{name}",
            "client": client,
            "server_selection_timeout_ms": 3000,
        },
    }


async def reset(store: Any) -> None:
    """Drop the test's database (each test has its own)."""
    await store.client.drop_database(store.settings.mongodb.database)


def _first_host(uri: str) -> tuple[str, int]:
    hosts = urlsplit(uri).netloc.rpartition("@")[2].split(",")[0]
    host, _, port = hosts.rpartition(":") if hosts.count(":") == 1 else (hosts, "", "")
    return host or "127.0.0.1", int(port or 27017)
