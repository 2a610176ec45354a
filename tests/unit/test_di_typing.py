"""``resolve(T)`` is typed as ``T`` for classes and for protocols (which mypy refuses as
``type[T]``), awaited or entered."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SNIPPET = """
from lexigram_nosql import Container, DocumentStoreProtocol, HealthService

async def main(container: Container) -> None:
    store = await container.resolve(DocumentStoreProtocol)
    reveal_type(store)
    async with container.resolve(DocumentStoreProtocol, name="analytics") as named:
        reveal_type(named)
    reveal_type(await container.resolve(HealthService))
"""


@pytest.mark.slow
def test_resolve_is_typed_for_mypy(tmp_path: Path) -> None:
    source = tmp_path / "snippet.py"
    source.write_text(textwrap.dedent(SNIPPET))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    revealed = [
        line.split("Revealed type is ")[1]
        for line in done.stdout.splitlines()
        if "Revealed" in line
    ]
    assert revealed == [
        '"lexigram_nosql.contracts.DocumentStoreProtocol"',
        '"lexigram_nosql.contracts.DocumentStoreProtocol"',
        '"lexigram_nosql.health.HealthService"',
    ], done.stdout
    assert "error" not in done.stdout, done.stdout
