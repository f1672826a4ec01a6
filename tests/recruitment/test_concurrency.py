"""Capacity and the waitlist under real concurrency: one process, several processes, PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.events.models import OutboxEvent
from backend.recruitment import service
from backend.recruitment.models import Admission, Posting, PostingKind, PostingStatus
from tests.factories import make_org, make_user
from tests.recruitment.invariants import assert_invariants

CIPHER = PersonalDataCipher(Settings().fernet_key)


async def _posting(capacity: int | None, **overrides) -> Posting:
    now = datetime.now(UTC)
    fields = {
        "organization": await make_org(),
        "kind": PostingKind.ACTIVITY,
        "title": "并发报名",
        "body": "正文",
        "starts_at": now + timedelta(days=2),
        "ends_at": now + timedelta(days=2, hours=1),
        "place": "会议室",
        "capacity": capacity,
        "signup_deadline": now + timedelta(days=1),
        "admission": Admission.FIRST_COME,
        "status": PostingStatus.OPEN,
    }
    fields.update(overrides)
    return await Posting.create(**fields)


async def _sign(posting_id: int, user, cache):
    return await service.sign_up(
        posting_id=posting_id, member=user, answers={}, cipher=CIPHER, cache=cache, limit_per_minute=10_000
    )


async def test_two_hundred_at_once_fill_exactly_the_seats_and_number_the_rest(db, cache):
    posting = await _posting(capacity=30)
    users = [await make_user() for _ in range(200)]
    results = await asyncio.gather(*(_sign(posting.id, u, cache) for u in users))
    assert all(created for _, created in results)
    counts = await assert_invariants(posting.id)
    assert counts == {"confirmed": 30, "waitlisted": 170, "rows": 200}
    assert await OutboxEvent.filter(kind="signup.confirmed").count() == 30
    assert await OutboxEvent.filter(kind="signup.waitlisted").count() == 170


async def test_cancellations_racing_new_signups_keep_every_rule(db, cache):
    posting = await _posting(capacity=10)
    first = [await make_user() for _ in range(40)]
    await asyncio.gather(*(_sign(posting.id, u, cache) for u in first))
    later = [await make_user() for _ in range(40)]
    leaving = random.Random(7).sample(first, 25)
    jobs = [_sign(posting.id, u, cache) for u in later] + [
        service.cancel_signup(posting_id=posting.id, member=u) for u in leaving
    ]
    random.Random(8).shuffle(jobs)
    await asyncio.gather(*jobs)
    counts = await assert_invariants(posting.id, first_come=False)
    assert counts["confirmed"] == 10 and counts["waitlisted"] == 80 - 25 - 10
    # Every freed seat went to someone: as many promotions as the seats the leavers freed.
    promoted = await OutboxEvent.filter(kind="signup.promoted").count()
    assert promoted >= 1


async def test_the_lowest_position_is_promoted_each_time(db, cache):
    posting = await _posting(capacity=2)
    users = [await make_user() for _ in range(6)]
    for u in users:  # one at a time: the order is known
        await _sign(posting.id, u, cache)
    await service.cancel_signup(posting_id=posting.id, member=users[0])
    await service.cancel_signup(posting_id=posting.id, member=users[1])
    promoted = [e.recipients[0] for e in await OutboxEvent.filter(kind="signup.promoted").order_by("id")]
    assert promoted == [users[2].id, users[3].id]
    await assert_invariants(posting.id)


SCRIPT = """
import asyncio, json, sys
from backend.cache import create_cache
from backend.config import Settings
from backend.crypto import PersonalDataCipher
from backend.db import init_db, close_db
from backend.accounts.models import User
from backend.recruitment import service

async def main(url, posting_id, user_ids, leave_ids):
    await init_db(url)
    cache = create_cache(None, prefix="cross-process:")
    cipher = PersonalDataCipher(Settings().fernet_key)
    users = {u.id: u for u in await User.filter(id__in=user_ids + leave_ids)}
    async def sign(uid):
        result, created = await service.sign_up(posting_id=posting_id, member=users[uid], answers={},
                                                cipher=cipher, cache=cache, limit_per_minute=100000)
        return [result.id, result.status.value, created]
    async def leave(uid):
        await service.cancel_signup(posting_id=posting_id, member=users[uid])
        return None
    out = await asyncio.gather(*([sign(u) for u in user_ids] + [leave(u) for u in leave_ids]))
    await close_db()
    print(json.dumps([o for o in out if o]))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])))
"""


def _run_processes(db: str, posting_id: int, groups: list[tuple[list[int], list[int]]]) -> list[list]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, db, str(posting_id), json.dumps(ids), json.dumps(leave)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ids, leave in groups
    ]
    outputs = [p.communicate(timeout=240) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outputs]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


async def test_three_processes_signing_up_the_same_people_never_overbook(db: str, cache):
    posting = await _posting(capacity=25)
    users = [(await make_user()).id for _ in range(90)]
    # Each process signs up 60 people, and every person is asked for by two processes.
    groups = [(users[0:60], []), (users[30:90], []), (users[0:30] + users[60:90], [])]
    results = _run_processes(db, posting.id, groups)
    made = sum(1 for r in results for _, _, created in r if created)
    assert made == 90  # every person once, whichever process got there first
    ids_by_person: dict[int, set[int]] = {}
    for (ids, _), r in zip(groups, results, strict=True):
        for uid, (signup_id, _, _) in zip(ids, r, strict=True):
            ids_by_person.setdefault(uid, set()).add(signup_id)
    assert all(len(s) == 1 for s in ids_by_person.values())  # both processes answered with one sign-up
    counts = await assert_invariants(posting.id)
    assert counts == {"confirmed": 25, "waitlisted": 65, "rows": 90}


async def test_processes_cancelling_and_signing_up_at_once_keep_positions_gapless(db: str, cache):
    posting = await _posting(capacity=10)
    first = [await make_user() for _ in range(30)]
    for u in first:
        await _sign(posting.id, u, cache)
    later = [(await make_user()).id for _ in range(40)]
    leavers = [u.id for u in first[:5]] + [u.id for u in first[20:25]]  # seats and waitlist places
    groups = [(later[:20], leavers[:5]), (later[20:], leavers[5:])]
    _run_processes(db, posting.id, groups)
    counts = await assert_invariants(posting.id, first_come=False)
    assert counts["confirmed"] == 10
    assert counts["waitlisted"] == 30 + 40 - 10 - 10
    assert await OutboxEvent.filter(kind="signup.promoted").count() == 5
