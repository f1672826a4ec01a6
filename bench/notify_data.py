"""Data and watching for the `notify` scenario, with the app's own models against the bench database.

    python bench/notify_data.py prepare --count N --run RUN --appid APPID    # prints JSON
    python bench/notify_data.py watch --run RUN --count N --timeout S        # prints JSON
    python bench/notify_data.py client --url URL --appid A --secret S --count N   # prints JSON

``prepare`` creates N members whose openids the emulator knows, one consent each for the
check-in template, and N ``checkin.recorded`` outbox events, as check-ins record them (one
transaction per 1,000). ``watch`` polls the delivery records (every 50 ms) until N deliveries of
this run are final, and prints the span from the first claim to the last recorded send, and the
counts by status. ``client`` times the wechatpy client alone against the emulator, threads and all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from backend.db import close_db, init_db

KIND = "checkin.recorded"


async def prepare(count: int, run: str, appid: str) -> dict[str, Any]:
    from tortoise.transactions import in_transaction

    from backend.accounts.models import User
    from backend.config import load_settings
    from backend.events.models import OutboxEvent
    from backend.subscriptions.catalog import template_ids
    from backend.subscriptions.models import SubscriptionConsent
    from backend.wechat.emulator import openid_for

    template = template_ids(load_settings())[KIND]
    started = time.perf_counter()
    for start in range(0, count, 1000):
        names = [f"bench-notify-{run}-{i}" for i in range(start, min(count, start + 1000))]
        async with in_transaction():
            await User.bulk_create([User(openid=openid_for(appid, n), nickname=n) for n in names])
            users = await User.filter(openid__in=[openid_for(appid, n) for n in names]).order_by("id")
            await SubscriptionConsent.bulk_create(
                [SubscriptionConsent(user=u, template_id=template, remaining=1) for u in users]
            )
            now = datetime.now(UTC)
            await OutboxEvent.bulk_create(
                [
                    OutboxEvent(
                        kind=KIND,
                        payload={
                            "activity_id": 1,
                            "title": "主题党日：bench",
                            "status": "present",
                            "checked_in_at": now.isoformat(),
                        },
                        recipients=[u.id],
                        idempotency_key=f"bench-notify:{run}:{u.id}",
                        available_at=now,
                    )
                    for u in users
                ]
            )
    return {"count": count, "template_id": template, "prepare_s": round(time.perf_counter() - started, 2)}


async def watch(run: str, count: int, wait_s: float) -> dict[str, Any]:
    from tortoise.functions import Count

    from backend.subscriptions.models import Delivery, DeliveryStatus

    mine = Delivery.filter(event__idempotency_key__startswith=f"bench-notify:{run}:")
    final = [DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.FAILED, DeliveryStatus.DEAD]
    deadline = time.monotonic() + wait_s
    done = 0
    while time.monotonic() < deadline:
        done = await mine.filter(status__in=final).count()
        if done >= count:
            break
        await asyncio.sleep(0.05)
    rows = await mine.annotate(n=Count("id")).group_by("status").values("status", "n")
    # From the first claim to the last send recorded: the time the worker spent sending.
    earliest = await mine.filter(claimed_at__not_isnull=True).order_by("claimed_at").first()
    latest = await mine.filter(finished_at__not_isnull=True).order_by("-finished_at").first()
    first = earliest.claimed_at if earliest else None
    last = latest.finished_at if latest else None
    return {
        "final": done,
        "by_status": {str(r["status"]): r["n"] for r in rows},
        "first_claimed_at": first.isoformat() if first else None,
        "last_finished_at": last.isoformat() if last else None,
        "sending_s": round((last - first).total_seconds(), 3) if first and last else None,
        "timed_out": done < count,
    }


def client(url: str, appid: str, secret: str, count: int, concurrency: int) -> dict[str, Any]:
    """The wechatpy client alone (no database, no queue): ``count`` sends, ``concurrency`` threads."""
    from backend.wechat.client import WeChatService
    from backend.wechat.emulator import openid_for

    service = WeChatService.create(
        appid=appid, secret=secret, api_base=url, max_attempts=1, max_workers=concurrency
    )
    data = {"thing1": {"value": "主题党日：bench"}, "phrase3": {"value": "已签到"}}

    async def go() -> float:
        slots = asyncio.Semaphore(concurrency * 2)

        async def one(i: int) -> None:
            async with slots:
                await service.send_subscribe_message(
                    openid=openid_for(appid, f"bench-client-{i}"),
                    template_id="gx-checkin-recorded",
                    data=data,
                )

        await one(-1)  # the token, outside the timing
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return time.perf_counter() - started

    seconds = asyncio.run(go())
    service.close()
    return {"count": count, "seconds": round(seconds, 3), "rate": round(count / seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--appid", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--run", required=True)
    w.add_argument("--count", type=int, required=True)
    w.add_argument("--timeout", type=float, default=120)
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    c.add_argument("--appid", required=True)
    c.add_argument("--secret", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    if args.command == "client":
        json.dump(client(args.url, args.appid, args.secret, args.count, args.concurrency), sys.stdout)
        return

    async def go() -> dict[str, Any]:
        await init_db(os.environ["DATABASE_URL"])
        try:
            if args.command == "prepare":
                return await prepare(args.count, args.run, args.appid)
            return await watch(args.run, args.count, args.timeout)
        finally:
            await close_db()

    json.dump(asyncio.run(go()), sys.stdout)


if __name__ == "__main__":
    main()
