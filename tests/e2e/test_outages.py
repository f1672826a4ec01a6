"""PostgreSQL and Redis failing for real under a running server: 503 with Retry-After, never a 500.

The server runs on a PostgreSQL cluster and a redis-server of this module's own (tests/faults.py),
which the tests stop, start and freeze; the shared services are never touched.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.servers import RunningServer
from tests.faults import (
    ONE_LEG,
    PrivatePostgres,
    PrivateRedis,
    postgres_available,
    redis_available,
    wait_until,
)

pytestmark = [
    ONE_LEG,
    pytest.mark.skipif(
        not (postgres_available() and redis_available()),
        reason="needs PostgreSQL 15 and redis-server",
    ),
]

# Short bounds, so that a hung database costs each request about a second.
BOUNDS = {"DB_CONNECT_TIMEOUT_SECONDS": "1", "DB_STATEMENT_TIMEOUT_SECONDS": "1"}


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    root = tmp_path_factory.mktemp("outages")
    postgres, redis = PrivatePostgres(), PrivateRedis(root / "redis")
    try:
        postgres.start()
        redis.start()
        yield postgres, redis
    finally:
        postgres.close()
        redis.close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, deps: tuple[PrivatePostgres, PrivateRedis]
) -> Iterator[RunningServer]:
    postgres, redis = deps
    running = RunningServer(
        tmp_path_factory.mktemp("outage-server"),
        DATABASE_URL=postgres.url,
        REDIS_URL=redis.url,
        WORKERS="1",
        DB_POOL_MIN="2",
        DB_POOL_MAX="4",
        **BOUNDS,
    )
    try:
        yield running.start()
    finally:
        running.stop()


def _calls(server: RunningServer, token: str) -> list[tuple[str, str, dict]]:
    """Requests that need the database: a login, an activity, a new search, the signed-in user."""
    auth = {"Authorization": f"Bearer {token}"}
    return [
        ("POST", "/api/v1/auth/login", {"json": {"code": f"dev-{secrets.token_hex(4)}"}}),
        ("GET", "/api/v1/activities/1", {}),
        ("GET", "/api/v1/orgs", {"params": {"q": secrets.token_hex(3)}}),
        ("GET", "/api/v1/me", {"headers": auth}),
    ]


def _send(
    server: RunningServer, method: str, path: str, options: dict, timeout: float = 10
) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", timeout=timeout, **options)


def _log_since(server: RunningServer, offset: int) -> list[dict]:
    lines = server.log.read_text()[offset:].splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service.unavailable"
    assert int(response.headers["retry-after"]) >= 1


def test_a_stopped_database_answers_503_with_retry_after_and_recovers_by_itself(server, deps):
    postgres, _ = deps
    token = server.token("outage-member")
    offset = len(server.log.read_text())
    postgres.stop()
    try:
        for _ in range(3):
            for method, path, options in _calls(server, token):
                _assert_unavailable(_send(server, method, path, options))
        ready = httpx.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["error"]["details"] == {"failing": ["database"]}
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        postgres.start()
    assert wait_until(server.ready, timeout=20)
    for method, path, options in _calls(server, token):
        assert _send(server, method, path, options).status_code == 200, path
    entries = _log_since(server, offset)
    assert not [e for e in entries if "exc_info" in e], "a traceback was logged for an outage"
    outage_lines = [e for e in entries if "database unavailable" in e["message"]]
    # Twelve failed requests, a few causes (refused, then reset): a line per cause, not per request.
    assert 1 <= len(outage_lines) <= 6, [e["message"] for e in outage_lines]


def test_a_hung_database_fails_fast_with_503_and_readyz_answers_within_its_own_timeout(server, deps):
    postgres, _ = deps
    token = server.token("hang-member")
    postgres.pause()
    try:
        # The client's own timeout is the test: a request waits for the bounds above (about a
        # second each), not for the database to come back.
        for method, path, options in _calls(server, token)[1:]:
            _assert_unavailable(_send(server, method, path, options, timeout=8))
        ready = httpx.get(f"{server.url}/readyz", timeout=4)
        assert ready.status_code == 503
        assert "database" in ready.json()["error"]["details"]["failing"]
    finally:
        postgres.resume()
    assert wait_until(server.ready, timeout=20)
    for method, path, options in _calls(server, token):
        assert _send(server, method, path, options).status_code == 200, path


def test_with_redis_away_nothing_answers_500_and_the_fast_path_returns_by_itself(server, deps):
    _, redis = deps
    token = server.token("redis-member")
    calls = [
        *_calls(server, token),
        ("GET", "/api/v1/orgs/51440300MJL0000103", {}),
        ("GET", "/api/v1/verify", {"params": {"url": "https://example.cn/o/x"}}),
    ]
    offset = len(server.log.read_text())
    redis.stop()
    try:
        for method, path, options in calls:
            response = _send(server, method, path, options)
            # Whatever falls back to the database answers; nothing may answer 500.
            assert response.status_code < 500 or response.status_code == 503, (path, response.text)
            if response.status_code == 503:
                _assert_unavailable(response)
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 503
    finally:
        redis.start()
    assert wait_until(server.ready, timeout=20)
    for method, path, options in _calls(server, token):
        assert _send(server, method, path, options).status_code == 200, path
    assert not [e for e in _log_since(server, offset) if "exc_info" in e], "a traceback was logged"
