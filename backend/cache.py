"""The cache: Redis when REDIS_URL is set, an in-process fakeredis otherwise.

Both speak the ``redis.asyncio`` API, so the rest of the code sees one small interface (``Cache``)
and never knows which one it has. The in-process one is for the embedded default and tests only:
production refuses to start without Redis, because several processes must share this state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
import redis.exceptions

from .batching import Coalescer
from .errors import ServiceUnavailable
from .outages import CACHE, RETRY_AFTER_SECONDS, OutageLog

# What redis-py raises when Redis is away: refused, reset, timed out, no pooled connection in time.
CACHE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# After a failure, reads skip Redis this long (then one read tries it again): a Redis that hangs
# costs one request its timeout per period, not every request.
COOLDOWN_SECONDS = 1.0
# Reads that fall back to the database while Redis is away, at once per process; a request that
# waits longer than FALLBACK_WAIT_SECONDS for its turn answers 503. A database recovering with
# Redis is then not met by every request of every process at once.
FALLBACK_CONCURRENCY = 8
FALLBACK_WAIT_SECONDS = 2.0

_outages = OutageLog(logging.getLogger("gongxin.outages"))


class Cache:
    """Namespaced JSON values, counters and locks over a redis.asyncio client."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "gongxin:") -> None:
        self.client = client
        self.prefix = prefix
        self._coalesced_mget: Coalescer[tuple[str, ...], list[Any]] = Coalescer(
            self._mget_batch, max_in_flight=1
        )
        self._coalesced_incr: Coalescer[tuple[str, int], int] = Coalescer(self._incr_batch, max_in_flight=1)
        self._coalesced_put: Coalescer[tuple[str, bytes, int], None] = Coalescer(
            self._put_batch, max_in_flight=1
        )
        self._down_until = 0.0  # time.monotonic() until which reads skip Redis; 0: Redis is fine
        self._fallbacks = asyncio.Semaphore(FALLBACK_CONCURRENCY)

    # --- Redis away: reads fall back, writes after a commit are best effort -------------------

    def usable(self) -> bool:
        """Whether a read should try Redis now. After a failure, no for ``COOLDOWN_SECONDS``; then
        the first caller tries (and the others wait another period for its answer)."""
        if not self._down_until:
            return True
        now = time.monotonic()
        if now < self._down_until:
            return False
        self._down_until = now + COOLDOWN_SECONDS
        return True

    def failed(self, exc: BaseException, *, context: str = "") -> None:
        """Note that Redis failed: reads skip it for a while, and the operator gets one line."""
        self._down_until = time.monotonic() + COOLDOWN_SECONDS
        _outages.note(CACHE, exc, context=context)

    def recovered(self) -> None:
        """Redis answered: reads use it again."""
        self._down_until = 0.0

    async def read(self, *keys: str) -> list[Any] | None:
        """``mget(*keys)``, or None while Redis is away (the caller reads the database instead)."""
        if not self.usable():
            return None
        try:
            values = await self.mget(*keys)
        except CACHE_ERRORS as exc:
            self.failed(exc, context="read")
            return None
        self.recovered()
        return values

    async def quietly(self, write: Callable[[], Awaitable[Any]], *, context: str = "write") -> None:
        """Run a write whose loss costs only speed (a cache fill, a generation bump after a commit
        that is also recorded durably): Redis failing is logged, not raised, and while Redis is
        known to be away the write is skipped."""
        if self._down_until > time.monotonic():
            return
        try:
            await write()
        except CACHE_ERRORS as exc:
            self.failed(exc, context=context)

    @contextlib.asynccontextmanager
    async def fallback(self) -> AsyncIterator[None]:
        """A turn to read the database instead of Redis (bounded per process), or 503."""
        try:
            await asyncio.wait_for(self._fallbacks.acquire(), FALLBACK_WAIT_SECONDS)
        except TimeoutError:
            raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from None
        try:
            yield
        finally:
            self._fallbacks.release()

    def key(self, name: str) -> str:
        return self.prefix + name

    async def mget(self, *keys: str) -> list[Any]:
        """The values of full keys (``key(name)``), None where absent.

        Every ``mget`` asked in the same turn of the event loop, or while the previous MGET is on
        its way, goes to Redis as one MGET (backend/batching.py): when a burst of requests arrives
        together, their session lookups cost one round trip instead of one each. redis-py spends
        more CPU on a command than Redis does, so that is most of the saving, not the network.
        """
        return await self._coalesced_mget(keys)

    async def _mget_batch(self, asks: list[tuple[str, ...]]) -> list[list[Any]]:
        # Encoded here, in one C call per key: redis-py's encoder tries four types in Python first
        # for every argument, and a burst's MGET carries two keys for each request waiting on it.
        values = await self.client.mget([key.encode() for keys in asks for key in keys])
        answers, start = [], 0
        for keys in asks:
            answers.append(values[start : start + len(keys)])
            start += len(keys)
        return answers

    async def get_json(self, name: str) -> Any | None:
        raw = await self.client.get(self.key(name))
        return None if raw is None else orjson.loads(raw)

    async def set_json(self, name: str, value: Any, *, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl else None
        await self.client.set(self.key(name), orjson.dumps(value), px=px)

    async def add_json(self, name: str, value: Any, *, ttl: float) -> bool:
        """Set only if absent; True when this call set it."""
        return bool(await self.client.set(self.key(name), orjson.dumps(value), px=int(ttl * 1000), nx=True))

    async def delete(self, *names: str) -> None:
        if names:
            await self.client.delete(*(self.key(n) for n in names))

    async def incr(self, name: str, *, ttl: float | None = None) -> int:
        """Increment a counter, starting its expiry on first use (fixed-window rate limits).

        With a ``ttl``, the increments asked in the same turn of the event loop (or while the previous
        batch is on its way) go to Redis as one pipeline, as ``mget`` does: every member of a sign-up
        burst is counted by the rate limit, and one round trip each cost the worker more CPU than
        the sign-up's own batch did. Each caller still gets its own counter's new value.
        """
        key = self.key(name)
        if not ttl:
            return int(await self.client.incr(key))
        return await self._coalesced_incr((key, int(ttl * 1000)))

    async def _incr_batch(self, asks: list[tuple[str, int]]) -> list[int]:
        # INCR and, only if the key has no expiry yet (NX, Redis 7), PEXPIRE: the window starts at
        # the first hit and is never extended. Two asks for the same key are counted in order.
        pipe = self.client.pipeline(transaction=False)
        for key, ttl_ms in asks:
            pipe.incr(key)
            pipe.pexpire(key, ttl_ms, nx=True)
        replies = await pipe.execute()
        return [int(value) for value in replies[::2]]

    async def put(self, key: str, value: bytes, *, ttl: float) -> None:
        """SET a full key (``key(name)``) with an expiry, as cache fills do after a database read.

        The puts asked in the same turn of the event loop (or while the previous batch is on its
        way) go to Redis as one pipeline, as ``mget`` and ``incr`` do: every login stores the session
        it just made, and a SET of its own cost about 55 µs of the worker's CPU in redis-py, a sixth
        of our part of a login (bench/README.md "What limits login"). Two puts of one key in a batch
        are applied in the order asked.
        """
        await self._coalesced_put((key, value, int(ttl * 1000)))

    async def _put_batch(self, asks: list[tuple[str, bytes, int]]) -> list[None]:
        if len(asks) == 1:  # a lone put: no pipeline object to build
            key, value, ttl_ms = asks[0]
            await self.client.set(key, value, px=ttl_ms)
            return [None]
        pipe = self.client.pipeline(transaction=False)
        for key, value, ttl_ms in asks:
            pipe.set(key, value, px=ttl_ms)
        await pipe.execute()
        return [None] * len(asks)

    async def ping(self) -> None:
        """Raise if the cache cannot answer."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


REDIS_MAX_CONNECTIONS = 100  # per process; a command beyond that waits for a free connection
REDIS_POOL_TIMEOUT_SECONDS = 2  # how long it waits before failing like an unreachable Redis


def create_cache(redis_url: str | None, *, prefix: str = "gongxin:") -> Cache:
    """Redis at ``redis_url``, or an in-process fakeredis when it is None."""
    if redis_url:
        # BlockingConnectionPool, not the default pool: redis-py 5's default pool checks each
        # connection it hands out (a zero-timeout read) while holding its pool-wide lock, so under
        # load commands got their connections one event-loop turn apart: 64 concurrent reads queued
        # for up to 600 ms behind each other. This pool checks outside its lock. (redis-py 6 does
        # too, but arq 0.28 pins redis<6.) When all connections are busy a command waits for one.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=REDIS_POOL_TIMEOUT_SECONDS,
            socket_timeout=2,
            socket_connect_timeout=2,
        )
        client = aioredis.Redis.from_pool(pool)
    else:
        import fakeredis  # imported here: only the embedded mode needs it

        client = fakeredis.FakeAsyncRedis()
    return Cache(client, prefix=prefix)
