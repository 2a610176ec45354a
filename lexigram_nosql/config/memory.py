"""Settings of the embedded memory store."""

from __future__ import annotations

from typing import Literal

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel

__all__ = ["MemorySection", "MemoryStoreSettings"]


class MemorySection(StrictModel):
    """Settings of the memory store."""

    emulate: Literal["mongodb", "dynamodb", "firestore"] = "mongodb"
    """Whose limits the store enforces on every document it writes (document size, id rules,
    nesting, the backend's value types), so tests on memory refuse what production would."""


class MemoryStoreSettings(StoreSettingsBase):
    """A store kept in this process's memory (tests, demos, embedded use)."""

    driver: Literal["memory"] = "memory"
    memory: MemorySection = MemorySection()

    def address(self) -> str:
        return f"memory://{self.name}"
