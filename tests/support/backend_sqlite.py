"""The embedded SQLite store, one file per store in a directory removed when tests end."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

ID = "sqlite"
KNOWN_GAPS: dict[str, str] = {}

_DIRECTORY = Path(tempfile.mkdtemp(prefix="lexigram-sqlite-tests-"))
atexit.register(shutil.rmtree, _DIRECTORY, ignore_errors=True)


def unavailable() -> str | None:
    return None


def settings(name: str) -> dict[str, Any]:
    return {"name": name, "driver": "sqlite", "sqlite": {"path": str(_DIRECTORY / f"{name}.db")}}


async def reset(store: Any) -> None:
    for collection in await store.list_collections():
        await store.drop_collection(collection)
