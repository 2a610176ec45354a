"""Settings of the MongoDB driver (PyMongo Async by default, Motor on request)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel
from lexigram_nosql.redaction import redact_uri

__all__ = ["MongoDBSection", "MongoDBStoreSettings"]


class MongoDBSection(StrictModel):
    """The ``mongodb:`` section, in PyMongo's own words."""

    uri: str = "mongodb://localhost:27017"
    database: str = "app"
    client: Literal["pymongo", "motor"] = "pymongo"
    min_pool_size: int = Field(default=0, ge=0)
    max_pool_size: int = Field(default=100, ge=1)
    server_selection_timeout_ms: int = Field(default=5000, gt=0)
    connect_timeout_ms: int = Field(default=5000, gt=0)
    socket_timeout_ms: int | None = Field(default=None, gt=0)
    read_preference: Literal[
        "primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"
    ] = "primary"
    write_concern: int | Literal["majority"] | None = None
    journal: bool | None = None
    read_concern: Literal["local", "available", "majority", "linearizable", "snapshot"] | None = (
        None
    )
    retry_writes: bool = True
    retry_reads: bool = True
    auth_source: str | None = None
    tls: bool | None = None
    tls_ca_file: str | None = None
    app_name: str | None = "lexigram-nosql"


class MongoDBStoreSettings(StoreSettingsBase):
    """A store on a MongoDB server or replica set."""

    driver: Literal["mongodb"]
    mongodb: MongoDBSection = MongoDBSection()

    def secrets(self) -> list[str]:
        from urllib.parse import unquote, urlsplit

        try:
            password = urlsplit(self.mongodb.uri).password
        except ValueError:
            return []
        return [password, unquote(password)] if password else []

    def address(self) -> str:
        return f"{redact_uri(self.mongodb.uri)}/{self.mongodb.database}"
