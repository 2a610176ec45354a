"""``NoSQLModule`` (the stores of the ``nosql`` section, as container providers, with their
lifecycle) and ``Application`` (a small host that boots modules around a container).

dependency-injector's ``init_resources()`` starts async resources in no fixed order and has no
notion of a failed start undoing the others; the module owns that instead: eager stores
connect concurrently (each bounded by its ``connect_timeout_s``), a failure disconnects the
ones already up, and shutdown disconnects in reverse order exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from dependency_injector import containers
from dependency_injector.providers import DependenciesContainer, Object, Provider, Singleton

from lexigram_nosql.backends import create_store
from lexigram_nosql.config.loader import ConfigSource, load_config
from lexigram_nosql.config.settings import NoSQLSettings
from lexigram_nosql.contracts import DocumentStoreProtocol
from lexigram_nosql.di.booted import booted
from lexigram_nosql.di.container import Container
from lexigram_nosql.di.names import (
    HEALTH_PROVIDER,
    PRIMARY_STORE_PROVIDER,
    SETTINGS_PROVIDER,
    store_provider_name,
)
from lexigram_nosql.errors import StoreStateError
from lexigram_nosql.health import HealthService
from lexigram_nosql.redaction import install_log_redaction, register_secrets

__all__ = ["Application", "Module", "NoSQLModule"]

logger = logging.getLogger("lexigram_nosql")


@runtime_checkable
class Module(Protocol):
    """What ``Application.boot`` does with each module: build it from the config, install its
    providers, start it, and stop it (in reverse order) at the end."""

    def install(self, container: Container | containers.Container) -> None: ...

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...


class NoSQLModule:
    """One singleton store per ``nosql.backends`` entry, bound in the container by name (and
    the primary also unnamed), plus the ``HealthService``.

    Provider names on the wrapped dependency-injector container (see ``lexigram_nosql.di``):
    ``nosql_store`` (the primary), ``nosql_store_<name>`` per store, ``nosql_health``,
    ``nosql_settings``.
    """

    def __init__(self, settings: NoSQLSettings, *, redact_logs: bool = True) -> None:
        """``redact_logs``: scrub the stores' secrets from every log record of the process
        (drivers log credentials at DEBUG); see ``lexigram_nosql.redaction``."""
        self.settings = settings
        for entry in settings.backends:
            register_secrets(entry.secrets())
        if redact_logs:
            install_log_redaction()
        self._providers = {
            entry.name: Singleton(create_store, entry) for entry in settings.backends
        }
        self._health = Singleton(
            HealthService,
            stores=[self._providers[entry.name] for entry in settings.backends],
            critical={entry.name: entry.critical for entry in settings.backends},
            timeouts={entry.name: entry.health_timeout_s for entry in settings.backends},
            cache_ttl_s=settings.health.cache_ttl_s,
        )
        self._settings = Object(settings)
        self._started: list[DocumentStoreProtocol] = []
        self._state = "new"

    @classmethod
    def from_config(
        cls, config: ConfigSource | None, *, environ: Mapping[str, str] | None = None
    ) -> NoSQLModule:
        """Read the ``nosql`` section (file, mapping or settings; env overrides applied)."""
        return cls(load_config(config, environ=environ))

    # -- wiring ---------------------------------------------------------------------------

    @property
    def stores(self) -> Mapping[str, DocumentStoreProtocol]:
        """Every store by name, in config order (created on first access, not connected)."""
        return MappingProxyType({name: p() for name, p in self._providers.items()})

    @property
    def health(self) -> HealthService:
        service: HealthService = self._health()
        return service

    def install(self, container: Container | containers.Container) -> None:
        """Register the providers on ``container``:

        - ours: ``resolve`` then finds them by type and ``Named``;
        - a dependency-injector ``DynamicContainer``: set under the provider names;
        - a ``DeclarativeContainer`` declaring ``nosql = providers.DependenciesContainer()``:
          that attribute is overridden, and ``Provide["nosql.nosql_store_analytics"]`` works.

        Raises:
            TypeError: a declarative container without the ``nosql`` attribute
                (dependency-injector cannot wire providers added to its instances).
        """
        if isinstance(container, Container):
            for name, provider in self._providers.items():
                container.bind(
                    DocumentStoreProtocol,
                    provider,
                    name=name,
                    provider_name=store_provider_name(name),
                )
            primary = self._providers[self.settings.primary.name]
            container.describe(DocumentStoreProtocol, "store")
            container.bind(DocumentStoreProtocol, primary, provider_name=PRIMARY_STORE_PROVIDER)
            container.bind(HealthService, self._health, provider_name=HEALTH_PROVIDER)
            container.bind(NoSQLSettings, self._settings, provider_name=SETTINGS_PROVIDER)
            return
        if getattr(container, "declarative_parent", None) is None:
            for provider_name, named in self._named_providers().items():
                setattr(container, provider_name, named)
            return
        slot = getattr(container, "nosql", None)
        if not isinstance(slot, DependenciesContainer):
            raise TypeError(
                f"Cannot install the nosql module into {type(container).__name__}: declare "
                "`nosql = providers.DependenciesContainer()` on the container class (its "
                "stores are then Provide['nosql.nosql_store_<name>']); dependency-injector "
                "cannot wire providers added to a declarative container's instance."
            )
        slot.override(self.as_container())

    def as_container(self) -> containers.DynamicContainer:
        """A dependency-injector container holding this module's providers, by their names."""
        container = containers.DynamicContainer()
        for provider_name, named in self._named_providers().items():
            setattr(container, provider_name, named)
        return container

    def _named_providers(self) -> dict[str, Provider[Any]]:
        named: dict[str, Provider[Any]] = {
            store_provider_name(name): p for name, p in self._providers.items()
        }
        named[PRIMARY_STORE_PROVIDER] = self._providers[self.settings.primary.name]
        named[HEALTH_PROVIDER] = self._health
        named[SETTINGS_PROVIDER] = self._settings
        return named

    # -- lifecycle ------------------------------------------------------------------------

    async def startup(self) -> None:
        """Connect every eager store concurrently; lazy ones connect on first use.

        Raises:
            NoSQLConnectionError: a store could not connect (it names the store, driver and
                redacted address); every store already connected has been disconnected.
        """
        if self._state != "new":
            raise StoreStateError(f"The nosql module was already started ({self._state}).")
        self._state = "starting"
        stores = [self._providers[entry.name]() for entry in self.settings.backends]
        self._started = stores  # all of them: shutdown also closes lazy stores used later
        eager = [s for s, e in zip(stores, self.settings.backends, strict=True) if not e.lazy]
        tasks = [asyncio.create_task(s.connect(), name=f"connect {s.name}") for s in eager]
        try:
            if tasks:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                failed = [t for t in tasks if t in done and t.exception() is not None]
                if failed:
                    raise failed[0].exception()  # type: ignore[misc]
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.shutdown()
            raise
        self._state = "started"
        lazy = [s.name for s, e in zip(stores, self.settings.backends, strict=True) if e.lazy]
        logger.info(
            "nosql module started: %d store(s) connected%s",
            len(eager),
            f", lazy: {', '.join(lazy)}" if lazy else "",
        )

    async def shutdown(self) -> None:
        """Disconnect every store in reverse order, once; never raises (except to pass on a
        cancellation after every store was closed)."""
        if self._state in ("stopped", "new"):
            self._state = "stopped"
            return
        self._state = "stopped"
        cancelled: BaseException | None = None
        for store in reversed(self._started):
            try:
                await store.disconnect()
            except asyncio.CancelledError as exc:
                cancelled = exc  # finish closing the others first
            except Exception as exc:
                logger.warning("Error while disconnecting store %s: %r", store.name, exc)
        self._started = []
        if cancelled is not None:
            raise cancelled

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[NoSQLModule]:
        """``async with module.lifespan():`` starts the stores and always stops them."""
        await self.startup()
        try:
            yield self
        finally:
            await self.shutdown()


