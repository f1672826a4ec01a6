"""Fixtures for delivery: users WeChat knows, consents on both sides, a deliverer with fast retries."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.accounts.models import User
from backend.config import Settings
from backend.events import service as events_service
from backend.events.models import OutboxEvent
from backend.subscriptions.catalog import template_ids
from backend.subscriptions.models import SubscriptionConsent
from backend.wechat.emulator import WeChatEmulator
from notifications.delivery import Deliverer, build_wechat
from notifications.embedded import EmbeddedWorker

_names = itertools.count(1)


@pytest.fixture
def notify_settings(settings: Settings) -> Settings:
    """The test settings with retries a few milliseconds apart and a short lease."""
    return settings.model_copy(
        update={
            "notify_retry_base_seconds": 0.001,
            "notify_retry_max_seconds": 0.002,
            "notify_max_attempts": 3,
            "notify_poll_seconds": 0.05,
            "wechat_timeout_seconds": 0.5,
        }
    )


@pytest.fixture
async def worker(
    db: str, notify_settings: Settings, emulator: WeChatEmulator
) -> AsyncIterator[EmbeddedWorker]:
    """The embedded worker: the relay and the deliverer the arq worker uses, driven by the test."""
    # The token in this process's memory: other test runs share Redis and this appid.
    wechat = build_wechat(notify_settings.model_copy(update={"redis_url": None}))
    embedded = EmbeddedWorker(settings=notify_settings, wechat=wechat)
    yield embedded
    await embedded.drain()
    embedded.wechat.close()


@pytest.fixture
def deliverer(worker: EmbeddedWorker) -> Deliverer:
    return worker.deliverer


async def wechat_user(emulator: WeChatEmulator, name: str | None = None) -> User:
    """A user whose openid the emulator accepts (the factories' openids it refuses with 40003)."""
    name = name or f"member{next(_names)}"
    return await User.create(openid=emulator.openid_for(name), nickname=name)


def template_of(settings: Settings, kind: str) -> str:
    return template_ids(settings)[kind]


async def consent(
    user: User, kind: str, settings: Settings, emulator: WeChatEmulator | None, count: int = 1
) -> None:
    """The user accepted ``kind``'s template ``count`` times: recorded here and, if given, at WeChat."""
    template = template_of(settings, kind)
    row, _ = await SubscriptionConsent.get_or_create(user=user, template_id=template)
    row.remaining += count
    await row.save()
    if emulator is not None:
        emulator.grant_consent(user.openid, template, count)


CHECKIN_PAYLOAD: dict[str, Any] = {
    "activity_id": 7,
    "title": "十二月主题党日：学习新修订的慈善法",
    "status": "late",
    "checked_in_at": "2026-12-02T06:30:00+00:00",
}


async def record_checkin(user: User, n: int = 1, **payload: Any) -> OutboxEvent:
    return await events_service.record(
        kind="checkin.recorded",
        payload={**CHECKIN_PAYLOAD, "activity_id": n, **payload},
        recipients=[user.id],
        idempotency_key=f"checkin:{n}:{user.id}",
    )
