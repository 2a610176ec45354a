"""The timing loop every overhead module shares: ours and the raw driver, alternating, with
the requests each side sends counted by client-side hooks.

The ratio of a row is the median, over rounds, of ours/raw within the same round: the two
sides of a round run back to back, so load from other processes on the machine moves both
alike and cancels in their ratio. The fastest round of each side (the old estimator) let a
quiet moment for one side and a busy one for the other decide the row: on a shared 2-core
host, over the same three runs of the MongoDB rows, a row's old ratio spread by up to 0.26
and its paired median by up to 0.09."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

__all__ = [
    "FIRESTORE_RPCS",
    "INSTRUMENT_ENV",
    "Counter",
    "Timing",
    "alternate",
    "botocore_counter",
    "firestore_counter",
]

INSTRUMENT_ENV = "LEXIGRAM_BENCH_INSTRUMENT"
"""Set by ``benchmarks/overhead_instructions.py`` to ``"<row>:<side>"`` (side ``ours``, ``raw``
or ``none``) when it counts one row's instructions under valgrind (see ``_instrumented``)."""

_rows = itertools.count()  # which row (call of ``alternate``) this is, in this process

Counter = Callable[[], int]
"""How many requests a client has sent so far."""


class Timing(NamedTuple):
    """One row as measured: each side's seconds for the whole workload (its fastest round),
    the ratio ours/raw (median of the rounds' paired ratios) and, when counted, the requests
    each side sent per operation."""

    ours_s: float
    raw_s: float
    ratio: float
    requests: tuple[float, float] | None


async def alternate(
    ours: Callable[[int], Awaitable[None]],
    raw: Callable[[int], Awaitable[None]],
    *,
    rounds: int,
    split: bool = False,
    counters: tuple[Counter, Counter] | None = None,
    operations: int | None = None,
    untimed: Callable[[int], Awaitable[None]] | None = None,
) -> Timing:
    """Run ``rounds`` rounds of both sides, alternating which goes first. Seconds are for the
    whole workload: the fastest round, times ``rounds`` when each round does 1/rounds of the
    calls (``split``). ``untimed(round)`` runs after each round, outside the timing: a write
    row drops what its round wrote, so that more rounds do not mean more data on the server.

    With ``counters`` (ours, raw) and the ``operations`` one round performs, the requests
    each side sent per operation are counted (else None)."""
    row = next(_rows)
    selected = os.environ.get(INSTRUMENT_ENV)
    if selected is not None:
        await _instrumented(ours, raw, rounds, row, selected)
        return Timing(0.0, 0.0, 1.0, None)
    times: list[list[float]] = [[], []]
    sent = [0, 0]
    for round_ in range(rounds):
        order = ((0, ours), (1, raw)) if round_ % 2 == 0 else ((1, raw), (0, ours))
        for side, operation in order:
            before = counters[side]() if counters else 0
            began = time.perf_counter()
            await operation(round_)
            times[side].append(time.perf_counter() - began)
            if counters:
                sent[side] += counters[side]() - before
        if untimed is not None:
            await untimed(round_)
    scale = rounds if split else 1
    requests = None
    if counters and operations:
        requests = (sent[0] / (rounds * operations), sent[1] / (rounds * operations))
    ratio = statistics.median(o / r for o, r in zip(*times, strict=True))
    return Timing(min(times[0]) * scale, min(times[1]) * scale, ratio, requests)


async def _instrumented(
    ours: Callable[[int], Awaitable[None]],
    raw: Callable[[int], Awaitable[None]],
    rounds: int,
    row: int,
    selected: str,
) -> None:
    """Under valgrind, one process per (row, side): every row warms both sides up with one
    round (lazy imports, caches, connections), then only the selected row's selected side runs
    its remaining rounds. The instructions of a ``none`` run, subtracted, leave that side's
    work alone: deterministic where wall time on a shared machine is not."""
    await ours(0)
    await raw(0)
    index, _, side = selected.partition(":")
    if int(index) == row and side in ("ours", "raw"):
        operation = ours if side == "ours" else raw
        for round_ in range(1, rounds):
            await operation(round_)


def botocore_counter(client: Any) -> Counter:
    """Count the requests a botocore (aiobotocore) client sends, by its event hooks."""
    sent = [0]

    def record(**kwargs: Any) -> None:
        sent[0] += 1

    client.meta.events.register("before-call.dynamodb", record)
    return lambda: sent[0]


#: Every RPC of Firestore's API client that reads or writes documents.
FIRESTORE_RPCS = (
    "batch_get_documents",
    "batch_write",
    "begin_transaction",
    "commit",
    "list_documents",
    "rollback",
    "run_aggregation_query",
    "run_query",
)


def firestore_counter(client: Any) -> Counter:
    """Count the RPCs a Firestore ``AsyncClient`` sends (each method of its API client)."""
    api = client._firestore_api
    sent = [0]
    for name in FIRESTORE_RPCS:
        original = getattr(api, name)

        def counted(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            sent[0] += 1
            return __original(*args, **kwargs)

        setattr(api, name, counted)
    return lambda: sent[0]
