"""The container: ``Named`` qualifiers, type-based ``resolve`` and constructor autowiring on
top of dependency-injector, plus the provider names the NoSQL module registers."""

from lexigram_nosql.di.container import Container, Resolution
from lexigram_nosql.di.markers import Named
from lexigram_nosql.di.names import (
    HEALTH_PROVIDER,
    PRIMARY_STORE_PROVIDER,
    SETTINGS_PROVIDER,
    STORE_PROVIDER_PREFIX,
    store_provider_name,
)

__all__ = [
    "HEALTH_PROVIDER",
    "PRIMARY_STORE_PROVIDER",
    "SETTINGS_PROVIDER",
    "STORE_PROVIDER_PREFIX",
    "Container",
    "Named",
    "Resolution",
    "store_provider_name",
]
