"""The SQLite store's file outlives its processes: a writer killed with SIGKILL loses no
acknowledged write, two processes writing at once lose nothing, and data and indexes (a
unique one included) survive a clean restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from lexigram_nosql import DuplicateKeyError, create_store

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import asyncio, json, sys

    from lexigram_nosql import create_store

    async def main(path, tag, count):
        entry = {"name": tag, "driver": "sqlite", "sqlite": {"path": path}}
        async with create_store(entry) as store:
            events = store.collection("events")
            counters = store.collection("counters")
            for n in range(count):
                await events.insert_one({"_id": f"{tag}-{n}", "n": n, "tag": tag})
                await counters.update_one({"_id": "total"}, {"$inc": {"value": 1}}, upsert=True)
                print(n, flush=True)  # acknowledged: the write returned

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _writer(tmp_path: Path, path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen(
        [sys.executable, str(script), str(path), tag, str(count)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _documents(path: Path, collection: str) -> list[dict[str, Any]]:
    entry = {"name": "check", "driver": "sqlite", "sqlite": {"path": str(path)}}
    async with create_store(entry) as store:
        return [doc async for doc in store.collection(collection).find()]


def test_sigkill_mid_stream_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    writer = _writer(tmp_path, path, "w", 100_000)
    assert writer.stdout is not None
    acknowledged = -1
    deadline = time.monotonic() + 60
    while acknowledged < 300 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    writer.send_signal(signal.SIGKILL)
    # Everything it printed before the kill was acknowledged; read what is still buffered.
    rest, err = writer.communicate(timeout=30)
    for line in rest.splitlines():
        acknowledged = int(line)
    assert writer.returncode == -signal.SIGKILL, err
    assert acknowledged >= 300, err
    documents = asyncio.run(_documents(path, "events"))
    stored = {doc["_id"] for doc in documents}
    missing = [n for n in range(acknowledged + 1) if f"w-{n}" not in stored]
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    [total] = asyncio.run(_documents(path, "counters"))
    assert total["value"] >= acknowledged + 1


def test_two_processes_write_one_file_at_once_and_nothing_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    count = 300
    writers = [_writer(tmp_path, path, tag, count) for tag in ("a", "b")]
    for writer in writers:
        out, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err
        assert out.split()[-1] == str(count - 1)
    documents = asyncio.run(_documents(path, "events"))
    assert len(documents) == 2 * count
    assert {doc["tag"] for doc in documents} == {"a", "b"}
    [total] = asyncio.run(_documents(path, "counters"))
    assert total["value"] == 2 * count  # no lost $inc between the processes


async def test_data_and_indexes_survive_a_clean_restart(tmp_path: Path) -> None:
    entry = {"name": "r", "driver": "sqlite", "sqlite": {"path": str(tmp_path / "r.db")}}
    async with create_store(entry) as store:
        users = store.collection("users")
        await users.insert_many([{"_id": i, "email": f"u{i}@x", "age": i} for i in range(50)])
        await users.create_index("email", unique=True)
        await users.create_index([("age", -1)], name="by_age")
    async with create_store(entry) as store:
        users = store.collection("users")
        assert await users.count_documents({}) == 50
        names = {index.name: index for index in await users.list_indexes()}
        assert set(names) == {"_id_", "email_1", "by_age"}
        assert names["email_1"].unique and names["by_age"].keys == [("age", -1)]
        with pytest.raises(DuplicateKeyError) as info:
            await users.insert_one({"_id": 99, "email": "u3@x"})
        assert info.value.index == "email_1"
        found = [doc["_id"] async for doc in users.find({"age": {"$gte": 45}}, sort=[("age", -1)])]
        assert found == [49, 48, 47, 46, 45]
        assert users.last_plan.index == "by_age"
        await users.insert_one({"_id": 100, "email": "new@x", "age": 100})
    async with create_store(entry) as store:
        assert await store.collection("users").find_one({"email": "new@x"}) is not None
        assert await store.collection("users").count_documents({}) == 51
