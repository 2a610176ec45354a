"""OpenTelemetry: spans and metrics per store operation, checked with the SDK's in-memory
exporters, on every backend; nothing is observed once uninstrumented."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lexigram_nosql import DuplicateKeyError, create_store, operations
from lexigram_nosql.integrations import opentelemetry as otel
from tests.support import backend_dynamodb
from tests.support.backends import services_required

SYSTEM = {
    "memory": "lexigram.memory",
    "mongodb": "mongodb",
    "dynamodb": "aws.dynamodb",
    "firestore": "gcp.firestore",
    "sqlite": "sqlite",
}


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self, operation: str | None = None) -> list[ReadableSpan]:
        spans = list(self.spans.get_finished_spans())
        if operation is None:
            return spans
        return [s for s in spans if s.attributes and s.attributes["db.operation.name"] == operation]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    seen = Telemetry()
    otel.instrument(tracer_provider=seen.tracer_provider, meter_provider=seen.meter_provider)
    try:
        yield seen
    finally:
        otel.uninstrument()


async def test_one_span_per_operation_with_the_db_conventions(
    store: Any, telemetry: Telemetry
) -> None:
    users = store.collection("users")
    await users.insert_many([{"_id": f"u{i}", "age": 20 + i} for i in range(5)])
    found = [doc async for doc in users.find({"age": {"$gte": 22}})]
    assert len(found) == 3
    assert await users.find_one({"_id": "u1"}) is not None
    with pytest.raises(DuplicateKeyError):
        await users.insert_one({"_id": "u1"})

    system = SYSTEM[store.driver]
    inserts = telemetry.finished("insert_many")
    assert len(inserts) == 1
    span = inserts[0]
    assert span.name == "insert_many users"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes is not None
    assert span.attributes["db.system.name"] == system
    assert span.attributes["db.collection.name"] == "users"
    assert span.attributes["lexigram_nosql.store"] == store.name

    (find,) = telemetry.finished("find")
    assert find.attributes is not None
    assert find.attributes["db.response.returned_rows"] == 3
    assert find.attributes["lexigram_nosql.plan"] in ("native", "residual", "scan")
    (find_one,) = telemetry.finished("find_one")
    assert find_one.attributes is not None
    assert find_one.attributes["db.response.returned_rows"] == 1

    (failed,) = [
        s for s in telemetry.finished("insert_one") if s.status.status_code is StatusCode.ERROR
    ]
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "DuplicateKeyError"

    durations = telemetry.points("db.client.operation.duration")
    operations_measured = {p.attributes["db.operation.name"] for p in durations}
    assert {"insert_many", "find", "find_one", "insert_one"} <= operations_measured
    errors = [p for p in durations if p.attributes.get("error.type") == "DuplicateKeyError"]
    assert errors and errors[0].count == 1
    assert all(p.attributes["db.system.name"] == system for p in durations)
    returned = sum(p.value for p in telemetry.points("lexigram_nosql.client.items.returned"))
    assert returned == 4  # find 3 + find_one 1


async def test_memory_plan_items_read_and_scans(telemetry: Telemetry) -> None:
    async with create_store({"name": "m", "driver": "memory"}) as store:
        users = store.collection("users")
        await users.insert_many([{"_id": i, "age": i % 10} for i in range(100)])
        await users.create_index([("age", 1)])
        assert len([d async for d in users.find({"age": 3})]) == 10
        assert len([d async for d in users.find({"name": "x"})]) == 0
    native, scan = telemetry.finished("find")
    assert native.attributes is not None and scan.attributes is not None
    assert native.attributes["lexigram_nosql.plan"] == "native"
    assert native.attributes["lexigram_nosql.items_read"] == 10
    assert scan.attributes["lexigram_nosql.plan"] == "scan"
    assert scan.attributes["lexigram_nosql.items_read"] == 100
    read = sum(p.value for p in telemetry.points("lexigram_nosql.client.items.read"))
    assert read == 110
    assert sum(p.value for p in telemetry.points("lexigram_nosql.client.scans")) == 1


async def test_the_span_is_current_inside_the_operation(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("user")
    async with create_store({"name": "m", "driver": "memory"}) as store:
        with tracer.start_as_current_span("request") as parent:
            await store.collection("c").insert_one({"_id": 1})
    (insert,) = telemetry.finished("insert_one")
    assert insert.parent is not None
    assert insert.parent.span_id == parent.get_span_context().span_id
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


async def test_health_state_is_an_observable_gauge(telemetry: Telemetry) -> None:
    async with create_store({"name": "m", "driver": "memory"}) as store:
        assert (await store.health_check()).status == "pass"
    (point,) = telemetry.points("lexigram_nosql.store.health")
    assert point.value == 1
    assert point.attributes == {"lexigram_nosql.store": "m", "db.system.name": "lexigram.memory"}


async def test_uninstrument_stops_everything() -> None:
    seen = Telemetry()
    otel.instrument(tracer_provider=seen.tracer_provider, meter_provider=seen.meter_provider)
    assert otel.is_instrumented() and operations.observers()
    otel.uninstrument()
    otel.uninstrument()  # twice is fine
    assert not otel.is_instrumented() and not operations.observers()
    async with create_store({"name": "m", "driver": "memory"}) as store:
        await store.collection("c").insert_one({"_id": 1})
    assert seen.finished() == []


def test_the_package_never_imports_opentelemetry_by_itself() -> None:
    code = (
        "import asyncio, sys\n"
        "from lexigram_nosql import create_store\n"
        "async def main():\n"
        "    async with create_store({'name': 'm', 'driver': 'memory'}) as s:\n"
        "        await s.collection('c').insert_one({'_id': 1})\n"
        "asyncio.run(main())\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_dynamodb_reports_its_plan_and_the_items_it_read(telemetry: Telemetry) -> None:
    """DynamoDB's own count of items read (what is billed) reaches the span and the counter:
    a get by key reads one item, a filter on a non-key attribute scans them all."""
    why = backend_dynamodb.unavailable()
    if why is not None:
        if services_required():
            pytest.fail(why)
        pytest.skip(why)
    store = create_store(backend_dynamodb.settings(f"otel_{uuid.uuid4().hex[:8]}"))
    async with store:
        try:
            users = store.collection("users")
            await users.insert_many([{"_id": f"u{i}", "age": 20 + i} for i in range(5)])
            assert await users.find_one({"_id": "u3"}) is not None
            assert len([d async for d in users.find({"age": {"$gte": 23}})]) == 2
        finally:
            await backend_dynamodb.reset(store)
    (get,) = telemetry.finished("find_one")
    (scan,) = telemetry.finished("find")
    assert get.attributes is not None and scan.attributes is not None
    assert get.attributes["lexigram_nosql.plan"] == "native"
    assert get.attributes["lexigram_nosql.items_read"] == 1
    assert scan.attributes["lexigram_nosql.plan"] in ("scan", "residual")
    assert scan.attributes["lexigram_nosql.items_read"] == 5
    assert scan.attributes["db.response.returned_rows"] == 2
    assert scan.attributes["server.address"] == "127.0.0.1"
    assert isinstance(scan.attributes["server.port"], int)
    assert scan.attributes["db.namespace"] == store.settings.dynamodb.table_prefix
