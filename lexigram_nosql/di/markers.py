"""``Named``: the qualifier that picks one of several bindings of a type."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Named"]


@dataclass(frozen=True, slots=True)
class Named:
    """Selects the binding registered under ``name``, e.g. a store from the config::

    def __init__(self, analytics: Annotated[DocumentStoreProtocol, Named("analytics")]): ...
    """

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Named() takes a non-empty store name, got {self.name!r}")
