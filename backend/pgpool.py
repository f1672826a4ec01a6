"""Tortoise's asyncpg engine, with a bounded wait for a connection from the pool.

asyncpg bounds connecting (``timeout``) and each statement (``command_timeout``), but a request
that finds every pooled connection busy waits for one for ever: Tortoise acquires without a timeout.
When the database hangs, that is every request. Here the pool gives up after ``acquire_timeout``
seconds with ``TimeoutError``, which the HTTP layer answers 503 (``backend/outages.py``).

Named as the connection's ``engine`` in ``backend/db.py``; Tortoise loads ``client_class`` from it.
"""

from __future__ import annotations

import inspect
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

# asyncpg.create_pool's keyword defaults: Pool() itself takes every one of them without a default.
_POOL_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(asyncpg.create_pool).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY
}


class BoundedPool(asyncpg.Pool):
    """An asyncpg pool whose ``acquire()`` waits at most ``acquire_timeout`` seconds by default."""

    def __init__(self, *connect_args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        self.acquire_timeout = acquire_timeout
        super().__init__(*connect_args, **{**_POOL_DEFAULTS, **kwargs})

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout if timeout is None else timeout)


class BoundedAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client over a ``BoundedPool``."""

    def __init__(self, *, acquire_timeout: float, **kwargs: Any) -> None:
        self.acquire_timeout = float(acquire_timeout)
        super().__init__(**kwargs)

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await BoundedPool(None, acquire_timeout=self.acquire_timeout, **kwargs)


client_class = BoundedAsyncpgClient
