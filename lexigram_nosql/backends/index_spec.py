"""``IndexSpec``: a ``create_index`` request, validated once before any backend sees it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.requests import parse_sort

__all__ = ["IndexSpec"]


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A validated ``create_index`` request."""

    keys: tuple[tuple[str, int], ...]
    name: str
    unique: bool = False
    sparse: bool = False
    expire_after_seconds: int | None = None

    @classmethod
    def build(
        cls,
        keys: str | Sequence[tuple[str, int]],
        *,
        unique: bool,
        sparse: bool,
        name: str | None,
        expire_after_seconds: int | None,
    ) -> IndexSpec:
        pairs = parse_sort([(keys, 1)] if isinstance(keys, str) else keys)
        if not pairs:
            raise InvalidQueryError("create_index needs at least one key", operator="create_index")
        if expire_after_seconds is not None and (
            isinstance(expire_after_seconds, bool)
            or not isinstance(expire_after_seconds, int)
            or expire_after_seconds < 0
        ):
            raise InvalidQueryError(
                "expire_after_seconds must be a non-negative integer", operator="create_index"
            )
        default_name = "_".join(f"{path}_{direction}" for path, direction in pairs)
        return cls(pairs, name or default_name, unique, sparse, expire_after_seconds)
