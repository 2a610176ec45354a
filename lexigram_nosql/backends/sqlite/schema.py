"""The file's table layout, and the catalog of collections and indexes read from it.

Layout (``docs/backends/sqlite.md`` shows it with an example)::

    lexigram_meta(key TEXT PRIMARY KEY, value TEXT)            -- schema version
    lexigram_collections(name TEXT PRIMARY KEY, id INTEGER)    -- collection -> tables
    lexigram_indexes(collection, name, id, spec JSON)          -- secondary indexes
    c<id>(seq INTEGER PRIMARY KEY, id BLOB UNIQUE, doc TEXT)   -- one per collection
    x<id>(k BLOB, seq INTEGER)                                 -- one per secondary index

A collection's documents are one table: ``seq`` is the insertion order (MongoDB's natural
order), ``id`` the ordered key of ``_id`` (``codec.encode_key``, so ``7`` and ``"7"`` are
different ids while ``7`` and ``7.0`` are the same), ``doc`` the tagged JSON. A secondary
index is a table of entries ``(key, seq)``, one per value the indexed paths reach (an array
contributes each element, as a MongoDB multikey index does), keyed by a SQLite B-tree
index, unique or not. A compound key is its components' keys end to end; a descending
component's bytes are complemented, which reverses its order (keys are self-delimiting), so
one B-tree serves the index's own sort order and its exact reverse. Collection and index
names live in rows, never in SQL text.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from lexigram_nosql.backends.base import IndexSpec
from lexigram_nosql.backends.sqlite.codec import EMPTY_ARRAY_KEY, NULL_KEY, component, encode_key
from lexigram_nosql.errors import MigrationError

__all__ = ["SCHEMA_VERSION", "Catalog", "CollectionInfo", "IndexInfoRow", "ensure_schema"]

SCHEMA_VERSION: Final = 1
"""The layout version this code writes; a file with a newer one is refused."""

_MISSING: Final = object()


class IndexInfoRow:
    """One secondary index as the catalog holds it."""

    __slots__ = ("_simple", "name", "paths", "spec", "table")

    def __init__(self, name: str, table: str, spec: IndexSpec) -> None:
        self.name = name
        self.table = table
        self.spec = spec
        self.paths = tuple(path for path, _ in spec.keys)
        # One ascending top-level field: the common case, keyed without walking paths.
        self._simple = len(spec.keys) == 1 and spec.keys[0][1] > 0 and "." not in self.paths[0]

    def entries(self, document: Any) -> set[bytes] | None:
        """The keys ``document`` is indexed under (None: a sparse index skips it, or it is
        outside a partial index's filter)."""
        if not self.spec.covers(document):
            return None
        if self._simple:
            value = document.get(self.paths[0], _MISSING)
            cls = type(value)
            if cls is not list and cls is not dict:
                if value is _MISSING:
                    return None if self.spec.sparse else {NULL_KEY}
                return {encode_key(value)}
        per_path = [_values(document, path) for path in self.paths]
        if self.spec.sparse and all(v is _MISSING for values in per_path for v in values):
            return None
        keyed = [
            {component(_entry_key(v), direction) for v in values}
            for values, (_, direction) in zip(per_path, self.spec.keys, strict=True)
        ]
        if len(keyed) == 1:
            return keyed[0]
        return {b"".join(parts) for parts in itertools.product(*keyed)}


@dataclass(slots=True)
class CollectionInfo:
    """One collection: its document table and secondary indexes."""

    name: str
    table: str
    indexes: dict[str, IndexInfoRow] = field(default_factory=dict)
    equality_plans: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The planner's per-path plans of ``{path: value}`` for this version of the catalog."""


class Catalog:
    """Collections and indexes as of one schema version of the file; reloaded whenever
    ``PRAGMA schema_version`` moves (another process created or dropped something)."""

    def __init__(self, version: int, collections: dict[str, CollectionInfo]) -> None:
        self.version = version
        self.collections = collections

    @classmethod
    def load(cls, connection: sqlite3.Connection, version: int) -> Catalog:
        collections = {
            name: CollectionInfo(name, f"c{number}")
            for name, number in connection.execute("SELECT name, id FROM lexigram_collections")
        }
        for collection, name, number, spec in connection.execute(
            "SELECT collection, name, id, spec FROM lexigram_indexes ORDER BY id"
        ):
            info = collections.get(collection)
            if info is not None:
                info.indexes[name] = IndexInfoRow(name, f"x{number}", _spec_from_json(spec, name))
        return cls(version, collections)


class CatalogCache:
    """The catalog of the latest schema version seen, shared by every connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None

    def current(self, connection: sqlite3.Connection) -> Catalog:
        """The catalog as ``connection`` sees the file now (inside its transaction)."""
        version = connection.execute("PRAGMA schema_version").fetchone()[0]
        catalog = self._catalog
        if catalog is not None and catalog.version == version:
            return catalog
        loaded = Catalog.load(connection, version)
        with self._lock:
            if self._catalog is None or self._catalog.version <= version:
                self._catalog = loaded
        return loaded

    def cached(self, connection: sqlite3.Connection) -> Catalog:
        """The last catalog seen, without asking the file (reads: a stale catalog can only
        miss a new index, or name a dropped table, which the reader retries on)."""
        return self._catalog or self.current(connection)

    def forget_if_changed(self, connection: sqlite3.Connection) -> None:
        """After a write: drop the cached catalog if the write changed the schema."""
        catalog = self._catalog
        if catalog is not None:
            version = connection.execute("PRAGMA schema_version").fetchone()[0]
            if version != catalog.version:
                self.invalidate()

    def invalidate(self) -> None:
        """Forget the catalog (a rollback may have undone the schema it was read from)."""
        with self._lock:
            self._catalog = None


def ensure_schema(connection: sqlite3.Connection) -> None:
    """Create the catalog tables on a new file; refuse a file written by a newer layout."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS lexigram_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        row = connection.execute(
            "SELECT value FROM lexigram_meta WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            connection.execute(
                "INSERT INTO lexigram_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise MigrationError(
                f"The SQLite file was written by a newer lexigram-nosql (layout version "
                f"{row[0]}, this one reads up to {SCHEMA_VERSION}); upgrade the package"
            )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS lexigram_collections "
            "(name TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE)"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS lexigram_indexes (collection TEXT NOT NULL, "
            "name TEXT NOT NULL, id INTEGER NOT NULL UNIQUE, spec TEXT NOT NULL, "
            "PRIMARY KEY (collection, name))"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS lexigram_sequence (name TEXT PRIMARY KEY, "
            "value INTEGER NOT NULL)"
        )
        connection.execute("CREATE TABLE IF NOT EXISTS lexigram_multikey (tbl TEXT PRIMARY KEY)")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def next_number(connection: sqlite3.Connection, name: str) -> int:
    """A number never handed out before for ``name`` (tables are never reused)."""
    connection.execute(
        "INSERT INTO lexigram_sequence VALUES (?, 1) "
        "ON CONFLICT(name) DO UPDATE SET value = value + 1",
        (name,),
    )
    row = connection.execute("SELECT value FROM lexigram_sequence WHERE name = ?", (name,))
    number: int = row.fetchone()[0]
    return number


def create_collection(connection: sqlite3.Connection, name: str) -> CollectionInfo:
    number = next_number(connection, "collection")
    table = f"c{number}"
    connection.execute(
        f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, "
        "doc TEXT NOT NULL)"
    )
    connection.execute("INSERT INTO lexigram_collections VALUES (?, ?)", (name, number))
    return CollectionInfo(name, table)


def drop_collection(connection: sqlite3.Connection, info: CollectionInfo) -> None:
    for index in info.indexes.values():
        connection.execute(f"DROP TABLE IF EXISTS {index.table}")
    connection.execute(f"DROP TABLE IF EXISTS {info.table}")
    connection.execute("DELETE FROM lexigram_indexes WHERE collection = ?", (info.name,))
    connection.execute("DELETE FROM lexigram_collections WHERE name = ?", (info.name,))


def create_index_table(
    connection: sqlite3.Connection, info: CollectionInfo, spec: IndexSpec
) -> IndexInfoRow:
    number = next_number(connection, "index")
    table = f"x{number}"
    connection.execute(f"CREATE TABLE {table} (k BLOB NOT NULL, seq INTEGER NOT NULL)")
    connection.execute(
        "INSERT INTO lexigram_indexes VALUES (?, ?, ?, ?)",
        (info.name, spec.name, number, _spec_to_json(spec)),
    )
    return IndexInfoRow(spec.name, table, spec)


def create_index_btrees(connection: sqlite3.Connection, index: IndexInfoRow) -> None:
    """The B-trees of an index table, built once its entries are loaded (SQLite sorts them
    in one pass, far faster than inserting into a live B-tree); a duplicate in a unique
    index raises ``sqlite3.IntegrityError``."""
    table, unique = index.table, index.spec.unique
    columns = "k" if unique else "k, seq"
    connection.execute(
        f"CREATE {'UNIQUE ' if unique else ''}INDEX {table}_k ON {table} ({columns})"
    )
    connection.execute(f"CREATE INDEX {table}_seq ON {table} (seq)")


def drop_index_table(connection: sqlite3.Connection, info: CollectionInfo, name: str) -> None:
    index = info.indexes[name]
    connection.execute(f"DROP TABLE IF EXISTS {index.table}")
    connection.execute(
        "DELETE FROM lexigram_indexes WHERE collection = ? AND name = ?", (info.name, name)
    )


def _spec_to_json(spec: IndexSpec) -> str:
    data = spec.to_json()
    del data["name"]  # the row's own column
    return json.dumps(data)


def _spec_from_json(text: str, name: str) -> IndexSpec:
    return IndexSpec.from_json(json.loads(text), name=name)


# -- index entries -----------------------------------------------------------------------


def _entry_key(value: Any) -> bytes:
    if value is _MISSING:
        return NULL_KEY
    if value is _EMPTY:
        return EMPTY_ARRAY_KEY
    return encode_key(value)


_EMPTY: Final = object()


def _values(document: Any, path: str) -> list[Any]:
    """The values a MongoDB multikey index records for ``path``: array elements rather than
    the array, ``[]`` as its own key, a dead end as missing (indexed like null)."""
    out: list[Any] = []
    _walk(document, path.split("."), 0, out)
    return out


def _walk(node: Any, parts: list[str], i: int, out: list[Any]) -> None:
    if i == len(parts):
        if isinstance(node, list):
            if node:
                out.extend(node)
            else:
                out.append(_EMPTY)
        else:
            out.append(node)
        return
    segment = parts[i]
    if isinstance(node, dict):
        if segment in node:
            _walk(node[segment], parts, i + 1, out)
        else:
            out.append(_MISSING)
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
            out.append(_MISSING)
    else:
        out.append(_MISSING)
