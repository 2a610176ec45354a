"""Helpers of the conformance suite: seeding, comparing, and asserting refusals.

A backend that cannot run a case exactly must refuse it with ``UnsupportedQueryError``;
``attempt`` turns that into an assertion (never a skip): when ``store.capabilities`` says the
backend refuses something the case needs, the case must raise ``UnsupportedQueryError``
naming this backend, and otherwise it must run and give the right answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import pytest

from lexigram_nosql import UnsupportedQueryError

T = TypeVar("T")

UNIQUE_INDEXES: Final = "unique indexes"
"""A pseudo-operator for ``attempt``: refused when ``capabilities.unique_indexes`` is False."""

TRANSACTIONS: Final = "transactions"
"""A pseudo-operator for ``attempt``: refused when ``capabilities.transactions`` is False."""

NESTED_ARRAYS: Final = "nested arrays"
"""A pseudo-operator for ``attempt``: arrays directly inside arrays, refused by a backend that
lists it in ``capabilities.refused`` (Firestore cannot store them)."""


TTL_INDEXES: Final = "TTL indexes"
"""A pseudo-operator for ``attempt``: ``expire_after_seconds`` indexes, refused by a backend
that lists it in ``capabilities.refused`` (Firestore sets TTL policies with gcloud)."""


class _Refused:
    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Final = _Refused()
"""What ``attempt`` returns after asserting that the backend refused the case."""


def refused_by(store: Any, needs: Iterable[str]) -> list[str]:
    """The operators (or pseudo-operators) among ``needs`` that the backend refuses."""
    caps = store.capabilities
    out = sorted(set(needs) & set(caps.refused))
    if UNIQUE_INDEXES in needs and not caps.unique_indexes:
        out.append(UNIQUE_INDEXES)
    if TRANSACTIONS in needs and not caps.transactions:
        out.append(TRANSACTIONS)
    return out


async def attempt(
    store: Any, needs: Iterable[str], action: Callable[[], Awaitable[T]]
) -> T | _Refused:
    """Run ``action``; if the backend refuses something in ``needs``, assert it raises
    ``UnsupportedQueryError`` for this backend instead, and return ``REFUSED``."""
    needs = list(needs)
    refused = refused_by(store, needs)
    if not refused:
        return await action()
    with pytest.raises(UnsupportedQueryError) as info:
        await action()
    assert info.value.backend == store.driver, info.value
    assert str(info.value), "an UnsupportedQueryError must explain itself"
    return REFUSED


def operators_in(*documents: Any) -> set[str]:
    """Every ``$operator`` used in filter, update or pipeline documents (keys only)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and key.startswith("$"):
                    found.add(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for document in documents:
        walk(document)
    return found


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A tz-aware UTC datetime; keep ``us`` whole milliseconds (what every backend keeps)."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def unique_name(prefix: str = "c") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def by_id(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Documents sorted by ``_id`` (string ids), for order-insensitive comparison."""
    return sorted(documents, key=lambda d: str(d.get("_id")))


def ids(documents: Iterable[Mapping[str, Any]]) -> list[Any]:
    return sorted(str(d["_id"]) for d in documents)


async def collect(iterator: Any) -> list[Any]:
    return [document async for document in iterator]


async def seeded(
    store: Any, documents: Sequence[Mapping[str, Any]], name: str | None = None
) -> Any:
    """A fresh collection holding ``documents`` (copied)."""
    collection = store.collection(name or unique_name())
    if documents:
        await collection.insert_many([dict(d) for d in documents])
    return collection
