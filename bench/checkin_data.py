"""Data for the `checkin-burst` scenario, written with the app's own models against the server's database.

Run by bench/run.py as a subprocess with the server's environment (DATABASE_URL, SECRET_KEY), so the
tokens are signed with the server's key and Tortoise's process-wide state never touches the harness:

    python bench/checkin_data.py prepare --count 1000 --run RUN --tokens FILE   # prints JSON
    python bench/checkin_data.py code --activity ID                              # prints JSON
    python bench/checkin_data.py verify --activity ID                            # prints JSON

``prepare`` creates an open activity of the demo organization (code interval 300 s, so one code covers
the burst), ``count`` users (openid ``o-bench-checkin-<run>-<i>``) with one login session each,
puts the sessions in the server's Redis as logging in does, and writes one bearer token per line to
FILE. ``code`` prints the activity's rotating code valid now (run
right before the burst) and ``verify`` counts what the burst left in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backend.db import close_db, init_db

DEMO_ORG = "51440300MJL0000103"
LATITUDE, LONGITUDE = 22.5431, 114.0579
CODE_INTERVAL_S = 300
MIN_CODE_LIFE_S = 15  # a code this close to its window's end is not handed out: wait for the next


async def prepare(count: int, run: str) -> dict[str, Any]:
    from backend.partybuilding.models import Activity
    from backend.registry.models import Organization

    now = datetime.now(UTC)
    org = await Organization.get(credit_code=DEMO_ORG)
    activity = await Activity.create(
        organization=org,
        kind="theme_day",
        title="bench burst",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        place="x",
        latitude=LATITUDE,
        longitude=LONGITUDE,
        radius_m=300,
        checkin_opens_at=now - timedelta(hours=1),
        checkin_closes_at=now + timedelta(hours=2),
        late_after=now + timedelta(hours=1),
        expected="open",
        code_secret=secrets.token_urlsafe(32),
        code_interval_s=CODE_INTERVAL_S,
    )
    members = await seed_members(count, prefix=f"o-bench-checkin-{run}-", now=now)
    return {"activity_id": activity.id, **members}


async def seed_members(count: int, *, prefix: str, now: datetime) -> dict[str, Any]:
    """``count`` users (openid ``<prefix><i>``) with one login session and bearer token each, their
    sessions warmed in the server's Redis as logging in does."""
    from backend.accounts import tokens
    from backend.accounts.models import AuthSession, User

    secret = os.environ["SECRET_KEY"]
    await User.bulk_create([User(openid=f"{prefix}{i}") for i in range(count)], batch_size=500)
    user_ids = await User.filter(openid__startswith=prefix).values_list("id", flat=True)
    expires = now + timedelta(hours=2)
    sessions = [AuthSession(id=tokens.new_session_id(), user_id=uid, expires_at=expires) for uid in user_ids]
    await AuthSession.bulk_create(sessions, batch_size=500)
    lines = [
        tokens.issue(secret=secret, user_id=s.user_id, session_id=s.id, ttl=timedelta(hours=2), now=now)
        for s in sessions
    ]
    warmed = await warm_sessions(lines, secret)
    return {"users": len(user_ids), "tokens": lines, "sessions_cached": warmed}


async def warm_sessions(lines: list[str], secret: str) -> int:
    """Put the sessions in the server's Redis as logging in does (the app logs in when it opens, then
    the member scans). With the in-process cache (no REDIS_URL) the server's cache stays cold."""
    from backend.accounts import service as accounts_service
    from backend.cache import create_cache

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        return 0
    cache = create_cache(redis_url)
    try:
        for start in range(0, len(lines), 50):
            await asyncio.gather(
                *(
                    accounts_service.authenticate(token=token, secret=secret, cache=cache)
                    for token in lines[start : start + 50]
                )
            )
    finally:
        await cache.client.aclose()
    return len(lines)


async def current_code(activity_id: int) -> dict[str, Any]:
    from backend.partybuilding import rotating_code
    from backend.partybuilding.models import Activity

    activity = await Activity.get(id=activity_id)
    while True:
        now = datetime.now(UTC)
        code = rotating_code.current(
            secret=activity.code_secret, activity_id=activity.id, interval_s=activity.code_interval_s, now=now
        )
        left = (code.expires_at - now).total_seconds()
        if left >= MIN_CODE_LIFE_S:
            return {"code": code.code, "valid_s": round(left + rotating_code.GRACE_SECONDS, 1)}
        await asyncio.sleep(left + 0.05)


async def verify(activity_id: int) -> dict[str, Any]:
    from backend.events.models import OutboxEvent
    from backend.partybuilding.models import Checkin

    rows = await Checkin.filter(activity_id=activity_id).count()
    distinct_users = len(set(await Checkin.filter(activity_id=activity_id).values_list("user_id", flat=True)))
    payloads = await OutboxEvent.filter(kind="checkin.recorded").values_list("payload", flat=True)
    events = sum(1 for p in payloads if isinstance(p, dict) and p.get("activity_id") == activity_id)
    return {"checkins": rows, "distinct_users": distinct_users, "outbox_checkin_recorded": events}


async def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["prepare", "code", "verify"])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--run", default=secrets.token_hex(4))
    parser.add_argument("--tokens", type=Path)
    parser.add_argument("--activity", type=int)
    args = parser.parse_args(argv)
    await init_db(os.environ["DATABASE_URL"], pool_max=2)
    try:
        if args.action == "prepare":
            if args.tokens is None:
                parser.error("prepare needs --tokens FILE")
            result = await prepare(args.count, args.run)
            lines = result.pop("tokens")
            await asyncio.to_thread(args.tokens.write_text, "\n".join(lines) + "\n")
            return result | {"tokens": len(lines)}
        if args.activity is None:
            parser.error(f"{args.action} needs --activity ID")
        if args.action == "code":
            return await current_code(args.activity)
        return await verify(args.activity)
    finally:
        await close_db()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
