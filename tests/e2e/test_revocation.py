"""Revocations hold in every process when Redis fails after the commit; Redis away is not an outage.

Two `gongxin serve` processes (and a third started later) share one database and a redis-server of
this module's own (tests/faults.py), which the tests pause for writes (``CLIENT PAUSE ... WRITE``: a
failover as clients see it), freeze (SIGSTOP), stop and start again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import httpx
import pytest
import redis as redis_py

from tests.e2e.servers import RunningServer
from tests.faults import ONE_LEG, PrivateRedis, redis_available, wait_until

pytestmark = [ONE_LEG, pytest.mark.skipif(not redis_available(), reason="needs redis-server")]

PUBLIC = "https://gongxin.test"
DEMO_ORG = "51440300MJL0000103"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("revocation") / "redis")
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, redis: PrivateRedis
) -> Iterator[tuple[RunningServer, RunningServer]]:
    tmp = tmp_path_factory.mktemp("revocation-servers")
    first = RunningServer(tmp, REDIS_URL=redis.url, WORKERS="1", PUBLIC_BASE_URL=PUBLIC)
    second = first.sharing(tmp)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


@pytest.fixture
def redis_admin(redis: PrivateRedis) -> Iterator[redis_py.Redis]:
    client = redis_py.Redis.from_url(redis.url)
    yield client
    client.close()


def _get(server: RunningServer, path: str, **options: object) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=20, **options)  # type: ignore[arg-type]


def _me(server: RunningServer, token: str) -> httpx.Response:
    return _get(server, "/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _verdict(server: RunningServer, url: str) -> str:
    response = _get(server, "/api/v1/verify", params={"url": url})
    assert response.status_code == 200, response.text
    return str(response.json()["verdict"])


def _current_qr_url(server: RunningServer) -> str:
    response = _get(server, f"/api/v1/orgs/{DEMO_ORG}/qrcode")
    assert response.status_code == 200, response.text
    return str(response.json()["url"])


def test_a_logout_and_a_qr_reissue_while_redis_refuses_writes_hold_in_every_process(
    servers, redis_admin, tmp_path
):
    first, second = servers
    token = first.token("revoked-member")
    officer = {"Authorization": f"Bearer {first.token('alice')}"}
    old_url = _current_qr_url(first)
    for server in (first, second):
        for _ in range(2):  # cached now: the session in Redis, the profile in Redis and locally
            assert _me(server, token).status_code == 200
            assert _verdict(server, old_url) == "good_standing"

    # A failover as clients see it: reads answer, writes hang (here for 8 s, past the 2 s timeout).
    redis_admin.execute_command("CLIENT", "PAUSE", "8000", "WRITE")
    try:
        logout = httpx.post(
            f"{first.url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=20
        )
        assert logout.status_code == 204, logout.text  # committed: not a 500, not a 503
        reissue = httpx.post(
            f"{first.url}/api/v1/orgs/{DEMO_ORG}/qrcode/reissue",
            json={"reason": "海报被仿冒"},
            headers=officer,
            timeout=20,
        )
        assert reissue.status_code == 200, reissue.text
        for server in (first, second):
            for _ in range(3):
                refused = _me(server, token)
                assert refused.status_code == 401, (server.url, refused.text)
                assert refused.json()["error"]["code"] == "auth.session_revoked"
                assert _verdict(server, old_url) == "not_genuine", server.url
    finally:
        redis_admin.execute_command("CLIENT", "UNPAUSE")

    # Redis takes writes again, the lost bumps are still lost: nothing is trusted that was revoked.
    for server in (first, second):
        assert _me(server, token).status_code == 401
        assert _verdict(server, old_url) == "not_genuine"
    # Nor in a process started afterwards, which finds the old entries in Redis.
    third = first.sharing(tmp_path)
    try:
        third.start()
        assert _me(third, token).status_code == 401
        assert _verdict(third, old_url) == "not_genuine"
        assert _verdict(third, _current_qr_url(third)) == "good_standing"
    finally:
        third.stop()
    for server in (first, second):
        assert not [line for line in server.log.read_text().splitlines() if '"exc_info"' in line]


def test_a_role_revoked_from_the_console_holds_at_once_in_every_process(servers):
    first, second = servers
    token = first.token("console-admin")
    env = first.env
    import subprocess
    import sys

    def gongxin(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "backend.cli", *args], env=env, check=True, capture_output=True, timeout=60
        )

    gongxin("grant", "admin", "--user", "dev-console-admin")
    for server in (first, second):
        assert _get(server, "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["roles"][
            "platform_admin"
        ]
        assert (
            _get(
                server, "/api/v1/admin/notifications/stats", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    gongxin("revoke", "admin", "--user", "dev-console-admin")
    for server in (first, second):
        for _ in range(3):
            denied = _get(
                server, "/api/v1/admin/notifications/stats", headers={"Authorization": f"Bearer {token}"}
            )
            assert denied.status_code == 403, denied.text
    gongxin("revoke", "sessions", "--user", "dev-console-admin")
    for server in (first, second):
        assert _me(server, token).status_code == 401


def test_with_redis_stopped_or_frozen_public_reads_and_login_answer_and_the_fast_path_returns(
    servers, redis, redis_admin
):
    first, _ = servers
    token = first.token("fallback-member")
    url = _current_qr_url(first)

    def reads() -> None:
        assert _verdict(first, url) == "good_standing"
        assert _get(first, f"/api/v1/orgs/{DEMO_ORG}").status_code == 200
        search = _get(first, "/api/v1/orgs", params={"q": "公信"})
        assert search.status_code == 200 and search.json()["items"], search.text
        login = httpx.post(f"{first.url}/api/v1/auth/login", json={"code": "dev-fallback-member"}, timeout=20)
        assert login.status_code == 200, login.text
        assert _me(first, token).status_code == 200
        assert _me(first, login.json()["token"]).status_code == 200

    redis.stop()
    try:
        for _ in range(3):
            reads()
        assert _get(first, "/readyz").status_code == 503  # the balancer still learns Redis is away
    finally:
        redis.start()
    assert wait_until(first.ready, timeout=20)

    # Back on the fast path by itself: the profile and the session land in the new Redis again.
    def cached() -> bool:
        _get(first, f"/api/v1/orgs/{DEMO_ORG}")
        _me(first, token)
        return bool(redis_admin.keys("gongxin:org:view:*")) and bool(
            redis_admin.keys("gongxin:auth:session:*")
        )

    assert wait_until(cached, timeout=10)

    assert redis.process is not None
    os.kill(redis.process.pid, signal.SIGSTOP)  # a Redis that accepts and never answers
    try:
        for _ in range(2):
            reads()
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    assert not [line for line in first.log.read_text().splitlines() if '"exc_info"' in line]
