"""FastAPI and Starlette: a lifespan that boots the ``Application``, ``Inject[T]`` to get
services, stores and repositories out of its container, RFC 9457 problem details for the
package's errors, and a health endpoint.

::

    nosql = lifespan("config/nosql.yaml")
    web = FastAPI(lifespan=nosql)
    install_problem_details(web)
    web.mount("/health", nosql.health_app())  # or: web.add_route("/health", health_endpoint)

    @web.get("/users/{user_id}")
    async def get_user(user_id: str, users: Inject[UserRepository]) -> dict: ...
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar

from fastapi import Depends
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from lexigram_nosql.config.loader import ConfigSource
from lexigram_nosql.di.container import Container
from lexigram_nosql.errors import (
    ConcurrencyError,
    DocumentDeletedError,
    DocumentNotFoundError,
    DuplicateKeyError,
    InvalidQueryError,
    NoSQLConnectionError,
    NoSQLError,
    StoreStateError,
)
from lexigram_nosql.health import HEALTH_CONTENT_TYPE, ASGIApp, HealthService, health_app
from lexigram_nosql.providers import Application, Module, NoSQLModule

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "STATUS_BY_ERROR",
    "Inject",
    "NoSQLLifespan",
    "application_of",
    "health_endpoint",
    "install_problem_details",
    "lifespan",
    "problem_details_handler",
    "status_of",
]

logger = logging.getLogger("lexigram_nosql")

T = TypeVar("T")

PROBLEM_CONTENT_TYPE = "application/problem+json"

STATE_KEY = "lexigram_nosql"
"""Where the running ``Application`` is kept: the lifespan state and ``app.state``."""

STATUS_BY_ERROR: Mapping[type[NoSQLError], int] = {
    DocumentDeletedError: 410,
    DocumentNotFoundError: 404,
    DuplicateKeyError: 409,
    ConcurrencyError: 409,
    InvalidQueryError: 400,
    NoSQLConnectionError: 503,
}
"""The HTTP status of each error class; the nearest class in an error's MRO wins, any other
error is a 500."""


def lifespan(
    config: ConfigSource | None,
    *,
    modules: Sequence[type[NoSQLModule] | Module] = (NoSQLModule,),
    container: Container | None = None,
    environ: Mapping[str, str] | None = None,
) -> NoSQLLifespan:
    """A lifespan for ``FastAPI(lifespan=...)`` or ``Starlette(lifespan=...)``: boots
    ``Application.boot(config=..., modules=...)`` at startup (a store that cannot connect
    fails the startup) and stops it at shutdown.

    The application is put in the lifespan state and on ``app.state``, where ``Inject``,
    ``health_endpoint`` and ``application_of`` find it, mounted sub-applications included.
    Pass ``container=Container(existing)`` to share a dependency-injector container with
    ``@inject`` code.
    """
    return NoSQLLifespan(config, modules=modules, container=container, environ=environ)


class NoSQLLifespan:
    """What ``lifespan()`` returns: the framework calls it with the app; ``health_app()``
    is the stores' health endpoint of the application it boots."""

    def __init__(
        self,
        config: ConfigSource | None,
        *,
        modules: Sequence[type[NoSQLModule] | Module],
        container: Container | None,
        environ: Mapping[str, str] | None,
    ) -> None:
        self._config = config
        self._modules = modules
        self._container = container
        self._environ = environ
        self._application: Application | None = None

    def __call__(self, app: Any) -> AbstractAsyncContextManager[dict[str, Any]]:
        return self._run(app)

    @contextlib.asynccontextmanager
    async def _run(self, app: Any) -> AsyncIterator[dict[str, Any]]:
        async with Application.boot(
            config=self._config,
            modules=self._modules,
            container=self._container,
            environ=self._environ,
        ) as application:
            state = getattr(app, "state", None)
            if state is not None:
                setattr(state, STATE_KEY, application)
            self._application = application
            try:
                yield {STATE_KEY: application}
            finally:
                self._application = None
                if state is not None:
                    with contextlib.suppress(AttributeError):
                        delattr(state, STATE_KEY)

    @property
    def application(self) -> Application:
        """The running application.

        Raises:
            StoreStateError: the app is not started (or already stopped).
        """
        if self._application is None:
            raise StoreStateError(
                "The lexigram-nosql application is not running: it boots with the app's "
                "lifespan (serve the app with lifespan events on)."
            )
        return self._application

    def health_app(self, *, path: str = "/health") -> ASGIApp:
        """``health_app`` (``lexigram_nosql.health``) of the booted application's
        ``HealthService``, to mount in one line: ``web.mount("/health", nosql.health_app())``.
        """

        async def service() -> HealthService:
            return await self.application.container.resolve(HealthService)

        return health_app(service, path=path)


