"""Chaos, per backend, under concurrent load (``chaos.py``): the server is stopped while 10
workers write and read and a prober polls health, kept down, then started again.

The claims (bounds generous for a loaded machine; ``benchmarks/faults.py`` prints the
measured figures): while the server is down every call fails with ``NoSQLConnectionError``
within ``operation_timeout_s``, until the breaker opens; after that calls fail at once; health
probes answer at once throughout; after the restart the same store heals within ``reset_s``
plus one call (DynamoDB also when its tables vanished with an in-memory server); DynamoDB on
disk loses no acknowledged write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import servers
from tests.faults.chaos import BREAKER, OPERATION_TIMEOUT_S, Outage, run_outage
from tests.faults.conftest import backend_of
from tests.support.backends import services_required

SLACK_S = 1.5  # a loaded machine's scheduling delays
FAST_S = 0.25  # "at once", generously: the measured p99 is printed


def check(outage: Outage) -> None:
    figures = outage.figures()
    print(f"\n{outage.backend}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    assert not outage.other_errors, outage.other_errors[:3]
    assert outage.opened_at is not None, "the breaker never opened"
    slow = outage.failures_before_open()
    assert slow, "no call failed before the breaker opened"
    assert max(c.seconds for c in slow) <= OPERATION_TIMEOUT_S + SLACK_S
    assert outage.opened_at - outage.stopped_at <= 3 * OPERATION_TIMEOUT_S + SLACK_S
    fast = [c.seconds for c in outage.fast_failures()]
    assert len(fast) >= 100, len(fast)
    assert sorted(fast)[int(len(fast) * 0.99) - 1] < FAST_S
    probes = outage.probe_seconds()
    assert sorted(probes)[int(len(probes) * 0.99) - 1] < FAST_S
    assert outage.healed_at is not None, "the store did not heal"
    reset_s = float(BREAKER["reset_s"])
    assert outage.healed_at - outage.serving_at <= reset_s + OPERATION_TIMEOUT_S + SLACK_S
    assert outage.health_passed_at is not None, "health did not pass again"


async def test_an_outage_under_load_fails_fast_and_heals(server: servers.PrivateServer) -> None:
    backend = backend_of(server)
    outage = await run_outage(backend, server, check_writes=backend == "dynamodb")
    check(outage)
    if backend == "dynamodb":  # -dbPath: nothing acknowledged may be lost
        assert outage.lost == 0, f"{outage.lost} of {len(outage.acked)} acknowledged writes lost"


async def test_dynamodb_heals_after_its_tables_vanished(tmp_path: Path) -> None:
    """DynamoDB Local in memory: the restart loses every table; create_tables re-creates
    them on the next call."""
    found = servers.dynamodb(tmp_path, in_memory=True)
    if isinstance(found, str):
        if services_required():
            pytest.fail(f"private dynamodb server is required but {found}")
        pytest.skip(f"private dynamodb server: {found}")
    try:
        check(await run_outage("dynamodb", found))
    finally:
        found.stop()
