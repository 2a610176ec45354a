"""docs/configuration.md documents every key of every settings model."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from lexigram_nosql.config.drivers import DRIVERS
from lexigram_nosql.config.settings import NoSQLSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def models() -> list[type[BaseModel]]:
    """Every model reachable from the nosql section, by walking field annotations."""
    found: list[type[BaseModel]] = []
    pending: list[object] = [NoSQLSettings, *(spec.settings for spec in DRIVERS.values())]
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in found:
                continue
            found.append(item)
            pending.extend(f.annotation for f in item.model_fields.values())
        else:
            pending.extend(getattr(item, "__args__", ()))
    return found


def test_every_key_is_documented() -> None:
    text = DOC.read_text()
    missing = sorted(
        f"{model.__name__}.{key}"
        for model in models()
        for key in model.model_fields
        if f"`{key}`" not in text
    )
    assert not missing, f"add these keys to docs/configuration.md: {missing}"
