"""Benchmark (not a test): memory held while streaming 200k documents from the memory store.

``find()`` streams: it must not copy the collection or build the result list. We insert the
documents, settle, then stream them all while sampling the process's resident set size; the
figure is the RSS growth above the settled level (target: < 20 MB). For contrast, the same
documents loaded into a list in the same run.

Run: ``.venv/bin/python benchmarks/streaming_memory.py [--n 200000]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import record
from lexigram_nosql import create_store

TARGET_MB = 20.0


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


async def main(n: int) -> int:
    async with create_store({"name": "bench", "driver": "memory"}) as store:
        docs = store.collection("docs")
        chunk = 10_000
        for start in range(0, n, chunk):
            await docs.insert_many(
                [
                    {"_id": f"{i:08d}", "n": i, "group": i % 97, "text": f"document {i}" * 4}
                    for i in range(start, min(n, start + chunk))
                ]
            )
        gc.collect()
        settled = peak = rss_mb()
        seen = 0
        async for _ in docs.find({}):
            seen += 1
            if seen % 5_000 == 0:
                peak = max(peak, rss_mb())
        streamed_growth = peak - settled

        gc.collect()
        before_list = rss_mb()
        loaded = [doc async for doc in docs.find({})]
        list_growth = rss_mb() - before_list
        del loaded

    met = streamed_growth < TARGET_MB
    print(f"documents streamed: {seen}")
    print(f"RSS growth while streaming: {streamed_growth:.1f} MB (target < {TARGET_MB:g} MB)")
    print(f"RSS growth loading the same documents into a list: {list_growth:.1f} MB")
    record(
        "streaming memory",
        f"RSS growth streaming {seen} docs",
        round(streamed_growth, 1),
        "MB",
        baseline=round(list_growth, 1),
        target=f"< {TARGET_MB:g} MB",
        met=met,
        note="baseline: the same documents loaded into a list",
    )
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    raise SystemExit(asyncio.run(main(parser.parse_args().n)))