class Application:
    """A minimal host: a ``Container`` plus modules started in order and stopped in reverse.

    Use ``async with Application.boot(config=..., modules=[NoSQLModule]) as app:``.
    """

    def __init__(self, container: Container, modules: Sequence[Module]) -> None:
        self.container = container
        self.modules = tuple(modules)

    @classmethod
    @contextlib.asynccontextmanager
    async def boot(
        cls,
        *,
        config: ConfigSource | None = None,
        modules: Sequence[type[NoSQLModule] | Module] = (NoSQLModule,),
        container: Container | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Application]:
        """Build each module from ``config`` (a path, a mapping with a ``nosql`` section, or
        ``NoSQLSettings``), install it, start it; stop everything on exit, even when the body
        raises or is cancelled."""
        container = container if container is not None else Container()
        instances: list[Module] = [
            m.from_config(config, environ=environ) if isinstance(m, type) else m for m in modules
        ]
        for module in instances:
            module.install(container)
        started: list[Module] = []
        try:
            for module in instances:
                await module.startup()
                started.append(module)
            app = cls(container, instances)
            container.bind_instance(Application, app)
            with booted(container):  # MigrationManager(db_name=...) looks for its store here
                yield app
        finally:
            await _stop(started)


async def _stop(modules: list[Module]) -> None:
    cancelled: BaseException | None = None
    for module in reversed(modules):
        try:
            await module.shutdown()
        except asyncio.CancelledError as exc:
            cancelled = exc
        except Exception as exc:
            logger.warning("Error while stopping %s: %r", type(module).__name__, exc)
    if cancelled is not None:
        raise cancelled
