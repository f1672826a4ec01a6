"""Fixed-window rate limits shared by every process through the cache.

While Redis is away each process counts on its own (``_local``): a client may then get up to the
limit from each server process it reaches, and the shared count starts again when Redis answers.
A limit that degrades this way keeps login available, which matters more here than its exactness.
"""

from __future__ import annotations

import time

from .cache import CACHE_ERRORS, Cache
from .errors import TooManyRequests

_LOCAL_MAX_KEYS = 10_000
# key -> (window number, hits in it): this process's count while Redis is away.
_local: dict[str, tuple[int, int]] = {}


async def enforce(
    *, cache: Cache, key: str, limit: int, window_seconds: int, error: type[TooManyRequests]
) -> None:
    """Count one hit on ``key``; raise ``error`` once the window holds more than ``limit`` hits."""
    hits: int | None = None
    if cache.usable():
        try:
            hits = await cache.incr(f"rate:{key}", ttl=window_seconds)
        except CACHE_ERRORS as exc:
            cache.failed(exc, context="rate limit")
    counted_in_cache = hits is not None
    if hits is None:
        hits = _count_locally(key, window_seconds)
    if hits > limit:
        retry_after = await _seconds_left(cache, key, window_seconds) if counted_in_cache else None
        if retry_after is None:
            retry_after = _local_seconds_left(window_seconds)
        raise error(details={"retry_after_seconds": retry_after}, retry_after=retry_after)


async def _seconds_left(cache: Cache, key: str, window_seconds: int) -> int | None:
    """What is left of the shared window, in whole seconds (rounded up), not the window's length."""
    try:
        left_ms = await cache.client.pttl(cache.key(f"rate:{key}"))
    except CACHE_ERRORS as exc:
        cache.failed(exc, context="rate limit")
        return None
    return max(1, min(window_seconds, -(-int(left_ms) // 1000))) if left_ms > 0 else window_seconds


def _local_seconds_left(window_seconds: int) -> int:
    """What is left of this process's fixed window (windows start at multiples of its length)."""
    return max(1, window_seconds - int(time.time() % window_seconds))


def _count_locally(key: str, window_seconds: int) -> int:
    window = int(time.time() // window_seconds)
    seen_window, hits = _local.get(key, (window, 0))
    hits = hits + 1 if seen_window == window else 1
    if len(_local) >= _LOCAL_MAX_KEYS:
        _local.clear()
    _local[key] = (window, hits)
    return hits
