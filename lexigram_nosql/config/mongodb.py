"""Settings of the MongoDB driver (PyMongo Async by default, Motor on request)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator, model_validator

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel, setting_error
from lexigram_nosql.redaction import redact_uri, uri_secrets

__all__ = ["MongoDBSection", "MongoDBStoreSettings"]


class MongoDBSection(StrictModel):
    """The ``mongodb:`` section, in PyMongo's own words."""

    uri: str = "mongodb://localhost:27017"
    database: str = "app"
    """The database; when not set, the one in the URI's path (``mongodb://h/orders``), as
    PyMongo's ``get_default_database()`` reads it, else ``app``."""
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

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, uri: str) -> str:
        _check_mongodb_uri(uri)
        return uri

    @model_validator(mode="before")
    @classmethod
    def _database_from_uri(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("database") is None:
            database = _uri_database(data.get("uri"))
            if database:
                return {**data, "database": database}
        return data


def _check_mongodb_uri(uri: str) -> None:
    shown = redact_uri(uri)
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise setting_error(f"malformed MongoDB URI {shown!r}: {exc}") from None
    if parts.scheme not in ("mongodb", "mongodb+srv"):
        raise setting_error(
            f"malformed MongoDB URI {shown!r}: it must start with mongodb:// or mongodb+srv://"
        )
    hosts = parts.netloc.rpartition("@")[2]
    if not hosts:
        raise setting_error(f"malformed MongoDB URI {shown!r}: no host")
    for host in hosts.split(","):
        name, _, port = host.rpartition(":") if ":" in host.rpartition("]")[2] else (host, "", "")
        if not host or (port and not port.isdigit()) or (port and not name):
            raise setting_error(f"malformed MongoDB URI {shown!r}: bad host {host!r}")
        if port and not 0 < int(port) < 65536:
            raise setting_error(f"malformed MongoDB URI {shown!r}: port {port} out of range")
    if parts.scheme == "mongodb+srv" and ("," in hosts or ":" in hosts.strip("[]")):
        raise setting_error(
            f"malformed MongoDB URI {shown!r}: mongodb+srv:// takes one host and no port"
        )


def _uri_database(uri: Any) -> str | None:
    """The database named in a MongoDB URI's path, if any (malformed URIs are reported by the
    settings' own checks)."""
    if not isinstance(uri, str):
        return None
    try:
        path = urlsplit(uri).path
    except ValueError:
        return None
    return unquote(path.lstrip("/")) or None


class MongoDBStoreSettings(StoreSettingsBase):
    """A store on a MongoDB server or replica set."""

    driver: Literal["mongodb"]
    mongodb: MongoDBSection = MongoDBSection()

    def client_modules(self) -> tuple[str, ...]:
        return ("pymongo", "motor") if self.mongodb.client == "motor" else ("pymongo",)

    def secrets(self) -> list[str]:
        try:
            parts = urlsplit(self.mongodb.uri)
            password = parts.password
        except ValueError:
            return []
        found = [password, unquote(password)] if password else []
        return found + uri_secrets(parts.query)

    def address(self) -> str:
        """``scheme://user:***@hosts/database?options``, credentials redacted."""
        try:
            parts = urlsplit(self.mongodb.uri)
        except ValueError:
            return f"{redact_uri(self.mongodb.uri)} (database {self.mongodb.database})"
        query = f"?{parts.query}" if parts.query else ""
        shown = f"{parts.scheme}://{parts.netloc}/{self.mongodb.database}{query}"
        return redact_uri(shown)
