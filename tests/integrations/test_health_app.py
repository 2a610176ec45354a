"""``health_app`` at any path, under Starlette and FastAPI, over real HTTP (uvicorn on a free
port, httpx): mounted with or without a trailing slash, nested, as a plain route, and as a
catch-all mount."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from lexigram_nosql import HealthService, health_app
from lexigram_nosql.contracts import StoreHealth
from lexigram_nosql.health import HEALTH_CONTENT_TYPE


class FakeStore:
    def __init__(self, name: str, *, down: bool = False) -> None:
        self.name, self.driver, self.down = name, "fake", down

    async def health_check(self) -> StoreHealth:
        return StoreHealth(
            store=self.name,
            driver=self.driver,
            status="fail" if self.down else "pass",
            latency_ms=0.1,
            checked_at=datetime.now(UTC),
            error="down" if self.down else None,
        )


def starlette_app(routes: list[BaseRoute]) -> Any:
    return Starlette(routes=routes)


def fastapi_app(routes: list[BaseRoute]) -> Any:
    web = FastAPI()
    web.router.routes.extend(routes)
    return web


FRAMEWORKS: dict[str, Callable[[list[BaseRoute]], Any]] = {
    "starlette": starlette_app,
    "fastapi": fastapi_app,
}


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` under uvicorn on a free port of this host, and a client for it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):  # uvicorn offers no event for "listening"
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()


def service(*, down: bool = False) -> HealthService:
    return HealthService([FakeStore("primary", down=down)], cache_ttl_s=0)


async def assert_health(client: httpx.AsyncClient, path: str, status: int = 200) -> None:
    response = await client.get(path, follow_redirects=True)
    assert response.status_code == status, (path, response.status_code, response.text)
    assert response.headers["content-type"] == HEALTH_CONTENT_TYPE
    assert response.json()["status"] == ("pass" if status == 200 else "fail")


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_mounted_at_a_path_with_or_without_trailing_slash(framework: str) -> None:
    app = FRAMEWORKS[framework]([Mount("/health", app=health_app(service()))])
    async with serve(app) as client:
        await assert_health(client, "/health/")
        await assert_health(client, "/health")  # the framework redirects to /health/
        head = await client.head("/health/")
        assert (head.status_code, head.content) == (200, b"")
        post = await client.post("/health/")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
        assert (await client.get("/elsewhere")).status_code == 404
        assert (await client.get("/health/deeper")).status_code == 404


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_mounted_under_nested_prefixes(framework: str) -> None:
    inner = Mount("/status", routes=[Mount("/health", app=health_app(service(down=True)))])
    app = FRAMEWORKS[framework]([Mount("/ops", routes=[inner])])
    async with serve(app) as client:
        await assert_health(client, "/ops/status/health/", 503)
        await assert_health(client, "/ops/status/health", 503)


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_as_a_plain_route_at_any_path(framework: str) -> None:
    routes: list[BaseRoute] = [
        Route("/healthz", endpoint=health_app(service())),
        Mount("/api", routes=[Route("/v1/ready", endpoint=health_app(service()))]),
    ]
    app = FRAMEWORKS[framework](routes)
    async with serve(app) as client:
        await assert_health(client, "/healthz")
        await assert_health(client, "/api/v1/ready")
        assert (await client.head("/healthz")).status_code == 200


async def test_fastapi_add_route_and_mount() -> None:
    web = FastAPI()
    web.add_route("/live", health_app(service()))
    web.mount("/health", health_app(service()))
    async with serve(web) as client:
        await assert_health(client, "/live")
        await assert_health(client, "/health")
        await assert_health(client, "/health/")


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_a_catch_all_mount_answers_only_its_path(framework: str) -> None:
    app = FRAMEWORKS[framework]([Mount("/", app=health_app(service(), path="/-/health"))])
    async with serve(app) as client:
        await assert_health(client, "/-/health")
        assert (await client.get("/other")).status_code == 404


async def test_served_alone() -> None:
    async with serve(health_app(service())) as client:
        await assert_health(client, "/health")
        await assert_health(client, "/health/")
        assert (await client.get("/")).status_code == 404
