"""No password or secret key from the configuration appears in any output: logs (drivers'
DEBUG logs included), reprs, exception messages and their causes, health reports (the
health+json body included), CLI output. Secrets ride in a MongoDB URI's userinfo and in its
query string (``authMechanismProperties`` values, a ``...Password`` parameter).

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

from lexigram_nosql import HealthService, NoSQLConnectionError, NoSQLError, create_store
from lexigram_nosql.config.loader import CONFIG_ENV_VAR, load_config
from lexigram_nosql.providers import Application, NoSQLModule
from lexigram_nosql.redaction import (
    RedactingFilter,
    install_log_redaction,
    redact_logs,
    register_secrets,
)

PASSWORD = "S3cretPassw0rd-XYZ"
ACCESS_KEY_ID = "AKIALEXIGRAMSECRET"
SECRET_ACCESS_KEY = "SecretKeyLexigram/XYZ123"
SESSION_TOKEN = "SessionTokenLexigram-Q1W2"
KEY_PASSWORD = "KeyFilePassLexigram-77"
SECRETS = (PASSWORD, ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, KEY_PASSWORD)
ROOT = Path(__file__).resolve().parents[2]

FAST_FAIL = {"connect_timeout_s": 1, "health_timeout_s": 1}
PATIENT = {"connect_timeout_s": 30, "health_timeout_s": 30}
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
MONGODB_AWS = {  # secrets in the query string, and no database in the settings
    **MONGODB,
    "mongodb": {
        **MONGODB["mongodb"],
        "uri": f"mongodb://app:{PASSWORD}@127.0.0.1:1/urldb?authMechanism=MONGODB-AWS"
        f"&authMechanismProperties=AWS_SESSION_TOKEN:{SESSION_TOKEN}"
        f"&tlsCertificateKeyFilePassword={KEY_PASSWORD}",
    },
}
STORES = {
    "mongodb-pymongo": {**MONGODB, "mongodb": {**MONGODB["mongodb"], "client": "pymongo"}},
    "mongodb-motor": {**MONGODB, "mongodb": {**MONGODB["mongodb"], "client": "motor"}},
    "mongodb-query-secrets": MONGODB_AWS,
    "dynamodb": DYNAMODB,
}


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows the secret {secret!r}:\n{text}"


def full_traceback(exc: BaseException) -> str:
    """The exception with its whole ``__cause__``/``__context__`` chain, as a log shows it."""
    return "".join(traceback.format_exception(exc))


@pytest.fixture
def plain_logging() -> Any:
    """The standard log record factory for the test (redaction not installed), then back."""
    before = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield
    logging.setLogRecordFactory(before)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, drivers included (botocore logs request headers there), with log
    redaction installed as an application not using ``NoSQLModule`` would install it."""
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("kind", list(STORES))
async def test_store_failures_show_no_secret(
    kind: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    settings = load_config({"nosql": {"backends": [{"name": "secretive", **STORES[kind]}]}})
    entry = settings.backends[0]
    store = create_store(entry)
    texts = {
        "settings repr": repr(entry),
        "settings str": str(entry),
        "settings repr (all)": repr(settings),
        "config check": repr(settings.redacted()),
        "address": entry.address(),
        "store": repr(store),
    }

    async with asyncio.timeout(20):
        with pytest.raises(NoSQLConnectionError) as connect:
            await store.connect()
        texts["connect error"] = full_traceback(connect.value)
        texts["connect error repr"] = repr(connect.value)
        assert "secretive" in str(connect.value), "the error names the store"

        health = await store.health_check()
        assert health.status == "fail"
        texts["health"] = repr(health)
        report = await HealthService([store], timeouts={store.name: 1}).check()
        texts["health json"] = report.to_json()
        texts["health text"] = report.to_text()

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


def test_the_address_shows_the_database_before_the_query_string() -> None:
    entry = load_config({"nosql": {"backends": [MONGODB_AWS]}}).backends[0]
    assert entry.address() == (
        "mongodb://app:***@127.0.0.1:1/urldb?authMechanism=MONGODB-AWS"
        "&authMechanismProperties=AWS_SESSION_TOKEN:***&tlsCertificateKeyFilePassword=***"
    )


def test_creating_a_store_leaves_logging_alone(plain_logging: None) -> None:
    """Log redaction is installed by NoSQLModule, the CLI or the application, never as a side
    effect of making a store."""
    create_store(load_config({"nosql": {"backends": [DYNAMODB]}}).backends[0])
    assert logging.getLogRecordFactory() is logging.LogRecord


async def test_a_failing_boot_shows_no_secret(
    plain_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """NoSQLModule installs log redaction: botocore's DEBUG request logs carry no key."""
    caplog.set_level(logging.DEBUG)
    debug_logs = caplog
    config = {
        "nosql": {
            "backends": [
                {"name": "primary", "driver": "memory", "primary": True},
                {"name": "dynamo", **DYNAMODB},
                {"name": "mongo", **MONGODB_AWS},
            ]
        }
    }
    async with asyncio.timeout(20):
        with pytest.raises(NoSQLError) as boot:
            async with Application.boot(config=config):
                pass
    assert_no_secret("boot error", full_traceback(boot.value))
    assert_no_secret("boot logs", debug_logs.text)
    assert "botocore" in debug_logs.text, "botocore's DEBUG logs were on"


def test_module_can_leave_logging_to_the_application(plain_logging: None) -> None:
    NoSQLModule(load_config({"nosql": {"backends": [DYNAMODB]}}), redact_logs=False)
    assert logging.getLogRecordFactory() is logging.LogRecord


def test_redacting_filter_scrubs_records_on_a_handler(plain_logging: None) -> None:
    """Without the process-wide factory: the application puts the filter on its handler."""
    register_secrets(["FilteredSecret-9876"])
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.addFilter(RedactingFilter())
    driver_log = logging.getLogger("botocore.endpoint.test")
    driver_log.addHandler(handler)
    try:
        driver_log.warning("Authorization: Credential=%s/2026", "FilteredSecret-9876")
        driver_log.warning("dialing mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:tk1")
    finally:
        driver_log.removeHandler(handler)
    assert lines == [
        "Authorization: Credential=***/2026",
        "dialing mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN:***",
    ]


def _cli_config(tmp_path: Path) -> Path:
    """The demo's two memory stores plus lazy, non-critical stores holding the secrets."""
    backends = [
        {"name": "primary", "driver": "memory", "primary": True},
        {"name": "analytics", "driver": "memory", "critical": False},
        {"name": "mongo", "lazy": True, "critical": False, **MONGODB_AWS},
        # Its port is closed, so the request is refused at once; the long timeouts only let
        # botocore load its models and send it on a busy machine (its DEBUG log is checked).
        {"name": "dynamo", "lazy": True, "critical": False, **DYNAMODB, **PATIENT},
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
        and "mongodb://app:***@127.0.0.1:1/urldb" in (results["config check"][1])
        and "AWS_SESSION_TOKEN:***" in results["config check"][1]
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
