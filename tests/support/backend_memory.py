"""The embedded memory store: always available, nothing to reset but the store itself."""

from __future__ import annotations

from typing import Any

ID = "memory"
KNOWN_GAPS: dict[str, str] = {}
_OWN_DATA = "each memory store holds its own data: no other store (process) shares its indexes"
NOT_APPLICABLE: dict[str, str] = {
    "tests/conformance/test_index_records.py": _OWN_DATA,
    "tests/conformance/test_partial_indexes.py::"
    "test_another_store_on_the_same_data_keeps_the_partial_rule": _OWN_DATA,
}


def unavailable() -> str | None:
    return None


def settings(name: str) -> dict[str, Any]:
    return {"name": name, "driver": "memory"}


async def reset(store: Any) -> None:
    for collection in await store.list_collections():
        await store.drop_collection(collection)
