"""Separate processes migrating one store apply each migration exactly once (the lock lives
in the store, not in any process)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from lexigram_nosql import create_store

ROOT = Path(__file__).resolve().parents[2]

MIGRATOR = textwrap.dedent(
    """
    import asyncio, json, os, sys

    from lexigram_nosql import create_store
    from lexigram_nosql.migrations import MigrationManager


    def step(label):
        async def up(ctx):
            await ctx.collection("runs").insert_one({"migration": label, "pid": os.getpid()})
            await asyncio.sleep(0.4)  # long enough for the processes to overlap

        up.__qualname__ = f"step_{label}"
        return up


    async def main():
        async with create_store(json.loads(sys.argv[1])) as store:
            manager = MigrationManager(store=store, owner=f"process-{os.getpid()}")
            for label in ("one", "two", "three"):
                manager.add(step(label), name=label)
            results = await manager.apply()
        print(json.dumps([r.id for r in results]))


    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_migrator_processes_apply_each_migration_once(backend: Any, tmp_path: Path) -> None:
    if backend.ID == "memory":
        pytest.skip("the memory store lives inside one process")
    entry = backend.settings(f"mp{uuid.uuid4().hex[:6]}")
    script = tmp_path / "migrator.py"
    script.write_text(MIGRATOR)

    async def runs() -> list[dict[str, Any]]:
        async with create_store(entry) as store:  # type: ignore[attr-defined]
            return [doc async for doc in store.collection("runs").find()]

    async def reset() -> None:
        async with create_store(entry) as store:  # type: ignore[attr-defined]
            await backend.reset(store)

    asyncio.run(reset())
    try:
        processes = [
            subprocess.Popen(
                [sys.executable, str(script), json.dumps(entry)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]
        for process, (_, err) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, err
        applied = sorted(i for out, _ in outputs for i in json.loads(out.strip().splitlines()[-1]))
        assert applied == ["1", "2", "3"], "each migration applied by exactly one process"
        done = asyncio.run(runs())
        assert sorted(doc["migration"] for doc in done) == ["one", "three", "two"]
    finally:
        asyncio.run(reset())
