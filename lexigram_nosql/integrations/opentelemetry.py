"""OpenTelemetry traces and metrics for every store operation (extra ``otel``).

``instrument()`` registers one observer on the per-operation wrapper that every public store
and collection call passes through (``lexigram_nosql.operations``); ``uninstrument()`` removes
it. Until ``instrument()`` is called nothing here runs: the wrapper builds no ``Operation`` and
no report when no observer is registered.

- **Spans**: one ``CLIENT`` span per operation, named ``"<operation> <collection>"``, with the
  database semantic conventions (``db.system.name``, ``db.namespace``, ``db.collection.name``,
  ``db.operation.name``, ``server.address``/``server.port``, ``db.response.returned_rows``,
  ``error.type``) and the plan: ``lexigram_nosql.plan`` (native / residual / scan),
  ``lexigram_nosql.index``, ``lexigram_nosql.items_read``, ``lexigram_nosql.store``.
- **Metrics**: ``db.client.operation.duration`` (histogram, seconds),
  ``lexigram_nosql.client.items.read`` and ``lexigram_nosql.client.items.returned`` (counters),
  ``lexigram_nosql.client.scans`` (counter of reads that scanned a whole collection), and
  ``lexigram_nosql.store.health`` (observable gauge: 1 when a store's latest health check
  passed, 0 when it failed).

Attribute names come from ``opentelemetry-semantic-conventions``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context, metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_RESPONSE_RETURNED_ROWS,
    DbSystemNameValues,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION
from opentelemetry.trace import SpanKind, Status, StatusCode

from lexigram_nosql import __version__, operations
from lexigram_nosql.operations import Operation, OperationEnd

__all__ = ["instrument", "is_instrumented", "uninstrument"]

SCOPE = "lexigram_nosql"

SYSTEM_NAMES: dict[str, str] = {
    "mongodb": DbSystemNameValues.MONGODB.value,
    "dynamodb": DbSystemNameValues.AWS_DYNAMODB.value,
    "firestore": "gcp.firestore",  # not (yet) in the conventions' list
    "memory": "lexigram.memory",
    "sqlite": DbSystemNameValues.SQLITE.value,
}

PLAN = "lexigram_nosql.plan"
INDEX = "lexigram_nosql.index"
ITEMS_READ = "lexigram_nosql.items_read"
STORE = "lexigram_nosql.store"

# The conventions' advice for db.client.operation.duration.
_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

_lock = threading.Lock()
_installed: _Instrumentation | None = None


def instrument(
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Trace and measure every store operation from now on (the global providers unless
    given). Calling it again replaces the previous instrumentation."""
    global _installed
    with _lock:
        if _installed is not None:
            _installed.remove()
        _installed = _Instrumentation(tracer_provider, meter_provider)


def uninstrument() -> None:
    """Stop tracing and measuring (a no-op when not instrumented)."""
    global _installed
    with _lock:
        if _installed is not None:
            _installed.remove()
            _installed = None


def is_instrumented() -> bool:
    return _installed is not None


