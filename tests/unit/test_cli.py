"""The ``lexigram-nosql`` command: demo, health, config check, exit codes, plugins."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from lexigram_nosql import cli

ROOT = Path(__file__).resolve().parents[2]
DEMO_YAML = ROOT / "config" / "nosql.yaml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "nosql.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable(tmp_path: Path, *, critical: bool) -> str:
    return write(
        tmp_path,
        f"""
        nosql:
          backends:
            - {{name: primary, driver: memory, primary: true}}
            - name: archive
              driver: mongodb
              critical: {str(critical).lower()}
              connect_timeout_s: 1
              health_timeout_s: 1
              mongodb: {{uri: "mongodb://app:hunter22@127.0.0.1:{closed_port()}"}}
        """,
    )


# -- demo ----------------------------------------------------------------------------------------


def test_demo_walks_the_guide(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(DEMO_YAML), "demo"]) == 0
    out = capsys.readouterr().out
    for step in (
        "1. Configuration",
        "primary: memory at memory://primary (primary)",
        "-> primary='primary', analytics='analytics'",
        "UserService(repo: UserRepository) -> repo on store 'primary'",
        "find_by_email('grace@example.com') -> Grace",
        "active admins (FieldEq & FieldEq) -> ['Ada', 'Grace']",
        "users still visible: 2 (soft delete)",
        "Ada    events=3 avg_score=8.00",
        '"status": "pass"',
        "primary: closed, analytics: closed",
    ):
        assert step in out, step


def test_demo_shows_the_sqlite_data_of_the_previous_run(tmp_path: Path) -> None:
    """`make demo` twice: the second run finds the first run's journal entry in the file."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "nosql.yaml").write_text(DEMO_YAML.read_text())
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "lexigram_nosql", "demo"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "no earlier run in this file" in outputs[0]
    assert "recorded run 1; the file now holds 1 run(s)" in outputs[0]
    assert "kept from an earlier run: run 1 at" in outputs[1]
    assert "recorded run 2; the file now holds 2 run(s)" in outputs[1]
    assert (tmp_path / "data" / "lexigram-demo.db").exists()


def test_demo_runs_as_a_module_from_anywhere(tmp_path: Path) -> None:
    """`python -m lexigram_nosql demo` in a directory without config/ uses the built-in
    two-store config."""
    done = subprocess.run(
        [sys.executable, "-m", "lexigram_nosql", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "built-in: two memory stores" in done.stdout
    assert "8. Health" in done.stdout
    assert "apply() again: 0 migration(s) applied" in done.stdout


def test_demo_against_an_unreachable_store_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--config", unreachable(tmp_path, critical=True), "demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Could not connect store 'archive' (mongodb)")
    assert "hunter22" not in err
    assert "Traceback" not in err


# -- health --------------------------------------------------------------------------------------


def test_health_json_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-c", str(DEMO_YAML), "health", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "pass"
    assert set(report["checks"]) == {
        "primary:responseTime",
        "analytics:responseTime",
        "journal:responseTime",
    }


def test_health_fails_with_exit_1_when_a_critical_store_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-c", unreachable(tmp_path, critical=True), "health"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("status: fail")
    assert "archive [mongodb]: fail" in out
    assert "hunter22" not in out


def test_health_warns_with_exit_0_when_a_non_critical_store_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-c", unreachable(tmp_path, critical=False), "health"]) == 0
    assert capsys.readouterr().out.startswith("status: warn")


# -- config check --------------------------------------------------------------------------------


def test_config_check_prints_the_effective_config_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOSQL__EVENTS__DYNAMODB__SECRET_ACCESS_KEY", "s3cr3t-from-env")
    path = write(
        tmp_path,
        """
        nosql:
          backends:
            - name: primary
              driver: mongodb
              primary: true
              mongodb: {uri: "mongodb://app:hunter22@db:27017", database: app}
            - {name: events, driver: dynamodb}
        """,
    )
    assert cli.main(["-c", path, "config", "check", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "hunter22" not in out and "s3cr3t-from-env" not in out
    document = json.loads(out)
    primary, events = document["nosql"]["backends"]
    assert primary["mongodb"]["uri"] == "mongodb://app:***@db:27017"
    assert events["dynamodb"]["secret_access_key"] == "**********"


def test_config_check_yaml_starts_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-c", str(DEMO_YAML), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "# valid: primary (memory), analytics (memory), journal (sqlite); primary: primary"
    )
    assert "cache_ttl_s: 1.0" in out


def test_config_check_of_an_invalid_file_names_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "nosql:\n  backends:\n    - {name: a, driver: mongo}\n")
    assert cli.main(["-c", path, "config", "check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nosql.backends[0].driver: unknown driver 'mongo'" in captured.err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["health", "--format", "xml"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cli.main([])
    assert caught.value.code == 2


# -- plugins -------------------------------------------------------------------------------------


def test_plugins_register_their_subcommands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = types.ModuleType("fake_migrations_cli")

    async def handler(args: argparse.Namespace) -> int:
        settings = cli.settings_from_args(args)
        print(f"migrating {settings.primary.name} to {args.target}")
        return 3

    def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = commands.add_parser("migrate", help="apply migrations")
        parser.add_argument("target")
        parser.set_defaults(handler=handler)

    plugin.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_migrations_cli", plugin)
    monkeypatch.setattr(cli, "PLUGINS", ("lexigram_nosql.not_a_module", "fake_migrations_cli"))
    assert cli.main(["-c", str(DEMO_YAML), "migrate", "v2"]) == 3
    assert capsys.readouterr().out == "migrating primary to v2\n"


def test_a_plugin_that_fails_to_import_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the plugin module itself being absent is skipped; a missing dependency of it is
    an error."""
    (tmp_path / "broken_plugin_cli.py").write_text("import lexigram_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "PLUGINS", ("broken_plugin_cli",))
    with pytest.raises(ModuleNotFoundError, match="lexigram_missing_dependency"):
        cli.build_parser()
