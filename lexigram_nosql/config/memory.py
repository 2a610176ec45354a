"""Settings of the embedded memory store."""

from __future__ import annotations

from typing import Literal

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel

__all__ = ["MemorySection", "MemoryStoreSettings"]


class MemorySection(StrictModel):
    """Nothing to configure yet; the section exists so every driver has the same shape."""


class MemoryStoreSettings(StoreSettingsBase):
    """A store kept in this process's memory (tests, demos, embedded use)."""

    driver: Literal["memory"] = "memory"
    memory: MemorySection = MemorySection()

    def address(self) -> str:
        return f"memory://{self.name}"
