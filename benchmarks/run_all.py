"""``make bench``: run every benchmark against every backend server, print one table, and
write it to ``benchmarks/RESULTS.md`` with the machine it ran on.

Each benchmark runs as its own process (a fresh interpreter, as users get) and reports rows
through ``benchmarks/_report.record``; its own readable output is kept in the results file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (script, arguments): the defaults are the sizes.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("benchmarks/import_time.py", []),
    ("benchmarks/memory_vs_mongomock.py", []),
    ("benchmarks/streaming_memory.py", []),
    ("benchmarks/hostile_input.py", []),
    ("benchmarks/sqlite_embedded.py", []),
    ("benchmarks/overhead.py", []),
    ("benchmarks/dynamodb_planner.py", []),
    ("benchmarks/di_and_health.py", []),
    ("benchmarks/boot.py", []),
    ("benchmarks/faults.py", []),
    ("benchmarks/otel.py", []),
]
# Rows of these benchmarks get a section of their own below the main table.
SECTIONS = {"faults": "Faults (outages under load, private servers stopped and restarted)"}
QUICK: dict[str, list[str]] = {
    "benchmarks/memory_vs_mongomock.py": ["--n", "10000", "--lookups", "200"],
    "benchmarks/streaming_memory.py": ["--n", "20000"],
    "benchmarks/hostile_input.py": ["--n", "20000", "--rounds", "2"],
    "benchmarks/sqlite_embedded.py": ["--n", "10000", "--lookups", "200", "--stream-n", "20000"],
    "benchmarks/overhead.py": [
        "--n-insert",
        "1000",
        "--n-find",
        "1000",
        "--n-get",
        "200",
        "--n-update",
        "200",
    ],
    "benchmarks/boot.py": ["--rounds", "2"],
    "benchmarks/otel.py": ["--steps", "300", "--rounds", "3"],
}


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){memory}, "
        f"Python {platform.python_version()}"
    )


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def render(rows: list[dict[str, object]]) -> str:
    header = "| benchmark | metric | value | unit | baseline (same run) | target | met | note |"
    lines = [header, "|" + "---|" * 8]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]  # type: ignore[index]
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | {fmt(row['value'])} | {row['unit']} | "
            f"{fmt(row['baseline'])} | {row['target'] or '-'} | {met} | {row['note']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    rows_file = Path(tempfile.mkstemp(prefix="lexigram-bench-", suffix=".jsonl")[1])
    env = dict(os.environ, LEXIGRAM_BENCH_JSON=str(rows_file), PYTHONPATH=str(ROOT))
    outputs: list[str] = []
    failures: list[str] = []
    for script, script_args in BENCHMARKS:
        extra = QUICK.get(script, []) if args.quick else script_args
        print(f"== {script} {' '.join(extra)}", flush=True)
        proc = subprocess.run(
            [sys.executable, script, *extra], cwd=ROOT, env=env, capture_output=True, text=True
        )
        print(proc.stdout, end="", flush=True)
        outputs.append(f"### {script} {' '.join(extra)}\n\n```\n{proc.stdout.rstrip()}\n```\n")
        if proc.returncode != 0:
            failures.append(f"{script} exited {proc.returncode}")
            print(proc.stderr[-2000:], file=sys.stderr)

    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    rows_file.unlink()
    table = render([r for r in rows if r["benchmark"] not in SECTIONS])
    for benchmark, title in SECTIONS.items():
        section = [r for r in rows if r["benchmark"] == benchmark]
        if section:
            table += f"\n\n## {title}\n\n" + render(section)
    print("\n" + table)
    for failure in failures:
        print(f"FAILED: {failure}")

    if not args.no_write:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        mode = " (quick sizes)" if args.quick else ""
        text = (
            f"# Benchmark results\n\nLatest `make bench`{mode}, {stamp}, on {machine()}.\n"
            "Ratios compare against a baseline measured in the same run on the same machine.\n\n"
            f"{table}\n\n## Raw output\n\n" + "\n".join(outputs)
        )
        (ROOT / "benchmarks" / "RESULTS.md").write_text(text)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
