"""``lexigram-nosql migrate status|up|down``: run an application's migrations on one store.

The migrations come from ``--migrations module:attribute`` (or ``$LEXIGRAM_NOSQL_MIGRATIONS``),
where the attribute is either a ``MigrationManager`` (its migrations are used) or a function
that takes a ``MigrationManager`` and adds them. The store is ``--store NAME`` from the
configuration, the primary one by default. Long data migrations show their progress on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any, TextIO

from lexigram_nosql.backends import create_store
from lexigram_nosql.config.loader import load_config
from lexigram_nosql.errors import ConfigurationError
from lexigram_nosql.migrations.manager import MigrationManager, MigrationStatus
from lexigram_nosql.migrations.operations import MigrationProgress

__all__ = ["MIGRATIONS_ENV_VAR", "load_migrations", "register"]

MIGRATIONS_ENV_VAR = "LEXIGRAM_NOSQL_MIGRATIONS"


def register(subparsers: Any) -> None:
    """Add ``migrate`` to the ``lexigram-nosql`` command."""
    migrate = subparsers.add_parser(
        "migrate", help="apply, roll back or list migrations on a store"
    )
    migrate.add_argument(
        "--migrations",
        metavar="MODULE:ATTR",
        default=os.environ.get(MIGRATIONS_ENV_VAR),
        help="where the migrations are: a MigrationManager, or a function that adds them to "
        f"one (default: ${MIGRATIONS_ENV_VAR})",
    )
    migrate.add_argument("--store", metavar="NAME", help="the store to migrate (default: primary)")
    actions = migrate.add_subparsers(dest="migrate_command", metavar="ACTION", required=True)

    status = actions.add_parser("status", help="list migrations and their state")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(handler=_status)

    up = actions.add_parser("up", help="apply pending migrations")
    up.add_argument("--to", metavar="ID", help="stop after this migration")
    up.add_argument("--dry-run", action="store_true", help="show what would run, change nothing")
    up.add_argument("--force", action="store_true", help="accept changed applied migrations")
    up.set_defaults(handler=_up)

    down = actions.add_parser("down", help="roll back the latest migration (or down to --to)")
    down.add_argument("--to", metavar="ID", help="keep this migration, undo the later ones")
    down.add_argument("--dry-run", action="store_true", help="show what would run, change nothing")
    down.add_argument("--force", action="store_true", help="accept changed applied migrations")
    down.set_defaults(handler=_down)


def load_migrations(spec: str | None, manager: MigrationManager) -> None:
    """Add the migrations named by ``module:attribute`` to ``manager``."""
    if not spec:
        raise ConfigurationError(
            f"Name the migrations with --migrations MODULE:ATTR (or ${MIGRATIONS_ENV_VAR}).",
            path="migrations",
        )
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the application's own modules, as in `python -m`
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"Cannot import the migrations module {module_name!r}: {exc}", path="migrations"
        ) from exc
    target = getattr(module, attribute or "migrations", None)
    if isinstance(target, MigrationManager):
        for migration in target.migrations:
            manager.add(migration.operation, id=migration.id, name=migration.name)
    elif callable(target):
        target(manager)
    else:
        raise ConfigurationError(
            f"{spec!r} must name a MigrationManager or a function taking one, found "
            f"{type(target).__name__}",
            path="migrations",
        )


async def _status(args: argparse.Namespace) -> int:
    async with _manager(args) as manager:
        statuses = await manager.status()
    if args.format == "json":
        print(json.dumps([_as_json(s) for s in statuses], indent=2))
        return 0
    _print_table(statuses, sys.stdout)
    return 0


async def _up(args: argparse.Namespace) -> int:
    async with _manager(args) as manager:
        results = await manager.apply(to=args.to, dry_run=args.dry_run, force=args.force)
    _finish_progress()
    for result in results:
        print(f"{result.action:<16} {result.id}  {result.name}  ({result.duration_s:.3f}s)")
    if not results:
        print("Nothing to apply.")
    return 0


async def _down(args: argparse.Namespace) -> int:
    async with _manager(args) as manager:
        results = await manager.rollback(to=args.to, dry_run=args.dry_run, force=args.force)
    _finish_progress()
    for result in results:
        print(f"{result.action:<16} {result.id}  {result.name}  ({result.duration_s:.3f}s)")
    if not results:
        print("Nothing to roll back.")
    return 0


class _manager:
    """Connect the chosen store, build its manager, disconnect at the end."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._store: Any = None

    async def __aenter__(self) -> MigrationManager:
        settings = load_config(self._args.config)
        entry = settings.store(self._args.store) if self._args.store else settings.primary
        store = create_store(entry)
        manager = MigrationManager(store=store, progress=_show_progress)
        load_migrations(self._args.migrations, manager)  # before connecting: nothing to undo
        await store.connect()
        self._store = store
        return manager

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.disconnect()


_progress_open = False


def _show_progress(event: MigrationProgress, stream: TextIO | None = None) -> None:
    """One line per migration, rewritten in place on a terminal, else a line per batch."""
    global _progress_open
    out = stream or sys.stderr
    percent = 100 * event.done // event.total if event.total else 100
    line = (
        f"{event.migration_id} {event.name}: {event.collection} "
        f"{event.done}/{event.total} ({percent}%)"
    )
    if out.isatty():
        out.write(f"\r\x1b[K{line}")
        _progress_open = True
    else:
        out.write(line + "\n")
    out.flush()


def _finish_progress() -> None:
    global _progress_open
    if _progress_open:
        sys.stderr.write("\n")
        _progress_open = False


def _as_json(status: MigrationStatus) -> dict[str, Any]:
    return {
        "id": status.id,
        "name": status.name,
        "state": status.state,
        "applied_at": status.applied_at.isoformat() if status.applied_at else None,
        "duration_s": status.duration_s,
        "checksum_changed": status.checksum_changed,
        "registered": status.registered,
        "error": status.error,
    }


def _print_table(statuses: list[MigrationStatus], out: TextIO) -> None:
    if not statuses:
        out.write("No migrations.\n")
        return
    width = max(len(s.id) for s in statuses)
    for s in statuses:
        applied = s.applied_at.strftime("%Y-%m-%d %H:%M:%S") if s.applied_at else "-"
        notes = "".join(
            note
            for note, on in (
                ("  [changed since applied]", s.checksum_changed),
                ("  [not registered]", not s.registered),
                (f"  [{s.error}]", s.state == "failed" and bool(s.error)),
            )
            if on
        )
        out.write(f"{s.id:<{width}}  {s.state:<8}  {applied:<19}  {s.name}{notes}\n")
