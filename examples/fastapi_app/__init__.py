"""A small shop service on lexigram-nosql and FastAPI: users (soft delete) and orders
(versioned, 409 on a stale write) on two named stores, health and migrations.

Run it with ``python -m examples.fastapi_app`` (see README.md here)."""

from examples.fastapi_app.app import create_app

__all__ = ["create_app"]
