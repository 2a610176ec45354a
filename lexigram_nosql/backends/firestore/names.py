"""Collection names to Firestore collection paths and back.

Firestore ids (of collections and documents alike) may not be empty, contain ``/``, be ``.``
or ``..``, or match ``__.*__``; MongoDB collection names may. A subcollection path
(``users/u1/orders``, see ``backends/names.py``) is stored as that very subcollection, each
segment escaped as below; any other name is one top-level collection id. A segment Firestore
would refuse, or one starting with ``~`` (or, for a collection, ``__lx``: this package's own
collections), is stored as ``~`` + the segment with ``%`` and ``/`` percent-encoded: the
escape document ids use, so ``users/u1/orders`` sits under the document whose ``_id`` is
``"u1"``. Names Firestore accepts are stored unchanged.
"""

from __future__ import annotations

import re
from typing import Final

from lexigram_nosql.backends.names import path_segments

__all__ = ["collection_path", "escape_segment", "name_of_path"]

_ESCAPED: Final = re.compile("%(25|2F)")
#: Collections of this package's own (``__lx_unique``...): a user's name never maps to one.
_RESERVED: Final = "__lx"


def collection_path(name: str) -> str:
    """The Firestore path (``/``-separated ids) of collection ``name``."""
    segments = path_segments(name)
    if segments is None:
        return escape_segment(name)
    # Even positions name collections, odd ones documents (escaped as document ids are).
    return "/".join(
        escape_segment(segment, document=index % 2 == 1) for index, segment in enumerate(segments)
    )


def name_of_path(path: str) -> str:
    """The collection name stored at Firestore collection path ``path``."""
    return "/".join(_unescape(segment) for segment in path.split("/"))


def escape_segment(text: str, *, document: bool = False) -> str:
    """``text`` as a Firestore collection id (or, with ``document``, document id)."""
    if (
        not text
        or text.startswith("~")
        or (not document and text.startswith(_RESERVED))
        or "/" in text
        or text in (".", "..")
        or (text.startswith("__") and text.endswith("__"))
    ):
        return "~" + text.replace("%", "%25").replace("/", "%2F")
    return text


def _unescape(segment: str) -> str:
    if not segment.startswith("~"):
        return segment
    return _ESCAPED.sub(lambda m: "/" if m.group(1) == "2F" else "%", segment[1:])
