"""``lexigram-nosql migrate status|up|down``."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from lexigram_nosql import cli, create_store
from lexigram_nosql.migrations import MigrationProgress
from lexigram_nosql.migrations.cli import _show_progress

MIGRATIONS = """
from lexigram_nosql.migrations import AddField, CreateIndex, MigrationManager


async def seed(ctx):
    await ctx.collection("users").insert_many([{"n": i} for i in range(5)])


async def unseed(ctx):
    await ctx.collection("users").delete_many({})


manager = MigrationManager(db_name="unused")
manager.add(seed, down=unseed, name="seed users")
manager.add(AddField("users", "avatar_url", default=""))


def add_them(manager):
    manager.add(CreateIndex("users", "n"))
"""


@pytest.fixture
def migrations_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"app_migrations_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MIGRATIONS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _config(tmp_path: Path, entry: dict[str, Any]) -> str:
    path = tmp_path / "nosql.yaml"
    path.write_text(json.dumps({"nosql": {"backends": [{**entry, "primary": True}]}}))
    return str(path)


def _run(config: str, module: str, *args: str) -> int:
    return cli.main(["--config", config, "migrate", "--migrations", module, *args])


def test_up_applies_and_shows_progress(
    tmp_path: Path, migrations_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, {"name": "primary", "driver": "memory"})
    assert _run(config, f"{migrations_module}:manager", "up") == 0
    out, err = capsys.readouterr()
    assert "applied" in out and "seed users" in out and "add field avatar_url" in out
    assert "2 add field avatar_url = '' to users: users 5/5 (100%)" in err


def test_dry_run_and_status_on_a_fresh_store(
    tmp_path: Path, migrations_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, {"name": "primary", "driver": "memory"})
    assert _run(config, f"{migrations_module}:manager", "up", "--dry-run") == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("would_apply      1  seed users")
    assert _run(config, f"{migrations_module}:add_them", "status", "--format", "json") == 0
    [status] = json.loads(capsys.readouterr().out)
    assert (status["id"], status["state"]) == ("1", "pending")
    assert _run(config, f"{migrations_module}:add_them", "status") == 0
    assert capsys.readouterr().out.split() == [
        "1",
        "pending",
        "-",
        "create",
        "index",
        "n_1",
        "on",
        "users",
        "[('n',",
        "1)]",
    ]


def test_missing_or_wrong_migrations_are_errors(
    tmp_path: Path, migrations_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, {"name": "primary", "driver": "memory"})
    assert cli.main(["--config", config, "migrate", "status"]) == 1
    assert "--migrations" in capsys.readouterr().err
    assert _run(config, "no_such_module_here", "status") == 1
    assert "no_such_module_here" in capsys.readouterr().err
    assert _run(config, f"{migrations_module}:MIGRATIONS_NOPE", "status") == 1
    assert "must name a MigrationManager" in capsys.readouterr().err


@pytest.mark.slow
def test_state_outlives_one_command(
    backend: Any, tmp_path: Path, migrations_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if backend.ID == "memory":
        pytest.skip("the memory store does not outlive one command")
    entry = backend.settings(f"cli{uuid.uuid4().hex[:6]}")
    config = _config(tmp_path, entry)

    async def reset() -> None:
        async with create_store(entry) as store:  # type: ignore[attr-defined]
            await backend.reset(store)

    asyncio.run(reset())
    try:
        spec = f"{migrations_module}:manager"
        assert _run(config, spec, "up") == 0
        capsys.readouterr()
        assert _run(config, spec, "status") == 0
        assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == [
            "applied",
            "applied",
        ]
        assert _run(config, spec, "down", "--to", "0") == 0
        assert "rolled_back      2" in capsys.readouterr().out
        assert _run(config, spec, "status") == 0
        assert "applied" not in capsys.readouterr().out
    finally:
        asyncio.run(reset())


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    _show_progress(MigrationProgress("3", "backfill", "users", 50, 200), out)
    _show_progress(MigrationProgress("3", "backfill", "users", 200, 200), out)
    assert out.getvalue() == (
        "\r\x1b[K3 backfill: users 50/200 (25%)\r\x1b[K3 backfill: users 200/200 (100%)"
    )
