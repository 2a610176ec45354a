"""Failure causes shown by health and connection errors are a few safe words: never a
driver's topology dump, a user name or a secret (``backends/causes.py``)."""

from __future__ import annotations

import pytest

from lexigram_nosql import NoSQLConnectionError, create_store
from lexigram_nosql.backends.causes import endpoint_of, short_cause
from tests.faults.conftest import PYMONGO_MONITOR_SOCKET, collect_pymongo_monitor_sockets

TOPOLOGY = (
    "10.0.0.5:27017: [Errno 111] Connection refused (configured timeouts: socketTimeoutMS: "
    "20000.0ms, connectTimeoutMS: 20000.0ms), Timeout: 30s, Topology Description: "
    "<TopologyDescription id: 65f, topology_type: Unknown, servers: [<ServerDescription "
    "('10.0.0.5', 27017) server_type: Unknown, rtt: None, error=AutoReconnect('alice@10.0.0.5')>]>"
)


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "address", "cause"),
    [
        (
            RuntimeError(TOPOLOGY),
            "mongodb://alice:***@10.0.0.5:27017/app",
            "connection refused 10.0.0.5:27017",
        ),
        (
            chained(NoSQLConnectionError("store down"), ConnectionRefusedError(111, "refused")),
            "http://127.0.0.1:8000",
            "connection refused 127.0.0.1:8000",
        ),
        (
            RuntimeError('Could not connect to the endpoint URL: "http://db:8000/"'),
            "http://db:8000",
            "connection refused db:8000",
        ),
        (
            RuntimeError("503 failed to connect to all addresses; last error: UNAVAILABLE"),
            "firestore://127.0.0.1:8234/p/(default)",
            "connection refused 127.0.0.1:8234",
        ),
        (
            RuntimeError("Authentication failed., full error: {'user': 'alice'}"),
            "",
            "authentication failed",
        ),
        (
            RuntimeError("UnrecognizedClientException: The security token is invalid"),
            "",
            "authentication failed",
        ),
        (RuntimeError("504 Deadline Exceeded"), "", "timeout"),
        (TimeoutError(), "", "timeout"),
        (RuntimeError("table app_orders is missing: ..."), "", "table app_orders is missing"),
        (KeyError("alice hunter2 s3cr3t"), "", "KeyError"),
    ],
)
def test_causes_are_short_specific_and_safe(exc: BaseException, address: str, cause: str) -> None:
    found = short_cause(exc, address=address)
    assert found == cause
    for leak in ("alice", "hunter2", "s3cr3t", "Topology", "ServerDescription"):
        assert leak not in found


def test_endpoint_of_drops_credentials() -> None:
    assert endpoint_of("mongodb://u:***@h1:1,h2:2/db?x=1") == "h1:1,h2:2"
    assert endpoint_of("memory://primary") == "primary"
    assert endpoint_of("-") is None


@pytest.mark.filterwarnings(PYMONGO_MONITOR_SOCKET)
async def test_a_lazy_stores_failed_health_shows_no_topology_nor_user() -> None:
    """The issue's finding: a lazy MongoDB store's failure put PyMongo's topology description
    (hosts, user name) into the public health body."""
    pytest.importorskip("pymongo")
    store = create_store(
        {
            "name": "lazy",
            "driver": "mongodb",
            "lazy": True,
            "connect_timeout_s": 2,
            "health_timeout_s": 3,
            "mongodb": {
                "uri": "mongodb://alice:hunter2@127.0.0.1:1/?authSource=admin",
                "server_selection_timeout_ms": 300,
            },
        }
    )
    health = await store.health_check()
    assert health.status == "fail"
    assert health.error == "connection refused 127.0.0.1:1", health.error
    await store.disconnect()
    collect_pymongo_monitor_sockets()
