"""The timing loop every overhead module shares: ours and the raw driver, alternating."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

__all__ = ["alternate"]


async def alternate(
    ours: Callable[[int], Awaitable[None]],
    raw: Callable[[int], Awaitable[None]],
    *,
    rounds: int,
    split: bool = False,
) -> tuple[float, float]:
    """Seconds of each side for the whole workload: the fastest of ``rounds`` rounds, times
    ``rounds`` when each round does 1/rounds of the calls (``split``). Sides alternate which
    goes first; the minimum discards rounds slowed by other load on the machine."""
    times: list[list[float]] = [[], []]
    for round_ in range(rounds):
        order = ((0, ours), (1, raw)) if round_ % 2 == 0 else ((1, raw), (0, ours))
        for side, operation in order:
            began = time.perf_counter()
            await operation(round_)
            times[side].append(time.perf_counter() - began)
    scale = rounds if split else 1
    return min(times[0]) * scale, min(times[1]) * scale
