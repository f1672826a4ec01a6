from __future__ import annotations

from backend.cache import Cache


async def test_json_values_round_trip_and_expire(cache: Cache):
    await cache.set_json("k", {"a": 1, "名": "公信"}, ttl=60)
    assert await cache.get_json("k") == {"a": 1, "名": "公信"}
    await cache.delete("k")
    assert await cache.get_json("k") is None


async def test_add_json_sets_only_once(cache: Cache):
    assert await cache.add_json("once", 1, ttl=60) is True
    assert await cache.add_json("once", 2, ttl=60) is False
    assert await cache.get_json("once") == 1


async def test_counter_starts_expiry_on_first_hit(cache: Cache):
    assert await cache.incr("hits", ttl=60) == 1
    assert await cache.incr("hits", ttl=60) == 2
    ttl_ms = await cache.client.pttl(cache.key("hits"))
    assert 0 < ttl_ms <= 60_000


async def test_ping_answers(cache: Cache):
    await cache.ping()
