from __future__ import annotations

import asyncio

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
    # A fixed window: later hits do not push the expiry back.
    await cache.client.pexpire(cache.key("hits"), 5_000)
    assert await cache.incr("hits", ttl=60) == 3
    assert 0 < await cache.client.pttl(cache.key("hits")) <= 5_000


async def test_counters_asked_together_share_one_pipeline_and_each_gets_its_own_count(
    cache: Cache, monkeypatch
):
    pipelines: list[int] = []
    real_pipeline = cache.client.pipeline

    def counting_pipeline(*args, **kwargs):
        pipelines.append(1)
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(cache.client, "pipeline", counting_pipeline)
    names = ["a", "b", "a", "c", "a"]
    counts = await asyncio.gather(*(cache.incr(n, ttl=60) for n in names))
    # The same key asked three times in one batch is counted in order: 1, 2, 3.
    assert counts == [1, 1, 2, 1, 3]
    assert len(pipelines) == 1
    for n in ("a", "b", "c"):
        assert 0 < await cache.client.pttl(cache.key(n)) <= 60_000
    # A later turn is a new pipeline and goes on counting.
    assert await cache.incr("a", ttl=60) == 4
    assert len(pipelines) == 2


async def test_puts_asked_together_share_one_pipeline_in_the_order_asked(cache: Cache, monkeypatch):
    pipelines: list[int] = []
    real_pipeline = cache.client.pipeline

    def counting_pipeline(*args, **kwargs):
        pipelines.append(1)
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(cache.client, "pipeline", counting_pipeline)
    asks = [("p1", b"one"), ("p2", b"two"), ("p1", b"three")]
    await asyncio.gather(*(cache.put(cache.key(k), v, ttl=60) for k, v in asks))
    assert len(pipelines) == 1
    # The same key put twice in one batch keeps the later value.
    assert await cache.mget(cache.key("p1"), cache.key("p2")) == [b"three", b"two"]
    for k in ("p1", "p2"):
        assert 0 < await cache.client.pttl(cache.key(k)) <= 60_000
    # A lone put in a later turn is a plain SET.
    await cache.put(cache.key("p2"), b"four", ttl=30)
    assert len(pipelines) == 1
    assert await cache.mget(cache.key("p2")) == [b"four"]
    assert 0 < await cache.client.pttl(cache.key("p2")) <= 30_000


async def test_ping_answers(cache: Cache):
    await cache.ping()


async def test_reads_in_the_same_turn_share_one_mget_and_each_gets_its_own_values(cache: Cache, monkeypatch):
    for i in range(6):
        await cache.client.set(cache.key(f"m{i}"), f"v{i}")
    sent: list[list[str]] = []
    real_mget = cache.client.mget

    async def counting_mget(keys, *args):
        sent.append(list(keys))
        return await real_mget(keys, *args)

    monkeypatch.setattr(cache.client, "mget", counting_mget)
    asks = [(cache.key(f"m{i}"), cache.key("absent")) for i in range(6)]
    answers = await asyncio.gather(*(cache.mget(*keys) for keys in asks))
    assert answers == [[f"v{i}".encode(), None] for i in range(6)]
    assert len(sent) == 1 and len(sent[0]) == 12
    # A later turn is a new MGET.
    assert await cache.mget(cache.key("m0")) == [b"v0"]
    assert len(sent) == 2


async def test_a_failed_mget_fails_every_read_that_shared_it(cache: Cache, monkeypatch):
    async def broken_mget(keys, *args):
        raise ConnectionError("redis went away")

    monkeypatch.setattr(cache.client, "mget", broken_mget)
    results = await asyncio.gather(
        cache.mget(cache.key("a")), cache.mget(cache.key("b")), return_exceptions=True
    )
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]


async def test_a_reader_that_goes_away_does_not_disturb_the_others(cache: Cache):
    await cache.client.set(cache.key("kept"), "yes")
    gone = asyncio.ensure_future(cache.mget(cache.key("kept")))
    kept = asyncio.ensure_future(cache.mget(cache.key("kept")))
    await asyncio.sleep(0)  # both are waiting for the shared MGET
    gone.cancel()
    assert await kept == [b"yes"]
    assert gone.cancelled()


async def test_a_connection_being_checked_does_not_hold_up_the_others(monkeypatch):
    """redis-py 5's default pool checks a connection while holding its pool-wide lock, so one slow
    check (one event-loop turn each, under load) queued every other command behind it."""
    import asyncio
    import os

    import pytest
    from redis.asyncio.connection import Connection

    from backend.cache import create_cache

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs a real Redis (TEST_REDIS_URL)")
    cache = create_cache(url, prefix="gongxin-test-pool:")
    try:
        await asyncio.gather(*(cache.client.ping() for _ in range(4)))  # connections exist and are open
        release = asyncio.Event()
        original = Connection.can_read_destructive
        held = []

        async def slow_first_check(self):
            if not held:
                held.append(self)
                await release.wait()  # the first connection's check takes as long as we like
            return await original(self)

        monkeypatch.setattr(Connection, "can_read_destructive", slow_first_check)
        first = asyncio.ensure_future(cache.client.ping())
        await asyncio.sleep(0.01)
        assert held
        # While the first command's connection is being checked, others still get theirs.
        assert await asyncio.wait_for(asyncio.gather(*(cache.client.ping() for _ in range(3))), 5)
        release.set()
        assert await first
    finally:
        await cache.close()
