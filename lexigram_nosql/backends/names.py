"""Collection names and paths, the same on every backend.

A collection name is any string MongoDB (and PyMongo) accepts: not empty, no ``$``, no null
character, no ``..`` and no ``.`` at either end, not starting with ``system.`` (MongoDB's own
namespace). Backends whose storage cannot hold every
such name (DynamoDB table names, Firestore collection ids) map it reversibly.

A name made of an odd number (three or more) of non-empty ``/``-separated segments, like
``users/u1/orders``, is also a *path*: a subcollection ``orders`` under document ``u1`` of
``users``. Firestore stores it as that subcollection; elsewhere it is just the name. Either
way it belongs to the collection group of its last segment (``orders``), as a top-level
``orders`` does; any other name belongs to the group of its whole self.
"""

from __future__ import annotations

from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError

__all__ = ["check_collection_name", "check_group_name", "group_of", "path_segments"]

#: MongoDB reserves this prefix for its own collections.
_SYSTEM: Final = "system."


def check_collection_name(name: Any, *, store: str) -> str:
    """``name`` when MongoDB would accept it as a collection name; InvalidQueryError saying
    which rule it breaks otherwise."""
    if not isinstance(name, str):
        reason = f"must be a string, not {type(name).__name__}"
    elif not name:
        reason = "must not be empty"
    elif "$" in name:
        reason = "must not contain '$'"
    elif "\x00" in name:
        reason = "must not contain the null character"
    elif name.startswith(".") or name.endswith(".") or ".." in name:
        reason = "must not start or end with '.' nor contain '..'"
    elif name.startswith(_SYSTEM):
        reason = "must not start with 'system.' (MongoDB reserves it for its own collections)"
    else:
        return name
    raise InvalidQueryError(
        f"Invalid collection name {name!r} for store {store!r}: a collection name {reason}",
        store=store,
        path="collection",
    )


def check_group_name(name: Any, *, store: str) -> str:
    """A collection group is named by a last path segment: a valid name without ``/``."""
    check_collection_name(name, store=store)
    if "/" in name:
        raise InvalidQueryError(
            f"Invalid collection group {name!r} for store {store!r}: a group is named by the "
            "last segment of its collections' paths (e.g. 'orders'), which has no '/'; use "
            f"store.collection({name!r}) for one collection",
            store=store,
            path="collection_group",
        )
    return str(name)


def path_segments(name: str) -> tuple[str, ...] | None:
    """The segments of ``name`` when it is a subcollection path, else None."""
    if "/" not in name:
        return None
    segments = tuple(name.split("/"))
    if len(segments) % 2 == 0 or not all(segments):
        return None
    return segments


def group_of(name: str) -> str:
    """The collection group ``name`` belongs to: its last path segment, or itself."""
    segments = path_segments(name)
    return segments[-1] if segments is not None else name
