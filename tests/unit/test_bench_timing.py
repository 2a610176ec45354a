"""The overhead benchmark's call-by-call pairing (``benchmarks/overhead_backends/_timing``):
the order the sides run in, and what a row reports. A clock advanced by the calls stands
in for time, so the figures are exact."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from benchmarks.overhead_backends import _timing


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    return now


async def test_interleave_pairs_calls_and_swaps_which_side_goes_first(clock: list[float]) -> None:
    order: list[str] = []

    def side(name: str, cost: float) -> Callable[[int], Awaitable[None]]:
        async def call(i: int) -> None:
            order.append(f"{name}{i}")
            clock[0] += cost

        return call

    timing = await _timing.interleave(side("o", 3.0), side("r", 2.0), calls=4)

    assert order == ["o0", "r0", "r1", "o1", "r2", "o2", "o3", "r3"]
    assert timing.ours_s == 12.0 and timing.raw_s == 8.0  # the sum of each side's calls
    assert timing.ratio == 1.5
    assert timing.requests is None


async def test_interleave_ratio_is_the_median_of_the_pairs(clock: list[float]) -> None:
    # Pairs cost ours/raw 1.0, 1.0 and 10.0: one slow pair moves the sums, not the median.
    ours_costs = [1.0, 1.0, 1.0, 1.0, 10.0, 10.0]

    async def ours(i: int) -> None:
        clock[0] += ours_costs[i]

    async def raw(i: int) -> None:
        clock[0] += 1.0

    timing = await _timing.interleave(ours, raw, calls=6)

    assert timing.ratio == 1.0
    assert timing.ours_s == 24.0 and timing.raw_s == 6.0


async def test_interleave_counts_each_sides_requests_per_call(clock: list[float]) -> None:
    sent = [0, 0]

    def side(index: int, requests: int) -> Callable[[int], Awaitable[None]]:
        async def call(i: int) -> None:
            sent[index] += requests
            clock[0] += 1.0

        return call

    timing = await _timing.interleave(
        side(0, 2), side(1, 1), calls=10, counters=(lambda: sent[0], lambda: sent[1])
    )

    assert timing.requests == (2.0, 1.0)
