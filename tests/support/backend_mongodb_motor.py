"""MongoDB through Motor (deprecated by MongoDB, still supported)."""

from __future__ import annotations

from typing import Any

from tests.support import mongodb_server

ID = "mongodb-motor"
KNOWN_GAPS: dict[str, str] = mongodb_server.known_gaps()
NOT_APPLICABLE: dict[str, str] = mongodb_server.not_applicable()
unavailable = mongodb_server.unavailable
reset = mongodb_server.reset
prepare = mongodb_server.prepare


def settings(name: str) -> dict[str, Any]:
    return mongodb_server.settings(name, "motor")
