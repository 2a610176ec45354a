"""Query results decoded from the wire messages (``firestore/wire.py``) read exactly as the
client's snapshots decoded by the codec do, for every value this package stores and for the
values only other clients write."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql.backends.firestore.codec import decode_document, decode_snapshot
from tests.support import backend_firestore


async def test_the_clients_unpublished_names_the_reader_uses_are_there() -> None:
    """An upgrade of google-cloud-firestore that drops one fails here, not in a user's read."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    client = firestore.AsyncClient(project="p", credentials=AnonymousCredentials())
    collection = client.collection("c")
    query = collection._query()
    request, _, _ = query.where(filter=firestore.FieldFilter("a", "==", 1))._prep_stream(None)
    assert request["structured_query"].where.field_filter.field.field_path == "a"
    assert client.collection_group("c")._prep_stream is not None
    request, _, _ = client._prep_get_all([collection.document("d")], None, None)
    assert request["documents"] == [f"{client._database_string}/documents/c/d"]
    assert client._rpc_metadata
    assert callable(client._firestore_api.run_query)
    await client._firestore_api.transport.close()


@pytest.fixture
async def store() -> AsyncIterator[Any]:
    settings = backend_firestore.settings(f"fw_{uuid.uuid4().hex[:8]}")
    async for instance in backend_firestore.connected_store(settings):
        yield instance


async def through_snapshots(store: Any, collection: str) -> list[dict[str, Any]]:
    """What ``find`` read before: each snapshot the client made, decoded by the codec."""
    return [
        decode_snapshot(snapshot)
        async for snapshot in store.client.collection(collection).order_by("__name__").stream()
    ]


DOCUMENTS: list[dict[str, Any]] = [
    {"_id": "plain", "s": "text", "i": 7, "f": 0.5, "t": True, "n": None, "b": b"\x00\xff"},
    {"_id": 7, "z": 1, "a": {"y": [1, {"k": 2, "j": 3}], "x": {}}, "e": [], "m": {"a": 1, "b": 2}},
    {"_id": 7.5, "when": datetime(2026, 1, 2, 3, 4, 5, 678_999, tzinfo=UTC), "big": 2**63 - 1},
    {"_id": 8.0, "early": [{"d": datetime(1, 1, 1, tzinfo=UTC)}], "late": datetime(9999, 12, 31)},
    {"_id": "", "üñí": {"çødé": "ok", "$dollar": 1, "dotted.key": 2}, "neg": -(2**63)},
    {"_id": {"k": 1}, "inf": float("inf"), "ninf": float("-inf"), "zero": -0.0},
    {"_id": "empty"},
]


async def test_every_stored_value_reads_as_through_the_clients_snapshots(store: Any) -> None:
    collection = store.collection("c")
    await collection.insert_many(DOCUMENTS)
    # Written by another client: microseconds (read back truncated to milliseconds), no order.
    micro = datetime(2026, 5, 6, 7, 8, 9, 123_456, tzinfo=UTC)
    await store.client.collection("c").document("raw").set({"w": micro, "b": 1, "a": 2})
    found = [document async for document in collection.find({})]
    expected = await through_snapshots(store, "c")
    assert sorted(map(repr, found)) == sorted(map(repr, expected))  # types and order too
    assert {"_id": "raw", "a": 2, "b": 1, "w": micro.replace(microsecond=123_000)} in found
    for document in found:
        if document["_id"] != "raw":
            (given,) = (d for d in DOCUMENTS if repr(d["_id"]) == repr(document["_id"]))
            assert list(document) == list(given), "the order of fields as inserted"


async def test_documents_got_by_id_read_as_through_the_clients_snapshots(store: Any) -> None:
    """``find_one`` by ``_id`` (one get) and ``$in`` on ids (one batched get)."""
    collection = store.collection("c")
    await collection.insert_many(DOCUMENTS)
    expected = await through_snapshots(store, "c")
    for document in expected:
        assert repr(await collection.find_one({"_id": document["_id"]})) == repr(document)
    ids = [document["_id"] for document in expected] + ["absent"]
    found = await collection.find({"_id": {"$in": ids}}).to_list()
    assert sorted(map(repr, found)) == sorted(map(repr, expected))
    assert await collection.find_one({"_id": "absent"}) is None


async def test_values_only_other_clients_write_read_as_the_client_decodes_them(
    store: Any,
) -> None:
    from google.cloud.firestore import GeoPoint
    from google.cloud.firestore_v1.vector import Vector

    await store.collection("c").insert_one({"_id": "target", "x": 1})
    raw = store.client.collection("c")
    await raw.document("foreign").set(
        {"where": GeoPoint(1.5, 2.5), "ref": raw.document("target"), "v": Vector([1.0, 2.0])}
    )
    snapshot = await raw.document("foreign").get()
    found = await store.collection("c").find({"_id": {"$ne": "target"}}).to_list()
    assert found == [decode_document("foreign", snapshot.to_dict())]
    assert isinstance(found[0]["where"], GeoPoint)
    assert isinstance(found[0]["v"], Vector)
    assert await store.collection("c").find_one({"_id": "foreign"}) == found[0]


async def test_a_collection_groups_documents_are_keyed_by_their_path(store: Any) -> None:
    """Ids repeat across a group's collections: each document is read once all the same."""
    await store.collection("u/1/posts").insert_one({"_id": "p", "n": 1})
    await store.collection("u/2/posts").insert_one({"_id": "p", "n": 2})
    found = await store.collection_group("posts").find({}).to_list()
    assert sorted(d["n"] for d in found) == [1, 2]


async def test_a_read_that_stops_early_cancels_the_servers_stream(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter the server cannot apply is checked here: the first match ends the read, and
    the server stops sending the rest at once (not when the stream is garbage collected)."""
    await store.collection("c").insert_many([{"n": i} for i in range(300)])
    api = store.client._firestore_api
    run_query = api.run_query
    calls: list[Any] = []

    async def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(await run_query(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(api, "run_query", recording)
    assert (await store.collection("c").find_one({"n": {"$mod": [7, 3]}}))["n"] == 3
    assert calls[0].cancelled()
    assert len(await store.collection("c").find({}).to_list()) == 300
    assert not calls[1].cancelled(), "a stream read to its end is not cancelled"
