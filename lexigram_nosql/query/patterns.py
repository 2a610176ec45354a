"""Evaluating ``$regex`` so that no pattern can freeze the process.

Python's ``re`` backtracks without bound: ``(a+)+$`` over 30 characters runs for minutes while
holding the event loop. The engine evaluates patterns with the ``regex`` package instead, in its
``re``-compatible mode (``VERSION0``: the same syntax and matching as ``re``, close to MongoDB's
PCRE, flags ``i``, ``m``, ``s``, ``x`` alike), under a CPU-time budget per evaluation; a
pattern over budget is refused with ``RegexTimeoutError`` naming it.

A pattern without any repetition (``^abc``, ``eve`` with ``i``, ``a|b``) cannot backtrack
more than its own length at each position, so it runs on ``re`` directly: the budget costs a
few microseconds per call, which such patterns, the common ones, are spared.

RE2 (``google-re2``) would be linear-time but not exact (no backreferences or lookaround, a
``$`` that does not match before a final newline as PCRE's does), and its Python binding costs
more per call than the budget. The AST keeps ``re.Pattern`` values (they are what drivers send
to MongoDB); this module maps each to its evaluator once.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import regex

from lexigram_nosql.errors import RegexTimeoutError

__all__ = ["REGEX_BUDGET_S", "regex_test"]

REGEX_BUDGET_S: Final = 0.02
"""CPU seconds one evaluation of one pattern against one value may take. Sane patterns take
microseconds; one that needs more is backtracking catastrophically."""

# re's own parser (private, typed nowhere): its tree says whether a pattern repeats anything.
_sre: Any = importlib.import_module("re._constants")
_sre_parse: Any = importlib.import_module("re._parser")
_REPEATS: Final = frozenset(
    {_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)}
)

# re's flag bits and regex's agree for these; ASCII differs (256 in re, 128 in regex).
_SHARED_FLAGS: Final = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.UNICODE


def regex_test(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """Whether a text contains a match of ``pattern``, within ``REGEX_BUDGET_S``."""
    return _compiled(pattern.pattern, pattern.flags)


@lru_cache(maxsize=1024)
def _compiled(source: str, flags: int) -> Callable[[str], bool]:
    if not _repeats(source, flags):
        plain = re.compile(source, flags).search
        return lambda text: plain(text) is not None
    translated = (flags & _SHARED_FLAGS) | regex.VERSION0
    if flags & re.ASCII:
        translated |= regex.ASCII
    try:
        search = regex.compile(source, translated).search
    except (regex.error, ValueError, TypeError):  # pragma: no cover - re accepted it
        fallback = re.compile(source, flags).search
        return lambda text: fallback(text) is not None

    def test(text: str) -> bool:
        try:
            return search(text, timeout=REGEX_BUDGET_S) is not None
        except TimeoutError:
            shown = source if len(source) <= 80 else source[:77] + "..."
            raise RegexTimeoutError(
                f"$regex {shown!r} took longer than its budget of {REGEX_BUDGET_S * 1000:g} ms "
                f"on a value of {len(text)} characters (catastrophic backtracking); the query "
                "was stopped. Rewrite the pattern without nested repetition.",
                pattern=source,
            ) from None

    return test


def _repeats(source: str, flags: int) -> bool:
    """Whether the pattern repeats anything (``*``, ``+``, ``?``, ``{m,n}``), at any depth;
    True when it cannot be told."""
    try:
        parsed = _sre_parse.parse(source, flags)
    except Exception:  # pragma: no cover - re compiled it already
        return True
    return _has_repeat(parsed)


def _has_repeat(node: object) -> bool:
    if isinstance(node, (_sre_parse.SubPattern, list, tuple)):
        for item in node:
            if isinstance(item, tuple) and len(item) == 2 and item[0] in _REPEATS:
                return True
            if _has_repeat(item):
                return True
    return False
