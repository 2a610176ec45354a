"""Health of the configured stores: ``HealthService`` (injectable), its ``HealthReport`` in the
IETF "Health Check Response Format for HTTP APIs" (``application/health+json``), and
``health_app``, a dependency-free ASGI app serving it.

Made to be polled, and never to stall a probe: a report is reused for ``cache_ttl_s``; once
it is older, callers get it at once (with its ``age_s``) while one refresh runs in the
background (stale-while-revalidate). Only the very first check waits, bounded by each store's
``health_timeout_s``. So an endpoint polled a thousand times a second pings each backend at
most once per TTL, and answers in microseconds even while a backend hangs. A store going down
is logged once at WARNING, coming back once at INFO; causes are short and safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lexigram_nosql.backends.causes import short_cause
from lexigram_nosql.contracts import DocumentStoreProtocol, StoreHealth

__all__ = ["HEALTH_CONTENT_TYPE", "HealthApp", "HealthReport", "HealthService", "health_app"]

logger = logging.getLogger("lexigram_nosql")

HEALTH_CONTENT_TYPE = "application/health+json"

Status = Literal["pass", "warn", "fail"]

_DEFAULT_TIMEOUT_S = 2.0
# Stores bound their own checks by the same timeout and report a more precise error; this
# grace lets theirs win, and still bounds a store that does not.
_GRACE_S = 0.5


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The overall status and each store's check.

    ``status`` is ``fail`` when a critical store fails, ``warn`` when only non-critical ones
    do, ``pass`` otherwise. ``age_s`` is how old the report is (a stale one is served while
    its refresh runs).
    """

    status: Status
    checks: tuple[StoreHealth, ...]
    critical: Mapping[str, bool]
    checked_at: datetime
    produced_at: float = field(default_factory=time.monotonic, repr=False, compare=False)
    """``time.monotonic()`` when the report was made (for ``age_s``)."""

    @property
    def age_s(self) -> float:
        """Seconds since the report was made."""
        return time.monotonic() - self.produced_at

    @property
    def http_status(self) -> int:
        """200 for pass and warn, 503 for fail (what load balancers expect)."""
        return 503 if self.status == "fail" else 200

    def check(self, store: str) -> StoreHealth:
        """The check of the store named ``store``."""
        for check in self.checks:
            if check.store == store:
                return check
        raise KeyError(store)

    def to_dict(self) -> dict[str, Any]:
        """The ``application/health+json`` body: ``status`` and ``checks`` keyed
        ``"<store>:responseTime"``."""
        checks: dict[str, list[dict[str, Any]]] = {}
        for check in self.checks:
            entry: dict[str, Any] = {
                "componentId": check.store,
                "componentType": "datastore",
                "observedValue": check.latency_ms,
                "observedUnit": "ms",
                "status": check.status,
                "time": _iso(check.checked_at),
                "driver": check.driver,
                "critical": self.critical.get(check.store, True),
            }
            if check.error is not None:
                entry["output"] = check.error
            checks[f"{check.store}:responseTime"] = [entry]
        return {
            "status": self.status,
            "description": "lexigram-nosql document stores",
            "age_s": round(self.age_s, 3),
            "checks": checks,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """One line per store, for terminals."""
        lines = [f"status: {self.status} ({self.age_s:.1f}s old)"]
        for check in self.checks:
            critical = "" if self.critical.get(check.store, True) else " (non-critical)"
            line = (
                f"  {check.store} [{check.driver}]{critical}: {check.status} "
                f"{check.latency_ms:.1f} ms"
            )
            if check.error:
                line += f" - {check.error}"
            lines.append(line)
        return "\n".join(lines)


class HealthService:
    """Checks every store, bounded, cached, single-flight and stale-while-revalidate.

    Args:
        stores: the stores to check (or zero-argument callables returning them, such as the
            container's providers, so stores are created only when checked).
        critical: store name -> whether its failure fails the whole report (default True).
        timeouts: store name -> seconds a check may take (default 2 s).
        cache_ttl_s: how long a report is fresh; after that it is still served (with its
            age) while one refresh runs in the background. 0: every call starts a refresh
            (shared by concurrent callers) and still gets the previous report at once.
    """

    def __init__(
        self,
        stores: Sequence[DocumentStoreProtocol | Callable[[], DocumentStoreProtocol]],
        *,
        critical: Mapping[str, bool] | None = None,
        timeouts: Mapping[str, float] | None = None,
        cache_ttl_s: float = 1.0,
    ) -> None:
        self._stores = list(stores)
        self._critical = dict(critical or {})
        self._timeouts = dict(timeouts or {})
        self._ttl = cache_ttl_s
        self._cached: HealthReport | None = None
        self._cached_at = 0.0
        self._inflight: asyncio.Task[HealthReport] | None = None
        self._last_status: dict[str, str] = {}

    async def check(self, *, fresh: bool = False) -> HealthReport:
        """The report: the cached one, at once, even when older than the TTL (then one
        refresh starts in the background). Waits only for the very first report, or with
        ``fresh``."""
        cached = self._cached
        if fresh or cached is None:
            # shield: a caller giving up must not cancel the check the others wait on
            return await asyncio.shield(self._refresh())
        if time.monotonic() - self._cached_at >= self._ttl:
            self._refresh()
        return cached

    def _refresh(self) -> asyncio.Task[HealthReport]:
        """The refresh in flight, started if there is none (single flight)."""
        inflight = self._inflight
        if inflight is None or inflight.done():
            inflight = self._inflight = asyncio.ensure_future(self._run())
            inflight.add_done_callback(_log_failure)
        return inflight

    async def _run(self) -> HealthReport:
        try:
            stores = [s() if callable(s) else s for s in self._stores]
            checks = await asyncio.gather(*(self._check_one(s) for s in stores))
            report = _report(tuple(checks), self._critical)
            self._log_changes(report)
            self._cached, self._cached_at = report, time.monotonic()
            return report
        finally:
            self._inflight = None

    def _log_changes(self, report: HealthReport) -> None:
        """Log each store's change of state once: WARNING going down, INFO coming back."""
        for check in report.checks:
            before = self._last_status.get(check.store)
            self._last_status[check.store] = check.status
            if check.status == before:
                continue
            if check.status == "pass":
                if before is not None:
                    logger.info("Store %s is healthy again", check.store)
            else:
                logger.warning("Store %s is unhealthy: %s", check.store, check.error)

    async def _check_one(self, store: DocumentStoreProtocol) -> StoreHealth:
        bound = self._timeouts.get(store.name, _DEFAULT_TIMEOUT_S) + _GRACE_S
        started = time.perf_counter()
        checked_at = datetime.now(UTC)
        try:
            async with asyncio.timeout(bound):
                return await store.health_check()
        except TimeoutError:
            error = f"timeout after {bound:g}s"
        except Exception as exc:  # a store's health_check must not raise; report if it does
            error = short_cause(exc)
            logger.warning("Health check of store %s raised: %s", store.name, error)
        return StoreHealth(
            store=store.name,
            driver=store.driver,
            status="fail",
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            checked_at=checked_at,
            error=error,
        )


def _report(checks: tuple[StoreHealth, ...], critical: Mapping[str, bool]) -> HealthReport:
    failing = [c for c in checks if c.status != "pass"]
    status: Status
    if any(critical.get(c.store, True) for c in failing):
        status = "fail"
    elif failing:
        status = "warn"
    else:
        status = "pass"
    return HealthReport(
        status=status,
        checks=checks,
        critical={c.store: critical.get(c.store, True) for c in checks},
        checked_at=datetime.now(UTC),
    )


def _log_failure(task: asyncio.Task[HealthReport]) -> None:
    """A background refresh has no caller to raise to: log what went wrong."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("Health refresh failed", exc_info=task.exception())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- ASGI ------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def health_app(
    health: HealthService | Callable[[], Awaitable[HealthService]],
    *,
    path: str = "/health",
) -> ASGIApp:
    """An ASGI app answering ``GET``/``HEAD`` with the report as ``application/health+json``:
    200 for pass and warn, 503 for fail.

    It answers wherever it is put: mounted (``Mount("/health", app=...)`` in Starlette,
    ``app.mount("/health", ...)`` in FastAPI; ``/health/`` and, after the framework's
    redirect, ``/health``), as a route (``Route("/healthz", ...)``, ``app.add_route(...)``),
    or served alone, where it answers ``path``. ``health`` may be the service or an async
    callable returning it (e.g. ``lambda: app.container.resolve(HealthService).get()``).
    """
    return HealthApp(health, path=path)


class HealthApp:
    """The ASGI app ``health_app`` returns (a callable object, so frameworks route to it as
    an ASGI app rather than as a request handler)."""

    __slots__ = ("_health", "_paths")

    def __init__(
        self,
        health: HealthService | Callable[[], Awaitable[HealthService]],
        *,
        path: str = "/health",
    ) -> None:
        self._health = health
        path = "/" + path.strip("/")
        self._paths = frozenset({path, path.rstrip("/") + "/"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not self._addressed(scope):
            await _respond(send, 404, b'{"error": "not found"}', "application/json")
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(
                send,
                405,
                b'{"error": "method not allowed"}',
                "application/json",
                extra=[(b"allow", b"GET, HEAD")],
            )
            return
        health = self._health
        service = health if isinstance(health, HealthService) else await health()
        report = await service.check()
        body = json.dumps(report.to_dict()).encode()
        await _respond(send, report.http_status, body, HEALTH_CONTENT_TYPE, head=method == "HEAD")

    def _addressed(self, scope: Scope) -> bool:
        """Whether the request is for this app: a framework's route matched it (Starlette
        and FastAPI name the routed app as ``endpoint``), or its path, relative to where the
        app is mounted (``root_path``), is the mount point itself or ``path``."""
        if scope.get("endpoint") is self and self._is_route_of(scope.get("router")):
            return True
        path: str = scope.get("path", "")
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            relative = path[len(root_path) :]
            if relative in ("", "/"):
                return True
            if relative.startswith("/"):
                path = relative
        return path in self._paths

    def _is_route_of(self, router: Any) -> bool:
        """Whether a route (not a mount) of ``router``'s tree serves this app: a route's
        path was matched whole by the framework, a mount's only as a prefix."""
        stack = list(getattr(router, "routes", ()))
        while stack:
            route = stack.pop()
            if getattr(route, "endpoint", None) is self:
                return True
            if getattr(route, "app", None) is not self:
                stack.extend(getattr(route, "routes", ()))
        return False


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    *,
    head: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
