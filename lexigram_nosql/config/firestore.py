"""Settings of the Firestore driver (google-cloud-firestore AsyncClient)."""

from __future__ import annotations

from typing import Literal

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel

__all__ = ["FirestoreSection", "FirestoreStoreSettings"]


class FirestoreSection(StrictModel):
    """The ``firestore:`` section, in the Firestore client's own words."""

    project: str = "lexigram-local"
    database: str = "(default)"
    emulator_host: str | None = None
    credentials_file: str | None = None


class FirestoreStoreSettings(StoreSettingsBase):
    """A store on Cloud Firestore (or its emulator)."""

    driver: Literal["firestore"]
    firestore: FirestoreSection = FirestoreSection()

    def address(self) -> str:
        section = self.firestore
        host = section.emulator_host or "firestore.googleapis.com"
        return f"firestore://{host}/{section.project}/{section.database}"
