"""An index request as a PyMongo user writes it: ``create_index(keys, **kwargs)`` and
``IndexModel(keys, **kwargs)``, read once into an ``IndexSpec`` for every backend.

Options go by MongoDB's names, as PyMongo passes them to the server (``name``, ``unique``,
``sparse``, ``expireAfterSeconds``, ``partialFilterExpression``); the snake-case spellings
this package took first (``expire_after_seconds``, ``partial_filter_expression``) stay as
aliases. ``background`` and ``comment`` are taken and ignored: MongoDB 4.2+ builds every index
the same way whatever ``background`` says, and a comment only labels the command in the
server's logs. The other options MongoDB knows (``collation``, ``hidden``, text and geo
options...) change what an index holds or how queries use it, which no backend here but
MongoDB could honour: they are refused by name with ``UnsupportedQueryError`` on every backend
alike. Any other name is refused as MongoDB refuses it ("invalid index specification option"),
with ``InvalidQueryError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lexigram_nosql.backends.index_spec import IndexSpec
from lexigram_nosql.errors import InvalidQueryError, UnsupportedQueryError
from lexigram_nosql.query.requests import one_spelling
from lexigram_nosql.types import IndexKeys

__all__ = ["IndexModel", "index_spec"]

_ALIASES: Final = {
    "expire_after_seconds": "expireAfterSeconds",
    "partial_filter_expression": "partialFilterExpression",
}
_FLAGS: Final = ("unique", "sparse", "background")
_TAKEN: Final = frozenset(
    {"name", "expireAfterSeconds", "partialFilterExpression", "comment", *_FLAGS, *_ALIASES}
)
_MONGODB_ONLY: Final = frozenset(
    {
        "collation",
        "hidden",
        "weights",
        "default_language",
        "language_override",
        "textIndexVersion",
        "2dsphereIndexVersion",
        "bits",
        "min",
        "max",
        "bucketSize",
        "wildcardProjection",
        "storageEngine",
        "prepareUnique",
        "clustered",
        "commitQuorum",
        "maxTimeMS",
        "v",
    }
)
_SUPPORTED: Final = (
    "name, unique, sparse, expireAfterSeconds, partialFilterExpression "
    "(background and comment are ignored)"
)


def index_spec(
    keys: IndexKeys, options: Mapping[str, Any], *, backend: str = "lexigram-nosql"
) -> IndexSpec:
    """The validated index ``create_index(keys, **options)`` asks for (``backend`` is named
    by the refusal of what only MongoDB could build)."""
    _refuse_special_kinds(keys, backend)
    for option in options:
        if option in _TAKEN:
            continue
        if option in _MONGODB_ONLY:
            raise UnsupportedQueryError(
                f"The index option {option!r} is not supported (it could hold only on "
                f"MongoDB); supported: {_SUPPORTED}",
                backend=backend,
                operator=option,
            )
        raise InvalidQueryError(
            f"{option!r} is not a valid index specification option; valid: {_SUPPORTED}",
            operator=option,
        )
    flags = {flag: _flag(flag, options.get(flag, False)) for flag in _FLAGS}
    name = options.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidQueryError(
            f"The index name must be a non-empty string, got {name!r}", operator="name"
        )
    return IndexSpec.build(
        keys,
        unique=flags["unique"],
        sparse=flags["sparse"],
        name=name,
        expire_after_seconds=one_spelling(
            "create_index",
            ("expire_after_seconds", options.get("expire_after_seconds")),
            ("expireAfterSeconds", options.get("expireAfterSeconds")),
        ),
        partial_filter_expression=one_spelling(
            "create_index",
            ("partial_filter_expression", options.get("partial_filter_expression")),
            ("partialFilterExpression", options.get("partialFilterExpression")),
        ),
    )


def _refuse_special_kinds(keys: IndexKeys, backend: str) -> None:
    """Text, geo and hashed keys (``("title", "text")``): MongoDB's own index kinds, which
    the queries of the other backends could not use."""
    if isinstance(keys, str):
        return
    items = keys.items() if isinstance(keys, Mapping) else keys
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], str):
            raise UnsupportedQueryError(
                f"{item[1]!r} indexes (on {item[0]!r}) are not supported: indexes here are "
                "ascending (1) or descending (-1)",
                backend=backend,
                operator=item[1],
                path=str(item[0]),
            )


def _flag(option: str, value: Any) -> bool:
    """A boolean option; MongoDB also takes a number for one (``unique: 1``)."""
    if isinstance(value, (bool, int, float)):
        return bool(value)
    raise InvalidQueryError(
        f"The index option {option!r} must be a boolean, got {value!r}", operator=option
    )


class IndexModel:
    """One index for ``create_indexes``, as PyMongo's ``IndexModel``: the same keys and
    options as ``create_index``, checked when the model is built."""

    __slots__ = ("_spec",)

    def __init__(self, keys: IndexKeys, **kwargs: Any) -> None:
        self._spec = index_spec(keys, kwargs)

    @property
    def spec(self) -> IndexSpec:
        """The validated request (what backends create)."""
        return self._spec

    @property
    def document(self) -> dict[str, Any]:
        """The index as MongoDB's ``createIndexes`` command takes it: ``key``, ``name`` and
        the options that are set (PyMongo's ``IndexModel.document``)."""
        found = self._spec.info.document()
        return {"key": dict(found.pop("key")), "name": self._spec.name, **found}

    def __repr__(self) -> str:
        return f"IndexModel({self.document!r})"