class _Instrumentation:
    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
    ) -> None:
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self._duration = meter.create_histogram(
            DB_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._read = meter.create_counter(
            "lexigram_nosql.client.items.read",
            unit="{item}",
            description="Items the backend read to answer queries (billed on DynamoDB).",
        )
        self._returned = meter.create_counter(
            "lexigram_nosql.client.items.returned",
            unit="{item}",
            description="Items queries returned to the caller.",
        )
        self._scans = meter.create_counter(
            "lexigram_nosql.client.scans",
            unit="{scan}",
            description="Reads that had to scan a whole collection.",
        )
        self._health: dict[tuple[str, str], int] = {}
        meter.create_observable_gauge(
            "lexigram_nosql.store.health",
            callbacks=[self._observe_health],
            unit="1",
            description="1 when the store's latest health check passed, 0 when it failed.",
        )
        self._active = True
        self._unregister = operations.add_operation_observer(self)

    def remove(self) -> None:
        self._active = False
        self._unregister()

    def _observe_health(self, options: CallbackOptions) -> Iterable[Observation]:
        if not self._active:
            return []
        return [
            Observation(value, {STORE: store, DB_SYSTEM_NAME: system})
            for (store, system), value in list(self._health.items())
        ]

    def __call__(self, operation: Operation) -> OperationEnd:
        system = SYSTEM_NAMES.get(operation.driver, operation.driver)
        common: dict[str, Any] = {DB_SYSTEM_NAME: system, DB_OPERATION_NAME: operation.name}
        if operation.collection is not None:
            common[DB_COLLECTION_NAME] = operation.collection
        common.update(_target(operation.settings))
        name = (
            f"{operation.name} {operation.collection}"
            if operation.collection is not None
            else operation.name
        )
        span = self._tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes={**common, STORE: operation.store}
        )
        # A streamed read may end in another context: only whole calls become current.
        token = None if operation.streaming else context.attach(trace.set_span_in_context(span))
        started = time.perf_counter()
        return _ender(self, operation, span, token, common, started, system)

    def _end(
        self,
        operation: Operation,
        span: trace.Span,
        common: dict[str, Any],
        elapsed: float,
        system: str,
        error: BaseException | None,
    ) -> None:
        report = operation.report
        if report is not None:
            returned = report.items_returned
            if returned is not None:
                span.set_attribute(DB_RESPONSE_RETURNED_ROWS, returned)
                self._returned.add(returned, common)
            if report.plan is not None:
                span.set_attribute(PLAN, report.plan)
                if report.plan == "scan":
                    self._scans.add(1, common)
            if report.index is not None:
                span.set_attribute(INDEX, report.index)
            read = report.items_read
            if read is not None:
                span.set_attribute(ITEMS_READ, read)
                self._read.add(read, common)
        measured = common
        if error is not None:
            kind = type(error).__qualname__
            measured = {**common, ERROR_TYPE: kind}
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, kind))
        span.end()
        self._duration.record(elapsed, measured)
        if operation.name == "health_check":
            self._health[(operation.store, system)] = 0 if error is not None else 1


_targets: dict[int, tuple[Any, dict[str, Any]]] = {}
_MAX_TARGETS = 256


def _target(settings: Any) -> dict[str, Any]:
    """``db.namespace``, ``server.address`` and ``server.port`` of a store, from its settings
    (computed once per settings object)."""
    if settings is None:
        return {}
    cached = _targets.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    found = _describe(settings)
    if len(_targets) >= _MAX_TARGETS:  # many short-lived stores (tests): start over
        _targets.clear()
    _targets[id(settings)] = (settings, found)  # holding it keeps the id from being reused
    return found


def _describe(settings: Any) -> dict[str, Any]:
    driver = getattr(settings, "driver", None)
    section: Any = getattr(settings, str(driver), None)
    namespace: str | None = None
    host: str | None = None
    port: int | None = None
    if driver == "mongodb":
        namespace = getattr(section, "database", None)
        netloc = urlsplit(section.uri).netloc.rpartition("@")[2]
        host, port = _host_port(netloc.split(",")[0], 27017)
    elif driver == "dynamodb":
        namespace = section.table_prefix or None
        if section.endpoint_url:
            parts = urlsplit(section.endpoint_url)
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
        else:
            host, port = f"dynamodb.{section.region}.amazonaws.com", 443
    elif driver == "firestore":
        namespace = section.database
        emulator = section.emulator_host or os.environ.get("FIRESTORE_EMULATOR_HOST")
        host, port = _host_port(emulator, 8080) if emulator else ("firestore.googleapis.com", 443)
    elif driver == "sqlite":
        namespace = section.path
    found: dict[str, Any] = {}
    if namespace:
        found[DB_NAMESPACE] = namespace
    if host:
        found[SERVER_ADDRESS] = host
        if port is not None:
            found[SERVER_PORT] = port
    return found


def _host_port(text: str, default: int) -> tuple[str | None, int]:
    if text.startswith("["):  # [::1]:27017
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        return text or None, default
    return host, int(port)


def _ender(
    owner: _Instrumentation,
    operation: Operation,
    span: trace.Span,
    token: object | None,
    common: dict[str, Any],
    started: float,
    system: str,
) -> Callable[[BaseException | None], None]:
    def end(error: BaseException | None) -> None:
        elapsed = time.perf_counter() - started
        if token is not None:
            context.detach(token)  # type: ignore[arg-type]
        owner._end(operation, span, common, elapsed, system, error)

    return end
