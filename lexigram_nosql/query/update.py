"""Applying updates to documents (parsing them is ``query.update_parse``, re-exported here).

Applying works on a copy and checks what depends on the stored document: ``_id`` cannot
change, ``$inc`` needs a number, ``$push`` an array, positional paths need their array.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError, UpdateMismatchError
from lexigram_nosql.query.ast import (
    And,
    Condition,
    FieldOp,
    FieldUpdate,
    FilterNode,
    OperatorUpdate,
    PipelineUpdate,
    PullCondition,
    PushSpec,
    ReplacementUpdate,
    Update,
    UpdateOp,
)
from lexigram_nosql.query.dates import utc_now
from lexigram_nosql.query.filter import matches
from lexigram_nosql.query.matching import tests_element_itself
from lexigram_nosql.query.ordering import compare_values, document_sort_key, sort_key, values_equal
from lexigram_nosql.query.paths import (
    MISSING,
    get_path,
    is_index,
    set_path,
    split_path,
    unset_path,
)
from lexigram_nosql.query.positional import (
    concrete_updates,
)
from lexigram_nosql.query.update_parse import (
    check_conflicts,
    check_new_document,
    id_first,
    overlap,
    parse_replacement,
    parse_update,
    processing_order,
)
from lexigram_nosql.query.update_pipeline import compute_pipeline_update
from lexigram_nosql.query.values import (
    check_document,
    copy_value,
    is_number,
    to_python_number,
    type_name,
)
from lexigram_nosql.types import Document

__all__ = [
    "apply_update",
    "check_new_document",
    "parse_replacement",
    "parse_update",
    "upsert_seed",
]

logger = logging.getLogger("lexigram_nosql")


# -- applying --------------------------------------------------------------------------------


def apply_update(
    update: Update,
    document: Document,
    *,
    inserting: bool = False,
    now: datetime | None = None,
) -> Document:
    """Return a new document with ``update`` applied; ``inserting`` enables ``$setOnInsert``.

    ``document`` is left untouched: the containers along each updated path are copied, and
    the rest of the result shares its values with ``document`` (treat stored documents as
    immutable and copy them once when handing them out). Raises ``InvalidQueryError`` when the
    stored values do not allow the update (``$inc`` on a string, ``$push`` on a non-array, a
    changed ``_id``).
    """
    if isinstance(update, ReplacementUpdate):
        return _replace(update, document)
    if isinstance(update, PipelineUpdate):
        computed = compute_pipeline_update(update, document)
        return _replace(ReplacementUpdate(computed), document, what="The pipeline update")
    fields = update.fields
    if not inserting and update.dollar_top_level:
        _refuse_dollar_top_level(update)
    if update.positional:
        concrete = list(concrete_updates(update, document, inserting=inserting))
        check_conflicts(concrete)
        fields = tuple(sorted(concrete, key=processing_order))
    result: Document = dict(document)
    owned: set[int] = {id(result)}
    moment: datetime | None = now
    for field in fields:
        op = field.op
        if op is UpdateOp.SET_ON_INSERT and not inserting:
            continue
        _own_path(result, field.path, owned)
        if op is UpdateOp.RENAME:
            _own_path(result, field.operand, owned)
        if op is UpdateOp.SET:
            set_path(result, field.path, copy_value(field.operand), operator="$set")
        elif op is UpdateOp.SET_ON_INSERT:
            set_path(result, field.path, copy_value(field.operand), operator="$setOnInsert")
        elif op is UpdateOp.UNSET:
            unset_path(result, field.path)
        elif op is UpdateOp.CURRENT_DATE:
            if moment is None:
                moment = utc_now()
            set_path(result, field.path, _date_value(field.operand, moment), operator=op.value)
        else:
            _APPLY[op](result, field)
    if "_id" in document:  # stored, or taken from an upsert's filter: immutable either way
        new_id = result.get("_id", MISSING)
        if new_id is MISSING or not values_equal(new_id, document["_id"]):
            culprit = next(
                (f.op.value for f in update.fields if f.path == "_id" or f.path.startswith("_id.")),
                None,
            )
            raise UpdateMismatchError(
                f"The update would change the immutable field '_id' from {document['_id']!r} "
                f"to {new_id!r}" + (f" ({culprit})" if culprit else ""),
                path="_id",
                operator=culprit,
            )
    return id_first(result) if inserting else result


def _refuse_dollar_top_level(update: OperatorUpdate) -> None:
    field = next(f for f in update.fields if _creates_dollar_top_level(f))
    name = field.path.split(".", 1)[0]
    raise InvalidQueryError(
        f"{field.op.value} on {field.path!r}: the dollar ($) prefixed top-level field {name!r} "
        "can only be created by an upsert that inserts; MongoDB refuses it in an update of an "
        "existing document (use a pipeline update with $setField)",
        path=field.path,
        operator=field.op.value,
    )


def _creates_dollar_top_level(field: FieldUpdate) -> bool:
    return field.path.startswith("$") and field.op is not UpdateOp.UNSET


def _own_path(result: Document, path: str, owned: set[int]) -> None:
    """Copy the containers along ``path`` that ``result`` still shares with its source."""
    container: Any = result
    for segment in split_path(path):
        if isinstance(container, dict):
            child = container.get(segment, MISSING)
            if child is MISSING:
                return
            if isinstance(child, (dict, list)) and id(child) not in owned:
                child = dict(child) if isinstance(child, dict) else list(child)
                owned.add(id(child))
                container[segment] = child
        elif isinstance(container, list) and is_index(segment):
            index = int(segment)
            if index >= len(container):
                return
            child = container[index]
            if isinstance(child, (dict, list)) and id(child) not in owned:
                child = dict(child) if isinstance(child, dict) else list(child)
                owned.add(id(child))
                container[index] = child
        else:
            return
        container = child


def _replace(
    update: ReplacementUpdate, document: Document, *, what: str = "The replacement"
) -> Document:
    replacement = copy_value(update.document)
    if "_id" not in document:
        return replacement  # type: ignore[no-any-return]
    stored_id = document["_id"]
    if "_id" in replacement and not values_equal(replacement["_id"], stored_id):
        raise UpdateMismatchError(
            f"{what} would change the immutable field '_id' from {stored_id!r} to "
            f"{replacement['_id']!r}",
            path="_id",
        )
    replacement.pop("_id", None)
    return {"_id": copy_value(stored_id), **replacement}


def _date_value(kind: str, moment: datetime) -> Any:
    if kind == "timestamp":
        try:
            from bson.timestamp import Timestamp
        except ImportError:  # pragma: no cover - pymongo is an optional extra
            return moment
        return Timestamp(moment, 0)
    return moment


def _value_error(field: FieldUpdate, current: Any, wanted: str) -> UpdateMismatchError:
    return UpdateMismatchError(
        f"Cannot apply {field.op.value} to {field.path!r}: it needs {wanted}, but the document "
        f"holds a {type_name(current) or type(current).__name__} ({current!r})",
        path=field.path,
        operator=field.op.value,
    )


def _arithmetic(a: Any, b: Any, multiply: bool) -> Any:
    if type(a) in _PLAIN_NUMBERS and type(b) in _PLAIN_NUMBERS:
        return a * b if multiply else a + b
    x: Any = to_python_number(a)
    y: Any = to_python_number(b)
    if isinstance(x, Decimal) or isinstance(y, Decimal):
        # MongoDB widens to decimal; floats go through their shortest repr to stay exact.
        x = _as_decimal(x)
        y = _as_decimal(y)
    return x * y if multiply else x + y


_PLAIN_NUMBERS: Final = frozenset({int, float})


def _as_decimal(number: int | float | Decimal) -> Decimal:
    if isinstance(number, Decimal):
        return number
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def _apply_inc(result: Document, field: FieldUpdate) -> None:
    current = get_path(result, field.path)
    multiply = field.op is UpdateOp.MUL
    if current is MISSING:
        value = field.operand
        if multiply:
            value = _arithmetic(field.operand, 0, multiply=True)
        set_path(result, field.path, value, operator=field.op.value)
        return
    if not is_number(current):
        raise _value_error(field, current, "a number")
    set_path(
        result,
        field.path,
        _arithmetic(current, field.operand, multiply=multiply),
        operator=field.op.value,
    )


def _apply_min_max(result: Document, field: FieldUpdate) -> None:
    current = get_path(result, field.path)
    wanted = -1 if field.op is UpdateOp.MIN else 1
    if current is MISSING or compare_values(field.operand, current) == wanted:
        set_path(result, field.path, copy_value(field.operand), operator=field.op.value)


def _apply_rename(result: Document, field: FieldUpdate) -> None:
    for path in (field.path, field.operand):
        _refuse_array_on_path(result, path, field)
    value = get_path(result, field.path)
    if value is MISSING:
        return
    unset_path(result, field.path)
    set_path(result, field.operand, value, operator="$rename")


def _refuse_array_on_path(document: Document, path: str, field: FieldUpdate) -> None:
    container: Any = document
    for segment in split_path(path)[:-1]:
        if not isinstance(container, dict):
            return
        container = container.get(segment, MISSING)
        if isinstance(container, list):
            raise InvalidQueryError(
                f"$rename cannot move {field.path!r} to {field.operand!r}: {path!r} goes through "
                f"an array at {segment!r}",
                path=field.path,
                operator="$rename",
            )


def _array_at(result: Document, field: FieldUpdate, *, create: bool) -> list[Any] | None:
    current = get_path(result, field.path)
    if current is MISSING:
        if not create:
            return None
        current = []
        set_path(result, field.path, current, operator=field.op.value)
        # set_path may have stored the list itself; read back what the document holds.
        stored = get_path(result, field.path)
        return stored if isinstance(stored, list) else current
    if not isinstance(current, list):
        raise _value_error(field, current, "an array")
    return current


def _apply_push(result: Document, field: FieldUpdate) -> None:
    spec: PushSpec = field.operand
    array = _array_at(result, field, create=True)
    if array is None:  # pragma: no cover - create=True always yields an array
        return
    items = [copy_value(item) for item in spec.each]
    position = spec.position
    if position is None:
        array.extend(items)
    else:
        if position < 0:
            position = max(len(array) + position, 0)
        array[position:position] = items
    if spec.sort is not None:
        if isinstance(spec.sort, int):
            array.sort(key=sort_key, reverse=spec.sort < 0)
        else:
            array.sort(key=document_sort_key(spec.sort))
    if spec.slice is not None:
        kept = array[: spec.slice] if spec.slice >= 0 else array[spec.slice :]
        array[:] = kept


def _apply_add_to_set(result: Document, field: FieldUpdate) -> None:
    array = _array_at(result, field, create=True)
    if array is None:  # pragma: no cover - create=True always yields an array
        return
    present = {sort_key(item) for item in array}
    for item in field.operand:
        key = sort_key(item)
        if key not in present:
            present.add(key)
            array.append(copy_value(item))


def _apply_pull(result: Document, field: FieldUpdate) -> None:
    array = _array_at(result, field, create=False)
    if array is None:
        return
    condition: PullCondition = field.operand
    clause = condition.clause
    if clause is None:
        key = sort_key(condition.value)
        array[:] = [item for item in array if sort_key(item) != key]
        return
    documents_only = not _tests_element(clause)
    array[:] = [
        item
        for item in array
        if not ((not documents_only or isinstance(item, dict)) and matches(clause, item))
    ]


def _tests_element(clause: FilterNode) -> bool:
    return tests_element_itself(clause)


def _apply_pull_all(result: Document, field: FieldUpdate) -> None:
    array = _array_at(result, field, create=False)
    if array is None:
        return
    keys = {sort_key(item) for item in field.operand}
    array[:] = [item for item in array if sort_key(item) not in keys]


def _apply_pop(result: Document, field: FieldUpdate) -> None:
    array = _array_at(result, field, create=False)
    if array:
        array.pop(-1 if field.operand == 1 else 0)


def _apply_bit(result: Document, field: FieldUpdate) -> None:
    current = get_path(result, field.path)
    if current is MISSING:
        current = 0  # MongoDB applies the operations to 0 and creates the field
    elif isinstance(current, bool) or not isinstance(current, int):
        raise _value_error(field, current, "an integer")
    value = int(current)
    for name, operand in field.operand:
        value = (
            value & operand
            if name == "and"
            else value | operand
            if name == "or"
            else value ^ operand
        )
    set_path(result, field.path, value, operator="$bit")


_APPLY: Final = {
    UpdateOp.INC: _apply_inc,
    UpdateOp.MUL: _apply_inc,
    UpdateOp.MIN: _apply_min_max,
    UpdateOp.MAX: _apply_min_max,
    UpdateOp.RENAME: _apply_rename,
    UpdateOp.PUSH: _apply_push,
    UpdateOp.ADD_TO_SET: _apply_add_to_set,
    UpdateOp.PULL: _apply_pull,
    UpdateOp.PULL_ALL: _apply_pull_all,
    UpdateOp.POP: _apply_pop,
    UpdateOp.BIT: _apply_bit,
}


# -- upserts ---------------------------------------------------------------------------------


def upsert_seed(node: FilterNode) -> Document:
    """The document an upsert starts from: the equality conditions of its filter.

    Equalities at the top level and under ``$and`` (``{"a": 1}``, ``{"a": {"$eq": 1}}``) are
    copied in, as MongoDB does; ranges, ``$or`` and regexes contribute nothing. Two equalities
    on overlapping paths are refused, since the seed would be ambiguous, and so are values
    that cannot be stored (``InvalidQueryError`` naming the path).
    """
    seed: Document = {}
    claimed: list[str] = []
    for condition in _equalities(node):
        for other in claimed:
            if overlap(condition.path, other):
                raise InvalidQueryError(
                    f"Cannot build the upserted document: the filter sets both {other!r} and "
                    f"{condition.path!r}",
                    path=condition.path,
                    operator="$eq",
                )
        claimed.append(condition.path)
        set_path(seed, condition.path, copy_value(condition.operand), operator="$eq")
    # The filter's values become stored values: held to the value model like any other.
    stored: Document = check_document(seed, where="the upsert's filter")
    return stored


def _equalities(node: FilterNode) -> list[Condition]:
    if isinstance(node, Condition):
        return [node] if node.op is FieldOp.EQ and node.path else []
    if isinstance(node, And):
        found: list[Condition] = []
        for clause in node.clauses:
            found.extend(_equalities(clause))
        return found
    return []
