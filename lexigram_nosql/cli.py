"""The ``lexigram-nosql`` command (also ``python -m lexigram_nosql``).

Subcommands: ``demo``, ``health [--format json|text]``, ``config check [--format yaml|json]``,
plus those registered by optional modules listed in ``PLUGINS``: each exposes
``register(subparsers)``, adds its parser(s) and sets ``handler`` with
``parser.set_defaults(handler=fn)``, where ``fn(args)`` returns an exit code or an awaitable of
one. Handlers read the shared ``--config`` option through ``settings_from_args(args)``.

Exit codes: 0 success (health pass or warn), 1 failure (health fail, invalid config, a store
that cannot be reached), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from lexigram_nosql.config.loader import CONFIG_ENV_VAR, load_config
from lexigram_nosql.config.settings import NoSQLSettings
from lexigram_nosql.errors import ConfigurationError, NoSQLError
from lexigram_nosql.redaction import install_log_redaction

__all__ = ["PLUGINS", "build_parser", "main", "settings_from_args"]

PLUGINS: tuple[str, ...] = ("lexigram_nosql.migrations.cli",)
"""Modules that add subcommands when present (``register(subparsers)``)."""


def settings_from_args(args: argparse.Namespace) -> NoSQLSettings:
    """The validated ``nosql`` section named by ``--config`` (or the default file)."""
    return load_config(args.config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lexigram-nosql",
        description="One async document-store layer over MongoDB, DynamoDB, Firestore and "
        "an embedded memory store.",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"YAML file with a nosql: section (default: ${CONFIG_ENV_VAR}, else "
        "config/nosql.yaml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="walk the user guide's flows on the configured stores")
    demo.set_defaults(handler=_demo)

    health = commands.add_parser(
        "health", help="check every store; exit 0 on pass or warn, 1 on fail"
    )
    health.add_argument("--format", choices=("text", "json"), default="text")
    health.set_defaults(handler=_health)

    config = commands.add_parser("config", help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check", help="validate it and print the effective config, secrets redacted"
    )
    check.add_argument("--format", choices=("yaml", "json"), default="yaml")
    check.set_defaults(handler=_config_check)

    for name in PLUGINS:
        try:
            plugin = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        plugin.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # -vv shows drivers' DEBUG logs, credentials included
    try:
        result: Any = args.handler(args)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except NoSQLError as exc:
        # Configuration and connection problems are the user's to fix: say what, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until exit)
        return 141
    return int(result or 0)


async def _await(result: Any) -> Any:
    return await result


def _demo(args: argparse.Namespace) -> Any:
    from lexigram_nosql.demo import run_demo

    return run_demo(args.config)


async def _health(args: argparse.Namespace) -> int:
    from lexigram_nosql.health import HealthService
    from lexigram_nosql.providers import Application

    settings = settings_from_args(args)
    # Every store lazy: one that is down shows in the report instead of stopping the boot.
    settings = load_config(settings, backends=[{"name": n, "lazy": True} for n in settings.names])
    async with Application.boot(config=settings) as app:
        report = await (await app.container.resolve(HealthService)).check()
    if args.format == "json":
        print(report.to_json())
    else:
        print(report.to_text())
    return 1 if report.status == "fail" else 0


def _config_check(args: argparse.Namespace) -> int:
    try:
        settings = settings_from_args(args)
    except ConfigurationError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    document = {"nosql": settings.redacted()}
    if args.format == "json":
        print(json.dumps(document, indent=2))
    else:
        stores = ", ".join(f"{s.name} ({getattr(s, 'driver', '?')})" for s in settings.backends)
        print(f"# valid: {stores}; primary: {settings.primary.name}")
        print(yaml.safe_dump(document, sort_keys=False), end="")
    return 0
