"""Frozen dataclasses that are cheap to build: ``fast_init``.

A frozen dataclass's generated ``__init__`` looks ``object.__setattr__`` up again for every
field. The records built for every call (parsed filters and updates, validated requests,
results) pay that several times per operation, a few microseconds of a single-document
call. ``fast_init`` gives such a class an ``__init__`` with the same signature and effect
that has ``object.__setattr__`` at hand (as attrs does for its frozen classes); everything
else (frozenness, equality, hashing, ``repr``, ``dataclasses.replace``) stays the
dataclass's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


class _Factory:
    """The default of a field with a ``default_factory`` (shown as the dataclass shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def fast_init(cls: type[T]) -> type[T]:
    """Replace the ``__init__`` of a frozen dataclass by an equivalent one, cheaper to run.

    Refuses (``TypeError``) what it does not reproduce: a class that is not a frozen
    dataclass, fields left out of ``__init__``, ``InitVar`` fields and ``__post_init__``.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"fast_init needs a frozen dataclass, got {cls.__name__}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    generated = list(inspect.signature(cls.__init__).parameters)[1:]
    if hasattr(cls, "__post_init__") or generated != [field.name for field in fields]:
        raise TypeError(
            f"fast_init needs every field in __init__, and no __post_init__ or InitVar "
            f"({cls.__name__})"
        )
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _FACTORY}
    parameters: list[str] = []
    keyword_only = False
    body: list[str] = []
    for field in fields:
        name = field.name
        if field.kw_only and not keyword_only:
            parameters.append("*")
            keyword_only = True
        value = name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            parameters.append(f"{name}=_default_{name}")
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            parameters.append(f"{name}=_FACTORY")
            value = f"_factory_{name}() if {name} is _FACTORY else {name}"
        else:
            parameters.append(name)
        body.append(f"    _set(self, {name!r}, {value})\n")
    source = f"def __init__(self, {', '.join(parameters)}):\n{''.join(body) or '    pass'}\n"
    exec(source, namespace)  # the source is built above from field names only
    init = namespace["__init__"]
    init.__annotations__ = dict(cls.__init__.__annotations__)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
