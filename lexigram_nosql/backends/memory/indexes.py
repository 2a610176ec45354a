"""Secondary indexes of the memory store: a hash map for equality and ``$in``, and an ordered
structure (built on first range query, then maintained) for ranges and equality prefixes of
compound indexes.

Index entries are a superset of what MongoDB indexes (an array contributes each element *and*
itself; a path that dead-ends contributes null), so an index never misses a document the
filter matches; the collection re-checks every candidate with the engine's ``matches``.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from typing import Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.contracts import IndexInfo
from lexigram_nosql.query.ordering import sort_key

__all__ = [
    "MISSING_VALUE",
    "TOP",
    "MemoryIndex",
    "SortedEntries",
    "index_values",
    "value_key",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING_VALUE: Final = _Missing()
"""Where a path dead-ends in a document; indexed like null, skipped by sparse indexes."""


class _Top:
    """Sorts after everything: the open upper end of a probe."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __le__(self, other: object) -> bool:
        return other is self

    def __ge__(self, other: object) -> bool:
        return True


TOP: Final = _Top()


def index_values(document: Any, path: str) -> list[Any]:
    """Every value an index on ``path`` records for ``document`` (see the module docstring)."""
    out: list[Any] = []
    _walk(document, path.split("."), 0, out)
    return out


def _walk(node: Any, parts: list[str], i: int, out: list[Any]) -> None:
    if i == len(parts):
        out.append(node)
        if isinstance(node, list):
            out.extend(node)
        return
    segment = parts[i]
    if isinstance(node, dict):
        if segment in node:
            _walk(node[segment], parts, i + 1, out)
        else:
            out.append(MISSING_VALUE)
    elif isinstance(node, list):
        if segment.isdigit() and int(segment) < len(node):
            _walk(node[int(segment)], parts, i + 1, out)
        dead_end = not node
        for element in node:
            if isinstance(element, dict):
                _walk(element, parts, i, out)
            else:
                dead_end = True
        if dead_end:
            out.append(MISSING_VALUE)
    else:
        out.append(MISSING_VALUE)


_NULL_KEY: Final = sort_key(None)


def value_key(value: Any) -> Any:
    """The engine's sort key of a value: hashable, equal exactly for the values MongoDB calls
    equal, ordered as MongoDB orders them, and starting with the value's type bracket (range
    operators only match within one). A path that dead-ends is keyed like null."""
    return _NULL_KEY if value is MISSING_VALUE else sort_key(value)


