"""PyMongo's per-command options checked in form, the same for every backend and for a
cursor's modifiers (what each option does per backend: ``backends/command_options.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.expressions import evaluate, parse_expression, valid_variable_name
from lexigram_nosql.query.requests import CommandOptions, CursorOptions
from lexigram_nosql.types import (
    BulkOptions,
    FindOptions,
    InsertOptions,
    ReadOptions,
    SessionOptions,
    TimedOptions,
    UpdateOptions,
    WriteOptions,
)

__all__ = [
    "BULK_OPTIONS",
    "CURSOR_OPTIONS",
    "CURSOR_TYPES",
    "DISTINCT_OPTIONS",
    "FIND_OPTIONS",
    "INSERT_OPTIONS",
    "READ_OPTIONS",
    "SESSION_OPTIONS",
    "TIMED_OPTIONS",
    "UPDATE_OPTIONS",
    "WRITE_OPTIONS",
    "check_hint",
    "command_options",
    "cursor_options",
    "is_simple_collation",
    "variables",
]

SESSION_OPTIONS: Final = frozenset(SessionOptions.__optional_keys__)
TIMED_OPTIONS: Final = frozenset(TimedOptions.__optional_keys__)
WRITE_OPTIONS: Final = frozenset(WriteOptions.__optional_keys__)
READ_OPTIONS: Final = frozenset(ReadOptions.__optional_keys__)
INSERT_OPTIONS: Final = frozenset(InsertOptions.__optional_keys__)
UPDATE_OPTIONS: Final = frozenset(UpdateOptions.__optional_keys__)
BULK_OPTIONS: Final = frozenset(BulkOptions.__optional_keys__)
DISTINCT_OPTIONS: Final = READ_OPTIONS - {"let"}  # MongoDB's distinct takes no variables
FIND_OPTIONS: Final = frozenset(FindOptions.__optional_keys__)
CURSOR_OPTIONS: Final = FIND_OPTIONS - READ_OPTIONS
"""``find``'s cursor options (``CursorOptions``), besides the per-command ones."""

CURSOR_TYPES: Final = {0: "NON_TAILABLE", 2: "TAILABLE", 34: "TAILABLE_AWAIT", 64: "EXHAUST"}
"""PyMongo's ``CursorType`` values, by name."""

_FLAGS: Final = ("no_cursor_timeout", "allow_partial_results", "oplog_replay")
_OPTIONAL_FLAGS: Final = ("return_key", "show_record_id", "snapshot")


def command_options(
    method: str, given: Mapping[str, Any], accepted: frozenset[str] = READ_OPTIONS
) -> CommandOptions | None:
    """Check the options ``given`` to ``method``; None when none is set. A name the method
    does not take is a ``TypeError``, as Python's own for an unexpected keyword."""
    for name in given:
        if name not in accepted:
            raise TypeError(f"{method}() got an unexpected keyword argument {name!r}")
    let = given.get("let")
    if let is not None:
        variables(method, let)  # checked here, evaluated again where bound
    hint = given.get("hint")
    if hint is not None:
        check_hint(method, hint)
    collation = given.get("collation")
    if collation is not None:
        collation = _collation(method, collation)
    max_time_ms = _max_time_ms(method, given.get("max_time_ms"), given.get("maxTimeMS"))
    bypass = given.get("bypass_document_validation")
    if bypass is not None and not isinstance(bypass, bool):
        raise InvalidQueryError(
            f"{method}: bypass_document_validation must be True or False, got {bypass!r}",
            operator="bypass_document_validation",
        )
    options = CommandOptions(
        given.get("comment"), hint, collation, max_time_ms, given.get("session"), let, bypass
    )
    return None if options == _NONE else options


_NONE: Final = CommandOptions()


