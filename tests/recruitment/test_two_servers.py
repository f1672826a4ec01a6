"""Two server processes (two `gongxin serve`, as on two machines) taking one burst of sign-ups over
real sockets, on one database: on the PostgreSQL leg a database of its own on that server, on the
embedded leg a SQLite file that both processes write.

Two servers of one worker each rather than one of WORKERS=2: on this loaded 2-core machine two
workers of one server did not report in within Sanic's fixed 30 s start-up threshold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.demo import DEMO_ORG_CODE
from tests.e2e.servers import RunningServer

SETTINGS = {"WORKERS": "1", "SIGNUP_RATE_LIMIT_PER_MINUTE": "1000", "SERVE_NOTIFICATIONS": "false"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    tmp = tmp_path_factory.mktemp("recruit-two")
    first = RunningServer(tmp, leg_database=True, **SETTINGS)
    second = RunningServer(tmp, DATABASE_URL=first.env["DATABASE_URL"], **SETTINGS)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_a_burst_across_two_server_processes_fills_exactly_the_seats(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    server, other = servers
    staff = {"Authorization": f"Bearer {server.token('bob')}"}
    start = datetime.now(UTC) + timedelta(days=3)
    body = {
        "kind": "activity",
        "title": "两个进程的报名",
        "body": "并发报名测试",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "place": "深圳市民中心",
        "capacity": 15,
        "signup_deadline": (start - timedelta(hours=1)).isoformat(),
        "questions": [{"id": "phone", "kind": "phone", "label": "手机号", "required": True}],
    }
    created = httpx.post(f"{server.url}/api/v1/orgs/{DEMO_ORG_CODE}/postings", json=body, headers=staff)
    assert created.status_code == 201, created.text
    posting_id = created.json()["id"]
    assert httpx.post(f"{server.url}/api/v1/postings/{posting_id}/publish", headers=staff).status_code == 200
    tokens = [server.token(f"burst{i}") for i in range(80)]

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            # Every member twice at once, once to each server: 160 requests, 80 people.
            asks = [
                http.post(
                    f"{(server, other)[twice].url}/api/v1/postings/{posting_id}/signups",
                    json={"answers": {"phone": f"138{i:08d}"}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                for i, token in enumerate(tokens)
                for twice in range(2)
            ]
            return await asyncio.gather(*asks)

    answers = asyncio.run(burst())
    assert sorted({a.status_code for a in answers}) in ([200, 201], [201]), [a.text for a in answers[:3]]
    assert sum(1 for a in answers if a.status_code == 201) == 80
    for first, second in zip(answers[::2], answers[1::2], strict=True):
        assert first.json()["id"] == second.json()["id"]  # one sign-up per person, whoever answered
    shown = httpx.get(f"{server.url}/api/v1/postings/{posting_id}").json()
    assert (shown["seats_left"], shown["waitlist_length"]) == (0, 65)
    roster = httpx.get(f"{server.url}/api/v1/postings/{posting_id}/signups", headers=staff).json()
    confirmed = [r for r in roster["items"] if r["status"] == "confirmed"]
    waitlisted = [r for r in roster["items"] if r["status"] == "waitlisted"]
    assert len(confirmed) == 15 and len(roster["items"]) == 80
    assert sorted(r["waitlist_position"] for r in waitlisted) == list(range(1, 66))
    by_position = sorted(waitlisted, key=lambda r: r["waitlist_position"])
    assert [r["id"] for r in by_position] == sorted(r["id"] for r in waitlisted)  # first come, first placed
    assert max(r["id"] for r in confirmed) < min(r["id"] for r in waitlisted)
    assert roster["items"][0]["answers"]["phone"].startswith("138")  # in full, for the staff