class SortedEntries:
    """A sorted multiset of tuples kept as a list of bounded blocks, so inserting and removing
    cost O(log n + block) instead of shifting one long list."""

    _LOAD: Final = 512

    def __init__(self, items: Iterable[tuple[Any, ...]] = ()) -> None:
        ordered = sorted(items)
        load = self._LOAD
        self._blocks: list[list[tuple[Any, ...]]] = [
            ordered[i : i + load] for i in range(0, len(ordered), load)
        ]
        self._maxes: list[tuple[Any, ...]] = [block[-1] for block in self._blocks]
        self._size = len(ordered)

    def __len__(self) -> int:
        return self._size

    def add(self, item: tuple[Any, ...]) -> None:
        self._size += 1
        if not self._blocks:
            self._blocks.append([item])
            self._maxes.append(item)
            return
        i = bisect_left(self._maxes, item)
        if i == len(self._blocks):
            i -= 1
            self._blocks[i].append(item)
            self._maxes[i] = item
        else:
            insort(self._blocks[i], item)
        block = self._blocks[i]
        if len(block) > 2 * self._LOAD:
            tail = block[self._LOAD :]
            del block[self._LOAD :]
            self._blocks.insert(i + 1, tail)
            self._maxes[i] = block[-1]
            self._maxes.insert(i + 1, tail[-1])

    def remove(self, item: tuple[Any, ...]) -> None:
        i = bisect_left(self._maxes, item)
        if i == len(self._blocks):
            return
        block = self._blocks[i]
        j = bisect_left(block, item)
        if j == len(block) or block[j] != item:
            return
        del block[j]
        self._size -= 1
        if block:
            self._maxes[i] = block[-1]
        else:
            del self._blocks[i]
            del self._maxes[i]

    def _locate(self, probe: tuple[Any, ...]) -> tuple[int, int]:
        i = bisect_left(self._maxes, probe)
        if i == len(self._blocks):
            return i, 0
        return i, bisect_left(self._blocks[i], probe)

    def count(self, low: tuple[Any, ...], high: tuple[Any, ...]) -> int:
        """How many entries lie in ``[low, high)``."""
        bi, bj = self._locate(low)
        ei, ej = self._locate(high)
        if (ei, ej) <= (bi, bj):
            return 0
        return sum(len(b) for b in self._blocks[bi:ei]) - bj + ej

    def irange(self, low: tuple[Any, ...], high: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        """Entries in ``[low, high)``, in order."""
        bi, bj = self._locate(low)
        ei, ej = self._locate(high)
        for i in range(bi, min(ei + 1, len(self._blocks))):
            block = self._blocks[i]
            start = bj if i == bi else 0
            stop = ej if i == ei else len(block)
            yield from block[start:stop]


class MemoryIndex:
    """One secondary index: unique/sparse enforcement and candidate lookup."""

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.paths = tuple(path for path, _ in spec.keys)
        self._hash: dict[Any, dict[Any, None]] = {}
        self._doc_keys: dict[Any, tuple[tuple[Any, ...], int]] = {}
        self._ordered: SortedEntries | None = None
        self._seq = itertools.count()
        self.multikey: set[str] = set()
        """Paths where some document had several values: two range bounds on such a path
        may be met by different elements, so the planner must not intersect them."""

    @property
    def info(self) -> IndexInfo:
        return self.spec.info

    # -- keys ----------------------------------------------------------------------------

    def _field_values(self, document: Any) -> list[list[Any]] | None:
        """Per indexed path, the values recorded; None when a sparse index skips the doc or
        it is outside a partial index's filter."""
        if not self.spec.covers(document):
            return None
        found = [index_values(document, path) for path in self.paths]
        if self.spec.sparse and all(v is MISSING_VALUE for values in found for v in values):
            return None
        per_field = [list({value_key(v): v for v in values}.values()) for values in found]
        for path, values in zip(self.paths, per_field, strict=True):
            if len(values) > 1:
                self.multikey.add(path)
        return per_field

    def keys_of(self, document: Any) -> tuple[Any, ...]:
        """The hash keys (one per combination of field values) ``document`` is indexed under."""
        per_field = self._field_values(document)
        if per_field is None:
            return ()
        keyed = [[value_key(v) for v in values] for values in per_field]
        return tuple(itertools.product(*keyed))

    # -- maintenance ---------------------------------------------------------------------

    def conflict(self, id_key: Any, document: Any) -> tuple[Any, ...] | None:
        """The key ``document`` (stored as ``id_key``) would duplicate, for unique indexes."""
        if not self.spec.unique:
            return None
        for key in self.keys_of(document):
            bucket = self._hash.get(key)
            if bucket and (len(bucket) > 1 or id_key not in bucket):
                duplicate: tuple[Any, ...] = key
                return duplicate
        return None

    def add(self, id_key: Any, document: Any) -> None:
        keys = self.keys_of(document)
        seq = next(self._seq)
        self._doc_keys[id_key] = (keys, seq)
        for key in keys:
            self._hash.setdefault(key, {})[id_key] = None
        if self._ordered is not None:
            for key in keys:
                self._ordered.add((key, seq, id_key))

    def remove(self, id_key: Any) -> None:
        found = self._doc_keys.pop(id_key, None)
        if found is None:
            return
        keys, seq = found
        for key in keys:
            bucket = self._hash.get(key)
            if bucket is not None:
                bucket.pop(id_key, None)
                if not bucket:
                    del self._hash[key]
        if self._ordered is not None:
            for key in keys:
                self._ordered.remove((key, seq, id_key))

    def ensure_ordered(self) -> SortedEntries:
        """The ordered structure of ``(key, seq, id)`` entries, built on first use."""
        if self._ordered is None:
            self._ordered = SortedEntries(
                (key, seq, id_key) for id_key, (keys, seq) in self._doc_keys.items() for key in keys
            )
        return self._ordered

    # -- lookups -------------------------------------------------------------------------

    def bucket(self, key: tuple[Any, ...]) -> dict[Any, None]:
        return self._hash.get(key) or {}

    def usable_for(self, value: Any) -> bool:
        """A sparse index does not know documents missing the field, so it cannot answer
        queries that match null."""
        return not (self.spec.sparse and value is None)
