"""The container: ``resolve`` by type and ``Named``, constructor autowiring with cached plans,
repositories, plain dependency-injector access, and errors that name what went wrong."""

from __future__ import annotations

import abc
import ast
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject

from lexigram_nosql import (
    Application,
    Container,
    DocumentRepository,
    HealthService,
    Named,
    NoSQLModule,
    NoSQLSettings,
    ResolutionError,
    load_config,
)
from lexigram_nosql.backends.dynamodb import DynamoDocumentStore
from lexigram_nosql.backends.memory import MemoryDocumentStore
from lexigram_nosql.contracts import DocumentStoreProtocol

CONFIG = {
    "nosql": {
        "backends": [
            {"name": "primary", "driver": "memory", "primary": True},
            {"name": "analytics", "driver": "memory"},
            {"name": "audit-log", "driver": "memory"},
        ]
    }
}


@pytest.fixture
async def app() -> AsyncIterator[Application]:
    async with Application.boot(config=CONFIG, modules=[NoSQLModule], environ={}) as booted:
        yield booted


# -- services of the kinds users write ---------------------------------------------------------


class DashboardService:
    def __init__(
        self,
        primary: DocumentStoreProtocol,
        analytics: Annotated[DocumentStoreProtocol, Named("analytics")],
    ) -> None:
        self.primary = primary
        self.analytics = analytics


class Reports:
    def __init__(
        self,
        dashboard: DashboardService,
        audit: Annotated[DocumentStoreProtocol, Named("audit-log")],
    ) -> None:
        self.dashboard = dashboard
        self.audit = audit


class WithDefaults:
    def __init__(self, store: DocumentStoreProtocol, page_size: int = 50, label: str = "x") -> None:
        self.store = store
        self.page_size = page_size


