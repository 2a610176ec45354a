"""Benchmark (not a test): the cost of ``import lexigram_nosql`` and proof it imports no driver.

Each measurement is a fresh interpreter; we take the best of several. The package loads its
contracts and errors eagerly and every other public name on first use, so we also measure the
import with ``Application`` and ``create_store`` touched, which is what an application pays.
The baseline, measured in the same run, is importing only our runtime dependencies
(pydantic, pydantic-settings, dependency-injector, PyYAML).
Target: < 100 ms, and no driver module loaded.

Run: ``.venv/bin/python benchmarks/import_time.py``
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import record

TARGET_MS = 100.0
DRIVERS = ("pymongo", "motor", "bson", "aioboto3", "aiobotocore", "boto3", "botocore", "google")
PROBE = """
import json, sys, time
t = time.perf_counter()
import {module}
elapsed = (time.perf_counter() - t) * 1000
drivers = sorted({{m.split('.')[0] for m in sys.modules}} & set({drivers!r}))
print(json.dumps({{"ms": elapsed, "drivers": drivers}}))
"""


def measure(module: str, runs: int = 7) -> tuple[float, list[str]]:
    best, drivers = float("inf"), []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module, drivers=DRIVERS)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout)
        best, drivers = min(best, result["ms"]), result["drivers"]
    return best, drivers


def main() -> int:
    ours, drivers = measure("lexigram_nosql")
    deps, _ = measure("pydantic, pydantic_settings, dependency_injector, yaml")
    # What an application pays once it touches the container and config (lazy names loaded).
    full, full_drivers = measure(
        "lexigram_nosql; lexigram_nosql.Application; lexigram_nosql.create_store"
    )
    met = ours < TARGET_MS and not drivers
    print(f"import lexigram_nosql: {ours:.1f} ms (target < {TARGET_MS:g} ms)")
    print(f"import of its dependencies alone: {deps:.1f} ms (ratio {ours / deps:.2f})")
    print(f"driver modules loaded: {', '.join(drivers) or 'none'}")
    print(
        f"with Application and create_store loaded: {full:.1f} ms "
        f"(drivers: {', '.join(full_drivers) or 'none'})"
    )
    record(
        "import",
        "import lexigram_nosql",
        round(ours, 1),
        "ms",
        baseline=round(deps, 1),
        target=f"< {TARGET_MS:g} ms, no driver",
        met=met,
        note=f"baseline: runtime deps alone; drivers loaded: {', '.join(drivers) or 'none'}",
    )
    record(
        "import",
        "import + Application + create_store",
        round(full, 1),
        "ms",
        baseline=round(deps, 1),
        target="informational; no driver",
        met=not full_drivers,
        note="the full API, loaded on first use; baseline: runtime deps alone",
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
