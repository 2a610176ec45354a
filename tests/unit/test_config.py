"""The ``nosql`` section: loading, layering (explicit > env > YAML > defaults), interpolation,
and one clear, path-naming error per bad configuration."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lexigram_nosql import ConfigurationError, NoSQLSettings, load_config
from lexigram_nosql.config import MongoDBStoreSettings
from lexigram_nosql.config.loader import CONFIG_ENV_VAR

GUIDE_YAML = """
nosql:
  backends:
    - name: primary
      driver: mongodb
      primary: true
      mongodb:
        uri: mongodb://localhost:27017
        database: app
    - name: analytics
      driver: mongodb
      mongodb:
        uri: mongodb://analytics:27017
        database: analytics
"""

TWO_MEMORY = """
nosql:
  backends:
    - {name: primary, driver: memory, primary: true}
    - {name: analytics, driver: memory}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nosql.yaml"
    path.write_text(textwrap.dedent(text))
    return path


# -- loading -------------------------------------------------------------------------------


def test_the_guide_yaml_validates_without_a_server(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, GUIDE_YAML), environ={})
    assert settings.names == ["primary", "analytics"]
    assert settings.primary.name == "primary"
    analytics = settings.store("analytics")
    assert isinstance(analytics, MongoDBStoreSettings)
    assert analytics.mongodb.uri == "mongodb://analytics:27017"
    assert analytics.mongodb.database == "analytics"


def test_the_shipped_demo_config_has_two_memory_stores_and_a_sqlite_one() -> None:
    path = Path(__file__).resolve().parents[2] / "config" / "nosql.yaml"
    settings = load_config(path, environ={})
    assert [(s.name, s.driver) for s in settings.backends] == [  # type: ignore[attr-defined]
        ("primary", "memory"),
        ("analytics", "memory"),
        ("journal", "sqlite"),
    ]


@pytest.mark.parametrize(
    "section",
    [{"driver": "memory"}, {"nosql": {"driver": "memory"}}],
    ids=["section", "whole-config"],
)
def test_single_store_shorthand_is_one_primary_store(section: dict[str, Any]) -> None:
    settings = load_config(section, environ={})
    assert settings.names == ["primary"]
    assert settings.primary.primary is True


def test_shorthand_keeps_section_keys_apart_from_the_store() -> None:
    settings = load_config({"driver": "memory", "lazy": True, "health": {"cache_ttl_s": 3}})
    assert settings.primary.lazy is True
    assert settings.health.cache_ttl_s == 3


def test_a_single_entry_is_the_primary_even_without_the_flag() -> None:
    settings = load_config({"backends": [{"name": "only", "driver": "memory"}]}, environ={})
    assert settings.primary.name == "only"


def test_default_path_comes_from_the_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_MEMORY)
    settings = load_config(environ={CONFIG_ENV_VAR: str(path)})
    assert settings.names == ["primary", "analytics"]


def test_settings_pass_through_unchanged() -> None:
    settings = load_config({"driver": "memory"}, environ={})
    assert load_config(settings) is settings


# -- interpolation -------------------------------------------------------------------------


