"""Settings of the Firestore driver (google-cloud-firestore AsyncClient)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel, setting_error

__all__ = ["FirestoreSection", "FirestoreStoreSettings"]


class FirestoreSection(StrictModel):
    """The ``firestore:`` section, in the Firestore client's own words."""

    project: str = "lexigram-local"
    database: str = "(default)"
    #: ``host:port`` of the Firestore emulator; also read from ``FIRESTORE_EMULATOR_HOST``.
    #: Set here, it applies to this store only (the process environment is left alone).
    emulator_host: str | None = None
    #: A service-account JSON key; without it, Application Default Credentials are used.
    credentials_file: str | None = None
    #: How many times ``store.run_transaction`` runs a body that lost a contended commit.
    transaction_attempts: int = Field(default=5, ge=1, le=50)
    #: Queries one filter may run in parallel (an ``$in`` of 300 values is 10 queries of 30).
    max_parallel_queries: int = Field(default=10, ge=1, le=100)
    #: How long one call keeps retrying a transient failure (server unavailable or overloaded)
    #: before it fails with NoSQLConnectionError; the client library's own default is 60 s.
    retry_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("emulator_host")
    @classmethod
    def _check_emulator_host(cls, value: str | None) -> str | None:
        if value is not None:
            host, _, port = value.rpartition(":")
            if "/" in value or not host or not port.isdigit():
                raise setting_error(f"malformed emulator host {value!r}: expected host:port")
        return value


class FirestoreStoreSettings(StoreSettingsBase):
    """A store on Cloud Firestore (or its emulator)."""

    driver: Literal["firestore"]
    firestore: FirestoreSection = FirestoreSection()

    def client_modules(self) -> tuple[str, ...]:
        return ("google.cloud.firestore",)

    def address(self) -> str:
        section = self.firestore
        host = section.emulator_host or "firestore.googleapis.com"
        return f"firestore://{host}/{section.project}/{section.database}"
