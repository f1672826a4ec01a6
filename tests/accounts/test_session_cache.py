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
