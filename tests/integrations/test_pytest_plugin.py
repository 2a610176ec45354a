"""The pytest plugin, as a user runs it: the project of docs/testing.md (its config, ini and
test file, taken from the page), run by pytest in a subprocess: on memory stores, then the
very same tests against DynamoDB Local through one environment variable."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import backend_dynamodb
from tests.support.backends import services_required
from tests.test_docs import blocks

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "lexigram_nosql.pytest_plugin"

DOC = ROOT / "docs" / "testing.md"


def _documented(language: str) -> str:
    """The example of docs/testing.md in ``language`` (the config, the ini, the test file)."""
    found = [b.source for b in blocks(DOC) if b.language == language]
    assert len(found) == 1, f"docs/testing.md should show one {language} example"
    return found[0]


def _entry_point_installed() -> bool:
    """In a venv installed from this checkout (``make test``), pytest loads the plugin
    through its ``pytest11`` entry point; elsewhere the run names it with ``-p``."""
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


def run_user_tests(
    tmp_path: Path, config: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "app.yaml").write_text(config or _documented("yaml"))
    ini = _documented("ini") + "asyncio_default_fixture_loop_scope = function\n"
    (tmp_path / "pytest.ini").write_text(ini + "filterwarnings = error\n")
    (tmp_path / "test_shop.py").write_text(_documented("python"))
    plugin = [] if _entry_point_installed() else ["-p", PLUGIN]
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("LEXIGRAM_NOSQL_", "NOSQL__"))
    }
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *plugin,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


DEFAULT_EMULATION_TESTS = """
async def test_memory_stores_emulate_the_configured_backends(nosql_app) -> None:
    stores = nosql_app.modules[0].stores
    assert stores["primary"].settings.memory.emulate == "mongodb"
    assert stores["orders"].settings.memory.emulate == "dynamodb"
"""


def test_user_tests_run_on_memory_stores_by_default(tmp_path: Path) -> None:
    (tmp_path / "test_defaults.py").write_text(DEFAULT_EMULATION_TESTS)
    done = run_user_tests(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout


def test_on_memory_the_configured_drivers_and_secrets_are_not_needed(tmp_path: Path) -> None:
    """Only each store's name and role are taken from the file: an unset secret (or a driver
    that the test environment does not install) does not stop memory runs."""
    config = _documented("yaml").replace(
        '"${MONGODB_URI:-mongodb://localhost:27017}"', '"mongodb://app:${SHOP_DB_PASSWORD}@db/shop"'
    )
    assert "SHOP_DB_PASSWORD" in config
    done = run_user_tests(tmp_path, config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_one_environment_variable_runs_them_against_a_real_backend(tmp_path: Path) -> None:
    why = backend_dynamodb.unavailable()
    if why is not None:
        if services_required():
            pytest.fail(why)
        pytest.skip(why)
    real = backend_dynamodb.settings("ignored")
    del real["name"]
    done = run_user_tests(
        tmp_path, LEXIGRAM_NOSQL_TEST_BACKEND=json.dumps(real), EXPECTED_DRIVER="dynamodb"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_a_bad_backend_setting_is_named(tmp_path: Path) -> None:
    done = run_user_tests(tmp_path, LEXIGRAM_NOSQL_TEST_BACKEND="mongo")
    assert done.returncode == 1
    assert "LEXIGRAM_NOSQL_TEST_BACKEND / nosql_backend must be memory, config" in done.stdout


EMULATE_TESTS = """
import pytest


async def test_the_variable_sets_emulate(nosql_store, nosql_app) -> None:
    assert nosql_store.settings.memory.emulate == "dynamodb"
    for store in nosql_app.modules[0].stores.values():
        assert store.settings.memory.emulate == "dynamodb"


@pytest.mark.nosql(emulate="firestore")
async def test_a_marker_sets_it_for_one_test(nosql_store) -> None:
    assert nosql_store.settings.memory.emulate == "firestore"
"""


def test_emulate_reaches_the_memory_stores(tmp_path: Path) -> None:
    (tmp_path / "test_emulate.py").write_text(EMULATE_TESTS)
    done = run_user_tests(tmp_path, LEXIGRAM_NOSQL_TEST_EMULATE="dynamodb")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout  # the page's five tests run alongside
