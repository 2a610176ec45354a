"""``Container``: type-based resolution and constructor autowiring on top of a
dependency-injector container.

dependency-injector resolves by provider *name* and has no qualifiers or autowiring of its own;
this adds them without replacing it. Bindings map a type (plus an optional ``Named`` qualifier)
to a provider of the wrapped container, and each class resolved by type gets a
``providers.Factory`` whose keyword arguments are the providers of its constructor's
parameters. That factory is the class's cached *plan*: computed once from its type hints,
then resolution is one call into dependency-injector.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Generator
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin, overload

from dependency_injector import containers
from dependency_injector.providers import Callable as CallableProvider
from dependency_injector.providers import Factory, Object, Provider

from lexigram_nosql.di.markers import Named
from lexigram_nosql.errors import ResolutionError

__all__ = ["Container", "Resolution"]

logger = logging.getLogger("lexigram_nosql")

T = TypeVar("T")

_Key = tuple[Any, str | None]


class Resolution(Generic[T]):
    """What ``Container.resolve`` returns: ``await`` it, or use it as ``async with ... as x``.

    The container keeps ownership of what it hands out (stores stay connected until the
    application shuts down), so leaving the ``async with`` block releases nothing.
    """

    __slots__ = ("_provider",)

    def __init__(self, provider: Provider[Any]) -> None:
        self._provider = provider

    async def get(self) -> T:
        """Build (or fetch) the instance; awaits async providers."""
        value = self._provider()
        if inspect.isawaitable(value):
            value = await value
        return typing.cast(T, value)

    def __await__(self) -> Generator[Any, None, T]:
        # A generator rather than a coroutine: resolving is usually synchronous underneath.
        value = self._provider()
        if inspect.isawaitable(value):
            value = yield from value.__await__()
        return typing.cast(T, value)

    async def __aenter__(self) -> T:
        return await self.get()

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class Container:
    """Resolves types to instances: bound types through their providers, other classes by
    building them from their constructor's type hints.

    Args:
        wrapped: the dependency-injector container to hold the providers; a new
            ``DynamicContainer`` by default. Pass your own to share it with ``@inject`` code.
    """

    def __init__(self, wrapped: containers.Container | None = None) -> None:
        self._providers: containers.Container = (
            wrapped if wrapped is not None else containers.DynamicContainer()
        )
        self._bindings: dict[_Key, Provider[Any]] = {}
        self._plans: dict[Any, Provider[Any]] = {}
        self._nouns: dict[Any, str] = {}

    @property
    def providers(self) -> containers.Container:
        """The wrapped dependency-injector container (every binding's provider is on it)."""
        return self._providers

    # -- registration ---------------------------------------------------------------------

    def bind(
        self,
        key: Any,
        provider: Provider[Any],
        *,
        name: str | None = None,
        provider_name: str | None = None,
    ) -> None:
        """Resolve ``key`` (qualified by ``Named(name)`` when given) through ``provider``,
        set on the wrapped container as ``provider_name`` when given."""
        if provider_name is not None:
            setattr(self._providers, provider_name, provider)
        self._bindings[(key, name)] = provider
        self._plans.clear()  # plans hold providers: a new binding may change them

    def bind_instance(self, key: Any, value: Any, *, name: str | None = None) -> None:
        """Resolve ``key`` to this very object."""
        self.bind(key, Object(value), name=name)

    def describe(self, key: Any, noun: str) -> None:
        """Call what is bound for ``key`` a ``noun`` in errors ("No store named 'x'")."""
        self._nouns[key] = noun

    def names(self, key: Any) -> list[str]:
        """The ``Named`` qualifiers bound for ``key``."""
        return sorted(n for k, n in self._bindings if k is key and n is not None)

    def is_bound(self, key: Any, name: str | None = None) -> bool:
        return (key, name) in self._bindings

    # -- resolution -----------------------------------------------------------------------

    @overload
    def resolve(self, target: type[T], *, name: str | None = None) -> Resolution[T]: ...

    @overload
    def resolve(self, target: Callable[..., T], *, name: str | None = None) -> Resolution[T]: ...

    # (the Callable overload types protocols and ABCs, which mypy refuses for type[T])

    @overload
    def resolve(self, target: Any, *, name: str | None = None) -> Resolution[Any]: ...

    def resolve(self, target: Any, *, name: str | None = None) -> Resolution[Any]:
        """The instance of ``target``: ``await c.resolve(T)`` or ``async with c.resolve(T) as x``.

        ``target`` may be ``Annotated[T, Named("analytics")]``, or pass ``name=``.

        Raises:
            ResolutionError: naming the class, parameter and type that cannot be provided.
        """
        return Resolution(self.provider_for(target, name=name))

    def provider_for(self, target: Any, *, name: str | None = None) -> Provider[Any]:
        """The dependency-injector provider that builds ``target`` (its cached plan)."""
        # Fast path first: a bound key or an already planned class, no annotation parsing.
        found = self._bindings.get((target, name))
        if found is None and name is None:
            found = self._plans.get(target)
        if found is not None:
            return found
        base, qualifier = _split(target)
        return self._provider(base, name or qualifier, (), None)

    def _provider(
        self, base: Any, name: str | None, chain: tuple[Any, ...], needed_by: _Need | None
    ) -> Provider[Any]:
        bound = self._bindings.get((base, name))
        if bound is not None:
            return bound
        interfaces = self._bound_interfaces(base, name)
        if interfaces:
            # An implementation of a bound interface (a concrete store class): one of the
            # bound instances, never a second one built here.
            return CallableProvider(self._pick_instance, base, name, interfaces, needed_by)
        if name is not None:
            raise self._unknown_name(base, name, needed_by)
        plan = self._plans.get(base)
        if plan is not None:
            return plan
        plan = self._plan(base, chain, needed_by)
        self._plans[base] = plan
        return plan

    @staticmethod
    def _buildable(base: Any, name: str | None) -> bool:
        """Whether the container could build ``base`` itself (a named key must be bound)."""
        return name is None and _not_buildable(base) is None

    def _bound_interfaces(self, cls: Any, name: str | None) -> list[Any]:
        """The bound keys, other than ``cls``, that ``cls`` implements (with a binding
        named ``name``, or any when None)."""
        if not isinstance(cls, type) or _not_buildable(cls) is not None:
            return []
        keys = {key for key, bound_name in self._bindings if name is None or bound_name == name}
        return [key for key in keys if key is not cls and _implements(cls, key)]

    def _pick_instance(
        self, cls: Any, name: str | None, interfaces: list[Any], needed_by: _Need | None
    ) -> Any:
        providers = {
            bound_name: provider
            for (key, bound_name), provider in self._bindings.items()
            if key in interfaces and (name is None or bound_name == name)
        }
        found: dict[int, tuple[str | None, Any]] = {}
        for bound_name, provider in providers.items():
            value = provider()
            if isinstance(value, cls):
                found.setdefault(id(value), (bound_name, value))
        if len(found) == 1:
            return next(iter(found.values()))[1]
        where = f" for {needed_by}" if needed_by is not None else ""
        interface = _name(interfaces[0])
        named = sorted({n for n, _ in found.values() if n is not None})
        if found:
            what = f"{len(found)} bound {interface}s are {_name(cls)} ({', '.join(named)})"
        else:
            what = f"no bound {interface}{f' named {name!r}' if name else ''} is a {_name(cls)}"
        raise ResolutionError(
            f"Cannot provide {_name(cls)}{where}: {what}; inject {interface} with "
            f"Named(...) to choose one (known names: {', '.join(self.names(interfaces[0]))})",
            target=needed_by.owner if needed_by else cls,
            parameter=needed_by.parameter if needed_by else None,
            annotation=cls,
        )

    def _plan(self, cls: Any, chain: tuple[Any, ...], needed_by: _Need | None) -> Provider[Any]:
        if cls in chain:
            cycle = " -> ".join(_name(c) for c in (*chain[chain.index(cls) :], cls))
            raise ResolutionError(f"Dependency cycle: {cycle}", target=cls)
        why = _not_buildable(cls)
        if why is not None:
            where = f" for {needed_by}" if needed_by is not None else ""
            raise ResolutionError(
                f"Cannot provide {_name(cls)}{where}: {why}; bind it with "
                "container.bind(...) or give the parameter a default",
                target=needed_by.owner if needed_by else cls,
                parameter=needed_by.parameter if needed_by else None,
                annotation=cls,
            )
        hints = _hints(cls)
        # A class may name the qualifier its dependencies get by default (a repository: the
        # store it reads), through a ``qualifier_for(dependency)`` classmethod.
        qualifier_for = getattr(cls, "qualifier_for", None)
        args: list[Provider[Any]] = []
        kwargs: dict[str, Provider[Any]] = {}
        for param in inspect.signature(cls).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            need = _Need(cls, param.name, hints.get(param.name, param.annotation))
            has_default = param.default is not param.empty
            if need.annotation is param.empty:
                if has_default:
                    continue
                raise ResolutionError(
                    f"Cannot build {_name(cls)}: parameter {param.name!r} has no type "
                    "annotation, so the container cannot tell what to inject",
                    target=cls,
                    parameter=param.name,
                )
            base, qualifier = _split(need.annotation)
            if qualifier is None and callable(qualifier_for):
                qualifier = qualifier_for(base)
            unbound = (base, qualifier) not in self._bindings and not self._bound_interfaces(
                base, qualifier
            )
            if has_default and unbound:
                continue  # optional and nothing registered for it: keep the default
            if unbound and _optional(need.annotation) and not self._buildable(base, qualifier):
                provider: Provider[Any] = _NONE  # `T | None`, and nothing provides T: None
            else:
                provider = self._provider(base, qualifier, (*chain, cls), need)
            if param.kind is param.POSITIONAL_ONLY:
                args.append(provider)
            else:
                kwargs[param.name] = provider
        logger.debug("Planned %s: %s", _name(cls), ", ".join(kwargs) or "(no parameters)")
        return Factory(cls, *args, **kwargs)

    def _unknown_name(self, base: Any, name: str, needed_by: _Need | None) -> ResolutionError:
        known = ", ".join(self.names(base)) or "(none)"
        where = f" for {needed_by}" if needed_by is not None else ""
        noun = self._nouns.get(base)
        if noun is not None:
            message = f"No {noun} named {name!r}{where}; known {noun}s: {known}"
        else:
            message = (
                f"Nothing bound as {_name(base)} named {name!r}{where}; known names for "
                f"{_name(base)}: {known}"
            )
        return ResolutionError(
            message,
            target=needed_by.owner if needed_by else base,
            parameter=needed_by.parameter if needed_by else None,
            annotation=base,
            store=name if noun == "store" else None,
        )


class _Need:
    """One constructor parameter being resolved, to name it in errors."""

    __slots__ = ("annotation", "owner", "parameter")

    def __init__(self, owner: Any, parameter: str, annotation: Any) -> None:
        self.owner = owner
        self.parameter = parameter
        self.annotation = annotation

    def __str__(self) -> str:
        return (
            f"parameter {self.parameter!r} of {_name(self.owner)} ({_type_text(self.annotation)})"
        )


def _split(annotation: Any) -> tuple[Any, str | None]:
    """``Annotated[T, Named(n)]`` -> ``(T, n)``; ``T | None`` -> ``(T, None)``."""
    name = None
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, Named):
                name = extra.name
        annotation = base
    args = get_args(annotation)
    if type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        inner_base, inner_name = _split(inner)
        return inner_base, name or inner_name
    return annotation, name


