"""No password or secret key from the configuration appears in any output: logs (drivers'
DEBUG logs included), reprs, exception messages and their causes, health reports, CLI output.

The stores point at closed ports with recognisable secrets, so every failure path runs: eager
connect, lazy first use, health checks, ``Application.boot``, the CLI's ``config check``,
``health`` and ``demo`` (which takes ``--config``, so extra stores with secrets ride along).
Firestore is not here: its settings hold no secret (``credentials_file`` is a path).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from lexigram_nosql import NoSQLConnectionError, NoSQLError, create_store
from lexigram_nosql.config.loader import CONFIG_ENV_VAR, load_config
from lexigram_nosql.providers import Application
from lexigram_nosql.redaction import redact_logs

PASSWORD = "S3cretPassw0rd-XYZ"
ACCESS_KEY_ID = "AKIALEXIGRAMSECRET"
SECRET_ACCESS_KEY = "SecretKeyLexigram/XYZ123"
SECRETS = (PASSWORD, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
ROOT = Path(__file__).resolve().parents[2]

FAST_FAIL = {"connect_timeout_s": 1, "health_timeout_s": 1}
MONGODB = {
    "driver": "mongodb",
    **FAST_FAIL,
    "mongodb": {
        "uri": f"mongodb://app:{PASSWORD}@127.0.0.1:1/db",
        "server_selection_timeout_ms": 1000,
        "connect_timeout_ms": 1000,
    },
}
DYNAMODB = {
    "driver": "dynamodb",
    **FAST_FAIL,
    "dynamodb": {
        "endpoint_url": "http://127.0.0.1:1",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "max_attempts": 1,
        "read_timeout_s": 1,
    },
}
STORES = {
    "mongodb-pymongo": {**MONGODB, "mongodb": {**MONGODB["mongodb"], "client": "pymongo"}},
    "mongodb-motor": {**MONGODB, "mongodb": {**MONGODB["mongodb"], "client": "motor"}},
    "dynamodb": DYNAMODB,
}


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows the secret {secret!r}:\n{text}"


def full_traceback(exc: BaseException) -> str:
    """The exception with its whole ``__cause__``/``__context__`` chain, as a log shows it."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, drivers included (botocore logs request headers there)."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("kind", list(STORES))
async def test_store_failures_show_no_secret(
    kind: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    settings = load_config({"nosql": {"backends": [{"name": "secretive", **STORES[kind]}]}})
    entry = settings.backends[0]
    store = create_store(entry)
    texts = {"settings repr": repr(entry), "settings str": str(entry), "store": repr(store)}

    async with asyncio.timeout(20):
        with pytest.raises(NoSQLConnectionError) as connect:
            await store.connect()
        texts["connect error"] = full_traceback(connect.value)
        texts["connect error repr"] = repr(connect.value)
        assert "secretive" in str(connect.value), "the error names the store"

        health = await store.health_check()
        assert health.status == "fail"
        texts["health"] = repr(health)

        lazy = create_store(load_config({"nosql": {"backends": [
            {"name": "lazy", "lazy": True, **STORES[kind]}
        ]}}).backends[0])  # fmt: skip
        try:  # a lazy store connects on first use (the container never calls connect())
            with pytest.raises(NoSQLError) as use:
                await lazy.collection("things").insert_one({"n": 1})
            texts["first use error"] = full_traceback(use.value)
            texts["lazy health"] = repr(await lazy.health_check())
        finally:
            await lazy.disconnect()
        texts["store after"] = repr(store) + repr(lazy)

    texts["logs"] = debug_logs.text
    assert debug_logs.records, "the failures were logged"
    for where, text in texts.items():
        assert_no_secret(where, text)


async def test_a_failing_boot_shows_no_secret(debug_logs: pytest.LogCaptureFixture) -> None:
    config = {
        "nosql": {
            "backends": [
                {"name": "primary", "driver": "memory", "primary": True},
                {"name": "dynamo", **DYNAMODB},
                {"name": "mongo", **MONGODB},
            ]
        }
    }
    async with asyncio.timeout(20):
        with pytest.raises(NoSQLError) as boot:
            async with Application.boot(config=config):
                pass
    assert_no_secret("boot error", full_traceback(boot.value))
    assert_no_secret("boot logs", debug_logs.text)


def _cli_config(tmp_path: Path) -> Path:
    """The demo's two memory stores plus lazy, non-critical stores holding the secrets."""
    backends = [
        {"name": "primary", "driver": "memory", "primary": True},
        {"name": "analytics", "driver": "memory", "critical": False},
        {"name": "mongo", "lazy": True, "critical": False, **MONGODB},
        {"name": "dynamo", "lazy": True, "critical": False, **DYNAMODB},
    ]
    path = tmp_path / "nosql.yaml"
    path.write_text(yaml.safe_dump({"nosql": {"backends": backends}}))
    return path


def test_cli_output_shows_no_secret(tmp_path: Path) -> None:
    config = _cli_config(tmp_path)
    commands = {
        "config check": ["config", "check"],
        "config check json": ["config", "check", "--format", "json"],
        "health": ["health"],
        "health json": ["health", "--format", "json"],
        "demo": ["demo"],
    }
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV_VAR}
    env["PYTHONPATH"] = str(ROOT)
    # Run them side by side: each waits about a second on the closed ports.
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "lexigram_nosql", "-vv", "--config", str(config), *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    results: dict[str, Any] = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=60)
        results[name] = (process.returncode, out, err)
    for name, (_code, out, err) in results.items():
        assert_no_secret(f"`{name}` stdout", out)
        assert_no_secret(f"`{name}` stderr (DEBUG logs)", err)
    # The runs did reach the failing stores (so the check above means something).
    assert (
        results["config check"][0] == 0
        and "mongodb://app:***@127.0.0.1:1" in (results["config check"][1])
    )
    assert results["health"][0] == 0, results["health"]  # non-critical stores only warn
    assert "dynamo" in results["health"][1] and "fail" in results["health"][1]
    assert "Sending http request" in results["health"][2], "botocore's DEBUG logs were on"
    assert results["demo"][0] == 0, results["demo"][2][-2000:]


def test_registered_secrets_are_scrubbed_from_any_logger(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """What a driver logs, message and traceback alike, once a store has named its secrets."""
    redact_logs(["VerySecretForLogs-42"])
    driver_log = logging.getLogger("some.driver.transport")
    driver_log.debug("Authorization: Credential=%s/2026", "VerySecretForLogs-42")
    try:
        raise RuntimeError("rejected key VerySecretForLogs-42")
    except RuntimeError:
        driver_log.exception("request failed for %s", "mongodb://u:pw-in-uri@host")
    assert "VerySecretForLogs-42" not in debug_logs.text
    assert "pw-in-uri" not in debug_logs.text
    assert "Credential=***/2026" in debug_logs.text
    assert "RuntimeError: rejected key ***" in debug_logs.text
