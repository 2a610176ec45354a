"""Frozen dataclasses that are cheap to build: ``fast_init`` and ``builder``.

A frozen dataclass's generated ``__init__`` looks ``object.__setattr__`` up again for every
field. The records built for every call (parsed filters and updates, validated requests,
results) pay that several times per operation, a few microseconds of a single-document
call. ``fast_init`` gives such a class an ``__init__`` with the same signature and effect
that has ``object.__setattr__`` at hand (as attrs does for its frozen classes); everything
else (frozenness, equality, hashing, ``repr``, ``dataclasses.replace``) stays the
dataclass's own.

Setting a field through ``object.__setattr__`` still costs a generic C call per field.
``builder`` goes further for the few records built on every single-document call: it fills
an instance of a mutable twin of the class (a subclass adding nothing but plain assignments)
and then makes it an instance of the class itself (``__class__`` assignment, which Python
allows between classes of the same layout). The result is an ordinary instance of the
frozen class.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

__all__ = ["builder", "fast_init"]

T = TypeVar("T")
P = ParamSpec("P")


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
    namespace: dict[str, Any] = {"_set": object.__setattr__}
    parameters, values = _signature(cls, "fast_init", namespace)
    body = "".join(f"    _set(self, {name!r}, {value})\n" for name, value in values)
    init = _compile(f"def __init__(self, {parameters}):\n{body or '    pass'}\n", namespace)
    init.__annotations__ = dict(cls.__init__.__annotations__)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def builder(cls: Callable[P, T]) -> Callable[P, T]:
    """A function that builds ``cls`` exactly as calling ``cls`` does (same parameters,
    defaults and result), about half the cost for a few fields (see the module docstring).
    The same refusals as ``fast_init``."""
    if not isinstance(cls, type):
        raise TypeError(f"builder needs a frozen dataclass, got {cls!r}")
    namespace: dict[str, Any] = {"_cls": cls}
    parameters, values = _signature(cls, "builder", namespace)
    # A subclass adding no field: the layout Python requires for the __class__ assignment,
    # and the cheapest to check. ``object``'s ``__init__``, ``__setattr__`` and
    # ``__delattr__`` in its own namespace: built without arguments and filled by plain
    # assignments (the frozen class's own methods would refuse them).
    twin = type(
        f"_{cls.__name__}Twin",
        (cls,),
        {
            "__slots__": (),
            "__init__": object.__init__,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": __name__,
        },
    )
    namespace["_Twin"] = twin
    body = "".join(f"    self.{name} = {value}\n" for name, value in values)
    source = (
        f"def build_{cls.__name__}({parameters}):\n    self = _Twin()\n{body}"
        "    self.__class__ = _cls\n    return self\n"
    )
    build = _compile(source, namespace)
    build.__qualname__ = build.__name__
    build.__module__ = cls.__module__
    build.__doc__ = f"Build a {cls.__name__} (``records.builder``)."
    build.__annotations__ = {**cls.__dict__["__init__"].__annotations__, "return": cls}
    return build  # type: ignore[no-any-return]


def _signature(
    cls: type[Any], user: str, namespace: dict[str, Any]
) -> tuple[str, list[tuple[str, str]]]:
    """The parameters of the dataclass's ``__init__`` as source, and each field's name with
    the expression of its value; the defaults and factories are added to ``namespace``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{user} needs a frozen dataclass, got {cls.__name__}")
    fields = dataclasses.fields(cls)
    generated = list(inspect.signature(cls.__init__).parameters)[1:]
    if hasattr(cls, "__post_init__") or generated != [field.name for field in fields]:
        raise TypeError(
            f"{user} needs every field in __init__, and no __post_init__ or InitVar "
            f"({cls.__name__})"
        )
    namespace["_FACTORY"] = _FACTORY
    parameters: list[str] = []
    values: list[tuple[str, str]] = []
    keyword_only = False
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
        values.append((name, value))
    return ", ".join(parameters), values


def _compile(source: str, namespace: dict[str, Any]) -> Any:
    exec(source, namespace)  # the source is built from field names only
    return namespace[source[4 : source.index("(")]]
