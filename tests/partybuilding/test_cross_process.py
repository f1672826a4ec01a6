"""Exactly once across processes: several OS processes check the same members in at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from backend.events.models import OutboxEvent
from backend.partybuilding import rotating_code
from backend.partybuilding.models import Checkin
from tests.factories import make_open_activity, make_user

SCRIPT = """
import asyncio, json, sys
from datetime import UTC, datetime
from backend.db import init_db, close_db
from backend.accounts.models import User
from backend.partybuilding import service
from backend.partybuilding.schemas import CheckinCreate

async def main(url, activity_id, user_ids, code):
    await init_db(url)
    users = await User.filter(id__in=user_ids)
    body = CheckinCreate(code=code, latitude=22.5431, longitude=114.0579, accuracy=5)
    async def one(user):
        now = datetime.now(UTC)
        _, created = await service.check_in(activity_id=activity_id, member=user, body=body, now=now)
        return created
    # Every member scans three times in this process, all at once.
    results = await asyncio.gather(*(one(u) for u in users for _ in range(3)))
    await close_db()
    print(json.dumps({"created": sum(results)}))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]))
"""


async def test_processes_racing_on_the_same_members_record_each_once(db: str):
    activity = await make_open_activity(title="跨进程签到")
    now = datetime.now(UTC)
    users = [await make_user() for _ in range(15)]
    code = rotating_code.current(
        secret=activity.code_secret, activity_id=activity.id, interval_s=60, now=now
    ).code
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    args = [sys.executable, "-c", SCRIPT, db, str(activity.id), json.dumps([u.id for u in users]), code]
    processes = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    created = sum(json.loads(out.strip().splitlines()[-1])["created"] for out, _ in outputs)
    assert created == len(users)
    assert await Checkin.filter(activity=activity).count() == len(users)
    assert await OutboxEvent.filter(kind="checkin.recorded").count() == len(users)
