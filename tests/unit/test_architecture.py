"""The package's layering, checked from its source: no import cycle between its modules and
no module over 600 lines (``CONTRIBUTING.md``).

Imports are read with ``ast``, so nothing is imported. Every runtime import counts, the ones
inside functions included: a function-local import that closes a cycle only hides it (the
cycle is still there, waiting for the import order to change), while one that defers a slow
or optional dependency is fine and closes no cycle. Imports under ``if TYPE_CHECKING:`` are
left out (they never run).

Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first, so those packages count
as imported too, except the importer's own ancestors (already being imported when it runs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import lexigram_nosql

PACKAGE = Path(lexigram_nosql.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 600


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    local: bool
    """Whether the import is inside a function (runs on first call, not at import)."""

    def __str__(self) -> str:
        where = " (function-local)" if self.local else ""
        return f"{self.source} -> {self.target} (line {self.line}){where}"


def module_names() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = module_names()


def ancestors(name: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b"]``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def deepest_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(sub) for sub in ast.walk(node))
    return skipped


def function_local_nodes(tree: ast.AST) -> set[int]:
    local: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            local.update(id(sub) for sub in ast.walk(node) if sub is not node)
    return local


def imported_names(node: ast.Import | ast.ImportFrom, source: str) -> list[str]:
    """The modules an import statement names (``from m import x``: ``m.x`` when that is a
    module, else ``m``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against the importing module's package
        package = source if MODULES[source].name == "__init__.py" else source.rpartition(".")[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        module = f"{base}.{node.module}" if node.module else base
    else:
        module = node.module or ""
    names = []
    for alias in node.names:
        full = f"{module}.{alias.name}"
        names.append(full if full in MODULES else module)
    return names


def edges() -> Iterator[Edge]:
    for source, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = type_checking_nodes(tree)
        local = function_local_nodes(tree)
        own_ancestors = set(ancestors(source))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skipped:
                continue
            for name in imported_names(node, source):
                target = deepest_module(name) if name.startswith("lexigram_nosql") else None
                if target is None:
                    continue
                implied = [a for a in ancestors(target) if a not in own_ancestors]
                for module in (*implied, target):
                    if module != source:
                        yield Edge(source, module, node.lineno, id(node) in local)


def import_graph() -> dict[str, dict[str, Edge]]:
    graph: dict[str, dict[str, Edge]] = {name: {} for name in MODULES}
    for edge in edges():
        graph[edge.source].setdefault(edge.target, edge)
    return graph


def strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def cycle_in(group: list[str], graph: dict[str, dict[str, Edge]]) -> list[Edge]:
    """One cycle through the group's first module, as the imports that make it."""
    members = set(group)
    start = group[0]
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to the start
        following = []
        for node in frontier:
            for target, edge in graph[node].items():
                if target == start:
                    return [*paths[node], edge]
                if target in members and target not in paths:
                    paths[target] = [*paths[node], edge]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = [cycle_in(group, graph) for group in strongly_connected(graph)]
    report = "\n\n".join("\n".join(str(edge) for edge in cycle) for cycle in cycles)
    assert not cycles, f"import cycles between lexigram_nosql modules:\n{report}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_under_the_line_limit(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by responsibility"


def test_the_checker_sees_cycles() -> None:
    """The graph and the cycle search on a known shape, so a silent checker cannot pass."""
    edge = Edge("a", "b", 1, local=True)
    graph = {
        "a": {"b": edge},
        "b": {"c": Edge("b", "c", 2, local=False)},
        "c": {"a": Edge("c", "a", 3, local=False)},
        "d": {"a": Edge("d", "a", 4, local=False)},
    }
    groups = strongly_connected(graph)
    assert groups == [["a", "b", "c"]]
    assert [str(e) for e in cycle_in(groups[0], graph)] == [
        "a -> b (line 1) (function-local)",
        "b -> c (line 2)",
        "c -> a (line 3)",
    ]
    assert ancestors("lexigram_nosql.backends.names") == [
        "lexigram_nosql",
        "lexigram_nosql.backends",
    ]


def test_importing_a_submodule_counts_its_packages() -> None:
    """``cli`` imports ``config.loader``: the ``config`` package's ``__init__`` runs first,
    so it is among ``cli``'s imports too."""
    found = {edge.target for edge in edges() if edge.source == "lexigram_nosql.cli"}
    outside = [t for t in found if t.count(".") >= 2]
    assert outside, "lexigram_nosql.cli imports no submodule of a subpackage any more"
    assert all(t.rsplit(".", 1)[0] in found for t in outside)
