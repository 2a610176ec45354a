"""Settings of the DynamoDB driver (aioboto3)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from lexigram_nosql.config.base import StoreSettingsBase, StrictModel, setting_error

__all__ = ["DynamoDBCollection", "DynamoDBIndex", "DynamoDBSection", "DynamoDBStoreSettings"]


class DynamoDBIndex(StrictModel):
    """A global secondary index of one table."""

    name: str
    partition_key: str
    sort_key: str | None = None
    partition_key_type: Literal["S", "N", "B"] = "S"
    sort_key_type: Literal["S", "N", "B"] = "S"


class DynamoDBCollection(StrictModel):
    """The key schema of one collection's table."""

    partition_key: str = "_id"
    partition_key_type: Literal["S", "N", "B"] = "S"
    sort_key: str | None = None
    sort_key_type: Literal["S", "N", "B"] = "S"
    indexes: list[DynamoDBIndex] = Field(default_factory=list)


class DynamoDBSection(StrictModel):
    """The ``dynamodb:`` section, in boto3's own words."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    table_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.\-]*$")
    create_tables: bool = True
    allow_scan: bool = True
    collections: dict[str, DynamoDBCollection] = Field(default_factory=dict)
    consistent_read: bool = True
    """Strongly consistent reads on tables (indexes are always eventually consistent)."""
    batch_retries: int = Field(default=8, ge=0)
    """How often unprocessed items of a batch are resent, with exponential backoff."""
    max_pool_connections: int = Field(default=50, ge=1)
    read_timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=20)
    """Attempts per request in botocore's standard retry mode (throttling, 5xx, connection
    errors), with a random backoff of up to 2**n s before retry n: an unreachable endpoint
    fails one request after about ``max_attempts * connect_timeout_s`` plus that backoff."""
    table_wait_s: float = Field(default=120.0, gt=0)
    """How long to wait for a new table or index to become ACTIVE."""

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises ValueError unless the port is a number in range
        except ValueError as exc:
            raise setting_error(f"malformed URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise setting_error(f"malformed URL {url!r}: expected http(s)://host[:port]")
        return url


class DynamoDBStoreSettings(StoreSettingsBase):
    """A store on DynamoDB (or DynamoDB Local)."""

    driver: Literal["dynamodb"]
    dynamodb: DynamoDBSection = DynamoDBSection()

    @model_validator(mode="before")
    @classmethod
    def _move_deprecated_conflict_retries(cls, data: Any) -> Any:
        """``dynamodb.conflict_retries`` is the store key ``conflict_retries`` now, which
        every driver has; the old key still works, with a DeprecationWarning."""
        if not isinstance(data, Mapping):
            return data
        section = data.get("dynamodb")
        if not isinstance(section, Mapping) or "conflict_retries" not in section:
            return data
        legacy = section["conflict_retries"]
        current = data.get("conflict_retries", legacy)
        if str(current) != str(legacy):
            raise setting_error(
                f"conflict_retries is {current!r} but the deprecated dynamodb.conflict_retries "
                f"is {legacy!r}; keep only conflict_retries"
            )
        warnings.warn(
            "dynamodb.conflict_retries is deprecated: it is the store key conflict_retries "
            "now (beside lazy and connect_timeout_s), which every driver has",
            DeprecationWarning,
            stacklevel=2,
        )
        rest = {k: v for k, v in section.items() if k != "conflict_retries"}
        return {**data, "dynamodb": rest, "conflict_retries": current}

    def client_modules(self) -> tuple[str, ...]:
        return ("aioboto3",)

    def secrets(self) -> list[str]:
        section = self.dynamodb
        return [
            s.get_secret_value()
            for s in (section.access_key_id, section.secret_access_key, section.session_token)
            if s is not None
        ]

    def address(self) -> str:
        return self.dynamodb.endpoint_url or f"dynamodb://{self.dynamodb.region}"
