"""PyMongo's per-command options checked in form, the same for every backend and for a
cursor's modifiers (what each option does per backend: ``backends/command_options.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.expressions import evaluate, parse_expression, valid_variable_name
from lexigram_nosql.query.requests import CommandOptions
from lexigram_nosql.types import (
    BulkOptions,
    InsertOptions,
    ReadOptions,
    SessionOptions,
    TimedOptions,
    UpdateOptions,
    WriteOptions,
)

__all__ = [
    "BULK_OPTIONS",
    "DISTINCT_OPTIONS",
    "INSERT_OPTIONS",
    "READ_OPTIONS",
    "SESSION_OPTIONS",
    "TIMED_OPTIONS",
    "UPDATE_OPTIONS",
    "WRITE_OPTIONS",
    "check_hint",
    "command_options",
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
