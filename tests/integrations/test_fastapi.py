"""The FastAPI integration: lifespan, ``Inject[T]``, problem details, health endpoint."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from lexigram_nosql import (
    ConcurrencyError,
    ConfigurationError,
    DocumentDeletedError,
    DocumentNotFoundError,
    DocumentRepository,
    DocumentStoreProtocol,
    DuplicateKeyError,
    HealthService,
    InvalidQueryError,
    Named,
    NoSQLConnectionError,
    StoreStateError,
    UnsupportedQueryError,
)
from lexigram_nosql.integrations.fastapi import (
    PROBLEM_CONTENT_TYPE,
    Inject,
    health_endpoint,
    install_problem_details,
    lifespan,
)

CONFIG: dict[str, Any] = {
    "nosql": {
        "backends": [
            {"name": "primary", "driver": "memory", "primary": True},
            {"name": "orders", "driver": "memory", "critical": False},
        ]
    }
}


class OrderRepository(DocumentRepository[dict[str, Any], str]):
    collection_name = "orders"
    store_name = "orders"

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


class Greeter:
    def __init__(self, store: DocumentStoreProtocol) -> None:
        self.store = store


def make_app() -> FastAPI:
    web = FastAPI(lifespan=lifespan(CONFIG))
    install_problem_details(web)

    @web.get("/stores")
    async def stores(
        primary: Inject[DocumentStoreProtocol],
        orders_store: Inject[Annotated[DocumentStoreProtocol, Named("orders")]],
        orders: Inject[OrderRepository],
        greeter: Inject[Greeter],
        again: Inject[Greeter],
        health: Inject[HealthService],
    ) -> dict[str, Any]:
        return {
            "primary": primary.name,
            "named": orders_store.name,
            "repository": orders.store.name,
            "greeter": greeter.store.name,
            "shared_per_request": greeter is again,
            "health": type(health).__name__,
            "connected": primary.is_connected and orders_store.is_connected,
        }

    @web.post("/orders/{key}")
    async def create(key: str, orders: Inject[OrderRepository]) -> dict[str, Any]:
        await orders.collection.insert_one({"_id": key})
        return {"_id": key}

    return web


def test_lifespan_boots_and_inject_resolves_stores_repositories_and_services() -> None:
    web = make_app()
    with TestClient(web) as client:
        body = client.get("/stores").json()
        application = web.state.lexigram_nosql
        stores = [application.modules[0].stores[n] for n in ("primary", "orders")]
    assert body == {
        "primary": "primary",
        "named": "orders",
        "repository": "orders",
        "greeter": "primary",
        "shared_per_request": True,
        "health": "HealthService",
        "connected": True,
    }
    assert not any(store.is_connected for store in stores)  # shut down with the app
    assert not hasattr(web.state, "lexigram_nosql")


def test_a_store_that_cannot_start_fails_the_startup() -> None:
    config = {"nosql": {"backends": [{"name": "x", "driver": "nope"}]}}
    web = FastAPI(lifespan=lifespan(config))
    with pytest.raises(ConfigurationError, match="nope"), TestClient(web):
        pass


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DocumentNotFoundError("no user 'u1'", key="u1"), 404),
        (DocumentDeletedError("user 'u1' is deleted", key="u1"), 410),
        (DuplicateKeyError("duplicate key 'u1'", key="u1"), 409),
        (ConcurrencyError("user 'u1' changed", key="u1"), 409),
        (InvalidQueryError("unknown operator $nope at 'age'", operator="$nope"), 400),
    ],
)
def test_client_errors_become_problem_details(error: Exception, status: int) -> None:
    web = FastAPI()
    install_problem_details(web)

    @web.get("/fail")
    async def fail() -> None:
        raise error

    response = TestClient(web).get("/fail")
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json() == {
        "type": "about:blank",
        "title": {404: "Not Found", 410: "Gone", 409: "Conflict", 400: "Bad Request"}[status],
        "status": status,
        "detail": str(error),
        "instance": "/fail",
    }


@pytest.mark.parametrize(("retry_after", "header"), [(2.2, "3"), (0.01, "1"), (None, None)])
def test_unavailable_store_is_503_with_retry_after_when_known(
    retry_after: float | None, header: str | None
) -> None:
    web = FastAPI()
    install_problem_details(web)

    @web.get("/fail")
    async def fail() -> None:
        error = NoSQLConnectionError(
            "Could not reach store 'orders' at mongodb://app:***@10.0.0.5:27017",
            store="orders",
            address="mongodb://app:***@10.0.0.5:27017",
        )
        error.retry_after = retry_after  # type: ignore[attr-defined]
        raise error

    response = TestClient(web).get("/fail")
    assert response.status_code == 503
    assert response.headers.get("retry-after") == header
    assert (
        response.json()["detail"] == "The document store 'orders' is unavailable; try again later."
    )
    assert "10.0.0.5" not in response.text


@pytest.mark.parametrize(
    "error",
    [
        UnsupportedQueryError("$where on dynamodb at secret.internal", backend="dynamodb"),
        RuntimeError("password=hunter2 in a bug"),
    ],
)
def test_anything_else_is_a_bare_500(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    web = FastAPI()
    install_problem_details(web)

    @web.get("/fail")
    async def fail() -> None:
        raise error

    with caplog.at_level("ERROR", logger="lexigram_nosql"):
        response = TestClient(web, raise_server_exceptions=False).get("/fail")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    (logged,) = [r for r in caplog.records if r.name == "lexigram_nosql"]
    assert logged.getMessage() == f"GET /fail failed with {type(error).__name__} (answered 500)"
    # The cause is kept for the operator: ours in full here, others by the server.
    assert (logged.exc_info is not None) == isinstance(error, UnsupportedQueryError)
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "instance": "/fail",
    }


def test_health_endpoint_mounts_in_one_line_at_any_path() -> None:
    ops = Starlette()
    ops.add_route("/health", health_endpoint)
    web = FastAPI(lifespan=lifespan(CONFIG), routes=[Mount("/ops", app=ops)])
    web.add_route("/health", health_endpoint)
    with TestClient(web) as client:
        for path in ("/health", "/ops/health"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "application/health+json"
            assert response.headers["cache-control"] == "no-store"
            assert response.json()["status"] == "pass"
            assert set(response.json()["checks"]) == {"primary:responseTime", "orders:responseTime"}
        assert client.head("/health").status_code == 200


def test_the_lifespan_mounts_the_health_app_in_one_line() -> None:
    nosql = lifespan(CONFIG)
    web = FastAPI(lifespan=nosql)
    web.mount("/health", nosql.health_app())
    with pytest.raises(StoreStateError, match="not running"):
        nosql.application  # noqa: B018 - the property raises before startup
    with TestClient(web) as client:
        for path in ("/health/", "/health"):  # the second after FastAPI's redirect
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "application/health+json"
            assert response.json()["status"] == "pass"
        assert nosql.application is web.state.lexigram_nosql


def test_without_the_lifespan_inject_says_what_to_do() -> None:
    web = FastAPI()

    @web.get("/x")
    async def x(store: Inject[DocumentStoreProtocol]) -> str:
        return store.name

    with pytest.raises(StoreStateError, match="lifespan"):
        TestClient(web).get("/x")


def test_inject_is_only_an_annotation() -> None:
    with pytest.raises(TypeError, match="annotation"):
        Inject()


def test_an_open_circuit_breaker_answers_503_with_retry_after() -> None:
    """End to end: a lazy store whose server is down fails its first call, which opens the
    breaker (failures: 1); the client is told when the next trial goes."""
    config = {
        "nosql": {
            "backends": [
                {"name": "primary", "driver": "memory", "primary": True},
                {
                    "name": "orders",
                    "driver": "mongodb",
                    "lazy": True,
                    "connect_timeout_s": 0.5,
                    "circuit_breaker": {"failures": 1, "reset_s": 30},
                    "mongodb": {"uri": "mongodb://127.0.0.1:9", "database": "shop"},
                },
            ]
        }
    }
    web = FastAPI(lifespan=lifespan(config))
    install_problem_details(web)

    @web.get("/orders")
    async def orders(
        store: Inject[Annotated[DocumentStoreProtocol, Named("orders")]],
    ) -> int:
        return await store.collection("orders").count_documents({})

    with TestClient(web) as client:
        for _ in range(2):  # the failing call, then one refused at once by the open breaker
            response = client.get("/orders")
            assert response.status_code == 503
            assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
            assert 1 <= int(response.headers["retry-after"]) <= 30
            assert "127.0.0.1" not in response.text