def application_of(connection: HTTPConnection) -> Application:
    """The ``Application`` booted by ``lifespan`` for this request or websocket.

    Raises:
        StoreStateError: no lifespan of this module is running for the app.
    """
    state = connection.scope.get("state")
    found = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    if found is None:
        app_state = getattr(connection.scope.get("app"), "state", None)
        found = getattr(app_state, STATE_KEY, None)
    if not isinstance(found, Application):
        raise StoreStateError(
            "No lexigram-nosql application is running for this request: create the app with "
            "FastAPI(lifespan=lexigram_nosql.integrations.fastapi.lifespan(config)) and serve "
            "it with lifespan events on."
        )
    return found


_dependencies: dict[Any, Callable[..., Any]] = {}


def _dependency(target: Any) -> Callable[..., Any]:
    """One dependency callable per target, so FastAPI's per-request cache shares it."""
    found = _dependencies.get(target)
    if found is None:

        async def resolve(connection: HTTPConnection) -> Any:
            return await application_of(connection).container.resolve(target)

        resolve.__qualname__ = f"resolve[{getattr(target, '__qualname__', target)!s}]"
        found = _dependencies.setdefault(target, resolve)
    return found


if TYPE_CHECKING:
    Inject: TypeAlias = Annotated[T, ...]
else:

    class Inject:
        """``Inject[T]`` is ``Annotated[T, Depends(...)]`` resolving ``T`` from the booted
        container: a service, ``DocumentStoreProtocol`` (the primary),
        ``Annotated[DocumentStoreProtocol, Named("x")]``, a repository, ``HealthService``."""

        __slots__ = ()

        def __class_getitem__(cls, target: Any) -> Any:
            return Annotated[target, Depends(_dependency(target))]

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("Inject is used as an annotation: Inject[UserRepository]")


# -- problem details (RFC 9457) -------------------------------------------------------------


def status_of(exc: BaseException) -> int:
    """The HTTP status ``exc`` maps to (see ``STATUS_BY_ERROR``)."""
    for cls in type(exc).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


async def problem_details_handler(request: Request, exc: Exception) -> Response:
    """The ``application/problem+json`` response for ``exc``.

    4xx carry the error's message as ``detail`` (it names what the client got wrong; secrets
    are already redacted). A 503 says only which store is unavailable, plus ``Retry-After``
    when the circuit breaker knows when it will try again. Anything else is a bare 500: its
    cause is logged, never sent.
    """
    status = status_of(exc)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "instance": request.url.path,
    }
    headers: dict[str, str] = {}
    if status == 503:
        store = getattr(exc, "store", None)
        what = f"The document store {store!r}" if store else "A document store"
        body["detail"] = f"{what} is unavailable; try again later."
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and math.isfinite(retry_after):
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    elif status < 500:
        body["detail"] = getattr(exc, "message", None) or str(exc)
    if status >= 500:
        # Another exception is re-raised to the server after this answer (Starlette's
        # ServerErrorMiddleware), which logs its traceback: only ours are logged in full here.
        traceback = status == 500 and isinstance(exc, NoSQLError)
        logger.error(
            "%s %s failed with %s (answered %d)",
            request.method,
            request.url.path,
            type(exc).__name__,
            status,
            exc_info=(type(exc), exc, exc.__traceback__) if traceback else None,
        )
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def install_problem_details(app: Any, *, unhandled: bool = True) -> None:
    """Answer the package's errors (and, with ``unhandled``, every other exception, as a
    bare 500) with problem details on a FastAPI or Starlette ``app``."""
    app.add_exception_handler(NoSQLError, problem_details_handler)
    if unhandled:
        app.add_exception_handler(Exception, problem_details_handler)


# -- health ---------------------------------------------------------------------------------


async def health_endpoint(request: Request) -> Response:
    """The stores' health as ``application/health+json`` (200 pass/warn, 503 fail), for
    ``app.add_route("/health", health_endpoint)``; any mount path works."""
    service = await application_of(request).container.resolve(HealthService)
    report = await service.check()
    return JSONResponse(
        report.to_dict(),
        report.http_status,
        headers={"cache-control": "no-store"},
        media_type=HEALTH_CONTENT_TYPE,
    )
