"""Fixed-window rate limits shared by every process through the cache."""

from __future__ import annotations

from .cache import Cache
from .errors import TooManyRequests


async def enforce(
    *, cache: Cache, key: str, limit: int, window_seconds: int, error: type[TooManyRequests]
) -> None:
    """Count one hit on ``key``; raise ``error`` once the window holds more than ``limit`` hits."""
    hits = await cache.incr(f"rate:{key}", ttl=window_seconds)
    if hits > limit:
        raise error(details={"retry_after_seconds": window_seconds}, retry_after=window_seconds)