class UserRepository(DocumentRepository[dict[str, Any], str]):
    collection_name = "users"

    async def _document_to_entity(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc

    async def _entity_to_document(self, entity: dict[str, Any]) -> dict[str, Any]:
        return entity


class SoftUserRepository(UserRepository):
    def __init__(self, store: DocumentStoreProtocol) -> None:
        super().__init__(store, soft_delete=True)


class EventRepository(UserRepository):
    collection_name = "events"
    store_name = "analytics"


class AuditRepository(UserRepository):
    store_name = "analytics"  # the constructor's Named wins over the class attribute

    def __init__(self, store: Annotated[DocumentStoreProtocol, Named("audit-log")]) -> None:
        super().__init__(store)


class UserService:
    def __init__(self, repo: UserRepository) -> None:
        self.repo = repo


# -- resolution --------------------------------------------------------------------------------


async def test_named_and_primary_stores_are_injected_by_constructor(app: Application) -> None:
    dashboard = await app.container.resolve(DashboardService)
    assert dashboard.primary.name == "primary"
    assert dashboard.analytics.name == "analytics"
    assert dashboard.primary.is_connected and dashboard.analytics.is_connected


async def test_resolve_works_awaited_and_as_async_context_manager(app: Application) -> None:
    awaited = await app.container.resolve(DocumentStoreProtocol)
    async with app.container.resolve(DocumentStoreProtocol) as entered:
        assert entered is awaited
    assert entered.is_connected, "leaving the block does not close a container-owned store"


async def test_stores_are_singletons_shared_by_every_service(app: Application) -> None:
    first = await app.container.resolve(DashboardService)
    second = await app.container.resolve(DashboardService)
    assert first is not second  # services are built per resolve...
    assert first.analytics is second.analytics  # ...stores are one per entry


async def test_a_name_can_be_given_by_annotation_or_argument(app: Application) -> None:
    by_annotation = await app.container.resolve(
        Annotated[DocumentStoreProtocol, Named("analytics")]
    )
    by_argument = await app.container.resolve(DocumentStoreProtocol, name="analytics")
    assert by_annotation is by_argument
    assert by_argument.name == "analytics"


async def test_dependencies_are_built_recursively(app: Application) -> None:
    reports = await app.container.resolve(Reports)
    assert reports.dashboard.analytics.name == "analytics"
    assert reports.audit.name == "audit-log"


async def test_parameters_with_defaults_keep_them(app: Application) -> None:
    built = await app.container.resolve(WithDefaults)
    assert built.page_size == 50
    assert built.store.name == "primary"


async def test_the_plan_of_a_class_is_computed_once(
    app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typing

    calls: list[object] = []
    real = typing.get_type_hints

    def counting(obj: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(typing, "get_type_hints", counting)
    plan = app.container.provider_for(Reports)
    for _ in range(5):
        await app.container.resolve(Reports)
    assert app.container.provider_for(Reports) is plan
    assert len(calls) == 2  # Reports and DashboardService, once each


async def test_health_service_and_settings_are_injectable(app: Application) -> None:
    health = await app.container.resolve(HealthService)
    report = await health.check()
    assert [c.store for c in report.checks] == ["primary", "analytics", "audit-log"]
    settings = await app.container.resolve(NoSQLSettings)
    assert settings.primary.name == "primary"


async def test_async_providers_are_awaited() -> None:
    container = Container()

    async def make_number() -> int:
        return 42

    container.bind(int, providers.Coroutine(make_number))
    assert await container.resolve(int) == 42


# -- repositories ------------------------------------------------------------------------------


async def test_repository_gets_the_primary_store(app: Application) -> None:
    service = await app.container.resolve(UserService)
    assert service.repo.store.name == "primary"


async def test_repository_with_its_own_constructor(app: Application) -> None:
    repo = await app.container.resolve(SoftUserRepository)
    assert repo.store.name == "primary"
    assert repo.soft_delete is True


async def test_repository_store_name_attribute_picks_the_store(app: Application) -> None:
    repo = await app.container.resolve(EventRepository)
    assert repo.store.name == "analytics"


async def test_named_constructor_parameter_wins_over_store_name(app: Application) -> None:
    repo = await app.container.resolve(AuditRepository)
    assert repo.store.name == "audit-log"


async def test_a_class_names_the_qualifiers_of_its_dependencies_through_qualifier_for() -> None:
    """The container knows nothing of repositories: any class may name the qualifier a
    dependency gets by default (repositories use it for ``store_name``)."""

    class Plain:
        @classmethod
        def qualifier_for(cls, dependency: object) -> str | None:
            return "analytics" if dependency is DocumentStoreProtocol else None

        def __init__(self, store: DocumentStoreProtocol) -> None:
            self.store = store

    container = Container()
    NoSQLModule(load_config(CONFIG, environ={})).install(container)
    built = await container.resolve(Plain)
    assert built.store.name == "analytics"


def test_the_container_core_imports_no_store_or_repository_code() -> None:
    import lexigram_nosql.di.container as core

    tree = ast.parse(Path(core.__file__).read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    lexigram = {name for name in imported if name and name.startswith("lexigram_nosql")}
    assert lexigram == {"lexigram_nosql.di.markers", "lexigram_nosql.errors"}


# -- errors ------------------------------------------------------------------------------------


async def test_unknown_store_lists_the_known_ones(app: Application) -> None:
    class Wants:
        def __init__(self, s: Annotated[DocumentStoreProtocol, Named("archive")]) -> None: ...

    with pytest.raises(ResolutionError) as caught:
        app.container.resolve(Wants)
    error = caught.value
    assert "No store named 'archive'" in str(error)
    assert "parameter 's' of" in str(error) and "Wants" in str(error)
    assert "known stores: analytics, audit-log, primary" in str(error)
    assert (error.target, error.parameter, error.store) == (Wants, "s", "archive")


async def test_unknown_store_name_given_directly(app: Application) -> None:
    with pytest.raises(ResolutionError, match="No store named 'nope'; known stores: "):
        app.container.resolve(DocumentStoreProtocol, name="nope")


def test_unannotated_parameter_is_named() -> None:
    class Loose:
        def __init__(self, thing) -> None:  # type: ignore[no-untyped-def]
            self.thing = thing

    with pytest.raises(ResolutionError) as caught:
        Container().resolve(Loose)
    assert "Cannot build" in str(caught.value) and "Loose" in str(caught.value)
    assert "parameter 'thing' has no type annotation" in str(caught.value)
    assert caught.value.parameter == "thing"


def test_uninjectable_type_names_class_parameter_and_type() -> None:
    class NeedsPort:
        def __init__(self, port: int) -> None: ...

    with pytest.raises(ResolutionError) as caught:
        Container().resolve(NeedsPort)
    text = str(caught.value)
    assert "Cannot provide int for parameter 'port' of" in text and "NeedsPort" in text
    assert (caught.value.parameter, caught.value.annotation) == ("port", int)


def test_protocol_without_a_binding_is_an_error() -> None:
    with pytest.raises(ResolutionError, match="it is a protocol, and nothing is bound to it"):
        Container().resolve(DocumentStoreProtocol)


class AbstractBase(abc.ABC):
    @abc.abstractmethod
    def run(self) -> None: ...


class UsesAbstract:
    def __init__(self, base: AbstractBase) -> None: ...


def test_abstract_class_is_an_error() -> None:
    with pytest.raises(ResolutionError, match=r"it is abstract \(does not implement run\)"):
        Container().resolve(UsesAbstract)


class CycleA:
    def __init__(self, b: CycleB) -> None: ...


class CycleB:
    def __init__(self, c: CycleC) -> None: ...


class CycleC:
    def __init__(self, a: CycleA) -> None: ...


def test_cycles_are_reported_with_their_path() -> None:
    with pytest.raises(
        ResolutionError, match="Dependency cycle: CycleA -> CycleB -> CycleC -> CycleA"
    ):
        Container().resolve(CycleA)


def test_unresolvable_forward_reference_is_named() -> None:
    class Forward:
        def __init__(self, other: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
            ...

    with pytest.raises(ResolutionError, match="type hint of its constructor does not resolve"):
        Container().resolve(Forward)


def test_failed_resolution_leaves_no_half_plan() -> None:
    class Broken:
        def __init__(self, port: int) -> None: ...

    container = Container()
    with pytest.raises(ResolutionError):
        container.resolve(Broken)
    container.bind_instance(int, 8080)
    assert isinstance(container.provider_for(Broken)(), Broken)  # the new binding is used


# -- plain dependency-injector users ---------------------------------------------------------


class AppContainer(containers.DeclarativeContainer):
    """An application's own container, with a slot for the NoSQL module's providers."""

    greeting = providers.Object("hello")
    nosql = providers.DependenciesContainer()


class BareContainer(containers.DeclarativeContainer):
    greeting = providers.Object("hello")


@inject
async def count_events(
    store: DocumentStoreProtocol = Provide["nosql_store_analytics"],
    primary: DocumentStoreProtocol = Provide["nosql_store"],
    audit: DocumentStoreProtocol = Provide["nosql_store_audit_log"],
    health: HealthService = Provide["nosql_health"],
) -> tuple[str, str, str, HealthService]:
    return store.name, primary.name, audit.name, health


@inject
async def count_events_declarative(
    store: DocumentStoreProtocol = Provide["nosql.nosql_store_analytics"],
    primary: DocumentStoreProtocol = Provide["nosql.nosql_store"],
    greeting: str = Provide[AppContainer.greeting],
) -> tuple[str, str, str]:
    return store.name, primary.name, greeting


async def test_provider_names_work_with_plain_dependency_injector_wiring() -> None:
    container = containers.DynamicContainer()
    module = NoSQLModule.from_config(CONFIG, environ={})
    module.install(container)
    container.wire(modules=[sys.modules[__name__]])
    try:
        async with module.lifespan():
            analytics, primary, audit, health = await count_events()
            assert (analytics, primary, audit) == ("analytics", "primary", "audit-log")
            assert isinstance(health, HealthService)
            assert analytics == "analytics" and container.nosql_store_analytics().is_connected
    finally:
        container.unwire()


async def test_declarative_containers_get_the_module_in_their_nosql_slot() -> None:
    container = AppContainer()
    module = NoSQLModule.from_config(CONFIG, environ={})
    module.install(container)
    container.wire(modules=[sys.modules[__name__]])
    try:
        async with module.lifespan():
            assert await count_events_declarative() == ("analytics", "primary", "hello")
    finally:
        container.unwire()


def test_declarative_container_without_a_slot_is_refused_with_the_fix() -> None:
    module = NoSQLModule.from_config(CONFIG, environ={})
    with pytest.raises(TypeError, match=r"declare `nosql = providers.DependenciesContainer\(\)`"):
        module.install(BareContainer())


async def test_our_container_can_wrap_an_existing_one() -> None:
    existing = containers.DynamicContainer()
    container = Container(existing)
    async with Application.boot(config=CONFIG, container=container, environ={}) as app:
        assert app.container.providers is existing
        store = await app.container.resolve(DocumentStoreProtocol, name="analytics")
        assert existing.nosql_store_analytics() is store


# -- optional stores and concrete store classes ---------------------------------------------


class WithOptionalCache:
    def __init__(
        self,
        store: DocumentStoreProtocol,
        cache: Annotated[DocumentStoreProtocol, Named("cache")] | None = None,
        audit: Annotated[DocumentStoreProtocol, Named("audit-log")] | None = None,
    ) -> None:
        self.store, self.cache, self.audit = store, cache, audit


class WithOptionalCacheNoDefault:
    def __init__(self, cache: Annotated[DocumentStoreProtocol, Named("cache")] | None) -> None:
        self.cache = cache


async def test_an_optional_store_that_is_not_configured_keeps_its_default(
    app: Application,
) -> None:
    service = await app.container.resolve(WithOptionalCache)
    assert service.cache is None
    assert service.audit is await app.container.resolve(DocumentStoreProtocol, name="audit-log")
    assert (await app.container.resolve(WithOptionalCacheNoDefault)).cache is None


MIXED = {
    "nosql": {
        "backends": [
            {"name": "primary", "driver": "memory", "primary": True},
            {
                "name": "events",
                "driver": "dynamodb",
                "lazy": True,  # never connected here
                "dynamodb": {"endpoint_url": "http://127.0.0.1:1", "region": "us-east-1"},
            },
        ]
    }
}


class WantsMemoryStore:
    def __init__(self, store: MemoryDocumentStore) -> None:
        self.store = store


class WantsDynamoStore:
    def __init__(self, store: DynamoDocumentStore) -> None:
        self.store = store


async def test_a_concrete_store_class_gets_the_one_configured_store_of_that_class() -> None:
    async with Application.boot(config=MIXED, environ={}) as app:
        primary = await app.container.resolve(DocumentStoreProtocol)
        events = await app.container.resolve(DocumentStoreProtocol, name="events")
        assert (await app.container.resolve(WantsMemoryStore)).store is primary
        assert (await app.container.resolve(WantsDynamoStore)).store is events
        assert await app.container.resolve(MemoryDocumentStore) is primary


async def test_an_ambiguous_or_missing_store_class_is_an_error_never_a_second_store(
    app: Application,
) -> None:
    made: list[Any] = []
    original = MemoryDocumentStore.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        original(self, *args, **kwargs)

    MemoryDocumentStore.__init__ = counting  # type: ignore[method-assign]
    try:
        with pytest.raises(ResolutionError) as ambiguous:
            await app.container.resolve(WantsMemoryStore)
        with pytest.raises(ResolutionError) as missing:
            await app.container.resolve(WantsDynamoStore)
    finally:
        MemoryDocumentStore.__init__ = original  # type: ignore[method-assign]
    assert made == [], "no second store was built"
    message = str(ambiguous.value)
    assert "3 bound DocumentStoreProtocols are MemoryDocumentStore" in message
    assert "inject DocumentStoreProtocol with Named(...)" in message
    assert "analytics, audit-log, primary" in message
    assert "no bound DocumentStoreProtocol is a DynamoDocumentStore" in str(missing.value)
    assert ambiguous.value.parameter == "store"


class WantsNamedMemoryStore:
    def __init__(self, store: Annotated[MemoryDocumentStore, Named("analytics")]) -> None:
        self.store = store


async def test_a_concrete_store_class_with_a_name_gets_that_store(app: Application) -> None:
    analytics = await app.container.resolve(DocumentStoreProtocol, name="analytics")
    assert (await app.container.resolve(WantsNamedMemoryStore)).store is analytics
