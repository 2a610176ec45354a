"""Every code example in README.md and docs/ runs as written.

- README.md's ``python`` blocks are scripts: they run in order, in one namespace, with no
  event loop running (so ``asyncio.run(main())`` works and a top-level ``await`` is an error).
- Each page of docs/ runs its ``python`` blocks in order, in one namespace, as the asyncio
  REPL (``python -m asyncio``) would: top-level ``await`` and ``async with`` are allowed.
- A ``yaml`` block with a top-level ``nosql:`` key is validated as configuration.
- Stores a page leaves connected are closed when its session ends, as a REPL's would be.
- A fragment that cannot run on its own (it needs a server, or names undefined objects) is
  marked by the HTML comment ``<!-- no-run -->`` on the line before its fence (the older
  ```` ```python no-run ```` form is accepted too). Use it sparingly.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lexigram_nosql import load_config
from lexigram_nosql.backends.base import BaseDocumentStore

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").rglob("*.md"))
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"^(```+)\s*([\w+-]*)(.*)$")


@dataclass(frozen=True)
class Block:
    language: str
    source: str
    line: int  # of the first line of code, 1-based
    runnable: bool


def blocks(path: Path) -> Iterator[Block]:
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    previous = ""
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        fence, language, rest = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        yield Block(
            language=language.lower(),
            source="\n".join(lines[index + 1 : end]) + "\n",
            line=index + 2,
            runnable=previous != NO_RUN and "no-run" not in rest,
        )
        previous = ""
        index = end + 1


def _module(name: str) -> types.ModuleType:
    # A real module, so dataclasses resolve their annotations and @inject can wire functions.
    module = types.ModuleType(name)
    sys.modules[name] = module
    return module


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_readme_examples_run_as_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    found = [b for b in blocks(README) if b.language == "python" and b.runnable]
    assert found, "README.md has no runnable example"
    module = _module("readme_examples")
    try:
        for block in found:
            code = compile(block.source, f"README.md:{block.line}", "exec")
            exec(code, module.__dict__)  # our own documentation
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize("page", PAGES, ids=_name)
async def test_doc_page_examples_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    found = [b for b in blocks(page) if b.language == "python"]
    runnable = [b for b in found if b.runnable]
    module = _module(f"doc_examples_{page.stem}")
    try:
        for block in runnable:
            code = compile(
                block.source,
                f"{_name(page)}:{block.line}",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            result = eval(code, module.__dict__)  # our own documentation
            if result is not None:
                await result
    finally:
        del sys.modules[module.__name__]
        # The page's session ends, as a REPL's would: close the stores it left open.
        for value in list(module.__dict__.values()):
            if isinstance(value, BaseDocumentStore) and value.is_connected:
                await value.disconnect()


@pytest.mark.parametrize("path", [README, *PAGES], ids=_name)
def test_yaml_configuration_examples_are_valid(path: Path) -> None:
    for block in blocks(path):
        if block.language not in ("yaml", "yml") or not block.runnable:
            continue
        document = yaml.safe_load(block.source)
        if isinstance(document, dict) and "nosql" in document:
            # ${VAR:-default} takes its default; a bare ${VAR} gets a stand-in value.
            stand_ins = {name: "example" for name in re.findall(r"\$\{(\w+)\}", block.source)}
            load_config(document, environ=stand_ins)


def test_no_run_is_used_sparingly() -> None:
    """Skipped blocks are fragments; most examples run."""
    every = [b for p in [README, *PAGES] for b in blocks(p) if b.language == "python"]
    skipped = [b for b in every if not b.runnable]
    assert len(skipped) * 5 <= len(every), f"{len(skipped)} of {len(every)} blocks skipped"


def test_marker_and_fence_parsing() -> None:
    text = "x\n<!-- no-run -->\n```python\na = 1\n```\n\n```python\nb = 2\n```\n"
    parsed = list(parse(text))
    assert [(b.source, b.runnable, b.line) for b in parsed] == [
        ("a = 1\n", False, 4),
        ("b = 2\n", True, 8),
    ]
