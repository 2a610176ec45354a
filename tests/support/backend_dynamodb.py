"""DynamoDB Local (``scripts/services.sh up dynamodb``), with one table prefix per store so
tests never see each other's tables."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from lexigram_nosql import create_store
from tests.support.backends import services_required

ID = "dynamodb"
ENDPOINT_ENV = "LEXIGRAM_NOSQL_TEST_DYNAMODB_ENDPOINT"
# Conformance test-name fragment -> what DynamoDB Local (not our backend) gets wrong.
KNOWN_GAPS: dict[str, str] = {
    "test_names_differing_in_case_stay_apart": (
        "DynamoDB Local keeps table names case-insensitively (CreateTable of 'orders' after "
        "'Orders' fails with InternalFailure); DynamoDB itself is case-sensitive"
    ),
}


def endpoint() -> str | None:
    return os.environ.get(ENDPOINT_ENV)


def unavailable() -> str | None:
    url = endpoint()
    if not url:
        return f"{ENDPOINT_ENV} is not set (run `scripts/services.sh up dynamodb`)"
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1.0):
            return None
    except OSError as exc:
        return f"DynamoDB Local at {url} does not answer ({exc})"


def settings(name: str, **section: Any) -> dict[str, Any]:
    """A store on DynamoDB Local with fake credentials (DynamoDB Local accepts
    only letters and digits in an access key id) and its own table prefix."""
    return {
        "name": name,
        "driver": "dynamodb",
        "dynamodb": {
            "endpoint_url": endpoint(),
            "region": "us-east-1",
            "access_key_id": "lexigramtest",
            "secret_access_key": "lexigramtestsecret",
            "table_prefix": f"t{uuid.uuid4().hex[:10]}_",
            **section,
        },
    }


async def reset(store: Any) -> None:
    """Delete the store's tables (DynamoDB Local has no reset endpoint)."""
    for collection in await store.list_collections():
        await store.drop_collection(collection)


@pytest.fixture
async def dynamodb() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """A factory of connected DynamoDB stores (``await dynamodb(allow_scan=False)``), whose
    tables are deleted after the test. For the backend-specific tests."""
    reason = unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"{ID} test server is required but {reason}")
        pytest.skip(f"{ID}: {reason}")
    stores: list[Any] = []

    async def make(**section: Any) -> Any:
        store = create_store(settings(f"ddb_{uuid.uuid4().hex[:6]}", **section))
        await store.connect()
        stores.append(store)
        return store

    yield make
    for store in stores:
        if store.is_connected:
            await reset(store)
        await store.disconnect()
