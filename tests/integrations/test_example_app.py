"""examples/fastapi_app, started the way its README says (``python -m examples.fastapi_app``)
under uvicorn on a free port, exercised over real HTTP with httpx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"


def _started_url(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stderr is not None
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(r"Uvicorn running on (http://\S+)", line)
        if found:
            return found.group(1)
    process.kill()
    raise AssertionError("the example did not start:\n" + "".join(seen))


@pytest.fixture
def service() -> Iterator[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NOSQL__")}
    environment["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.fastapi_app", "--port", "0"],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield _started_url(process, time.monotonic() + 60)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


def test_the_example_serves_users_orders_health_and_migrations(service: str) -> None:
    with httpx.Client(base_url=service, timeout=10) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.headers["content-type"] == "application/health+json"
        assert set(health.json()["checks"]) == {"users:responseTime", "orders:responseTime"}

        assert [m["state"] for m in http.get("/migrations").json()] == ["applied", "applied"]

        ada = http.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert ada.status_code == 201
        ada_id = ada.json()["_id"]
        assert http.get(f"/users/{ada_id}").json()["name"] == "Ada"

        duplicate = http.post("/users", json={"name": "Ada2", "email": "ada@example.com"})
        assert duplicate.status_code == 409
        assert duplicate.headers["content-type"] == PROBLEM

        order = http.post("/orders", json={"user_id": ada_id, "items": ["book"]})
        assert order.status_code == 201
        order_id, version = order.json()["_id"], order.json()["_version"]
        assert version == 1
        assert http.get(f"/orders/{order_id}").json()["items"] == ["book"]

        paid = http.put(f"/orders/{order_id}", json={"status": "paid", "version": version})
        assert paid.status_code == 200 and paid.json()["_version"] == 2
        stale = http.put(f"/orders/{order_id}", json={"status": "void", "version": version})
        assert stale.status_code == 409
        assert stale.headers["content-type"] == PROBLEM
        assert stale.json()["title"] == "Conflict"
        assert http.get(f"/orders/{order_id}").json()["status"] == "paid"
        assert [o["_id"] for o in http.get(f"/users/{ada_id}/orders").json()] == [order_id]

        assert http.delete(f"/users/{ada_id}").status_code == 204
        gone = http.get(f"/users/{ada_id}")
        assert gone.status_code == 410
        assert gone.json()["status"] == 410
        assert http.post("/orders", json={"user_id": ada_id, "items": ["x"]}).status_code == 410
        assert http.post(f"/users/{ada_id}/restore").json()["name"] == "Ada"
        assert http.get(f"/users/{ada_id}").status_code == 200

        missing = http.get("/orders/nope")
        assert missing.status_code == 404
        assert missing.json()["detail"] == "No order 'nope'"
        assert http.post("/users", json={"name": "", "email": "x"}).status_code == 422
