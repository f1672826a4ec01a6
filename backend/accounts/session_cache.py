"""Authentication without a database query on most requests: a Redis copy of (session, user).

Entries carry the generation of their user (``auth:user-gen:<id>``) at the time they were read from
the database; revoking a session, changing the user's roles or personal data increments that
generation after the commit, and every process then reads the database again. This is the same
protocol as the organization profiles (backend/registry/profiles.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from ..cache import Cache
from .models import AuthSession, User

# Only a bound on memory: revocation and changes go through the generation, and the entry carries
# the session's own expiry. Long enough to cover a meeting (members open the app, then scan).
ENTRY_TTL_SECONDS = 30 * 60
_USER_FIELDS = (
    "id",
    "openid",
    "unionid",
    "nickname",
    "phone_encrypted",
    "phone_masked",
    "phone_hash",
    "is_platform_admin",
    "created_at",
    "updated_at",
)


# As ``_init_from_db`` sets it: whether the primary key is one the application chose.
_USER_CUSTOM_PK = User._meta.db_pk_column not in User._meta.generated_db_fields


def _gen_key(user_id: int) -> str:
    return f"auth:user-gen:{user_id}"


def _entry_key(session_id: str) -> str:
    return f"auth:session:{session_id}"


async def lookup(cache: Cache, *, user_id: int, session_id: str) -> tuple[bytes, dict[str, Any] | None]:
    """(the user's current generation, the cached entry if it was built at that generation)."""
    gen_raw, entry = await cache.mget(cache.key(_gen_key(user_id)), cache.key(_entry_key(session_id)))
    gen = gen_raw or b"0"
    if entry is not None:
        built_at, _, payload = entry.partition(b"|")
        if built_at == gen:
            return gen, orjson.loads(payload)
    return gen, None


async def store(cache: Cache, *, gen: bytes, session: AuthSession, user: User) -> None:
    """Remember a session read from the database, under the generation read before it."""
    payload = {
        "revoked": session.revoked_at is not None,
        "expires_at": session.expires_at.isoformat(),
        "user": {name: getattr(user, name) for name in _USER_FIELDS},
    }
    await cache.client.set(
        cache.key(_entry_key(session.id)), gen + b"|" + orjson.dumps(payload), ex=ENTRY_TTL_SECONDS
    )


def user_from(entry: dict[str, Any]) -> User:
    """The User the entry describes, as if loaded from the database.

    Every request that carries a token does this. The fields go straight into the instance, where
    Tortoise's ``_init_from_db`` would put them: that method's generic loops and the model's
    ``__setattr__`` hook cost more than the rest of the token's checks. tests/accounts/
    test_session_cache.py holds the result to what ``_init_from_db`` builds, attribute for attribute.
    """
    data = entry["user"]
    user = User.__new__(User)
    state = vars(user)
    state.update(data)
    state["created_at"] = datetime.fromisoformat(data["created_at"])
    state["updated_at"] = datetime.fromisoformat(data["updated_at"])
    state.update(_partial=False, _saved_in_db=True, _custom_generated_pk=_USER_CUSTOM_PK, _await_when_save={})
    return user


def expires_at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["expires_at"]).astimezone(UTC)


async def forget_user(cache: Cache | None, user_id: int) -> None:
    """Make every process read this user's sessions from the database again (after a commit)."""
    if cache is not None:
        await cache.client.incr(cache.key(_gen_key(user_id)))
