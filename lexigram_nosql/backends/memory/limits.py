"""Whose limits the memory store enforces: ``memory.emulate`` (mongodb, dynamodb, firestore).

A test suite run on the memory store should refuse what production would. Every backend
already shares the value model (``query.values.check_document``: MongoDB's types, names and
nesting); this adds the production backend's own limits to each stored document:

- ``mongodb`` (the default): 16 MiB per document, counted as BSON counts it;
- ``dynamodb``: the document must encode as a DynamoDB item (400 KB, 32 levels of nesting,
  no NaN or infinity, numbers of 38 digits, only DynamoDB's types, keys of 2,048 bytes);
- ``firestore``: it must encode as a Firestore document (1 MiB, 20 levels, no array directly
  inside an array, only Firestore's types, ids of 1,500 bytes once encoded).

The DynamoDB and Firestore checks run those backends' own codecs (pure Python, no driver),
so the memory store refuses exactly what they refuse, with the same errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from lexigram_nosql.errors import DocumentTooLargeError

__all__ = ["MONGODB_MAX_DOCUMENT_BYTES", "Emulated", "LimitCheck", "limits_for"]

Emulated = Literal["mongodb", "dynamodb", "firestore"]

MONGODB_MAX_DOCUMENT_BYTES: Final = 16 * 1024 * 1024
"""MongoDB's maximum BSON document size (16 MiB)."""

LimitCheck = Callable[[dict[str, Any], int, str], None]
"""Checks one document to store, given its BSON size and its collection's name."""


def limits_for(emulate: Emulated) -> LimitCheck:
    """The check of ``emulate``'s limits, run on every document the memory store writes."""
    if emulate == "dynamodb":
        return _dynamodb
    if emulate == "firestore":
        return _firestore
    return _mongodb


def _mongodb(document: dict[str, Any], size: int, collection: str) -> None:
    if size > MONGODB_MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(
            f"The document with _id {document.get('_id')!r:.60} is about {size} bytes as BSON; "
            f"MongoDB's limit is {MONGODB_MAX_DOCUMENT_BYTES} bytes (16 MiB)",
            collection=collection,
            code="BSONObjectTooLarge",
        )


def _dynamodb(document: dict[str, Any], size: int, collection: str) -> None:
    # Imported here, not at module level: importing backends.dynamodb.codec runs the package's
    # __init__, which loads its store and the optional aioboto3 driver.
    from lexigram_nosql.backends.dynamodb.codec import encode_item

    try:
        encode_item(document, {"_id": "S"})
    except DocumentTooLargeError as exc:
        exc.collection = collection
        raise


def _firestore(document: dict[str, Any], size: int, collection: str) -> None:
    # Imported here for the same reason: backends.firestore's __init__ loads google-cloud.
    from lexigram_nosql.backends.firestore.codec import encode_body, encode_id

    encode_id(document["_id"], collection=collection)
    encode_body(document, collection=collection)
