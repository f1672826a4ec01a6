"""The cached session: the user it rebuilds is the user the database holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.accounts import session_cache, tokens
from backend.accounts.models import AuthSession, User
from tests.factories import make_user


async def test_the_cached_user_is_the_stored_user_and_can_be_saved(db, cache):
    stored = await make_user(nickname="小李", phone_masked="138****5678", is_platform_admin=True)
    session = await AuthSession.create(
        id=tokens.new_session_id(), user=stored, expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    missed = await session_cache.lookup(cache, user_id=stored.id, session_id=session.id)
    assert missed.entry is None
    await session_cache.store(cache, found=missed, session=session, user=stored)
    entry = (await session_cache.lookup(cache, user_id=stored.id, session_id=session.id)).entry
    assert entry is not None

    cached = session_cache.user_from(entry)

    fresh = await User.get(id=stored.id)
    for name in User._meta.db_fields:
        assert getattr(cached, name) == getattr(fresh, name), name
    # The same instance state as the ORM's own builder leaves (its private flags included): a
    # Tortoise upgrade that adds or renames one fails here.
    by_the_orm = User._init_from_db(**{name: getattr(fresh, name) for name in User._meta.db_fields})
    assert vars(cached) == vars(by_the_orm)
    assert cached._saved_in_db and not cached._partial
    cached.nickname = "小王"
    await cached.save(update_fields=["nickname"])
    assert (await User.get(id=stored.id)).nickname == "小王"


async def test_a_login_returns_the_user_and_session_the_database_holds(db, cache):
    # login reads the user and inserts the session as plain statements (not the ORM's builders):
    # what it hands on (to the token, the cache entry, the response) must be what the ORM reads back.
    from backend.accounts import service

    class InstantWeChat:
        async def code_to_session(self, code: str):
            from backend.wechat.client import Session

            return Session(openid=f"o-login-{code}", session_key="k", unionid=None)

        async def get_phone_number(self, code: str):
            raise NotImplementedError

    stored = await make_user(openid="o-login-returning", nickname="小李", phone_masked="138****5678")
    ttl = timedelta(days=7)
    before = datetime.now(UTC)
    result = await service.login(
        code="returning", wechat=InstantWeChat(), secret="s" * 32, ttl=ttl, cache=cache
    )
    assert not result.created and result.user.id == stored.id
    fresh = await User.get(id=stored.id)
    by_the_orm = User._init_from_db(**{name: getattr(fresh, name) for name in User._meta.db_fields})
    assert vars(result.user) == vars(by_the_orm)

    claims = tokens.decode(secret="s" * 32, token=result.token)
    session = await AuthSession.get(id=claims.session_id)
    assert session.user_id == stored.id and session.revoked_at is None
    assert session.expires_at == result.expires_at
    assert before - timedelta(seconds=1) <= session.created_at <= datetime.now(UTC)
    assert abs(session.expires_at - (session.created_at + ttl)) < timedelta(seconds=1)
    # The entry the login put in the cache answers the token's next request, as the database would.
    user, session_id = await service.authenticate(token=result.token, secret="s" * 32, cache=cache)
    assert session_id == session.id and vars(user) == vars(by_the_orm)

    first = await service.login(code="new", wechat=InstantWeChat(), secret="s" * 32, ttl=ttl, cache=cache)
    assert first.created and (await User.get(openid="o-login-new")).id == first.user.id
