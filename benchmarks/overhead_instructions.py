"""Overhead benchmark in instructions (not a test): the rows of ``overhead.py``, each side's
client work counted by valgrind instead of timed.

On a shared machine the wall-time ratios of ``overhead.py`` move by 10-20% between runs,
as much as the overhead being judged. Instructions executed by the client process are
deterministic: each row runs in its own processes under ``valgrind --tool=cachegrind``, once
with only our side's rounds, once with only the raw driver's, once with neither (setup,
warm-up and imports, subtracted). The ratio is ours / raw in client instructions. The server
answers in the same time for both sides, so the wall-time ratio is at most this one when
time follows instructions; it can differ where cache misses do not (a cold path costs more
per instruction).

    .venv/bin/python benchmarks/overhead_instructions.py            # every backend
    .venv/bin/python benchmarks/overhead_instructions.py mongodb

Needs ``valgrind`` on PATH (skipped with a message without it) and the test servers
(``scripts/services.sh up``). Sizes are smaller than ``overhead.py``'s defaults: valgrind
runs code about 50 times slower, and the per-operation ratio does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.10
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(backend: str, selected: str, sizes: Sequence[str]) -> tuple[int, list[str]]:
    """Client instructions of one ``overhead.py`` run with ``selected`` (``"<row>:<side>"``),
    and the rows it reported."""
    with tempfile.TemporaryDirectory() as folder:
        rows_file = Path(folder) / "rows.jsonl"
        env = {
            **os.environ,
            "LEXIGRAM_BENCH_INSTRUMENT": selected,
            "LEXIGRAM_BENCH_JSON": str(rows_file),
        }
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            str(ROOT / "benchmarks" / "overhead.py"),
            backend,
            *sizes,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        found = _REFS.search(done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"{backend} {selected}: valgrind run failed\n{done.stderr[-2000:]}")
        rows = []
        if rows_file.exists():
            rows = [json.loads(line)["metric"] for line in rows_file.read_text().splitlines()]
        return int(found.group(1).replace(",", "")), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", default=["mongodb", "dynamodb", "firestore"])
    parser.add_argument("--n-insert", default="1000")
    parser.add_argument("--n-find", default="1000")
    parser.add_argument("--n-get", default="400")
    parser.add_argument("--n-update", default="400")
    parser.add_argument("--jobs", type=int, default=2, help="valgrind processes at once")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from benchmarks._report import record

    if shutil.which("valgrind") is None:
        print("skipped: valgrind is not installed (apt-get install valgrind)")
        return 0
    sizes = ["--n-insert", args.n_insert, "--n-find", args.n_find]
    sizes += ["--n-get", args.n_get, "--n-update", args.n_update]
    print(f"{'row':<46} {'ours Minstr':>12} {'raw Minstr':>11} {'ratio':>7}")
    with ThreadPoolExecutor(args.jobs) as pool:
        for backend in args.backends:
            base, rows = count(backend, "-1:none", sizes)
            if not rows:
                print(f"{backend:<46} skipped: its test server is not reachable")
                continue
            runs = {
                (i, side): pool.submit(count, backend, f"{i}:{side}", sizes)
                for i in range(len(rows))
                for side in ("ours", "raw")
            }
            for i, metric in enumerate(rows):
                ours = runs[i, "ours"].result()[0] - base
                raw = runs[i, "raw"].result()[0] - base
                ratio = ours / raw if raw > 0 else float("inf")
                record(
                    "overhead (instructions)",
                    metric,
                    round(ratio, 3),
                    "x raw driver, client instructions",
                    baseline=raw,
                    target=f"<= {TARGET}",
                    met=ratio <= TARGET,
                    note=f"ours {ours / 1e6:.1f} M, raw {raw / 1e6:.1f} M instructions",
                )
                flag = "  <- above target" if ratio > TARGET else ""
                print(f"{metric:<46} {ours / 1e6:>12.1f} {raw / 1e6:>11.1f} {ratio:>7.3f}{flag}")
    print(f"target: ratio <= {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
