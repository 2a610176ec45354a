"""``HealthService``: statuses, the IETF health+json body, per-store timeouts, the TTL cache,
single flight under polling, and ``health_app`` served over real HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from lexigram_nosql import Application, HealthService, health_app
from lexigram_nosql.contracts import StoreHealth
from lexigram_nosql.health import HEALTH_CONTENT_TYPE, ASGIApp


class CountingStore:
    """Just enough of a store for the health service: counts pings, can be slow or down."""

    def __init__(
        self, name: str, *, delay: float = 0.0, down: bool = False, raises: bool = False
    ) -> None:
        self.name = name
        self.driver = "fake"
        self.delay = delay
        self.down = down
        self.raises = raises
        self.pings = 0

    async def health_check(self) -> StoreHealth:
        self.pings += 1
        await asyncio.sleep(self.delay)
        if self.raises:
            raise RuntimeError("driver blew up at mongodb://app:hunter22@db:27017")
        return StoreHealth(
            store=self.name,
            driver=self.driver,
            status="fail" if self.down else "pass",
            latency_ms=self.delay * 1000,
            checked_at=datetime.now(UTC),
            error="connection refused" if self.down else None,
        )


def service(*stores: CountingStore, **kwargs: Any) -> HealthService:
    return HealthService(list(stores), **kwargs)  # type: ignore[arg-type]


# -- statuses and format -----------------------------------------------------------------------


async def test_all_passing_is_pass_in_health_json_form() -> None:
    report = await service(CountingStore("primary"), CountingStore("analytics")).check()
    assert report.status == "pass" and report.http_status == 200
    body = report.to_dict()
    assert body["status"] == "pass"
    assert list(body["checks"]) == ["primary:responseTime", "analytics:responseTime"]
    (entry,) = body["checks"]["primary:responseTime"]
    assert entry["componentId"] == "primary"
    assert entry["componentType"] == "datastore"
    assert entry["observedUnit"] == "ms"
    assert isinstance(entry["observedValue"], float)
    assert entry["status"] == "pass"
    assert entry["time"].endswith("Z") and datetime.fromisoformat(entry["time"])
    assert entry["driver"] == "fake"
    assert "output" not in entry, "output is omitted for a passing check"
    json.dumps(body)  # serializable as is


async def test_a_critical_store_failing_fails_the_report() -> None:
    report = await service(CountingStore("primary", down=True), CountingStore("b")).check()
    assert report.status == "fail" and report.http_status == 503
    entry = report.to_dict()["checks"]["primary:responseTime"][0]
    assert entry["status"] == "fail"
    assert entry["output"] == "connection refused"


async def test_a_non_critical_store_failing_is_a_warning() -> None:
    health = service(
        CountingStore("primary"),
        CountingStore("analytics", down=True),
        critical={"analytics": False},
    )
    report = await health.check()
    assert report.status == "warn" and report.http_status == 200
    assert report.check("analytics").status == "fail"
    assert "analytics [fake] (non-critical): fail" in report.to_text()


async def test_each_check_is_bounded_by_its_timeout() -> None:
    health = service(
        CountingStore("fast"), CountingStore("stuck", delay=30), timeouts={"stuck": 0.1}
    )
    started = time.perf_counter()
    report = await health.check()
    assert time.perf_counter() - started < 1.5
    assert report.check("stuck").error == "timeout after 0.6s"  # 0.5 s grace
    assert report.check("fast").status == "pass"


async def test_a_store_whose_check_raises_is_reported_failed_and_redacted() -> None:
    report = await service(CountingStore("primary", raises=True)).check()
    check = report.check("primary")
    assert check.status == "fail"
    assert check.error is not None and "RuntimeError" in check.error
    assert "hunter22" not in check.error


async def test_real_stores_report_through_the_container() -> None:
    config = {"nosql": {"driver": "memory"}}
    async with Application.boot(config=config, environ={}) as app:
        report = await (await app.container.resolve(HealthService)).check()
    assert report.status == "pass"
    assert report.check("primary").driver == "memory"


# -- cache and single flight -------------------------------------------------------------------


async def test_reports_are_reused_for_the_ttl_then_served_stale_while_one_refresh_runs() -> None:
    store = CountingStore("primary")
    health = service(store, cache_ttl_s=0.5)
    first = await health.check()
    assert first.age_s < 0.5
    assert await health.check() is first
    assert store.pings == 1
    await asyncio.sleep(0.6)
    stale = await health.check()  # at once: the old report, with its age
    assert stale is first and stale.age_s >= 0.5
    assert stale.to_dict()["age_s"] >= 0.5
    await asyncio.sleep(0.05)  # the one background refresh lands
    assert store.pings == 2
    fresh = await health.check()
    assert fresh.checked_at > first.checked_at and fresh.age_s < 0.5


async def test_a_hanging_store_never_stalls_a_probe_after_the_first_report() -> None:
    store = CountingStore("primary")
    health = service(store, cache_ttl_s=0.05, timeouts={"primary": 0.3})
    await health.check()
    store.delay = 30  # the server hangs from now on
    await asyncio.sleep(0.06)
    latencies = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        started = time.perf_counter()
        report = await health.check()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    assert max(latencies) < 0.25, max(latencies)  # a stalled probe would wait 0.8 s
    assert report.status == "fail" and report.check("primary").error == "timeout after 0.8s"
    assert store.pings <= 1 + 1.5 / 0.8 + 1, "one refresh at a time"


async def test_each_change_of_state_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    store = CountingStore("primary")
    health = service(store, cache_ttl_s=0)
    caplog.set_level(logging.INFO, "lexigram_nosql")
    for down in (False, True, True, True, False, False):
        store.down = down
        await health.check(fresh=True)
    changes = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert changes == [
        (logging.WARNING, "Store primary is unhealthy: connection refused"),
        (logging.INFO, "Store primary is healthy again"),
    ]


async def test_fresh_bypasses_the_cache() -> None:
    store = CountingStore("primary")
    health = service(store, cache_ttl_s=60)
    await health.check()
    await health.check(fresh=True)
    assert store.pings == 2


async def test_concurrent_callers_share_one_check() -> None:
    store = CountingStore("primary", delay=0.05)
    health = service(store, cache_ttl_s=0)
    reports = await asyncio.gather(*(health.check() for _ in range(200)))
    assert store.pings == 1
    assert all(r is reports[0] for r in reports)


async def test_polling_as_fast_as_possible_pings_once_per_ttl() -> None:
    store = CountingStore("primary", delay=0.01)
    health = service(store, cache_ttl_s=0.1)
    deadline = time.monotonic() + 0.5
    polls = 0

    async def poller() -> None:
        nonlocal polls
        while time.monotonic() < deadline:
            await health.check()
            polls += 1
            await asyncio.sleep(0)

    await asyncio.gather(*(poller() for _ in range(20)))
    assert polls > 1000
    assert 1 <= store.pings <= 6, f"{store.pings} pings for {polls} polls in 0.5 s at TTL 0.1 s"


async def test_a_caller_giving_up_does_not_cancel_the_shared_check() -> None:
    store = CountingStore("primary", delay=0.1)
    health = service(store, cache_ttl_s=10)
    impatient = asyncio.create_task(health.check())
    patient = asyncio.create_task(health.check())
    await asyncio.sleep(0.02)
    impatient.cancel()
    report = await patient
    assert report.status == "pass"
    assert store.pings == 1


# -- the ASGI endpoint over real HTTP ----------------------------------------------------------


async def serve_asgi(
    app: ASGIApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A minimal HTTP/1.1 server for one request per connection (enough to test the app)."""
    request_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = []
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower().encode(), value.strip().encode()))
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    head = [f"HTTP/1.1 {start['status']} X"]
    head += [f"{k.decode()}: {v.decode()}" for k, v in start["headers"]]
    head += ["connection: close", "", ""]
    writer.write("\r\n".join(head).encode() + body)
    await writer.drain()
    writer.close()


