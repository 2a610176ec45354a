"""The examples of docs/repositories.md and docs/migrations.md run, in order, each document
in one namespace."""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("name", ["repositories.md", "migrations.md"])
async def test_doc_examples_run(name: str) -> None:
    blocks = BLOCK.findall((DOCS / name).read_text())
    assert len(blocks) >= 4
    # A real module, so the examples' dataclasses can resolve their annotations.
    module = types.ModuleType(f"docs_{name.split('.')[0]}_examples")
    sys.modules[module.__name__] = module
    try:
        for index, source in enumerate(blocks):
            code = compile(
                source, f"docs/{name}[block {index}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            result = eval(code, module.__dict__)  # our own documentation
            if result is not None:
                await result
    finally:
        del sys.modules[module.__name__]
