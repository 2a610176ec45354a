"""Unique indexes on servers that keep only the key unique (DynamoDB, Firestore).

Each unique index keeps one *guard* record per indexed value, whose key is a hash of the
collection, the index name and the value's canonical text. The guard is created in the same
atomic commit as the document (``TransactWriteItems`` with ``attribute_not_exists``, a
Firestore commit that ``create()``\\ s it), so of two writers of one value exactly one
commits; an update that changes the value deletes the old guard and creates the new one in
the same commit, a delete removes them.

The canonical text follows MongoDB's equality (it is the key text ``_id`` values get, from
``backends/keys.py``): ``1``, ``1.0`` and ``Decimal("1")`` are one key, ``1`` and ``"1"`` or
``True`` are not; datetimes count to the millisecond (what every backend stores); an array
contributes each element (a multikey index), an empty one the value ``undefined`` as in
MongoDB; a missing field counts as null unless the index is sparse. A partial index
guards only the documents its filter matches (``IndexSpec.covers``): a write that takes a
document out of the filter releases its guards, one that brings it in takes them.
Embedded documents are keyed with their fields sorted, as the guards stored before Firestore
kept field order were (so those stay valid): two orders of one document are one key here,
where MongoDB would call them two.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.keys import KEY_TAG, key_text
from lexigram_nosql.errors import DuplicateKeyError, NoSQLError
from lexigram_nosql.query.ordering import sort_key

__all__ = [
    "Entry",
    "canonical",
    "duplicate_error",
    "entries",
    "find_duplicates",
    "guard_id",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "None"


_MISSING: Final = _Missing()
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


class _Undefined:
    """What MongoDB indexes for an empty array."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


_UNDEFINED: Final = _Undefined()

Entry = tuple[str, dict[str, Any]]
"""One indexed value of a document: its canonical text and ``{path: value}`` (for errors)."""


def canonical(value: Any) -> str:
    """The text two values share exactly when a unique index calls them equal: the
    type-keeping key text ``_id`` values get (``backends/keys.py``), with map fields sorted;
    values no key can hold (a regular expression, a timestamp) by their sort key."""
    if value is _MISSING:
        value = None
    if value is _UNDEFINED:
        return KEY_TAG + "!undefined"
    ordered = _sorted_maps(value)
    try:
        return key_text(ordered, backend="unique index", path="value")
    except NoSQLError:
        return KEY_TAG + "~" + json.dumps(_plain(sort_key(ordered)), separators=(",", ":"))


def _sorted_maps(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _sorted_maps(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted_maps(item) for item in value]
    return value


def _plain(part: Any) -> Any:
    if isinstance(part, tuple):
        return [_plain(item) for item in part]
    if part is None or isinstance(part, (bool, str)):
        return part
    if isinstance(part, (int, float, Decimal)):
        return "#" + _number(part)
    if isinstance(part, datetime):
        moment = part if part.tzinfo is not None else part.replace(tzinfo=UTC)
        return f"@{(moment - _EPOCH) // _MILLISECOND}"
    if isinstance(part, (bytes, bytearray)):
        return "x" + bytes(part).hex()
    return repr(part)


def _number(value: int | float | Decimal) -> str:
    """Numbers by value: an integral one as its integer, others as the shortest float text,
    so the int, double and decimal of one value share a key."""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    as_float = float(value)
    return repr(as_float) if Decimal(as_float) == value else str(value.normalize())


def _values(node: Any, parts: list[str], i: int, out: list[Any]) -> None:
    """What an index on ``parts`` records for ``node``: array elements one by one."""
    if i == len(parts):
        if isinstance(node, (list, tuple)):
            out.extend(node) if node else out.append(_UNDEFINED)
        else:
            out.append(node)
        return
    segment = parts[i]
    if isinstance(node, Mapping):
        if segment in node:
            _values(node[segment], parts, i + 1, out)
        else:
            out.append(_MISSING)
    elif isinstance(node, (list, tuple)):
        reached = False
        if segment.isdigit() and int(segment) < len(node):
            _values(node[int(segment)], parts, i + 1, out)
            reached = True
        for element in node:
            if isinstance(element, Mapping):
                _values(element, parts, i, out)
                reached = True
        if not reached:
            out.append(_MISSING)
    else:
        out.append(_MISSING)


def entries(spec: IndexSpec, document: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The canonical keys ``document`` takes in the unique index ``spec`` (none for a deleted
    document, one a sparse index skips or one outside a partial index's filter), each with
    its ``{path: value}``."""
    if document is None or not spec.covers(document):
        return {}
    paths = [path for path, _ in spec.keys]
    per_path: list[dict[str, Any]] = []
    for path in paths:
        found: list[Any] = []
        _values(document, path.split("."), 0, found)
        per_path.append({canonical(value): value for value in found})
    if spec.sparse and all(value is _MISSING for values in per_path for value in values.values()):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for combination in itertools.product(*(values.items() for values in per_path)):
        text = json.dumps([part for part, _ in combination], separators=(",", ":"))
        shown = {path: _shown(value) for path, (_, value) in zip(paths, combination, strict=True)}
        out[text] = shown
    return out


def _shown(value: Any) -> Any:
    if value is _MISSING:
        return None
    return [] if value is _UNDEFINED else value


def guard_id(scope: str, index: str, text: str) -> str:
    """The key of the guard of ``text`` in index ``index`` of collection (or table)
    ``scope``: a hash, so any value fits the server's key limits."""
    return hashlib.sha256(f"{scope}\x1f{index}\x1f{text}".encode()).hexdigest()


def find_duplicates(
    spec: IndexSpec, documents: Iterable[tuple[Any, Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """The values (``{path: value}``) held by more than one of ``documents`` (id, doc)."""
    owners: dict[str, Any] = {}
    duplicates: dict[str, dict[str, Any]] = {}
    for identifier, document in documents:
        for text, shown in entries(spec, document).items():
            owner = owners.setdefault(text, identifier)
            if owner != identifier:
                duplicates.setdefault(text, shown)
    return list(duplicates.values())


def duplicate_error(
    spec_name: str,
    key: Mapping[str, Any],
    *,
    store: str,
    collection: str | None,
    building: bool = False,
) -> DuplicateKeyError:
    """MongoDB's E11000, naming the index and the value."""
    doing = "cannot be built: documents share" if building else "already has a document with"
    where = f"collection {collection!r}" if collection is not None else "a collection"
    return DuplicateKeyError(
        f"Duplicate key in {where} of store {store!r}: unique index "
        f"{spec_name!r} {doing} {dict(key)!r}",
        index=spec_name,
        key=dict(key),
        store=store,
        collection=collection,
        code=11000,
    )
