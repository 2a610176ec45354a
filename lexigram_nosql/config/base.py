"""Settings every store entry has, whatever its driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from lexigram_nosql.redaction import redact_uri

__all__ = [
    "CircuitBreakerSettings",
    "QueryLimitsSettings",
    "StoreSettingsBase",
    "StrictModel",
    "setting_error",
]


class StrictModel(BaseModel):
    """A settings model that refuses unknown keys, so a typo is an error, not a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Settings end up in logs and tracebacks: never show a URI's password there.
        for key, value in super().__repr_args__():
            yield key, redact_uri(value) if isinstance(value, str) else value


class CircuitBreakerSettings(StrictModel):
    """``circuit_breaker:`` of a store: after ``failures`` consecutive connection failures or
    deadline expiries its calls fail at once, until one trial call after ``reset_s`` succeeds."""

    failures: int = Field(default=3, ge=1)
    reset_s: float = Field(default=5.0, gt=0)


class QueryLimitsSettings(StrictModel):
    """Bounds on user-supplied filters and pipelines (``lexigram_nosql.query.limits``)."""

    max_in_length: int = Field(default=500_000, ge=1)
    """Values one ``$in``, ``$nin`` or ``$all`` may list."""
    max_regex_length: int = Field(default=32_761, ge=1)
    """Characters of one ``$regex`` pattern (MongoDB's own limit)."""
    max_pipeline_stages: int = Field(default=1_000, ge=1)
    """Stages of one pipeline or sub-pipeline (MongoDB's own limit)."""


class StoreSettingsBase(StrictModel):
    """Per-store keys shared by all drivers (``name``, ``primary``, timeouts, ``lazy``...)."""

    name: str = Field(default="primary", min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")
    primary: bool = False
    connect_timeout_s: float = Field(default=10.0, gt=0)
    health_timeout_s: float = Field(default=2.0, gt=0)
    operation_timeout_s: float = Field(default=10.0, gt=0)
    """Bound on every public call (driver retries included); a streamed read bounds each
    batch fetch."""
    admin_timeout_s: float = Field(default=600.0, gt=0)
    """Bound on ``create_index``, ``drop_index`` and ``drop_collection`` instead: they take as
    long as the data they touch (an index build, a DynamoDB secondary index becoming ACTIVE,
    unique guards written for every document, a Firestore collection deleted page by page)."""
    circuit_breaker: CircuitBreakerSettings | None = Field(default_factory=CircuitBreakerSettings)
    """On by default; ``null`` turns it off."""
    lazy: bool = False
    critical: bool = True
    conflict_retries: int = Field(default=8, ge=0, le=100)
    """How often a write that lost a race with another writer (the document changed between
    its read and its conditional write) is run again before ``ConcurrencyError``; for the
    backends that write optimistically (DynamoDB, Firestore) and updates with ``sort``."""
    query_limits: QueryLimitsSettings = QueryLimitsSettings()

    def secrets(self) -> list[str]:
        """Secret values in these settings, for scrubbing text before it is shown."""
        return []

    def client_modules(self) -> tuple[str, ...]:
        """The client libraries this store imports, checked (not imported) at config time."""
        return ()

    def address(self) -> str:
        """Where the store lives, safe to show (credentials removed)."""
        return "-"


def setting_error(message: str) -> PydanticCustomError:
    """A validator's error whose message is shown as written, never with the input (which
    may hold a password); the configuration reports it at the key's full path."""
    return PydanticCustomError("nosql_setting", "{message}", {"message": message})
