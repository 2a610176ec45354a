"""``firestore.retry_timeout_s`` reaches every RPC of the client (no server needed): it is
what keeps a stopped Firestore from hanging calls for the library's 60 s of retries, and it
sets private attributes of google-cloud-firestore, so a release that moves them fails here."""

from __future__ import annotations

import pytest

from lexigram_nosql import create_store

pytest.importorskip("google.cloud.firestore")


async def test_every_rpc_gives_up_retrying_after_retry_timeout_s() -> None:
    store = create_store(
        {
            "name": "bounded",
            "driver": "firestore",
            "firestore": {"emulator_host": "127.0.0.1:1", "retry_timeout_s": 1.5},
        }
    )
    client = store._make_client()  # type: ignore[attr-defined]
    try:
        wrapped = client._firestore_api._client._transport._wrapped_methods
        retries = {
            method._method: method._retry
            for method in wrapped.values()
            if getattr(method, "_retry", None)
        }
        assert b"/google.firestore.v1.Firestore/Commit" in retries
        assert b"/google.firestore.v1.Firestore/BeginTransaction" in retries
        assert {name: r.timeout for name, r in retries.items()} == dict.fromkeys(retries, 1.5)
    finally:
        client.close()
