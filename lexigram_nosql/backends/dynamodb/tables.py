"""What the planner and the writers need to know about one collection's table.

The truth is ``DescribeTable``; the configuration only decides how a missing table is created.
Indexes made by ``create_index`` live on hidden attributes named ``__lx:<keys as JSON>``
holding the tagged text of the first key's value (see ``shadow_values``), so they accept any
scalar type and nested paths; indexes from the configuration use the real attributes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.dynamodb.codec import KEY_TAG, AttributeValue, encode_key
from lexigram_nosql.backends.names import group_of
from lexigram_nosql.config.dynamodb import DynamoDBCollection, DynamoDBSection
from lexigram_nosql.query.paths import MISSING, get_values

__all__ = [
    "ARRAY_SENTINEL",
    "SHADOW_PREFIX",
    "TTL_ATTRIBUTE",
    "GsiInfo",
    "TableInfo",
    "key_schema",
    "shadow_values",
    "ttl_value",
]

SHADOW_PREFIX = "__lx:"
TTL_ATTRIBUTE = SHADOW_PREFIX + "ttl"
"""The epoch-seconds attribute DynamoDB's time to live deletes items by (a TTL index)."""
ARRAY_SENTINEL = KEY_TAG + "*"
"""Shadow key of a document whose indexed path holds an array (or several values): every
query on the index also reads this partition, so multikey matches are never missed."""