def cursor_options(
    method: str, given: Mapping[str, Any], current: CursorOptions | None = None
) -> CursorOptions | None:
    """Check the cursor options ``given`` (over ``current``, a cursor's modifiers); None when
    all are PyMongo's defaults. Checked in form as PyMongo checks them, on every backend."""
    for name in _FLAGS:
        if name in given and not isinstance(given[name], bool):
            raise InvalidQueryError(
                f"{method}: {name} must be True or False, got {given[name]!r}", operator=name
            )
    for name in _OPTIONAL_FLAGS:
        value = given.get(name)
        if value is not None and not isinstance(value, bool):
            raise InvalidQueryError(
                f"{method}: {name} must be True, False or None, got {value!r}", operator=name
            )
    if "cursor_type" in given and (
        isinstance(given["cursor_type"], bool) or given["cursor_type"] not in CURSOR_TYPES
    ):
        raise InvalidQueryError(
            f"{method}: cursor_type must be one of PyMongo's CursorType values "
            f"({', '.join(f'{v} ({k})' for k, v in CURSOR_TYPES.items())}), got "
            f"{given['cursor_type']!r}",
            operator="cursor_type",
        )
    max_scan = given.get("max_scan")
    if max_scan is not None and (
        isinstance(max_scan, bool) or not isinstance(max_scan, int) or max_scan < 0
    ):
        raise InvalidQueryError(
            f"{method}: max_scan must be a non-negative integer, got {max_scan!r}",
            operator="max_scan",
        )
    changes = {name: value for name, value in given.items() if name in CURSOR_OPTIONS}
    for bound in ("min", "max"):
        if changes.get(bound) is not None:
            changes[bound] = _index_bound(method, bound, changes[bound])
    if changes.get("max_scan") == 0:
        changes["max_scan"] = None  # PyMongo sends no maxScan for 0
    options = (current or _DEFAULT_CURSOR)._replace(**changes)
    return None if options == _DEFAULT_CURSOR else options


_DEFAULT_CURSOR: Final = CursorOptions()


def _index_bound(method: str, name: str, spec: Any) -> dict[str, Any]:
    """``min``/``max``: index keys and their bound, as pairs or a document (PyMongo's
    modifiers take pairs, its ``find`` sends what it is given)."""
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, (list, tuple)):
        pairs = list(spec)
    else:
        pairs = []
    if not pairs or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)
        for pair in pairs
    ):
        raise InvalidQueryError(
            f"{method}: {name} must be an index's fields with their bound ([('field', value)] "
            f"or {{'field': value}}), got {spec!r}",
            operator=name,
        )
    return {field: value for field, value in pairs}


def variables(method: str, let: Any) -> dict[str, Any]:
    """The values of ``let``'s variables: each an expression evaluated once, with no
    document (constants, ``$$NOW``, ``{"$add": [1, 2]}``...), as MongoDB evaluates them."""
    if not isinstance(let, Mapping):
        raise InvalidQueryError(
            f"{method}: let must be a document of variables, got {let!r}", operator="let"
        )
    values: dict[str, Any] = {}
    for name, expression in let.items():
        if not isinstance(name, str) or not valid_variable_name(name):
            raise InvalidQueryError(
                f"{method}: let variable name {name!r} is not valid (it starts with a "
                "lowercase letter or _, then letters, digits or _)",
                operator="let",
                path=str(name),
            )
        values[name] = evaluate(parse_expression(expression), {})
    return values


def check_hint(method: str, hint: Any) -> None:
    """Refuse a ``hint`` that is neither an index name nor an index's keys."""
    if not _is_hint(hint):
        raise InvalidQueryError(
            f"{method}: hint must be an index name or its keys ([('field', 1)] or "
            f"{{'field': 1}}), got {hint!r}",
            operator="hint",
        )


def is_simple_collation(collation: Mapping[str, Any] | None) -> bool:
    """Binary comparison, what every backend but MongoDB does (``{"locale": "simple"}``)."""
    return collation is None or dict(collation) == {"locale": "simple"}


def _collation(method: str, collation: Any) -> Mapping[str, Any]:
    document = getattr(collation, "document", collation)  # pymongo.collation.Collation
    if not isinstance(document, Mapping) or not isinstance(document.get("locale"), str):
        raise InvalidQueryError(
            f"{method}: collation must be a document with a 'locale' (e.g. "
            f"{{'locale': 'en', 'strength': 2}}), got {collation!r}",
            operator="collation",
        )
    return document


def _max_time_ms(method: str, snake: Any, pymongo: Any) -> int | None:
    if snake is not None and pymongo is not None:
        raise InvalidQueryError(
            f"{method}: give max_time_ms or maxTimeMS, not both", operator="maxTimeMS"
        )
    value = pymongo if snake is None else snake
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQueryError(
            f"{method}: max_time_ms must be a non-negative integer of milliseconds (0: no "
            f"limit), got {value!r}",
            operator="max_time_ms",
        )
    return value or None


def _is_hint(hint: Any) -> bool:
    """An index name, or the index's keys as PyMongo takes them (pairs or a mapping)."""
    if isinstance(hint, str):
        return bool(hint)
    if isinstance(hint, Mapping):
        pairs = list(hint.items())
    elif isinstance(hint, (list, tuple)):
        pairs = list(hint)
    else:
        return False
    return bool(pairs) and all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], (int, str))
        for pair in pairs
    )
