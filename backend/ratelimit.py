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
        # What is left of the window, in whole seconds (rounded up), not the window's length.
        left_ms = await cache.client.pttl(cache.key(f"rate:{key}"))
        retry_after = max(1, min(window_seconds, -(-int(left_ms) // 1000))) if left_ms > 0 else window_seconds
        raise error(details={"retry_after_seconds": retry_after}, retry_after=retry_after)
