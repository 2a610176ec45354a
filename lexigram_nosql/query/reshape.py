"""Reshaping documents in pipelines: ``$project``, ``$addFields``/``$set`` and ``$unset``.

A specification is parsed once into a tree of paths (``{"a.b": 1}`` and ``{"a": {"b": 1}}``
give the same tree) whose leaves include, exclude or compute a field. Applying a tree never
mutates the input document: it builds a new one, sharing untouched values.

MongoDB's rules, kept here: inclusion keeps fields in document order and appends computed
fields in specification order; ``_id`` is kept unless excluded; inclusion and exclusion do not
mix (but for ``_id``); an expression that evaluates to ``MISSING`` (``$$REMOVE``, a missing
path) leaves the field out; paths through arrays apply to each element.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query.expressions import CompiledExpression, parse_expression
from lexigram_nosql.query.paths import MISSING
from lexigram_nosql.types import Document

__all__ = [
    "Reshape",
    "document_path",
    "parse_add_fields",
    "parse_project",
    "parse_unset",
    "with_path",
    "without_path",
]

INCLUDE: Final = True
EXCLUDE: Final = False
Leaf = bool | CompiledExpression


@dataclass(slots=True)
class _Tree:
    children: dict[str, Leaf | _Tree] = field(default_factory=dict)

    def has_computed(self) -> bool:
        return any(
            isinstance(child, CompiledExpression)
            or (isinstance(child, _Tree) and child.has_computed())
            for child in self.children.values()
        )


@dataclass(frozen=True, slots=True)
class Reshape:
    """A parsed ``$project``, ``$addFields`` or ``$unset``. ``mode`` is ``"include"``,
    ``"exclude"`` or ``"add"``; calling it reshapes one document."""

    mode: str
    tree: _Tree
    id_excluded: bool = False

    def __call__(self, document: Document, variables: Mapping[str, Any]) -> Document:
        if self.mode == "include":
            out: Document = _include(self.tree, document, document, variables)
            if not self.id_excluded and "_id" not in self.tree.children and "_id" in document:
                # _id stays first, as MongoDB puts it.
                out = {"_id": document["_id"], **out}
            return out
        if self.mode == "exclude":
            return _exclude(self.tree, document)
        return _add(self.tree, document, document, variables)


def _error(stage: str, message: str, path: str | None = None) -> InvalidQueryError:
    return InvalidQueryError(f"{stage}: {message}", operator=stage, path=path)


def _split(stage: str, path: Any) -> list[str]:
    if not isinstance(path, str) or not path:
        raise _error(stage, f"field paths must be non-empty strings, got {path!r}.")
    parts = path.split(".")
    for part in parts:
        if not part:
            raise _error(stage, f"field path {path!r} has an empty segment.", path)
        if part.startswith("$"):
            raise _error(stage, f"field path {path!r} cannot start a segment with '$'.", path)
    return parts


def _insert(stage: str, tree: _Tree, path: str, leaf: Leaf | _Tree) -> None:
    parts = _split(stage, path)
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.children.setdefault(part, _Tree())
        if not isinstance(child, _Tree):
            prefix = ".".join(parts[: depth + 1])
            raise _error(stage, f"path collision between {prefix!r} and {path!r}.", path)
        node = child
    last = parts[-1]
    if last in node.children:
        raise _error(stage, f"path {path!r} is specified more than once.", path)
    node.children[last] = leaf


def _is_operator_document(value: Any) -> bool:
    return isinstance(value, Mapping) and any(
        isinstance(key, str) and key.startswith("$") for key in value
    )


def _fill(
    stage: str,
    tree: _Tree,
    spec: Mapping[str, Any],
    prefix: str,
    leaf_for: Callable[[str, Any], Leaf],
) -> None:
    for key, value in spec.items():
        path = f"{prefix}{key}" if isinstance(key, str) else key
        if isinstance(value, Mapping) and value and not _is_operator_document(value):
            _split(stage, path)
            _fill(stage, tree, value, f"{path}.", leaf_for)
        else:
            _insert(stage, tree, path, leaf_for(path, value))


def parse_project(spec: Any) -> Reshape:
    """Validate a ``$project`` specification."""
    stage = "$project"
    if not isinstance(spec, Mapping) or not spec:
        raise _error(stage, f"the specification must be a non-empty document, got {spec!r}.")
    tree = _Tree()
    kinds: dict[str, str] = {}

    def leaf_for(path: str, value: Any) -> Leaf:
        if isinstance(value, Mapping) and not value:
            raise _error(stage, f"an empty document is not a valid value for {path!r}.", path)
        if isinstance(value, (bool, int, float)):
            kinds[path] = "include" if value else "exclude"
            return INCLUDE if value else EXCLUDE
        kinds[path] = "compute"
        try:
            return parse_expression(value)
        except InvalidQueryError as exc:
            raise _error(stage, f"field {path!r}: {exc.message}", path) from exc

    _fill(stage, tree, spec, "", leaf_for)
    id_kind = kinds.pop("_id", None)
    excluded = [path for path, kind in kinds.items() if kind == "exclude"]
    others = [path for path, kind in kinds.items() if kind != "exclude"]
    if excluded and others:
        raise _error(
            stage,
            f"cannot mix exclusion of {excluded[0]!r} with inclusion or computed field "
            f"{others[0]!r}.",
            excluded[0],
        )
    if excluded or (not others and id_kind == "exclude"):
        if id_kind == "compute":
            raise _error(stage, "cannot compute '_id' in an exclusion projection.", "_id")
        if id_kind == "include":
            del tree.children["_id"]
        return Reshape("exclude", tree)
    if id_kind == "exclude":
        del tree.children["_id"]
    return Reshape("include", tree, id_excluded=id_kind == "exclude")


def parse_add_fields(spec: Any, stage: str = "$addFields") -> Reshape:
    """Validate an ``$addFields``/``$set`` specification: every value is an expression."""
    if not isinstance(spec, Mapping):
        raise _error(stage, f"the specification must be a document, got {spec!r}.")
    tree = _Tree()

    def leaf_for(path: str, value: Any) -> Leaf:
        try:
            return parse_expression(value)
        except InvalidQueryError as exc:
            raise _error(stage, f"field {path!r}: {exc.message}", path) from exc

    _fill(stage, tree, spec, "", leaf_for)
    return Reshape("add", tree)


def parse_unset(spec: Any) -> Reshape:
    """Validate an ``$unset`` stage: a field path or a non-empty list of them."""
    stage = "$unset"
    paths = [spec] if isinstance(spec, str) else spec
    if not isinstance(paths, list) or not paths:
        raise _error(stage, f"expects a field path or a non-empty list of them, got {spec!r}.")
    tree = _Tree()
    for path in paths:
        _insert(stage, tree, path, EXCLUDE)
    return Reshape("exclude", tree)


# -- application -------------------------------------------------------------------------


def _include(
    tree: _Tree, value: Document, root: Document, variables: Mapping[str, Any]
) -> Document:
    out: Document = {}
    children = tree.children
    for key, item in value.items():
        child = children.get(key)
        if child is INCLUDE:
            out[key] = item
        elif isinstance(child, _Tree):
            if isinstance(item, dict):
                out[key] = _include(child, item, root, variables)
            elif isinstance(item, list):
                out[key] = _include_array(child, item, root, variables)
    for key, child in children.items():
        if isinstance(child, CompiledExpression):
            result = child(root, variables)
            if result is not MISSING:
                out[key] = result
        elif isinstance(child, _Tree) and key not in out and child.has_computed():
            # A computed sub-field creates its parent, replacing a scalar.
            out[key] = _include(child, {}, root, variables)
    return out


def _include_array(
    tree: _Tree, array: list[Any], root: Document, variables: Mapping[str, Any]
) -> list[Any]:
    computed = tree.has_computed()
    out: list[Any] = []
    for element in array:
        if isinstance(element, dict):
            out.append(_include(tree, element, root, variables))
        elif isinstance(element, list):
            out.append(_include_array(tree, element, root, variables))
        elif computed:
            out.append(_include(tree, {}, root, variables))
    return out


def _exclude(tree: _Tree, value: Document) -> Document:
    out: Document = {}
    children = tree.children
    for key, item in value.items():
        child = children.get(key)
        if child is None:
            out[key] = item
        elif isinstance(child, _Tree):
            if isinstance(item, dict):
                out[key] = _exclude(child, item)
            elif isinstance(item, list):
                out[key] = _exclude_array(child, item)
            else:
                out[key] = item
    return out


def _exclude_array(tree: _Tree, array: list[Any]) -> list[Any]:
    out: list[Any] = []
    for element in array:
        if isinstance(element, dict):
            out.append(_exclude(tree, element))
        elif isinstance(element, list):
            out.append(_exclude_array(tree, element))
        else:
            out.append(element)
    return out


def _add(tree: _Tree, value: Document, root: Document, variables: Mapping[str, Any]) -> Document:
    out = dict(value)
    for key, child in tree.children.items():
        if isinstance(child, CompiledExpression):
            result = child(root, variables)
            if result is MISSING:
                out.pop(key, None)
            else:
                out[key] = result
        elif isinstance(child, _Tree):
            existing = out.get(key)
            if isinstance(existing, dict):
                out[key] = _add(child, existing, root, variables)
            elif isinstance(existing, list):
                out[key] = [
                    _add(child, element if isinstance(element, dict) else {}, root, variables)
                    for element in existing
                ]
            else:
                out[key] = _add(child, {}, root, variables)
    return out


# -- copy-on-write path helpers -----------------------------------------------------------


def with_path(document: Document, parts: Sequence[str], value: Any) -> Document:
    """A copy of ``document`` with ``parts`` set, copying only the dicts on the path."""
    out = dict(document)
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[parts[-1]] = value
    return out


def without_path(document: Document, parts: Sequence[str]) -> Document:
    """A copy of ``document`` without ``parts``, which must lead through documents."""
    out = dict(document)
    node = out
    for part in parts[:-1]:
        child = dict(node[part])
        node[part] = child
        node = child
    node.pop(parts[-1], None)
    return out


def document_path(document: Document, parts: Sequence[str]) -> Any:
    """The value at ``parts`` following documents only (never arrays), or ``MISSING``."""
    value: Any = document
    for part in parts:
        if not isinstance(value, dict):
            return MISSING
        value = value.get(part, MISSING)
    return value