@pytest.fixture
async def http_health() -> AsyncIterator[tuple[str, dict[str, CountingStore]]]:
    stores = {"primary": CountingStore("primary"), "analytics": CountingStore("analytics")}
    app = health_app(service(*stores.values(), cache_ttl_s=0))
    server = await asyncio.start_server(
        lambda r, w: serve_asgi(app, r, w), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", stores


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def test_endpoint_serves_health_json_with_200(
    http_health: tuple[str, dict[str, CountingStore]],
) -> None:
    base, _ = http_health
    status, headers, body = await asyncio.to_thread(fetch, f"{base}/health")
    assert status == 200
    assert headers["content-type"] == HEALTH_CONTENT_TYPE
    assert headers["cache-control"] == "no-store"
    document = json.loads(body)
    assert document["status"] == "pass"
    assert set(document["checks"]) == {"primary:responseTime", "analytics:responseTime"}


async def test_endpoint_answers_503_when_a_critical_store_fails(
    http_health: tuple[str, dict[str, CountingStore]],
) -> None:
    base, stores = http_health
    stores["analytics"].down = True
    status, headers, body = await asyncio.to_thread(fetch, f"{base}/health")
    assert status == 503
    assert headers["content-type"] == HEALTH_CONTENT_TYPE
    assert json.loads(body)["status"] == "fail"


async def test_endpoint_head_has_no_body_and_other_paths_and_methods_are_refused(
    http_health: tuple[str, dict[str, CountingStore]],
) -> None:
    base, _ = http_health
    status, headers, body = await asyncio.to_thread(fetch, f"{base}/health", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-type"] == HEALTH_CONTENT_TYPE
    status, _, _ = await asyncio.to_thread(fetch, f"{base}/nope")
    assert status == 404
    status, headers, _ = await asyncio.to_thread(fetch, f"{base}/health", "POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


async def test_endpoint_accepts_a_service_factory() -> None:
    health = service(CountingStore("primary"))

    async def get_service() -> HealthService:
        return health

    app = health_app(get_service, path="/-/health")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/-/health"}, receive, send)
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["status"] == "pass"


async def test_endpoint_completes_the_lifespan_protocol() -> None:
    app = health_app(service(CountingStore("primary")))
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
