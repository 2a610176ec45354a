"""One row format for every benchmark, so ``make bench`` can print a single table.

A benchmark prints its own readable output and also calls ``record(...)``; when
``LEXIGRAM_BENCH_JSON`` names a file (``benchmarks/run_all.py`` sets it), each row is appended
there as one JSON line.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["record"]


def record(
    benchmark: str,
    metric: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    target: str | None = None,
    met: bool | None = None,
    note: str = "",
) -> None:
    """Append one measured row (``baseline`` measured in the same run, where there is one)."""
    path = os.environ.get("LEXIGRAM_BENCH_JSON")
    if not path:
        return
    row: dict[str, Any] = {
        "benchmark": benchmark,
        "metric": metric,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "target": target,
        "met": met,
        "note": note,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
