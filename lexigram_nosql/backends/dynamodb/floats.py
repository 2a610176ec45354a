"""Integral floats read back as floats.

DynamoDB numbers are decimals: ``2.0`` is stored as ``2`` and nothing in the value tells it
from the int. MongoDB keeps the type (``{"$type": "double"}`` matches ``2.0``, not ``2``), so
the item says where its integral floats are, and ``decode_item`` turns those ints back:

* a top-level field holding a float is listed in the item's ``__lx:f`` string set (which
  ``$inc`` conditions also read: MongoDB adds floats in binary);
* inside a top-level array, the positions are a JSON list of index paths in the field's own
  hidden attribute ``__lx:e:<field>`` (the field is then listed in ``__lx:f`` too), so an
  update that sets or removes the field replaces or removes that attribute without reading;
* inside an embedded document, the map holds a hidden ``__lx:d`` key: a JSON list of the
  paths (a key, then indexes through arrays) of its own integral floats. A map is always
  written whole, so the key is always that of its current value.

Only integral floats are listed inside arrays and maps (other floats read back as floats by
their text), and nothing is written for documents without them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["decode_paths", "encode_paths", "list_paths", "map_paths", "restore"]

Path = list[Any]
"""Keys (str) and array indexes (int), from a container to one integral float."""


def _integral(value: Any) -> bool:
    return type(value) is float and value.is_integer()


def list_paths(values: list[Any] | tuple[Any, ...]) -> list[Path]:
    """The index paths of the integral floats in an array, through nested arrays (an
    embedded document lists its own)."""
    return _paths(enumerate(values))


def map_paths(document: Mapping[str, Any]) -> list[Path]:
    """The paths of an embedded document's own integral floats: its fields, and inside
    arrays it holds."""
    return _paths(document.items())


def _paths(steps: Iterable[tuple[Any, Any]]) -> list[Path]:
    found: list[Path] = []
    for step, value in steps:
        kind = type(value)
        if kind is float:
            if value.is_integer():
                found.append([step])
        elif kind is list or kind is tuple:
            found.extend([step, *inner] for inner in list_paths(value))
    return found


def encode_paths(paths: list[Path]) -> str:
    return json.dumps(paths, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def decode_paths(text: str) -> tuple[tuple[Any, ...], ...]:
    """The paths a marker lists; none when it is not ours (malformed)."""
    try:
        paths = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(paths, list):
        return ()
    return tuple(tuple(p) for p in paths if isinstance(p, list) and p)


def restore(container: Any, paths: tuple[tuple[Any, ...], ...]) -> None:
    """Turn the ints at ``paths`` inside ``container`` (a decoded list or dict) back into
    floats; a path that no longer leads to an int is skipped."""
    for path in paths:
        parent = container
        for step in path[:-1]:
            parent = _child(parent, step)
            if parent is None:
                break
        else:
            last = path[-1]
            value = _child(parent, last)
            if type(value) is int:
                parent[last] = float(value)


def _child(container: Any, step: Any) -> Any:
    if type(step) is int and isinstance(container, list):
        return container[step] if 0 <= step < len(container) else None
    if type(step) is str and isinstance(container, dict):
        return container.get(step)
    return None
