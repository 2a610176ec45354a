"""The provider names the NoSQL module registers, for users of plain dependency-injector
containers (``Provide["nosql_store_analytics"]``)."""

from __future__ import annotations

__all__ = [
    "HEALTH_PROVIDER",
    "PRIMARY_STORE_PROVIDER",
    "SETTINGS_PROVIDER",
    "STORE_PROVIDER_PREFIX",
    "store_provider_name",
]

PRIMARY_STORE_PROVIDER = "nosql_store"
"""The primary store (the one injected where no name is given)."""

STORE_PROVIDER_PREFIX = "nosql_store_"
"""Each store ``<name>`` is also ``nosql_store_<name>`` (lower case, ``-`` as ``_``)."""

HEALTH_PROVIDER = "nosql_health"
"""The ``HealthService``."""

SETTINGS_PROVIDER = "nosql_settings"
"""The validated ``NoSQLSettings``."""


def store_provider_name(store: str) -> str:
    """The provider name of store ``store``: ``"audit-log"`` -> ``"nosql_store_audit_log"``."""
    return STORE_PROVIDER_PREFIX + store.lower().replace("-", "_")
