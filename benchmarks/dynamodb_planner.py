"""What the DynamoDB planner saves: a find on the key of a 10k-item table reads 1 item, where
a full Scan with an equality filter (what the package this replaces did for every read)
reads all 10k. Figures are DynamoDB's own ScannedCount, summed over pages.

    scripts/services.sh up dynamodb && python benchmarks/dynamodb_planner.py [items]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from overhead_backends.dynamodb import CREDENTIALS, endpoint  # noqa: E402

from lexigram_nosql import create_store  # noqa: E402

sys.path.insert(0, str(ROOT))
from benchmarks._report import record  # noqa: E402


async def main(items: int) -> int:
    url = endpoint()
    if url is None:
        print("DynamoDB Local is not running: scripts/services.sh up dynamodb")
        return 1
    logging.getLogger("lexigram_nosql").setLevel(logging.ERROR)  # the scan warning
    store: Any = create_store(
        {
            "name": "planner",
            "driver": "dynamodb",
            "dynamodb": {
                "endpoint_url": url,
                "table_prefix": f"plan{uuid.uuid4().hex[:8]}_",
                "access_key_id": CREDENTIALS["aws_access_key_id"],
                "secret_access_key": CREDENTIALS["aws_secret_access_key"],
            },
        }
    )
    async with store:
        users = store.collection("users")
        try:
            started = time.perf_counter()
            await users.insert_many(
                [{"_id": f"u{i:05}", "email": f"user{i}@example.org"} for i in range(items)]
            )
            print(f"inserted {items} items in {time.perf_counter() - started:.1f}s")
            rows = [
                ("find by _id", {"_id": f"u{items // 2:05}"}),
                ("find by _id $in (3 keys)", {"_id": {"$in": ["u00001", "u00002", "u00003"]}}),
                ("find by email (no index: scan)", {"email": f"user{items // 2}@example.org"}),
            ]
            for label, filter in rows:
                started = time.perf_counter()
                found = [d async for d in users.find(filter)]
                elapsed = (time.perf_counter() - started) * 1000
                stats = users.last_plan
                record(
                    "dynamodb planner",
                    f"{label}, {items} items",
                    stats.items_read,
                    "items read",
                    baseline=items,
                    target="1 item per key asked" if "_id" in label else None,
                    met=(stats.items_read <= 3) if "_id" in label else None,
                    note=f"{stats.plan.operation}, {stats.requests} requests, {elapsed:.1f} ms; "
                    "baseline: what a full scan reads",
                )
                print(
                    f"{label:32} {stats.plan.operation:13} requests {stats.requests:3}  "
                    f"items read {stats.items_read:6}  returned {len(found)}  {elapsed:7.1f} ms"
                )
        finally:
            await store.drop_collection("users")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
