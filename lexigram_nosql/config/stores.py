"""The discriminated union of store settings, keyed by ``driver``, built from the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union, cast

from pydantic import Field, TypeAdapter, ValidationError

from lexigram_nosql.config.base import StoreSettingsBase
from lexigram_nosql.config.drivers import DRIVERS
from lexigram_nosql.errors import ConfigurationError

__all__ = ["DRIVERS", "StoreSettings", "parse_store_settings"]

if TYPE_CHECKING:
    StoreSettings = StoreSettingsBase
else:
    StoreSettings = Annotated[
        Union[tuple(spec.settings for spec in DRIVERS.values())],  # noqa: UP007
        Field(discriminator="driver"),
    ]
"""One ``backends:`` entry; pydantic picks the model from ``driver``."""


def parse_store_settings(settings: object) -> StoreSettingsBase:
    """Validate one store entry given as a mapping (or pass a settings model through)."""
    if isinstance(settings, StoreSettingsBase):
        return settings
    if not isinstance(settings, Mapping):
        raise ConfigurationError(
            f"A store entry must be a mapping, got {type(settings).__name__}", path="store"
        )
    driver = settings.get("driver")
    if driver not in DRIVERS:
        raise ConfigurationError(
            f"Unknown driver {driver!r}; expected one of: {', '.join(DRIVERS)}", path="driver"
        )
    try:
        return cast(StoreSettingsBase, _ADAPTER.validate_python(settings))
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in error["loc"][1:]) or "store"
        raise ConfigurationError(
            f"Invalid store setting {path}: {error['msg']}", path=path
        ) from None


_ADAPTER: TypeAdapter[Any] = TypeAdapter(StoreSettings)
