"""Durable invalidation (backend/invalidation.py) and reads while Redis is away (backend/cache.py).

"Another process" is played by a second ``Versions``: it knows only what it polls from the database.
A lost Redis bump is played by committing a change without calling the post-commit invalidation,
as a process does that fails (or dies) between its commit and Redis.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from backend import invalidation, ratelimit
from backend.accounts import service as accounts_service
from backend.accounts import session_cache
from backend.accounts.models import AuthSession
from backend.cache import Cache, create_cache
from backend.errors import TooManyRequests
from backend.registry import profiles, qr
from backend.registry import service as registry_service
from backend.registry.models import QrCodeVersion
from backend.registry.schemas import OrgSearch
from tests.factories import make_org, make_user
from tests.faults import free_port

SECRET = "s" * 40


async def _log_in(user_id: int, cache: Cache | None) -> str:
    session = await AuthSession.create(
        id=accounts_service.tokens.new_session_id(),
        user_id=user_id,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    token = accounts_service.tokens.issue(
        secret=SECRET, user_id=user_id, session_id=session.id, ttl=timedelta(hours=1)
    )
    if cache is not None:
        await accounts_service.authenticate(token=token, secret=SECRET, cache=cache)  # cached now
    return token


async def test_another_process_learns_a_committed_change_by_polling_and_not_a_rolled_back_one(db):
    other = invalidation.Versions()
    assert await other.fresh()
    stamp = other.stamp("user:7")
    async with in_transaction():
        await invalidation.record("user:7")
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await invalidation.record("user:8")
            raise RuntimeError("rolled back")
    await asyncio.sleep(invalidation.TRUST_SECONDS)
    assert await other.fresh()  # polls: its last poll is older than the trust window
    assert not other.trusts("user:7", stamp)  # an entry built before the change
    assert other.trusts("user:7", other.stamp("user:7"))  # one built after it
    assert other.trusts("user:8", 0)


async def test_a_fresh_process_knows_the_changes_of_the_last_hour(db):
    async with in_transaction():
        await invalidation.record("org:A", "org:B")
        await invalidation.record("org:A")
    fresh = invalidation.Versions()
    assert await fresh.fresh()
    assert (fresh.stamp("org:A"), fresh.stamp("org:B")) == (2, 1)
    assert not fresh.trusts("org:A", 1)


async def test_a_logout_whose_redis_bump_is_lost_is_refused_on_the_next_request(db, cache):
    user = await make_user()
    token = await _log_in(user.id, cache)
    claims = accounts_service.tokens.decode(secret=SECRET, token=token)
    # The commit without the bump: the entry in Redis still says the session is live.
    async with in_transaction():
        await AuthSession.filter(id=claims.session_id).update(revoked_at=datetime.now(UTC))
        await session_cache.record_change(user.id)
    assert (await session_cache.lookup(cache, user_id=user.id, session_id=claims.session_id)).entry is None
    for _ in range(3):
        with pytest.raises(accounts_service.SessionRevoked):
            await accounts_service.authenticate(token=token, secret=SECRET, cache=cache)


async def test_a_revoked_qr_code_whose_redis_bump_is_lost_verifies_as_not_genuine(db, cache, settings):
    org = await make_org()
    code = await qr.current_code(organization=org)
    url = f"https://gongxin.example.cn/o/{code.token}"
    keyring = qr.KeyRing()

    async def verdict() -> bytes:
        profiles._local.clear()  # another process: none of this one's half-second copies
        profiles.local_answers.clear()
        return await qr.verify(
            url=url,
            public_base_url="https://gongxin.example.cn",
            cache=cache,
            keyring=keyring,
            now=datetime.now(UTC),
        )

    assert b'"good_standing"' in await verdict()  # the view is in Redis now
    async with in_transaction():
        await QrCodeVersion.filter(organization=org).update(
            revoked_at=datetime.now(UTC), revoke_reason="lost"
        )
        await profiles.record_change(org.credit_code)
    for _ in range(3):
        assert b'"not_genuine"' in await verdict()


@pytest.fixture
async def dead_cache():
    """A cache whose Redis refuses every connection (nothing listens on its port)."""
    cache = create_cache(f"redis://127.0.0.1:{free_port()}/0")
    yield cache
    await cache.close()


async def test_with_redis_away_sessions_profiles_and_search_are_read_from_the_database(db, dead_cache):
    user = await make_user()
    token = await _log_in(user.id, None)
    org = await make_org(name="深圳市回退测试协会")
    for _ in range(3):
        found, _ = await accounts_service.authenticate(token=token, secret=SECRET, cache=dead_cache)
        assert found.id == user.id
        profile = await profiles.get_profile_bytes(
            cache=dead_cache, credit_code=org.credit_code, today=date.today()
        )
        assert "深圳市回退测试协会".encode() in profile
        page = await registry_service.search(params=OrgSearch(q="回退测试"), cache=dead_cache)
        assert org.credit_code.encode() in page
    assert not dead_cache.usable()  # reads skip Redis for a while after a failure


async def test_with_redis_away_a_revoked_session_is_still_refused(db, cache, dead_cache):
    user = await make_user()
    token = await _log_in(user.id, cache)
    await accounts_service.revoke_all_sessions(user=user, cache=dead_cache)  # the bump fails: no error
    with pytest.raises(accounts_service.SessionRevoked):
        await accounts_service.authenticate(token=token, secret=SECRET, cache=dead_cache)
    with pytest.raises(accounts_service.SessionRevoked):
        await accounts_service.authenticate(token=token, secret=SECRET, cache=cache)


class _Limited(TooManyRequests):
    code = "test.limited"


async def test_with_redis_away_the_rate_limit_counts_in_the_process(dead_cache):
    key = f"test:{free_port()}"
    for _ in range(3):
        await ratelimit.enforce(cache=dead_cache, key=key, limit=3, window_seconds=60, error=_Limited)
    with pytest.raises(_Limited):
        await ratelimit.enforce(cache=dead_cache, key=key, limit=3, window_seconds=60, error=_Limited)
