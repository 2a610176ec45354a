"""The containers of the applications booted in this process: the one ambient handle, for the
one lookup that starts from nothing but a name.

The guide writes ``MigrationManager(db_name="myapp")`` with no container in reach (at module
level, in a script), so that manager must find a booted application by itself; everything it
then needs (the stores) it resolves through that application's container, which stays the
only place that knows them. Everything else is injected and never looks here.

``Application.boot`` marks its container booted while its body runs and unmarks it at
shutdown, before any store closes. A lookup sees first the container of the application whose
body it runs in (a context variable, inherited by the tasks that body starts, so two
applications in one process each find their own), then every other booted container, for code
the application did not start: a web framework's request tasks, a thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lexigram_nosql.di.container import Container

__all__ = ["booted", "booted_containers", "current_container"]

_lock = threading.Lock()
_booted: list[Container] = []
_current: ContextVar[Container | None] = ContextVar("lexigram_nosql_booted", default=None)


@contextlib.contextmanager
def booted(container: Container) -> Iterator[None]:
    """Mark ``container`` as the container of a booted application while the block runs."""
    with _lock:
        _booted.append(container)
    token = _current.set(container)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # exited in another context: it ends anyway
            _current.reset(token)
        with _lock:
            _booted.remove(container)


def current_container() -> Container | None:
    """The container of the booted application whose body this code runs in, if any."""
    current = _current.get()
    with _lock:
        return current if current is not None and current in _booted else None


def booted_containers() -> list[Container]:
    """Every booted application's container, in boot order."""
    with _lock:
        return list(_booted)
