"""Overhead benchmark (not a test): this package against each backend's raw driver, on the same
server, in the same run.

Each ``benchmarks/overhead_backends/<backend>.py`` exposes::

    async def run(n_insert, n_find, n_get, n_update) -> list[tuple[str, Timing, str]] | None

returning ``(operation, timing, reason)`` rows (``n_get``/``n_update``: the module's ``CALLS``
when it sets one, else ``CALLS`` here) (``timing``: what ``_timing.alternate``
measured, each side's seconds, the paired ratio and the requests each side sends per
operation; ``reason``: why a row may stay above the target, or ""), or None when its server
is not reachable (start the servers with ``scripts/services.sh up``). This driver prints each
row's ratio, the extra milliseconds it means and the requests per operation; the target is a
ratio of at most 1.10.

    .venv/bin/python benchmarks/overhead.py                      # every backend
    .venv/bin/python benchmarks/overhead.py mongodb --n-find 2000
    .venv/bin/python benchmarks/overhead.py --check              # exit 1 above the target
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.10
CALLS = 2_000
"""Calls per side of the single-document rows (``find_one``, ``update_one``), unless the
backend's module sets its own ``CALLS``: enough that a row's ratio is stable from run to run."""


def load_services_env() -> None:
    """The connection settings ``scripts/services.sh up`` wrote (environment variables win)."""
    env = ROOT / ".services" / "env"
    if env.exists():
        for line in env.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                os.environ.setdefault(key.strip(), value.strip())


def available_backends() -> list[str]:
    folder = Path(__file__).resolve().parent / "overhead_backends"
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backends", nargs="*", help="default: every overhead_backends module")
    parser.add_argument("--n-insert", type=int, default=10_000, help="documents in insert_many")
    parser.add_argument("--n-find", type=int, default=10_000, help="documents read by find")
    parser.add_argument(
        "--n-get", type=int, help=f"find_one calls by _id (default: the backend's CALLS, {CALLS})"
    )
    parser.add_argument(
        "--n-update",
        type=int,
        help=f"update_one calls by _id (default: the backend's CALLS, {CALLS})",
    )
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a ratio > {TARGET}")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from benchmarks._report import record

    load_services_env()
    over = False
    print(
        f"{'backend':<10} {'operation':<46} {'ours s':>9} {'raw s':>9} {'ratio':>7} {'+ms':>8} "
        f"{'req/op ours raw':>16}"
    )
    for name in args.backends or available_backends():
        module = importlib.import_module(f"benchmarks.overhead_backends.{name}")
        calls = getattr(module, "CALLS", CALLS)
        n_get, n_update = args.n_get or calls, args.n_update or calls
        rows = asyncio.run(module.run(args.n_insert, args.n_find, n_get, n_update))
        if rows is None:
            print(f"{name:<10} skipped: its test server is not reachable (scripts/services.sh up)")
            continue
        for operation, (ours, raw, ratio, requests), reason in rows:
            flag = ""
            if ratio > TARGET:
                flag = f"  <- above target ({reason})" if reason else "  <- above target"
            over = over or (ratio > TARGET and not reason)
            sent = f"{requests[0]:>7.2f} {requests[1]:>8.2f}" if requests else f"{'-':>16}"
            record(
                "overhead",
                f"{name}: {operation}",
                round(ratio, 3),
                "x raw driver",
                baseline=raw,
                target=f"<= {TARGET}",
                met=ratio <= TARGET,
                note=f"ours {ours:.3f} s, raw {raw:.3f} s"
                + (f", requests/op {requests[0]:.2f} vs {requests[1]:.2f}" if requests else "")
                + (f"; {reason}" if reason else ""),
            )
            print(
                f"{name:<10} {operation:<46} {ours:>9.3f} {raw:>9.3f} {ratio:>7.3f} "
                f"{(ratio - 1) * raw * 1000:>8.1f} {sent}{flag}"
            )
    print(f"target: ratio <= {TARGET}")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    raise SystemExit(main())
