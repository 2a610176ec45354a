"""Known gaps of a test server, declared per test and checked against what was collected.

A backend module's ``KNOWN_GAPS`` maps a test to why the *test server* (not our code) gets it
wrong. A key names either every case of a test function for that backend
(``"test_sort_across_types_follows_mongodb_order"``) or one case of it, by its parameter id
without the backend part (``"test_filter[$mod]"``). Each such case is marked strict xfail, so
a server that stops getting it wrong fails the run.

``NOT_APPLICABLE`` maps a test file (``"tests/test_guide_di.py"``) or a test function in one
(``"tests/conformance/test_migrations.py::test_state_outlives_one_command"``) to why the
backend cannot take part at all (a skip with that reason).

A key that names nothing collected is an error when the file that should hold it was
collected (or, for a bare function name, when the whole suite was), so a gap can neither
outlive its test nor be misspelt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]


def case_of(item: pytest.Item, backend_id: str) -> str:
    """The item's parameter id without the backend's part ("" for an unparametrized one)."""
    callspec = getattr(item, "callspec", None)
    ident = callspec.id if callspec is not None else ""
    if ident == backend_id:
        return ""
    for affix in (f"{backend_id}-", f"-{backend_id}"):
        if ident.startswith(affix):
            return ident[len(affix) :]
        if ident.endswith(affix):
            return ident[: -len(affix)]
    return ident


def gap_keys(item: pytest.Item, backend_id: str) -> tuple[str, str]:
    """The two ``KNOWN_GAPS`` keys that can name ``item``: its function, and its case."""
    function = getattr(item, "originalname", item.name)
    return function, f"{function}[{case_of(item, backend_id)}]"


def not_applicable_keys(item: pytest.Item) -> tuple[str, str]:
    path = item.nodeid.partition("::")[0]
    return path, f"{path}::{getattr(item, 'originalname', item.name)}"


def apply(items: Sequence[pytest.Item], backends: Iterable[ModuleType]) -> None:
    """Mark each backend's gaps on the collected items; fail on keys that match nothing."""
    by_id = {module.ID: module for module in backends}
    used: dict[str, set[str]] = {ident: set() for ident in by_id}
    for item in items:
        module = _backend_of(item, by_id)
        if module is None:
            continue
        for key in not_applicable_keys(item):
            why = getattr(module, "NOT_APPLICABLE", {}).get(key)
            if why is not None:
                used[module.ID].add(key)
                item.add_marker(pytest.mark.skip(reason=f"{module.ID} does not apply: {why}"))
        for key in gap_keys(item, module.ID):
            why = module.KNOWN_GAPS.get(key)
            if why is not None:
                used[module.ID].add(key)
                item.add_marker(
                    pytest.mark.xfail(reason=f"{module.ID} test server: {why}", strict=True)
                )
    _check_every_key_names_a_test(items, by_id, used)


def _backend_of(item: pytest.Item, by_id: dict[str, ModuleType]) -> ModuleType | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    param: Any = callspec.params.get("backend")
    return param if isinstance(param, ModuleType) and param.ID in by_id else None


def _check_every_key_names_a_test(
    items: Sequence[pytest.Item], by_id: dict[str, ModuleType], used: dict[str, set[str]]
) -> None:
    collected_files = {item.nodeid.partition("::")[0] for item in items}
    whole_suite = collected_files >= {
        str(path.relative_to(TESTS.parent)) for path in TESTS.rglob("test_*.py")
    }
    stale: list[str] = []
    for ident, module in by_id.items():
        declared = {**module.KNOWN_GAPS, **getattr(module, "NOT_APPLICABLE", {})}
        for key in declared.keys() - used[ident]:
            file = key.partition("::")[0] if key.startswith("tests/") else None
            if (file in collected_files) if file else whole_suite:
                stale.append(f"{ident}: {key!r}")
    if stale:
        raise pytest.UsageError(
            "known gaps or exclusions that name no collected test (remove or correct them): "
            + ", ".join(sorted(stale))
        )
