"""The examples of docs/container.md run, in order, in one namespace (blocks fenced
``python no-run`` are shown only)."""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "container.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


async def test_container_doc_examples_run() -> None:
    found = blocks()
    assert len(found) >= 6
    # A real module, so dependency-injector can wire the examples' @inject functions.
    module = types.ModuleType("container_doc_examples")
    sys.modules[module.__name__] = module
    try:
        for index, source in enumerate(found):
            code = compile(
                source,
                f"docs/container.md[block {index}]",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            result = eval(code, module.__dict__)  # our own documentation
            if result is not None:
                await result
    finally:
        del sys.modules[module.__name__]
