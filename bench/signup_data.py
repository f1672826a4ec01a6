"""Data for the `signup-burst` scenario, written with the app's own models against the server's database.

Run by bench/run.py as a subprocess with the server's environment (DATABASE_URL, SECRET_KEY), like
bench/checkin_data.py, whose users, sessions and tokens it makes the same way:

    python bench/signup_data.py prepare --count 1000 --seats 100 --run RUN --tokens FILE   # JSON
    python bench/signup_data.py verify --posting ID --seats 100                            # JSON

``prepare`` opens a first-come posting of the demo organization with ``seats`` seats and one
question-free sign-up form; ``verify`` checks what the burst left: ``seats`` confirmed, the rest
waitlisted at positions 1..n with no gap or repeat, in the order their rows were written, one sign-up
per member, the counters equal to the rows, and one outbox event per sign-up.
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

# bench/ is not a package: run as a script, its own directory is on the path.
from checkin_data import DEMO_ORG, seed_members

from backend.db import close_db, init_db


async def prepare(count: int, seats: int, run: str) -> dict[str, Any]:
    from backend.recruitment.models import Admission, Posting, PostingKind, PostingStatus
    from backend.registry.models import Organization

    now = datetime.now(UTC)
    posting = await Posting.create(
        organization=await Organization.get(credit_code=DEMO_ORG),
        kind=PostingKind.ACTIVITY,
        title="bench sign-up burst",
        body="x",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=2),
        place="x",
        capacity=seats,
        signup_deadline=now + timedelta(days=1),
        admission=Admission.FIRST_COME,
        questions=[],
        status=PostingStatus.OPEN,
        published_at=now,
    )
    members = await seed_members(count, prefix=f"o-bench-signup-{run}-", now=now)
    return {"posting_id": posting.id, **members}


async def verify(posting_id: int, seats: int) -> dict[str, Any]:
    from backend.events.models import OutboxEvent
    from backend.recruitment.models import Posting, Signup

    posting = await Posting.get(id=posting_id)
    rows = (
        await Signup.filter(posting_id=posting_id)
        .order_by("id")
        .values("user_id", "status", "waitlist_position")
    )
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    waitlisted = [r for r in rows if r["status"] == "waitlisted"]
    positions = [r["waitlist_position"] for r in waitlisted]
    payloads = await OutboxEvent.filter(kind__in=["signup.confirmed", "signup.waitlisted"]).values_list(
        "payload", flat=True
    )
    events = sum(1 for p in payloads if isinstance(p, dict) and p.get("posting_id") == posting_id)
    return {
        "signups": len(rows),
        "distinct_users": len({r["user_id"] for r in rows}),
        "confirmed": len(confirmed),
        "waitlisted": len(waitlisted),
        "positions_1_to_n_in_order": positions == list(range(1, len(waitlisted) + 1)),
        "counters_match": (posting.confirmed_count, posting.waitlist_count)
        == (len(confirmed), len(waitlisted)),
        "within_capacity": len(confirmed) <= seats,
        "outbox_events": events,
    }


async def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["prepare", "verify"])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--run", default=secrets.token_hex(4))
    parser.add_argument("--tokens", type=Path)
    parser.add_argument("--posting", type=int)
    args = parser.parse_args(argv)
    await init_db(os.environ["DATABASE_URL"], pool_max=2)
    try:
        if args.action == "prepare":
            if args.tokens is None:
                parser.error("prepare needs --tokens FILE")
            result = await prepare(args.count, args.seats, args.run)
            lines = result.pop("tokens")
            await asyncio.to_thread(args.tokens.write_text, "\n".join(lines) + "\n")
            return result | {"tokens": len(lines)}
        if args.posting is None:
            parser.error("verify needs --posting ID")
        return await verify(args.posting, args.seats)
    finally:
        await close_db()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1:]))))
