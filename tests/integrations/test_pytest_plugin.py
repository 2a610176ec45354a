"""The pytest plugin, as a user runs it: a user-style project whose tests use ``nosql_store``
and ``nosql_app``, run by pytest in a subprocess (on memory stores, then the very same tests
against DynamoDB Local through one environment variable)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import backend_dynamodb
from tests.support.backends import services_required

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "lexigram_nosql.pytest_plugin"

USER_CONFIG = """\
nosql:
  backends:
    - name: primary
      driver: mongodb
      primary: true
      mongodb: {uri: "mongodb://db.invalid:27017", database: shop}
    - name: orders
      driver: dynamodb
      critical: false
      dynamodb: {region: eu-west-1}
"""

USER_TESTS = """
import os
from typing import Annotated

import pytest

from lexigram_nosql import Application, DocumentStoreProtocol, Named

EXPECTED_DRIVER = os.environ.get("EXPECTED_DRIVER", "memory")


class Checkout:
    def __init__(
        self,
        primary: DocumentStoreProtocol,
        orders: Annotated[DocumentStoreProtocol, Named("orders")],
    ) -> None:
        self.primary, self.orders = primary, orders

    async def place(self, order_id: str) -> None:
        await self.orders.collection("orders").insert_one({"_id": order_id, "total": 3})


async def test_store_is_connected_and_fresh(nosql_store: DocumentStoreProtocol) -> None:
    assert nosql_store.is_connected and nosql_store.driver == EXPECTED_DRIVER
    users = nosql_store.collection("users")
    assert await users.count_documents({}) == 0
    await users.insert_one({"_id": "u1", "name": "Ada"})
    assert (await users.find_one({"name": "Ada"}))["_id"] == "u1"


async def test_store_is_fresh_again(nosql_store: DocumentStoreProtocol) -> None:
    assert await nosql_store.collection("users").count_documents({}) == 0


async def test_app_is_booted_from_the_config(nosql_app: Application) -> None:
    checkout = await nosql_app.container.resolve(Checkout)
    assert checkout.orders.name == "orders"
    assert {checkout.primary.driver, checkout.orders.driver} == {EXPECTED_DRIVER}
    await checkout.place("o1")
    assert await checkout.orders.collection("orders").count_documents({}) == 1


async def test_app_is_fresh_again(nosql_app: Application) -> None:
    store = await nosql_app.container.resolve(DocumentStoreProtocol)
    assert await store.collection("orders").count_documents({}) == 0


@pytest.mark.nosql(backend="memory")
async def test_a_marker_picks_the_backend_of_one_test(nosql_store) -> None:
    assert nosql_store.driver == "memory"
"""


def _entry_point_installed() -> bool:
    """In a venv installed from this checkout (``make test``), pytest loads the plugin
    through its ``pytest11`` entry point; elsewhere the run names it with ``-p``."""
    return any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))


def run_user_tests(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / "app.yaml").write_text(USER_CONFIG)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "nosql_config = config/app.yaml\nfilterwarnings = error\n"
    )
    (tmp_path / "test_shop.py").write_text(textwrap.dedent(USER_TESTS))
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


def test_user_tests_run_on_memory_stores_by_default(tmp_path: Path) -> None:
    done = run_user_tests(tmp_path)
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
