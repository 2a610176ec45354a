"""Parsing update documents: what MongoDB checks before touching data.

Known operators, operand types (values pass the value model, ``check_document``), paths
(positional ones through ``query.positional``), and that no two paths of one update overlap
(``a`` and ``a.b``), which would make the result depend on the order of operators. A document
without operators is refused as an update, and operators are refused in a replacement, as
PyMongo does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.ast import (
    FieldUpdate,
    FilterNode,
    OperatorUpdate,
    PipelineUpdate,
    PullCondition,
    PushSpec,
    ReplacementUpdate,
    UpdateOp,
)
from lexigram_nosql.query.filter import parse_element_filter
from lexigram_nosql.query.paths import PLAIN_PATHS, check_path
from lexigram_nosql.query.positional import (
    check_identifiers,
    check_update_path,
    parse_array_filters,
)
from lexigram_nosql.query.update_pipeline import parse_pipeline_update
from lexigram_nosql.query.values import (
    bson_class,
    check_document,
    check_nesting,
    is_number,
    to_python_number,
)
from lexigram_nosql.records import builder
from lexigram_nosql.types import Document, UpdateDocument

__all__ = [
    "check_conflicts",
    "check_new_document",
    "id_first",
    "overlap",
    "parse_replacement",
    "parse_update",
    "processing_order",
]

_PUSH_MODIFIERS: Final = frozenset({"$each", "$position", "$slice", "$sort"})
# Operators that may name _id: only to set it to the value it already has (checked on apply).
_ID_SETTABLE: Final = frozenset({UpdateOp.SET, UpdateOp.SET_ON_INSERT, UpdateOp.MIN, UpdateOp.MAX})
# Operators whose operand is a stored value (``check_document`` checks it whole).
_STORED: Final = _ID_SETTABLE
# Operand types nothing can nest in.
_FLAT: Final = frozenset({int, float, str, bool, type(None)})
# Operands stored as they are (``check_document`` returns them unchanged; not int: 64 bits).
_STORED_AS_IS: Final = frozenset({float, str, bool, type(None)})
_NUMBERS: Final = frozenset({int, float})
_field_update: Final = builder(FieldUpdate)
_operator_update: Final = builder(OperatorUpdate)


def parse_update(
    update: UpdateDocument,
    *,
    array_filters: Sequence[Mapping[str, Any]] | None = None,
    method: str = "update_one",
    query: FilterNode | None = None,
) -> OperatorUpdate | PipelineUpdate:
    """Validate an update: operators (``OperatorUpdate``) or a pipeline (``PipelineUpdate``).

    ``query``, the update's filter, is attached with the raw array filters when a path is
    positional or ``array_filters`` are given (the positional ``$`` needs the filter to find
    the matched element, and servers that evaluate array filters take them as given).

    Raises ``InvalidQueryError`` naming the operator and path: a document without operators
    (PyMongo's "update only works with $ operators"), unknown operators, wrong operand types,
    two paths that overlap, operators mixed with fields, array filters that do not fit.
    """
    if type(update) is not dict:
        if isinstance(update, (list, tuple)):
            if array_filters is not None:
                raise InvalidQueryError(
                    f"{method}: array_filters cannot be used with a pipeline-style update",
                    operator="arrayFilters",
                )
            return parse_pipeline_update(update)
        if not isinstance(update, Mapping):
            raise InvalidQueryError(
                f"{method} needs an update document or pipeline, got {type(update).__name__}"
            )
    if not update:
        raise InvalidQueryError(
            f"{method}: the update must not be empty; use $set to change fields"
        )
    if len(update) > 1:  # plain fields are refused first, wherever they are
        for name in update:
            if name not in _OPERATORS:
                _refuse_plain_fields(update, method)
                break
    parsed: list[FieldUpdate] = []
    positional = dollar_top_level = False
    for name in update:  # keys, then the value: cheaper than items() and its pairs
        fields_spec = update[name]
        entry = _OPERATORS.get(name)
        if entry is None:
            _refuse_plain_fields(update, method)
            raise InvalidQueryError(f"Unknown update operator {name!r}", operator=name)
        op, parse_operand = entry
        if type(fields_spec) is not dict and not isinstance(fields_spec, Mapping):
            check_nesting(fields_spec, where="the update", depth=2)  # before its repr
            raise InvalidQueryError(
                f"{name} needs a document of field paths, got {fields_spec!r}", operator=name
            )
        for path in fields_spec:
            operand = fields_spec[path]
            if type(path) is not str or path not in PLAIN_PATHS:  # else checked before, plain
                if check_update_path(path, name):
                    positional = True
                if path[0] == "$" and op is not UpdateOp.UNSET:
                    dollar_top_level = True
            if path[:3] == "_id" and (path == "_id" or path[3] == ".") and op not in _ID_SETTABLE:
                raise InvalidQueryError(
                    f"{name} on {path!r} would modify the immutable field '_id'",
                    path=path,
                    operator=name,
                )
            if type(operand) not in _FLAT and op not in _STORED:
                # Not a stored value (``check_document`` bounds those): bound the nesting
                # before a parser recurses into it or an error message shows it. The update
                # and its operator's field document are the first two levels.
                check_nesting(operand, where="the update", depth=3)
            parsed.append(_field_update(op, path, parse_operand(name, path, operand)))
    if len(parsed) > 1:  # one field has nothing to conflict with ($rename checks its target)
        check_conflicts(parsed)
        parsed.sort(key=processing_order)
    if array_filters is None:
        filters: tuple[tuple[str, FilterNode], ...] = ()
        bound = positional and query is not None
    else:
        filters = parse_array_filters(array_filters)
        bound = (positional or bool(array_filters)) and query is not None
    result = _operator_update(
        tuple(parsed),
        positional,
        filters,
        query if bound else None,
        tuple(array_filters or ()) if bound else (),
        dollar_top_level,
    )
    if positional or result.array_filters:
        check_identifiers(result, update)
    return result


@functools.cmp_to_key
def processing_order(a: FieldUpdate, b: FieldUpdate) -> int:
    """MongoDB 5.0+'s order of applying an update's fields, whatever their operator:
    segment by segment, names in string order, numeric names (array indexes) in numeric
    order (``a.2`` before ``a.10``). It decides the order of the fields an update creates."""
    for x, y in zip(a.path.split("."), b.path.split("."), strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit() and x.isascii() and y.isascii():
            return -1 if (len(x), x) < (len(y), y) else 1
        return -1 if x < y else 1
    return len(a.path) - len(b.path)


def _refuse_plain_fields(update: Mapping[Any, Any], method: str) -> None:
    """Refuse an update holding plain fields (not ``$``-prefixed): all of them (PyMongo's
    "update only works with $ operators") or some, mixed with operators."""
    dollar = [isinstance(key, str) and key.startswith("$") for key in update]
    if not any(dollar):
        first = next(iter(update))
        raise InvalidQueryError(
            f"{method} needs update operators, but {first!r} is a plain field (the whole "
            "document would be replaced): use replace_one to replace a document, or $set to "
            "change fields",
            path=str(first),
            operator=method,
        )
    if not all(dollar):
        fields = [key for key, d in zip(update, dollar, strict=True) if not d]
        raise InvalidQueryError(
            f"An update mixes operators with plain fields {fields!r}; put fields under $set",
            path=str(fields[0]),
        )


def parse_replacement(document: Document, *, method: str = "replace_one") -> ReplacementUpdate:
    """Validate a replacement document: no ``$``-prefixed top-level field (MongoDB reads those
    as operators); nested ``$``-prefixed and dotted field names are stored as they are."""
    if isinstance(document, (list, tuple)):
        raise InvalidQueryError(
            f"{method} takes a replacement document, not a pipeline; use update_one for "
            "pipeline-style updates",
            operator=method,
        )
    if not isinstance(document, Mapping):
        raise InvalidQueryError(f"A replacement must be a document, got {type(document).__name__}")
    for name in document:
        if isinstance(name, str) and name.startswith("$"):
            if name in _OPERATORS:
                raise InvalidQueryError(
                    f"{method} takes a replacement document, not update operators ({name}); "
                    "use update_one to apply operators",
                    path=name,
                    operator=name,
                )
            raise InvalidQueryError(
                f"The dollar ($) prefixed field {name!r} is not allowed at the top level of a "
                "replacement document (MongoDB reads it as an operator); insert it, or "
                "replace with a pipeline update using $replaceWith and $literal",
                path=name,
            )
    stored = check_new_document(document, where="the replacement")
    return ReplacementUpdate(stored if stored is not document else dict(document))


def check_new_document(document: Mapping[str, Any], *, where: str = "the document") -> Any:
    """Validate a document to store whole (insert, upsert, replacement) and return it as it
    is stored (``check_document``): string field names, ``$``-prefixed and dotted ones
    included (MongoDB 5.0+), and an ``_id`` whose own fields are not ``$``-prefixed. An
    ObjectId ``_id`` is stored as its 24-hex string (the id policy, ``stored_id``)."""
    stored = check_document(document, where=where)
    identity = document.get("_id")
    if identity is not None and type(identity) is not str and isinstance(identity, Mapping):
        for name in identity:
            if isinstance(name, str) and name.startswith("$"):
                raise InvalidQueryError(
                    f"The _id of {where} holds the dollar ($) prefixed field {name!r}; "
                    "MongoDB refuses those inside _id",
                    path=f"_id.{name}",
                )
    elif identity is not None and type(identity) is not str and bson_class(identity):
        converted = stored_id(identity)
        if converted is not identity:
            stored = {**stored, "_id": converted}
    return id_first(stored)


def id_first(document: Any) -> Any:
    """``document`` with ``_id`` as its first field, where MongoDB stores it (a server moves
    it there on insert); the same object when it already is (or has no ``_id``)."""
    if "_id" not in document or next(iter(document)) == "_id":
        return document
    return {"_id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}


def stored_id(value: Any) -> Any:
    """An ``_id`` as every backend stores it: an ObjectId as its 24-hex string (what filters
    on ``_id`` compare it as, and what the MongoDB backend turns back into an ObjectId)."""
    return str(value) if bson_class(value) == "ObjectId" else value


def _stored_value(name: str, path: str, operand: Any) -> Any:
    if type(operand) in _STORED_AS_IS:  # stored as it is, whatever the path
        return operand
    checked = check_document(operand, where=f"the {name} value of {path!r}", path=path)
    return stored_id(checked) if path == "_id" else checked


def _as_given(name: str, path: str, operand: Any) -> Any:
    return operand


def _number(name: str, path: str, operand: Any) -> Any:
    if type(operand) in _NUMBERS:
        return operand
    if not is_number(operand):
        raise InvalidQueryError(
            f"{name} on {path!r} needs a number, got {type(operand).__name__} {operand!r}",
            path=path,
            operator=name,
        )
    return operand


def _add_to_set(name: str, path: str, operand: Any) -> tuple[Any, ...]:
    if isinstance(operand, Mapping) and "$each" in operand:
        if set(operand) != {"$each"}:
            raise InvalidQueryError(
                f"$addToSet on {path!r} accepts only the $each modifier, got {sorted(operand)!r}",
                path=path,
                operator=name,
            )
        return _each(path, name, operand["$each"])
    return (check_document(operand, where=f"the {name} value of {path!r}", path=path),)


def _pull(name: str, path: str, operand: Any) -> PullCondition:
    return PullCondition(value=operand, clause=parse_element_filter(path, operand))


def _pull_all(name: str, path: str, operand: Any) -> tuple[Any, ...]:
    if not isinstance(operand, (list, tuple)):
        raise InvalidQueryError(
            f"$pullAll on {path!r} needs a list of values, got {operand!r}",
            path=path,
            operator=name,
        )
    return tuple(operand)


def _pop(name: str, path: str, operand: Any) -> int:
    if is_number(operand) and to_python_number(operand) in (1, -1):
        return int(to_python_number(operand))
    raise InvalidQueryError(
        f"$pop on {path!r} needs 1 (last element) or -1 (first element), got {operand!r}",
        path=path,
        operator=name,
    )


def _bit_operations(name: str, path: str, operand: Any) -> tuple[tuple[str, int], ...]:
    """``{"and" | "or" | "xor": <integer>, ...}``: the bitwise operations, in order."""
    if not isinstance(operand, Mapping) or not operand:
        raise InvalidQueryError(
            f"$bit on {path!r} needs a document like {{'and': 5}}, got {operand!r}",
            path=path,
            operator="$bit",
        )
    operations = []
    for name, value in operand.items():
        if name not in ("and", "or", "xor"):
            raise InvalidQueryError(
                f"$bit on {path!r}: the operation must be 'and', 'or' or 'xor', got {name!r}",
                path=path,
                operator="$bit",
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidQueryError(
                f"$bit on {path!r} needs an integer for {name!r}, got {value!r}",
                path=path,
                operator="$bit",
            )
        operations.append((name, int(value)))
    return tuple(operations)


def _rename_target(name: str, path: str, operand: Any) -> str:
    target = check_path(operand, operator="$rename", where=f"The $rename target of {path!r}")
    if target == "_id" or target.startswith("_id."):
        raise InvalidQueryError(
            f"$rename of {path!r} to {target!r} would modify the immutable field '_id'",
            path=path,
            operator="$rename",
        )
    if overlap(path, target):
        raise InvalidQueryError(
            f"$rename source {path!r} and target {target!r} must not be the same field or "
            "contain one another",
            path=path,
            operator="$rename",
        )
    return target


def _current_date_type(name: str, path: str, operand: Any) -> str:
    if isinstance(operand, bool):
        return "date"
    if isinstance(operand, Mapping) and set(operand) == {"$type"}:
        kind = operand["$type"]
        if kind in ("date", "timestamp"):
            return str(kind)
    raise InvalidQueryError(
        f"$currentDate on {path!r} needs true or {{'$type': 'date' | 'timestamp'}}, got "
        f"{operand!r}",
        path=path,
        operator="$currentDate",
    )


def _each(path: str, operator: str, values: Any) -> tuple[Any, ...]:
    if not isinstance(values, (list, tuple)):
        raise InvalidQueryError(
            f"$each in {operator} on {path!r} needs a list, got {values!r}",
            path=path,
            operator=operator,
        )
    return tuple(
        check_document(list(values), where=f"the {operator} values of {path!r}", path=path)
    )


def _push_spec(name: str, path: str, operand: Any) -> PushSpec:
    if not (isinstance(operand, Mapping) and any(str(k).startswith("$") for k in operand)):
        return PushSpec(
            each=(check_document(operand, where=f"the $push value of {path!r}", path=path),)
        )
    unknown = sorted(str(k) for k in operand if k not in _PUSH_MODIFIERS)
    if "$each" not in operand or unknown:
        raise InvalidQueryError(
            f"$push on {path!r}: modifiers need $each and may be $position, $slice, $sort"
            + (f"; unknown: {unknown!r}" if unknown else ""),
            path=path,
            operator="$push",
        )
    position = _integer(path, "$position", operand.get("$position"))
    slice_ = _integer(path, "$slice", operand.get("$slice"))
    return PushSpec(
        each=_each(path, "$push", operand["$each"]),
        position=position,
        slice=slice_,
        sort=_push_sort(path, operand.get("$sort")),
    )


def _integer(path: str, modifier: str, value: Any) -> int | None:
    if value is None:
        return None
    if is_number(value):
        number = to_python_number(value)
        if number == int(number):
            return int(number)
    raise InvalidQueryError(
        f"{modifier} in $push on {path!r} needs an integer, got {value!r}",
        path=path,
        operator="$push",
    )


def _push_sort(path: str, sort: Any) -> Any:
    if sort is None:
        return None
    if not isinstance(sort, bool) and sort in (1, -1):
        return int(sort)
    if isinstance(sort, Mapping) and sort:
        pairs: list[tuple[str, int]] = []
        for field, direction in sort.items():
            check_path(field, operator="$push", where="A $sort field of $push")
            if isinstance(direction, bool) or direction not in (1, -1):
                break
            pairs.append((field, int(direction)))
        else:
            return tuple(pairs)
    raise InvalidQueryError(
        f"$sort in $push on {path!r} needs 1, -1 or a document of fields with 1 or -1, got "
        f"{sort!r}",
        path=path,
        operator="$push",
    )


def overlap(a: str, b: str) -> bool:
    """Whether two paths are the same field or one contains the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def check_conflicts(updates: list[FieldUpdate]) -> None:
    claimed: list[tuple[str, FieldUpdate]] = []
    for update in updates:
        op = update.op
        paths = (update.path, update.operand) if op is UpdateOp.RENAME else (update.path,)
        for path in paths:
            for other, other_update in claimed:
                if overlap(path, other):
                    raise InvalidQueryError(
                        f"Updating the path {path!r} ({op.value}) would create a conflict "
                        f"at {other!r} ({other_update.op.value}); one update cannot change a "
                        "field and its parts",
                        path=path,
                        operator=op.value,
                    )
            claimed.append((path, update))


# Each operator by its name, with how its operand is checked and parsed:
# (operator name, path, operand) -> the operand as parsed.
_OPERANDS: Final[dict[UpdateOp, Callable[[str, str, Any], Any]]] = {
    UpdateOp.SET: _stored_value,
    UpdateOp.SET_ON_INSERT: _stored_value,
    UpdateOp.MIN: _stored_value,
    UpdateOp.MAX: _stored_value,
    UpdateOp.UNSET: _as_given,
    UpdateOp.INC: _number,
    UpdateOp.MUL: _number,
    UpdateOp.RENAME: _rename_target,
    UpdateOp.CURRENT_DATE: _current_date_type,
    UpdateOp.PUSH: _push_spec,
    UpdateOp.ADD_TO_SET: _add_to_set,
    UpdateOp.PULL: _pull,
    UpdateOp.PULL_ALL: _pull_all,
    UpdateOp.POP: _pop,
    UpdateOp.BIT: _bit_operations,
}
_OPERATORS: Final = {op.value: (op, _OPERANDS[op]) for op in UpdateOp}