def test_variables_are_interpolated_with_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        nosql:
          driver: mongodb
          connect_timeout_s: ${TIMEOUT:-3}
          mongodb:
            uri: mongodb://${MONGO_HOST}:27017
            database: ${DB:-fallback}
            app_name: literal-$${NOT_A_VAR}
        """,
    )
    settings = load_config(path, environ={"MONGO_HOST": "db.internal"})
    store = settings.primary
    assert isinstance(store, MongoDBStoreSettings)
    assert store.mongodb.uri == "mongodb://db.internal:27017"
    assert store.mongodb.database == "fallback"
    assert store.mongodb.app_name == "literal-${NOT_A_VAR}"
    assert store.connect_timeout_s == 3


def test_an_empty_variable_takes_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "nosql: {driver: mongodb, mongodb: {database: '${DB:-x}'}}")
    store = load_config(path, environ={"DB": ""}).primary
    assert isinstance(store, MongoDBStoreSettings)
    assert store.mongodb.database == "x"


# -- precedence ----------------------------------------------------------------------------


def test_environment_overrides_yaml_by_store_name(tmp_path: Path) -> None:
    path = write(tmp_path, GUIDE_YAML)
    settings = load_config(
        path,
        environ={
            "NOSQL__ANALYTICS__MONGODB__URI": "mongodb://replica:27018",
            "NOSQL__ANALYTICS__LAZY": "true",
            "NOSQL__HEALTH__CACHE_TTL_S": "7.5",
        },
    )
    analytics = settings.store("analytics")
    assert isinstance(analytics, MongoDBStoreSettings)
    assert analytics.mongodb.uri == "mongodb://replica:27018"
    assert analytics.mongodb.database == "analytics"  # the rest of the section stays
    assert analytics.lazy is True
    assert settings.store("primary").lazy is False
    assert settings.health.cache_ttl_s == 7.5


def test_environment_store_names_ignore_case_and_dashes() -> None:
    section = {"backends": [{"name": "audit-log", "driver": "memory"}]}
    settings = load_config(section, environ={"NOSQL__AUDIT_LOG__LAZY": "1"})
    assert settings.primary.lazy is True


def test_environment_values_may_be_json(tmp_path: Path) -> None:
    section = {"driver": "dynamodb"}
    settings = load_config(
        section,
        environ={"NOSQL__PRIMARY__DYNAMODB__COLLECTIONS": '{"users": {"partition_key": "id"}}'},
    )
    assert settings.primary.dynamodb.collections["users"].partition_key == "id"  # type: ignore[attr-defined]


def test_explicit_arguments_win_over_environment_and_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, GUIDE_YAML)
    settings = load_config(
        path,
        environ={"NOSQL__ANALYTICS__MONGODB__DATABASE": "from_env"},
        backends=[{"name": "analytics", "mongodb": {"database": "explicit"}}],
    )
    analytics = settings.store("analytics")
    assert isinstance(analytics, MongoDBStoreSettings)
    assert analytics.mongodb.database == "explicit"
    assert analytics.mongodb.uri == "mongodb://analytics:27017"  # merged, not replaced
    assert settings.names == ["primary", "analytics"]


def test_defaults_fill_what_no_layer_sets() -> None:
    settings = load_config({"driver": "memory"}, environ={})
    assert settings.primary.connect_timeout_s == 10.0
    assert settings.primary.critical is True
    assert settings.health.cache_ttl_s == 1.0


def test_constructing_settings_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOSQL__PRIMARY__CRITICAL", "false")
    settings = NoSQLSettings(backends=[{"name": "primary", "driver": "memory"}])
    assert settings.primary.critical is False


# -- secrets -------------------------------------------------------------------------------


def test_reprs_and_redacted_dump_hide_passwords_and_keys() -> None:
    settings = load_config(
        {
            "backends": [
                {
                    "name": "primary",
                    "driver": "mongodb",
                    "primary": True,
                    "mongodb": {"uri": "mongodb://app:hunter22@db:27017/?authSource=admin"},
                },
                {
                    "name": "events",
                    "driver": "dynamodb",
                    "dynamodb": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t!"},
                },
            ]
        },
        environ={},
    )
    shown = repr(settings) + str(settings.backends) + repr(settings.backends[0])
    dumped = str(settings.redacted())
    for text in (shown, dumped):
        assert "hunter22" not in text
        assert "s3cr3t!" not in text
    assert "mongodb://app:***@db:27017" in dumped
    assert "AKIAEXAMPLE" not in dumped


@pytest.mark.parametrize(
    ("mongodb", "database"),
    [
        ({"uri": "mongodb://h:27017/urldb?replicaSet=rs"}, "urldb"),
        ({"uri": "mongodb+srv://u:p@cluster.example/orders%2Dx"}, "orders-x"),
        ({"uri": "mongodb://h:27017/urldb", "database": "explicit"}, "explicit"),
        ({"uri": "mongodb://h:27017/"}, "app"),
        ({"uri": "mongodb://h:27017"}, "app"),
    ],
)
def test_the_database_comes_from_the_uri_path_when_not_set(
    mongodb: dict[str, str], database: str
) -> None:
    settings = load_config({"backends": [{"driver": "mongodb", "mongodb": mongodb}]}, environ={})
    assert settings.backends[0].mongodb.database == database  # type: ignore[attr-defined]
    assert f"/{database}" in settings.backends[0].address()


def test_a_replica_set_uri_may_list_hosts_without_ports() -> None:
    uri = "mongodb://a.example,b.example:27018,[::1]/db?replicaSet=rs"
    settings = load_config({"backends": [{"driver": "mongodb", "mongodb": {"uri": uri}}]})
    assert settings.backends[0].address() == uri


def test_errors_hide_uri_passwords() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(
            {"driver": "mongodb", "mongodb": {"uri": "mongodb://u:hunter22@db:99999"}},
            environ={},
        )
    assert "hunter22" not in str(caught.value)
    assert caught.value.path == "nosql.backends[0].mongodb.uri"


# -- the bad-config matrix -----------------------------------------------------------------

ONE = "nosql:\n  backends:\n    - {name: primary, driver: memory}\n"
BAD: list[tuple[str, str, dict[str, str], str, str]] = [
    # id, yaml, environ, error path, words the message must contain
    (
        "typo-in-section",
        "nosql:\n  backend:\n    - {driver: memory}\n",
        {},
        "nosql.backend",
        "did you mean 'backends'",
    ),
    (
        "typo-in-entry",
        "nosql:\n  backends:\n    - {name: a, driver: memory, primay: true}\n",
        {},
        "nosql.backends[0].primay",
        "did you mean 'primary'",
    ),
    (
        "typo-in-driver-section",
        GUIDE_YAML.replace("uri: mongodb://analytics", "urii: mongodb://analytics"),
        {},
        "nosql.backends[1].mongodb.urii",
        "did you mean 'uri'",
    ),
    (
        "unknown-driver",
        "nosql:\n  backends:\n    - {name: a, driver: mongo}\n",
        {},
        "nosql.backends[0].driver",
        "unknown driver 'mongo'; expected one of: memory, mongodb, dynamodb, firestore",
    ),
    (
        "missing-driver",
        "nosql:\n  backends:\n    - {name: a}\n",
        {},
        "nosql.backends[0].driver",
        "missing key 'driver'",
    ),
    (
        "duplicate-names",
        "nosql:\n  backends:\n    - {name: a, driver: memory, primary: true}\n"
        "    - {name: b, driver: memory}\n    - {name: a, driver: memory}\n",
        {},
        "nosql.backends[2].name",
        "duplicate store name 'a' (already used by nosql.backends[0])",
    ),
    (
        "names-equal-for-env",
        "nosql:\n  backends:\n    - {name: audit-log, driver: memory, primary: true}\n"
        "    - {name: Audit_Log, driver: memory}\n",
        {},
        "nosql.backends[1].name",
        "duplicate store name",
    ),
    (
        "no-primary",
        "nosql:\n  backends:\n    - {name: a, driver: memory}\n    - {name: b, driver: memory}\n",
        {},
        "nosql.backends",
        "no store is marked primary among a, b",
    ),
    (
        "two-primaries",
        "nosql:\n  backends:\n    - {name: a, driver: memory, primary: true}\n"
        "    - {name: b, driver: memory, primary: true}\n",
        {},
        "nosql.backends",
        "several stores are marked primary (a, b)",
    ),
    (
        "mongodb-uri-scheme",
        GUIDE_YAML.replace("mongodb://analytics:27017", "http://analytics:27017"),
        {},
        "nosql.backends[1].mongodb.uri",
        "must start with mongodb:// or mongodb+srv://",
    ),
    (
        "mongodb-uri-port",
        GUIDE_YAML.replace("mongodb://analytics:27017", "mongodb://analytics:port"),
        {},
        "nosql.backends[1].mongodb.uri",
        "bad host 'analytics:port'",
    ),
    (
        "mongodb-uri-no-host",
        GUIDE_YAML.replace("mongodb://analytics:27017", "mongodb://"),
        {},
        "nosql.backends[1].mongodb.uri",
        "no host",
    ),
    (
        "srv-with-port",
        GUIDE_YAML.replace("mongodb://analytics:27017", "mongodb+srv://cluster.example:27017"),
        {},
        "nosql.backends[1].mongodb.uri",
        "takes one host and no port",
    ),
    (
        "dynamodb-endpoint",
        "nosql:\n  driver: dynamodb\n  dynamodb: {endpoint_url: 'localhost:8000'}\n",
        {},
        "nosql.backends[0].dynamodb.endpoint_url",
        "expected http(s)://host[:port]",
    ),
    (
        "dynamodb-endpoint-port",
        "nosql:\n  driver: dynamodb\n  dynamodb: {endpoint_url: 'http://localhost:99999'}\n",
        {},
        "nosql.backends[0].dynamodb.endpoint_url",
        "Port out of range",
    ),
    (
        "firestore-emulator-host",
        "nosql:\n  driver: firestore\n  firestore: {emulator_host: 'http://localhost:8080'}\n",
        {},
        "nosql.backends[0].firestore.emulator_host",
        "expected host:port",
    ),
    (
        "negative-timeout",
        "nosql:\n  driver: memory\n  connect_timeout_s: -1\n",
        {},
        "nosql.backends[0].connect_timeout_s",
        "greater than 0",
    ),
    (
        "not-a-boolean",
        "nosql:\n  driver: memory\n  lazy: maybe\n",
        {},
        "nosql.backends[0].lazy",
        "valid boolean",
    ),
    (
        "bad-store-name",
        "nosql:\n  backends:\n    - {name: 'my store', driver: memory}\n",
        {},
        "nosql.backends[0].name",
        "should match pattern",
    ),
    (
        "bad-choice",
        "nosql:\n  driver: mongodb\n  mongodb: {client: mongoengine}\n",
        {},
        "nosql.backends[0].mongodb.client",
        "'pymongo' or 'motor'",
    ),
    (
        "empty-backends",
        "nosql:\n  backends: []\n",
        {},
        "nosql.backends",
        "no stores configured",
    ),
    (
        "backends-not-a-list",
        "nosql:\n  backends: primary\n",
        {},
        "nosql.backends",
        "expected a list of store entries",
    ),
    (
        "entry-not-a-mapping",
        "nosql:\n  backends:\n    - memory\n",
        {},
        "nosql.backends[0]",
        "expected a mapping",
    ),
    (
        "section-not-a-mapping",
        "nosql: memory\n",
        {},
        "nosql",
        "expected a mapping",
    ),
    ("no-section", "database: {driver: memory}\n", {}, "nosql", "no `nosql:` section"),
    (
        "bad-health",
        ONE + "  health: {cache_ttl_s: -1}\n",
        {},
        "nosql.health.cache_ttl_s",
        "greater than or equal to 0",
    ),
    (
        "dynamodb-key-type",
        "nosql:\n  driver: dynamodb\n  dynamodb:\n    collections:\n"
        "      users: {partition_key: id, partition_key_type: X}\n",
        {},
        "nosql.backends[0].dynamodb.collections.users.partition_key_type",
        "'S', 'N' or 'B'",
    ),
    (
        "missing-variable",
        "nosql:\n  driver: mongodb\n  mongodb: {uri: '${MONGO_URI}'}\n",
        {},
        "nosql.mongodb.uri",
        "environment variable MONGO_URI is not set",
    ),
    (
        "env-unknown-store",
        ONE,
        {"NOSQL__ANALYTICS__LAZY": "true"},
        "nosql.backends.analytics",
        "NOSQL__ANALYTICS__LAZY addresses store 'analytics', which is not configured; "
        "configured stores: primary",
    ),
    (
        "env-unknown-key",
        ONE,
        {"NOSQL__PRIMARY__LAZZY": "true"},
        "nosql.backends[0].lazzy",
        "(set by environment variable NOSQL__PRIMARY__LAZZY)",
    ),
    (
        "env-bad-value",
        ONE,
        {"NOSQL__PRIMARY__HEALTH_TIMEOUT_S": "soon"},
        "nosql.backends[0].health_timeout_s",
        "NOSQL__PRIMARY__HEALTH_TIMEOUT_S",
    ),
    (
        "env-too-short",
        ONE,
        {"NOSQL__LAZY": "true"},
        "nosql",
        "NOSQL__LAZY does not name a key",
    ),
    (
        "yaml-syntax",
        "nosql:\n  backends: [\n",
        {},
        "nosql",
        "Invalid YAML",
    ),
    (
        "yaml-duplicate-key",
        "nosql:\n  driver: memory\n  driver: mongodb\n",
        {},
        "nosql",
        "key 'driver' is written twice",
    ),
]


@pytest.mark.parametrize(
    ("text", "environ", "path", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_config_gives_one_clear_error(
    tmp_path: Path, text: str, environ: dict[str, str], path: str, words: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_config(config, environ=environ)
    error = caught.value
    assert error.path == path
    assert words in str(error)
    assert "\n" not in str(error), "one problem, one line"
    assert str(config) in str(error), "the message names the file"


def test_bad_config_matrix_is_large_enough() -> None:
    assert len(BAD) >= 20


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(ConfigurationError, match=r"Cannot read configuration file .*absent\.yaml"):
        load_config(missing)


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aioboto3", None)  # as if the extra were not installed
    with pytest.raises(ConfigurationError) as caught:
        load_config({"driver": "dynamodb"}, environ={})
    assert caught.value.path == "nosql.backends[0].driver"
    assert "pip install 'lexigram-nosql[dynamodb]'" in str(caught.value)


def test_motor_client_needs_motor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "motor", None)
    load_config({"driver": "mongodb"}, environ={})  # pymongo client: fine
    with pytest.raises(ConfigurationError, match=r"'motor' is not installed"):
        load_config({"driver": "mongodb", "mongodb": {"client": "motor"}}, environ={})


def test_several_problems_are_listed_one_per_line() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config({"driver": "memory", "lazy": "maybe", "connect_timeout_s": 0}, environ={})
    lines = str(caught.value).splitlines()
    assert lines[0] == "Invalid configuration (2 problems):"
    assert any("nosql.backends[0].lazy" in line for line in lines)
    assert any("nosql.backends[0].connect_timeout_s" in line for line in lines)


@pytest.mark.parametrize(
    "uri",
    ["mongodb://localhost", "mongodb://app:pw@db-1,db-2:27018/?replicaSet=rs0", "mongodb://[::1]"],
)
def test_mongodb_hosts_without_a_port_are_valid(uri: str) -> None:
    """A host without ``:port`` means MongoDB's default port, as in MongoDB's URI format."""
    settings = load_config({"nosql": {"driver": "mongodb", "mongodb": {"uri": uri}}}, environ={})
    assert settings.primary.name == "primary"


@pytest.mark.parametrize("driver", ["memory", "sqlite", "mongodb", "dynamodb", "firestore"])
def test_conflict_retries_is_a_store_key_of_every_driver(driver: str) -> None:
    section = {"driver": driver, "conflict_retries": 0}
    assert load_config(section, environ={}).primary.conflict_retries == 0
    environ = {"NOSQL__PRIMARY__CONFLICT_RETRIES": "3"}
    assert load_config({"driver": driver}, environ=environ).primary.conflict_retries == 3
    assert load_config({"driver": driver}, environ={}).primary.conflict_retries == 8
    with pytest.raises(ConfigurationError) as info:
        load_config({"driver": driver, "conflict_retries": -1}, environ={})
    assert info.value.path == "nosql.backends[0].conflict_retries"


def test_dynamodb_conflict_retries_is_a_deprecated_alias() -> None:
    with pytest.warns(DeprecationWarning, match="the store key conflict_retries"):
        settings = load_config({"driver": "dynamodb", "dynamodb": {"conflict_retries": 2}})
    assert settings.primary.conflict_retries == 2
    environ = {"NOSQL__PRIMARY__DYNAMODB__CONFLICT_RETRIES": "4"}
    with pytest.warns(DeprecationWarning):
        settings = load_config({"driver": "dynamodb"}, environ=environ)
    assert settings.primary.conflict_retries == 4
    with pytest.warns(DeprecationWarning):  # the same value twice is no conflict
        load_config(
            {"driver": "dynamodb", "conflict_retries": 2, "dynamodb": {"conflict_retries": 2}}
        )
    with pytest.raises(ConfigurationError, match="keep only conflict_retries"):
        load_config(
            {"driver": "dynamodb", "conflict_retries": 1, "dynamodb": {"conflict_retries": 2}}
        )
