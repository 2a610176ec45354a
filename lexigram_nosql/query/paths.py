"""Reading and writing dotted paths in documents, with MongoDB's array traversal."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["MISSING", "get_path", "get_values", "set_path", "unset_path"]


class _Missing:
    """A path that leads nowhere (distinct from a stored ``None``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def get_values(document: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches, descending into arrays as MongoDB's query matching does."""
    raise NotImplementedError


def get_path(document: Any, path: str) -> Any:
    """The single value at ``path`` (numeric segments index arrays), or ``MISSING``."""
    raise NotImplementedError


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in place, creating intermediate documents as MongoDB's ``$set`` does."""
    raise NotImplementedError


def unset_path(document: dict[str, Any], path: str) -> bool:
    """Remove ``path`` in place; returns whether anything was removed."""
    raise NotImplementedError
