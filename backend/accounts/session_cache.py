"""Authentication without a database query on most requests: a Redis copy of (session, user).

Entries carry the generation of their user (``auth:user-gen:<id>``) at the time they were read from
the database; revoking a session, changing the user's roles or personal data increments that
generation after the commit, and every process then reads the database again. This is the same
protocol as the organization profiles (backend/registry/profiles.py).

That bump is the fast path, not the guarantee: each change also records ``user:<id>`` in the
database inside its own transaction (``record_change``, backend/invalidation.py), and an entry is
used only if it was built after every change its reader knows of. So a logout or a role taken away
holds in every process within half a second even when Redis fails after the commit. While Redis
is away, ``lookup`` finds nothing and the caller reads the database (bounded: ``Cache.fallback``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ..cache import Cache
from ..invalidation import record, versions
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


def _name(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True)
class Found:
    """What ``lookup`` found: the entry (None: read the database) and what ``store`` needs then."""

    entry: dict[str, Any] | None
    gen: bytes | None  # the user's generation in Redis; None while Redis is away (nothing to store)
    stamp: int  # the user's version known before the database is read (backend/invalidation.py)


async def lookup(cache: Cache, *, user_id: int, session_id: str) -> Found:
    """The cached entry if it was built at the user's current generation and after every change
    this process knows of; else what ``store`` needs after the database is read."""
    name = _name(user_id)
    trusted = versions.recent() or await versions.fresh()
    stamp = versions.stamp(name)
    values = await cache.read(cache.key(_gen_key(user_id)), cache.key(_entry_key(session_id)))
    if values is None:
        return Found(None, None, stamp)
    gen_raw, entry = values
    gen = gen_raw or b"0"
    if entry is not None and trusted:
        built_at, _, rest = entry.partition(b"|")
        built_stamp, _, payload = rest.partition(b"|")
        if built_at == gen and built_stamp.isdigit() and versions.trusts(name, int(built_stamp)):
            return Found(orjson.loads(payload), gen, stamp)
    return Found(None, gen, stamp)


async def store(cache: Cache, *, found: Found, session: AuthSession, user: User) -> None:
    """Remember a session read from the database, under the generation and version read before it."""
    if found.gen is None:
        return
    payload = {
        "revoked": session.revoked_at is not None,
        "expires_at": session.expires_at.isoformat(),
        "user": {name: getattr(user, name) for name in _USER_FIELDS},
    }
    value = b"%s|%d|%s" % (found.gen, found.stamp, orjson.dumps(payload))
    key = cache.key(_entry_key(session.id))
    await cache.quietly(lambda: cache.put(key, value, ttl=ENTRY_TTL_SECONDS), context="session store")


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


async def record_change(user_id: int) -> None:
    """Inside the transaction of a change to a user's sessions, roles or data: the durable half."""
    await record(_name(user_id))


async def forget_user(cache: Cache | None, user_id: int) -> None:
    """After the commit: this process polls before its next read, and every process reads this
    user's sessions from the database again at once if Redis takes the bump (else within half a
    second, through the change recorded in the transaction)."""
    versions.expire()
    if cache is not None:
        key = cache.key(_gen_key(user_id))
        await cache.quietly(lambda: cache.client.incr(key), context="session invalidation")


# --- the user's own view (GET /me) ----------------------------------------------------------------
# Under the same generation and version as the sessions (every role change records the user), plus
# the versions of the organizations it names (a rename records the organization): one MGET on a hit.


def _me_key(user_id: int) -> str:
    return f"auth:me:{user_id}"


async def me_view(
    cache: Cache | None, *, user_id: int, build: Callable[[], Awaitable[tuple[bytes, list[str]]]]
) -> bytes:
    """The user's /me body: cached, or ``build()`` (the body and the credit codes it names)."""
    if cache is None:
        return (await build())[0]
    name = _name(user_id)
    trusted = versions.recent() or await versions.fresh()
    stamp = versions.stamp(name)
    values = await cache.read(cache.key(_gen_key(user_id)), cache.key(_me_key(user_id)))
    if values is None:  # Redis is away: the database answers, a bounded number at a time
        async with cache.fallback():
            return (await build())[0]
    gen_raw, cached = values
    gen = gen_raw or b"0"
    if cached is not None and trusted:
        built_at, built_stamp, orgs, body = cached.split(b"|", 3)
        if built_at == gen and built_stamp.isdigit() and versions.trusts(name, int(built_stamp)):
            named = [item.rpartition(b":") for item in orgs.split(b",") if item]
            if all(versions.trusts(f"org:{code.decode()}", int(v)) for code, _, v in named):
                return body
    learned = versions.learned
    body, codes = await build()
    if versions.learned != learned:
        # A change came in while the database was read: the organizations' versions known now may
        # be newer than what was read. Answer, but keep nothing.
        return body
    orgs_part = ",".join(f"{code}:{versions.stamp(f'org:{code}')}" for code in codes).encode()
    value = b"%s|%d|%s|%s" % (gen, stamp, orgs_part, body)
    key = cache.key(_me_key(user_id))
    await cache.quietly(lambda: cache.put(key, value, ttl=ENTRY_TTL_SECONDS), context="me store")
    return body
