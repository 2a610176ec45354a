"""Run the shared suite over the wire on a server that stores only ObjectId ``_id``s (CongoDB).

The conformance cases seed short string ids ("s1", "__lock__"). CongoDB refuses any ``_id``
that is not an ObjectId, so without help only the few cases that never name an id would run
over the wire. This fixture maps each such string, at the MongoDB backend's id boundary
(``lexigram_nosql.backends.mongodb.ids``), to an ObjectId that spells it: a marker byte, then
the string's UTF-8 bytes, zero-padded to 12 bytes. The mapping is

- reversible: ids read back are the strings the test wrote;
- order-preserving: ObjectIds compare as bytes, so ``sort={"_id": 1}`` and ``$gt`` on ids
  give the same order as the strings (for the ASCII ids the suite uses);
- partial: strings longer than 11 bytes, and every other id type, pass unchanged, so cases
  that test id types still meet the server's real behaviour (and are declared gaps there).

The backend's own conversion code still runs (the mapping wraps it), so what is exercised over
the wire is our MongoDB backend as shipped, with the ids changed before it sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bson import ObjectId

from lexigram_nosql.backends.mongodb import collection as mongo_collection
from lexigram_nosql.backends.mongodb import ids as mongo_ids

_MARK = b"\xfe"
_ROOM = 12 - len(_MARK)


def encode(value: Any) -> Any:
    """The ObjectId spelling a short string id; anything else unchanged."""
    if type(value) is not str:
        return value
    raw = value.encode()
    if len(raw) > _ROOM or b"\0" in raw or _is_hex24(value):
        return value
    return ObjectId(_MARK + raw.ljust(_ROOM, b"\0"))


def decode(value: Any) -> Any:
    """The string an ``encode``d ObjectId spells; anything else unchanged."""
    if type(value) is ObjectId and value.binary.startswith(_MARK):
        return value.binary[len(_MARK) :].rstrip(b"\0").decode()
    return value


def _is_hex24(value: str) -> bool:
    return len(value) == 24 and all(c in "0123456789abcdefABCDEF" for c in value)


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Map string ids to ObjectIds for the rest of the test (undone by ``monkeypatch``)."""
    to_server: Callable[[Any], Any] = mongo_ids.id_to_server
    from_server: Callable[[Any], Any] = mongo_ids.id_from_server
    from_server_document: Callable[[dict[str, Any]], dict[str, Any]] = (
        mongo_ids.document_from_server
    )

    def id_to_server(value: Any) -> Any:
        return to_server(encode(value))

    def id_from_server(value: Any) -> Any:
        return from_server(decode(value))

    def document_from_server(document: dict[str, Any]) -> dict[str, Any]:
        if "_id" in document:
            document["_id"] = decode(document["_id"])
        return from_server_document(document)

    # The ids module calls these through its globals; the collection imported them by name.
    for module in (mongo_ids, mongo_collection):
        for name, replacement in (
            ("id_to_server", id_to_server),
            ("id_from_server", id_from_server),
            ("document_from_server", document_from_server),
        ):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, replacement)
