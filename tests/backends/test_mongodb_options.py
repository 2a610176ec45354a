"""Every key of the ``mongodb:`` section reaches the client, checked on the client itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import create_store
from lexigram_nosql.backends.mongodb.client import client_options
from lexigram_nosql.config.mongodb import MongoDBSection
from lexigram_nosql.config.stores import parse_store_settings
from lexigram_nosql.errors import ConfigurationError

EVERY_SETTING: dict[str, Any] = {
    "uri": "mongodb://bob:s3cr3t-pw@127.0.0.1:27117",
    "database": "settings_db",
    "min_pool_size": 2,
    "max_pool_size": 7,
    "server_selection_timeout_ms": 1234,
    "connect_timeout_ms": 2345,
    "socket_timeout_ms": 3456,
    "read_preference": "secondaryPreferred",
    "write_concern": "majority",
    "journal": True,
    "read_concern": "majority",
    "retry_writes": False,
    "retry_reads": False,
    "auth_source": "admin2",
    "tls": False,
    "tls_ca_file": None,  # checked separately: TLS needs tls=True
    "app_name": "settings-test",
}


def observed(client: Any, database: Any) -> dict[str, Any]:
    """What the client actually uses, read back from its options."""
    options = client.options
    pool = options.pool_options
    return {
        "uri": None,
        "database": database.name,
        "min_pool_size": pool.min_pool_size,
        "max_pool_size": pool.max_pool_size,
        "server_selection_timeout_ms": round(options.server_selection_timeout * 1000),
        "connect_timeout_ms": round(pool.connect_timeout * 1000),
        "socket_timeout_ms": round(pool.socket_timeout * 1000),
        "read_preference": client.read_preference.mongos_mode,
        "write_concern": client.write_concern.document.get("w"),
        "journal": client.write_concern.document.get("j"),
        "read_concern": client.read_concern.level,
        "retry_writes": options.retry_writes,
        "retry_reads": options.retry_reads,
        "auth_source": pool._credentials.source,
        "tls": options._options.get("tls"),
        "tls_ca_file": None,
        "app_name": pool.metadata["application"]["name"],
    }


@pytest.fixture(params=["pymongo", "motor"])
async def configured(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A store built with every setting; its client is created but never connected."""
    store: Any = create_store(
        {
            "name": "settings",
            "driver": "mongodb",
            "mongodb": {**EVERY_SETTING, "client": request.param},
        }
    )
    section = store.settings.mongodb
    client = store._client_factory(section.uri, client_options(section))
    try:
        yield store, client
    finally:
        await store._driver.close(client)


def test_the_table_covers_every_setting() -> None:
    assert set(EVERY_SETTING) | {"client"} == set(MongoDBSection.model_fields)


async def test_every_setting_reaches_the_client(configured: Any) -> None:
    store, client = configured
    database = client.get_database(store.settings.mongodb.database)
    expected = {k: (None if k == "uri" else v) for k, v in EVERY_SETTING.items()}
    if store.client_name == "motor":
        assert type(client).__module__.startswith("motor")
    else:
        assert type(client).__name__ == "AsyncMongoClient"
    assert observed(client, database) == expected


async def test_the_client_uses_aware_datetimes_and_standard_uuids(configured: Any) -> None:
    _, client = configured
    assert client.options.codec_options.tz_aware is True
    assert client.options.codec_options.uuid_representation == 4  # STANDARD


def test_tls_ca_file_reaches_the_client_options() -> None:
    section = MongoDBSection(tls=True, tls_ca_file="/etc/ssl/ca.pem")
    assert client_options(section)["tlsCAFile"] == "/etc/ssl/ca.pem"
    assert client_options(section)["tls"] is True


def test_an_option_in_the_uri_wins_over_a_default_but_not_over_a_setting() -> None:
    uri = "mongodb://h/?readPreference=nearest&w=2&appName=from-uri&ssl=true"
    defaults = client_options(MongoDBSection(uri=uri))
    assert "readPreference" not in defaults
    assert "appname" not in defaults
    assert "w" not in defaults
    explicit = client_options(MongoDBSection(uri=uri, read_preference="secondary", tls=False))
    assert explicit["readPreference"] == "secondary"
    assert explicit["tls"] is False


def test_unset_optional_settings_are_not_passed() -> None:
    options = client_options(MongoDBSection())
    for key in ("socketTimeoutMS", "w", "journal", "readConcernLevel", "authSource", "tls"):
        assert key not in options
    assert options["serverSelectionTimeoutMS"] == 5000
    assert options["readPreference"] == "primary"


def test_a_malformed_uri_is_a_configuration_error() -> None:
    entry = {"name": "m", "driver": "mongodb", "mongodb": {"uri": "mongodb://[::1"}}
    with pytest.raises(ConfigurationError) as info:
        parse_store_settings(entry)
    assert info.value.path == "mongodb.uri"