_NONE: Provider[Any] = Object(None)


def _optional(annotation: Any) -> bool:
    """Whether ``annotation`` admits None (``T | None``, also inside ``Annotated``)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return type(None) in get_args(annotation)


def _implements(cls: type[Any], key: Any) -> bool:
    """Whether ``cls`` is (nominally or, for a protocol, structurally) a ``key``."""
    if not isinstance(key, type):
        return False
    if getattr(key, "_is_protocol", False):
        members = [n for n in dir(key) if not n.startswith("_")]
        return bool(members) and all(hasattr(cls, n) for n in members)
    return issubclass(cls, key) and inspect.isabstract(key)


def _hints(cls: type[Any]) -> dict[str, Any]:
    init = cls.__init__
    if init is object.__init__:
        return {}
    try:
        return typing.get_type_hints(init, include_extras=True)
    except NameError as exc:
        raise ResolutionError(
            f"Cannot build {_name(cls)}: a type hint of its constructor does not resolve "
            f"({exc}); import that name at module level (not under TYPE_CHECKING)",
            target=cls,
        ) from None


def _not_buildable(cls: Any) -> str | None:
    if not isinstance(cls, type):
        return f"{_type_text(cls)} is not a class"
    if getattr(cls, "_is_protocol", False):
        return "it is a protocol, and nothing is bound to it"
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        return f"it is abstract (does not implement {missing})"
    if cls.__module__ == "builtins":
        return "builtin types are not built by the container"
    return None


def _name(cls: Any) -> str:
    return getattr(cls, "__qualname__", None) or repr(cls)


def _type_text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__qualname__
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        return f"Annotated[{_type_text(base)}, {', '.join(map(repr, extras))}]"
    return repr(annotation).replace("typing.", "")
