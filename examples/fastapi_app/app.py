"""The HTTP API. Errors are not handled here: ``install_problem_details`` turns the package's
errors into RFC 9457 responses (404 unknown, 410 deleted, 409 duplicate or stale, 503 store
unavailable)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from pydantic import BaseModel, Field

from examples.fastapi_app.domain import Order, OrderRepository, User, UserRepository
from examples.fastapi_app.migrations import MigrationsModule, user_migrations
from lexigram_nosql import (
    DocumentDeletedError,
    DocumentNotFoundError,
    DocumentStoreProtocol,
    NoSQLModule,
)
from lexigram_nosql.config.loader import ConfigSource
from lexigram_nosql.integrations.fastapi import (
    Inject,
    health_endpoint,
    install_problem_details,
    lifespan,
)

CONFIG = Path(__file__).with_name("config.yaml")


class NewUser(BaseModel):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class NewOrder(BaseModel):
    user_id: str
    items: list[str] = Field(min_length=1)


class OrderChange(BaseModel):
    status: str
    version: int = Field(description="the _version the client read; a stale one gets 409")


def create_app(config: ConfigSource = CONFIG) -> FastAPI:
    web = FastAPI(
        title="lexigram-nosql shop",
        lifespan=lifespan(config, modules=(NoSQLModule, MigrationsModule())),
    )
    install_problem_details(web)
    web.add_route("/health", health_endpoint, include_in_schema=False)

    @web.post("/users", status_code=201)
    async def create_user(body: NewUser, users: Inject[UserRepository]) -> dict[str, Any]:
        return asdict(await users.save(User(name=body.name, email=body.email)))

    @web.get("/users/{user_id}")
    async def get_user(user_id: str, users: Inject[UserRepository]) -> dict[str, Any]:
        return asdict(await _live_user(users, user_id))

    @web.delete("/users/{user_id}", status_code=204)
    async def delete_user(user_id: str, users: Inject[UserRepository]) -> Response:
        await _live_user(users, user_id)
        await users.delete(user_id)
        return Response(status_code=204)

    @web.post("/users/{user_id}/restore")
    async def restore_user(user_id: str, users: Inject[UserRepository]) -> dict[str, Any]:
        if not await users.restore(user_id):
            raise DocumentNotFoundError(f"No deleted user {user_id!r}", key=user_id)
        return asdict(await _live_user(users, user_id))

    @web.post("/orders", status_code=201)
    async def create_order(
        body: NewOrder, users: Inject[UserRepository], orders: Inject[OrderRepository]
    ) -> dict[str, Any]:
        await _live_user(users, body.user_id)
        return asdict(await orders.save(Order(user_id=body.user_id, items=body.items)))

    @web.get("/orders/{order_id}")
    async def get_order(order_id: str, orders: Inject[OrderRepository]) -> dict[str, Any]:
        return asdict(await _order(orders, order_id))

    @web.put("/orders/{order_id}")
    async def change_order(
        order_id: str, body: OrderChange, orders: Inject[OrderRepository]
    ) -> dict[str, Any]:
        order = await _order(orders, order_id)
        order.status, order._version = body.status, body.version
        return asdict(await orders.save(order))  # ConcurrencyError (409) when stale

    @web.get("/users/{user_id}/orders")
    async def orders_of(user_id: str, orders: Inject[OrderRepository]) -> list[dict[str, Any]]:
        found = await orders.find_by_filter({"user_id": user_id}, sort=[("_id", 1)])
        return [asdict(order) for order in found]

    @web.get("/migrations")
    async def migrations(store: Inject[DocumentStoreProtocol]) -> list[dict[str, Any]]:
        return [
            {"id": s.id, "name": s.name, "state": s.state}
            for s in await user_migrations(store).status()
        ]

    return web


async def _live_user(users: UserRepository, user_id: str) -> User:
    user = await users.get(user_id)
    if user is not None:
        return user
    if await users.with_deleted().exists(user_id):
        raise DocumentDeletedError(f"User {user_id!r} was deleted", key=user_id)
    raise DocumentNotFoundError(f"No user {user_id!r}", key=user_id)


async def _order(orders: OrderRepository, order_id: str) -> Order:
    order = await orders.get(order_id)
    if order is None:
        raise DocumentNotFoundError(f"No order {order_id!r}", key=order_id)
    return order