@dataclass(frozen=True, slots=True)
class GsiInfo:
    """A global secondary index: its key attributes, and for shadow indexes the user keys."""

    name: str
    partition_key: str
    partition_type: str
    sort_key: str | None = None
    sort_type: str | None = None
    user_keys: tuple[tuple[str, int], ...] | None = None

    @property
    def is_shadow(self) -> bool:
        return self.user_keys is not None

    @property
    def field(self) -> str:
        """The document path this index is queried on."""
        return self.user_keys[0][0] if self.user_keys else self.partition_key


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table's name, key schema and indexes."""

    table: str
    partition_key: str
    partition_type: str
    sort_key: str | None = None
    sort_type: str | None = None
    indexes: tuple[GsiInfo, ...] = field(default_factory=tuple)
    managed: tuple[IndexSpec, ...] = ()
    """Indexes this package keeps itself: unique ones by guard items (``guards.py``), a TTL
    index by DynamoDB's time to live on a hidden attribute (``TTL_ATTRIBUTE``), and plain
    partial indexes, recorded only (no read may use them, see ``indexes.py``)."""
    _key_types: dict[str, str] = field(init=False, repr=False, compare=False)
    _key_names: frozenset[str] = field(init=False, repr=False, compare=False)
    _derived: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Made once: every item written or read asks for them.
        types = {self.partition_key: self.partition_type}
        if self.sort_key is not None and self.sort_type is not None:
            types[self.sort_key] = self.sort_type
        object.__setattr__(self, "_key_types", types)
        object.__setattr__(self, "_key_names", frozenset(types))
        derived = {path.split(".", 1)[0] for path in self.kept_paths}
        derived |= {index.field.split(".", 1)[0] for index in self.shadow_indexes}
        object.__setattr__(self, "_derived", frozenset(derived))

    @property
    def uniques(self) -> tuple[IndexSpec, ...]:
        return tuple(spec for spec in self.managed if spec.unique)

    @property
    def ttl(self) -> IndexSpec | None:
        return next((s for s in self.managed if s.expire_after_seconds is not None), None)

    @property
    def kept_paths(self) -> tuple[str, ...]:
        """The document paths the hidden attributes and guards of managed indexes are
        computed from (a partial index's filter paths included)."""
        return tuple(
            path
            for spec in self.managed
            if spec.unique or spec.expire_after_seconds is not None
            for path in spec.paths
        )

    @property
    def unique_paths(self) -> tuple[str, ...]:
        """The document paths some unique index reads (keys and partial filters)."""
        return tuple(path for spec in self.uniques for path in spec.paths)

    @property
    def key_types(self) -> Mapping[str, str]:
        """The key attributes and their DynamoDB types (``S``, ``N``, ``B``)."""
        return self._key_types

    @property
    def key_names(self) -> frozenset[str]:
        return self._key_names

    @property
    def derived_fields(self) -> frozenset[str]:
        """The top-level fields hidden attributes are computed from (created indexes, unique
        guards, TTL): a write of one of them must also rewrite what derives from it."""
        return self._derived

    @property
    def shadow_indexes(self) -> tuple[GsiInfo, ...]:
        return tuple(index for index in self.indexes if index.is_shadow)

    def key_of(self, item: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
        """The key attributes of an item."""
        return {name: item[name] for name in self._key_types}

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> TableInfo:
        types = {
            d["AttributeName"]: d["AttributeType"] for d in description["AttributeDefinitions"]
        }
        pk, sk = _key_schema(description["KeySchema"])
        indexes = []
        for gsi in description.get("GlobalSecondaryIndexes", []):
            gpk, gsk = _key_schema(gsi["KeySchema"])
            user_keys = None
            if gpk.startswith(SHADOW_PREFIX):
                user_keys = tuple(
                    (str(p), int(d)) for p, d in json.loads(gpk[len(SHADOW_PREFIX) :])
                )
            indexes.append(
                GsiInfo(
                    gsi["IndexName"],
                    gpk,
                    types.get(gpk, "S"),
                    gsk,
                    types.get(gsk) if gsk else None,
                    user_keys,
                )
            )
        return cls(
            description["TableName"],
            pk,
            types.get(pk, "S"),
            sk,
            types.get(sk) if sk else None,
            tuple(indexes),
        )

    @staticmethod
    def create_request(table: str, config: DynamoDBCollection) -> dict[str, Any]:
        """The ``CreateTable`` arguments for a collection's configured schema (on-demand)."""
        definitions = {config.partition_key: config.partition_key_type}
        key_schema = [{"AttributeName": config.partition_key, "KeyType": "HASH"}]
        if config.sort_key:
            definitions[config.sort_key] = config.sort_key_type
            key_schema.append({"AttributeName": config.sort_key, "KeyType": "RANGE"})
        gsis = []
        for index in config.indexes:
            definitions[index.partition_key] = index.partition_key_type
            schema = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
            if index.sort_key:
                definitions[index.sort_key] = index.sort_key_type
                schema.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
            gsis.append(
                {
                    "IndexName": index.name,
                    "KeySchema": schema,
                    "Projection": {"ProjectionType": "ALL"},
                }
            )
        request: dict[str, Any] = {
            "TableName": table,
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in definitions.items()
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if gsis:
            request["GlobalSecondaryIndexes"] = gsis
        return request


def shadow_attribute(keys: tuple[tuple[str, int], ...]) -> str:
    """The hidden attribute a ``create_index`` index is keyed on."""
    return SHADOW_PREFIX + json.dumps([list(pair) for pair in keys], separators=(",", ":"))


def shadow_values(info: TableInfo, document: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The hidden index attributes of ``document``: the tagged text of the indexed value, the
    array sentinel when the path reaches an array or several values, nothing when missing,
    null or a map (no scalar equality can match those)."""
    values: dict[str, AttributeValue] = {}
    for index in info.shadow_indexes:
        found = [v for v in get_values(document, index.field) if v is not MISSING]
        if not found:
            continue
        if len(found) > 1 or isinstance(found[0], list):
            values[index.partition_key] = {"S": ARRAY_SENTINEL}
            continue
        value = found[0]
        if value is None or isinstance(value, Mapping):
            continue
        try:
            values[index.partition_key] = encode_key(value, "S", index.partition_key)
        except Exception:
            continue  # a string starting with NUL or a non-key type: not indexed, never queried
    return values


def _key_schema(schema: list[Mapping[str, str]]) -> tuple[str, str | None]:
    hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
    range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    return hash_key, range_key


def ttl_value(info: TableInfo, document: Mapping[str, Any]) -> AttributeValue | None:
    """When DynamoDB may delete ``document`` under the TTL index: the earliest date at the
    indexed path plus ``expire_after_seconds``, in epoch seconds (None: no date, never)."""
    spec = info.ttl
    if spec is None or spec.expire_after_seconds is None or not spec.covers(document):
        return None
    dates: list[datetime] = []
    for value in get_values(document, spec.keys[0][0]):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, datetime):
                dates.append(item if item.tzinfo is not None else item.replace(tzinfo=UTC))
    if not dates:
        return None
    return {"N": str(int(min(dates).timestamp()) + spec.expire_after_seconds)}


def key_schema(section: DynamoDBSection, collection: str) -> DynamoDBCollection:
    """The configured schema of ``collection``: its own ``collections`` entry, else (for a
    subcollection path like ``users/u1/orders``) its group's (``orders``), else partition
    key ``_id``."""
    entries = section.collections
    return entries.get(collection) or entries.get(group_of(collection)) or DynamoDBCollection()
