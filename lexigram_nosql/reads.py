"""What one observed read did: its plan and how many items it read and returned.

Filled only while an operation observer is registered (``lexigram_nosql.operations``): the
per-operation wrapper makes a ``ReadReport`` current for the operation, backends note their
plan in it, and the base collection counts what it hands back. Unobserved, ``current_report()``
is one context-variable lookup that returns None, and nothing else runs.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

__all__ = ["PlanKind", "ReadReport", "current_report", "done", "reporting"]

PlanKind = Literal["native", "residual", "scan"]
"""``native``: the server answered exactly (a key, an index, a pushed-down filter);
``residual``: the server narrowed the candidates and the engine checked each one;
``scan``: every document of the collection was read."""


class _Counters(Protocol):
    items_read: int


@dataclass(slots=True)
class ReadReport:
    """The plan of the observed operation (``None`` when the backend does not say) and its
    counts: ``items_returned`` is counted by reads that return documents (None for other
    operations); ``items_read`` is None when the server does not tell (MongoDB)."""

    plan: PlanKind | None = None
    index: str | None = None
    items_returned: int | None = None
    _read: int | None = None
    _counters: list[_Counters] = field(default_factory=list)

    def note(
        self,
        plan: PlanKind,
        *,
        index: str | None = None,
        items_read: int | None = None,
        counters: _Counters | None = None,
    ) -> None:
        """Record a plan; ``counters`` is an object whose ``items_read`` the backend keeps
        counting while the read streams (read when the operation ends)."""
        # Several reads in one operation (a $lookup, split queries): the weakest plan wins.
        if self.plan is None or _RANK[plan] > _RANK[self.plan]:
            self.plan, self.index = plan, index
        if items_read is not None:
            self._read = (self._read or 0) + items_read
        if counters is not None:
            self._counters.append(counters)

    @property
    def items_read(self) -> int | None:
        if self._read is None and not self._counters:
            return None
        return (self._read or 0) + sum(c.items_read for c in self._counters)


_RANK: dict[str, int] = {"native": 0, "residual": 1, "scan": 2}

_current: ContextVar[ReadReport | None] = ContextVar("lexigram_nosql_read_report", default=None)


current_report: Final[Callable[[], ReadReport | None]] = _current.get
"""The report of the observed operation running in this context, or None (the context
variable's own ``get``, no Python call: it is read after every ``find_one``)."""


def reporting(report: ReadReport | None) -> Token[ReadReport | None]:
    """Make ``report`` current for the operation's body; undo with ``done(token)``."""
    return _current.set(report)


def done(token: Token[ReadReport | None]) -> None:
    """Restore the report that was current before ``reporting``."""
    _current.reset(token)
