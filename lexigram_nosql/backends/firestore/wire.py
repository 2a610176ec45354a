"""Reads decoded from the wire messages, once, into the documents users read.

The client makes a ``DocumentSnapshot`` of every ``RunQuery`` and ``BatchGetDocuments``
response, converting each field through proto-plus, and ``codec.decode_document`` then walks
the result a second time. On the emulator that conversion was about 70 % of a ``find``'s
client CPU (10,000 five-field documents: 1.4-2.6 s decoded here, 5.3-7.4 s for the raw
client's own ``stream()`` and ``to_dict()``, same run). Here the protobuf ``Value``
messages are read directly, in one pass, with the codec's field order and ``_id`` rules.

What this costs: five names the client does not publish (``Query._prep_stream`` and
``Client._prep_get_all``, which build the requests exactly as ``stream()`` and ``get_all()``
do, ``CollectionReference._query``, the client's ``_firestore_api`` and ``_rpc_metadata``).
``tests/backends/test_firestore_wire.py`` checks they are there, so an upgrade that removes
one fails the tests instead of a user's read. Values this package never writes (references,
geo points, vectors, written by other clients) are decoded by the client, for the document
that holds them, so it reads as it always did.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from lexigram_nosql.backends.firestore.codec import (
    FLOAT_ID,
    ORDER,
    decode_document,
    decode_id,
    field_order,
)
from lexigram_nosql.types import Document

__all__ = ["decode_message", "get_documents", "run_query"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class _Foreign(Exception):
    """A value this package never writes: the client decodes its document."""


async def run_query(
    query: Any, transaction: Any, key: Callable[[str], str]
) -> AsyncGenerator[tuple[str, Any, Document], None]:
    """``query.stream(transaction=...)``'s documents as ``(key(name), update_time,
    document)``; ``update_time`` is the message's timestamp, which write options take as
    they take a snapshot's."""
    from google.api_core import gapic_v1

    if not hasattr(query, "_prep_stream"):
        query = query._query()  # a collection reference: the query of all its documents
    client = query._client
    request, _, options = query._prep_stream(transaction, gapic_v1.method.DEFAULT)
    responses = await client._firestore_api.run_query(
        request=request, metadata=client._rpc_metadata, **options
    )
    try:
        async for response in responses:
            message = response._pb
            if not message.HasField("document"):
                continue  # a response carrying only progress (read time, skipped results)
            found = message.document
            yield key(found.name), found.update_time, decode_message(found, client)
    finally:
        responses.cancel()  # a reader that stopped early: the server stops sending


async def get_documents(
    client: Any, references: list[Any], transaction: Any
) -> list[tuple[str, Any, Document]]:
    """``client.get_all(references, transaction=...)``'s existing documents as ``(document
    id, update_time, document)``, in the order the server answered."""
    from google.api_core import gapic_v1

    request, _, options = client._prep_get_all(
        references, None, transaction, gapic_v1.method.DEFAULT
    )
    responses = await client._firestore_api.batch_get_documents(
        request=request, metadata=client._rpc_metadata, **options
    )
    found: list[tuple[str, Any, Document]] = []
    async for response in responses:
        message = response._pb
        if message.HasField("found"):
            document = message.found
            decoded = decode_message(document, client)
            found.append((document.name.rpartition("/")[2], document.update_time, decoded))
    return found


def decode_message(found: Any, client: Any) -> Document:
    """The document a protobuf ``Document`` message holds, as users read it."""
    doc_id = found.name.rpartition("/")[2]
    try:
        return _document(doc_id, found.fields)
    except _Foreign:
        from google.cloud.firestore_v1 import _helpers
        from google.cloud.firestore_v1.types import document

        fields = document.Document.wrap(found).fields
        data = {key: _helpers.decode_value(value, client) for key, value in fields.items()}
        return decode_document(doc_id, data)


def _document(doc_id: str, fields: Any) -> Document:
    found: Document = {"_id": decode_id(doc_id)}
    if not fields:
        return found
    hidden = (ORDER in fields) + (FLOAT_ID in fields)
    for key in _names(fields, hidden):
        found[key] = _value(fields[key])
    if FLOAT_ID in fields:
        found["_id"] = float(found["_id"])
    return found


def _names(fields: Any, hidden: int) -> Sequence[str]:
    order = fields[ORDER].string_value if ORDER in fields else None
    return field_order(order, fields.keys(), hidden)


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value_type")
    if kind == "string_value":
        return value.string_value
    if kind == "integer_value":
        return value.integer_value
    if kind == "double_value":
        return value.double_value
    if kind == "boolean_value":
        return value.boolean_value
    if kind == "map_value":
        fields = value.map_value.fields
        if "__type__" in fields:
            raise _Foreign  # a vector or another type the client encodes as a map
        names = _names(fields, 1) if ORDER in fields else sorted(fields.keys())
        return {key: _value(fields[key]) for key in names}
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "null_value":
        return None
    if kind == "timestamp_value":
        stamp = value.timestamp_value
        # As MongoDB stores it: UTC, truncated to milliseconds.
        milliseconds = stamp.nanos // 1_000_000
        return _EPOCH + timedelta(seconds=stamp.seconds, milliseconds=milliseconds)
    if kind == "bytes_value":
        return value.bytes_value
    raise _Foreign  # a reference, a geo point
