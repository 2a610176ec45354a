"""The timing loop every overhead module shares: ours and the raw driver, alternating, with
the requests each side sends counted by client-side hooks.

The ratio of a row is the median, over rounds, of ours/raw within the same round: the two
sides of a round run back to back, so load from other processes on the machine moves both
alike and cancels in their ratio. The fastest round of each side (the old estimator) let a
quiet moment for one side and a busy one for the other decide the row: on a shared 2-core
host, over the same three runs of the MongoDB rows, a row's old ratio spread by up to 0.26
and its paired median by up to 0.09.

The single-document rows pair closer still (``interleave``): one call of each side at a time.
In rounds of 200 calls (~100 ms a side), load that changes within a fraction of a second still
decided a row: the raw driver timed against itself that way read 1.008, 1.018 and 1.056 in
three runs of the same workload (PyMongo ``update_one``), as far from 1.00 as the overhead
being judged. Paired call by call, it read 1.002 and 0.999."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

__all__ = [
    "A_A",
    "FIRESTORE_RPCS",
    "INSTRUMENT_ENV",
    "Counter",
    "Timing",
    "alternate",
    "botocore_counter",
    "firestore_counter",
    "interleave",
]

INSTRUMENT_ENV = "LEXIGRAM_BENCH_INSTRUMENT"
"""Set by ``benchmarks/overhead_instructions.py`` to ``"<row>:<side>"`` (side ``ours``, ``raw``
or ``none``) when it counts one row's instructions under valgrind (see ``_instrumented``)."""

A_A = "A/A: the raw driver timed against itself; its distance from 1.00 is the harness's noise"
"""The reason of a row that times the raw side against itself."""

_rows = itertools.count()  # which row (call of ``alternate``/``interleave``) this is, here

Counter = Callable[[], int]
"""How many requests a client has sent so far."""


class Timing(NamedTuple):
    """One row as measured: each side's seconds for the whole workload (``alternate``: its
    fastest round; ``interleave``: the sum of its calls), the ratio ours/raw (median of the
    paired ratios) and, when counted, the requests each side sent per operation."""

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


async def interleave(
    ours: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    *,
    calls: int,
    counters: tuple[Counter, Counter] | None = None,
) -> Timing:
    """Time ``calls`` single-document calls a side (``ours(i)``, ``raw(i)``: the i-th call),
    interleaved call by call in pairs of two calls a side: ours, raw, raw, ours, then raw,
    ours, ours, raw, so that neither side always goes first. Each pair's ratio compares the
    two sides over the same few milliseconds; the row's ratio is the median of the pairs'.

    With ``counters`` (ours, raw), the requests each side sent per call are counted (else
    None)."""
    row = next(_rows)
    selected = os.environ.get(INSTRUMENT_ENV)
    if selected is not None:  # each side's calls as one round, as ``alternate``'s rounds run
        await _instrumented(_all_calls(ours, calls), _all_calls(raw, calls), 2, row, selected)
        return Timing(0.0, 0.0, 1.0, None)
    sides = (ours, raw)
    done = [0, 0]
    spent = [0.0, 0.0]
    ratios: list[float] = []
    before = (counters[0](), counters[1]()) if counters else (0, 0)
    clock = time.perf_counter
    for pair in range(calls // 2):
        first, second = (0, 1) if pair % 2 == 0 else (1, 0)
        pair_spent = [0.0, 0.0]
        for side in (first, second, second, first):
            began = clock()
            await sides[side](done[side])
            pair_spent[side] += clock() - began
            done[side] += 1
        spent[0] += pair_spent[0]
        spent[1] += pair_spent[1]
        ratios.append(pair_spent[0] / pair_spent[1])
    requests = None
    if counters and done[0]:
        requests = ((counters[0]() - before[0]) / done[0], (counters[1]() - before[1]) / done[1])
    return Timing(spent[0], spent[1], statistics.median(ratios), requests)


def _all_calls(
    call: Callable[[int], Awaitable[object]], calls: int
) -> Callable[[int], Awaitable[None]]:
    """A side's calls as one round (for ``_instrumented``)."""

    async def run(round_: int) -> None:
        for i in range(calls):
            await call(i)

    return run


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
