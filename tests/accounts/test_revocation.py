"""A revoked token stays refused: on the second and every later request, and in another process.

The first request after a logout always goes to the database (the logout bumps the user's
generation), so a test that makes one request cannot tell whether the cached entry's own ``revoked``
mark is obeyed: the later requests read that entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backend.accounts import service as accounts_service
from backend.accounts.models import User
from tests.conftest import error_code, login

SCRIPT = """
import asyncio, json, sys
from backend.accounts import service
from backend.cache import create_cache
from backend.db import close_db, init_db
from backend.errors import DomainError

async def main(url, redis_url, prefix, secret, token, times):
    await init_db(url)
    cache = create_cache(redis_url or None, prefix=prefix)
    answers = []
    for _ in range(times):
        try:
            user, _ = await service.authenticate(token=token, secret=secret, cache=cache)
            answers.append(user.id)
        except DomainError as exc:
            answers.append(exc.code)
    await cache.close()
    await close_db()
    print(json.dumps(answers))

asyncio.run(main(*sys.argv[1:6], int(sys.argv[6])))
"""


def _in_another_process(db: str, cache, settings, headers: dict[str, str], times: int) -> list[object]:
    """Authenticate ``times`` times in a new OS process sharing the database (and Redis, if any)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    args = [
        sys.executable,
        "-c",
        SCRIPT,
        db,
        os.environ.get("TEST_REDIS_URL", ""),
        cache.prefix,
        settings.secret_key.get_secret_value(),
        token,
        str(times),
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_every_request_after_logout_is_refused_not_only_the_first(client):
    headers = await login(client, "leaver")
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # cached now
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    for attempt in range(4):
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, (attempt, response.text)
        assert error_code(response) == "auth.session_revoked", attempt
    # Another route, whatever it reads, is refused the same way.
    response = await client.get("/api/v1/me/checkins", headers=headers)
    assert response.status_code == 401


async def test_revoking_every_session_refuses_each_token_on_every_later_request(client, cache):
    phone, laptop = await login(client, "lost-phone"), await login(client, "lost-phone")
    for headers in (phone, laptop):
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    user = await User.get(id=(await client.get("/api/v1/me", headers=phone)).json()["id"])
    assert await accounts_service.revoke_all_sessions(user=user, cache=cache) == 2
    for _ in range(3):
        for headers in (phone, laptop):
            assert (await client.get("/api/v1/me", headers=headers)).status_code == 401


async def test_a_logout_refuses_the_token_in_another_process_on_every_request(client, db, cache, settings):
    headers = await login(client, "elsewhere")
    user_id = (await client.get("/api/v1/me", headers=headers)).json()["id"]
    # The other process knows the session (with Redis, its entry is now in the shared cache).
    assert _in_another_process(db, cache, settings, headers, times=2) == [user_id, user_id]
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert _in_another_process(db, cache, settings, headers, times=3) == ["auth.session_revoked"] * 3
    # ... and this process too, again and again.
    for _ in range(2):
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
