"""PyMongo's per-command options that change no result here: ``comment`` and ``hint``
are taken as PyMongo takes them, and ``let`` is refused by name.

Code ported from PyMongo passes them; refusing them with a ``TypeError`` would break it for
no gain. A ``comment`` labels a command in MongoDB's logs and profiler, and ``hint`` picks
the index MongoDB's planner uses; neither changes which documents a call reads or writes,
and each backend here plans its own reads, so both are checked and not used. ``let``
(variables for ``$expr`` and pipeline updates) does change results, and no backend here
binds them, so it is refused with an error that names it rather than run without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lexigram_nosql.errors import InvalidQueryError

__all__ = ["check_command_options"]


def check_command_options(method: str, hint: Any = None, let: Any = None) -> None:
    """Refuse a malformed ``hint`` and any ``let`` (callers test ``is not None`` first)."""
    if let is not None:
        raise InvalidQueryError(
            f"{method}: let= (variables for $expr and pipeline updates) is not supported; "
            "write the values into the filter or update instead"
        )
    if hint is not None and not _is_hint(hint):
        raise InvalidQueryError(
            f"{method}: hint must be an index name or its keys ([('field', 1)] or "
            f"{{'field': 1}}), got {hint!r}"
        )


def _is_hint(hint: Any) -> bool:
    """An index name, or the index's keys as PyMongo takes them (pairs or a mapping)."""
    if isinstance(hint, str):
        return bool(hint)
    if isinstance(hint, Mapping):
        pairs = list(hint.items())
    elif isinstance(hint, (list, tuple)):
        pairs = list(hint)
    else:
        return False
    return bool(pairs) and all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], (int, str))
        for pair in pairs
    )
