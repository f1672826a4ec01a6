"""Transient WeChat failures are retried with backoff up to a limit, then dead-lettered and replayable."""

from __future__ import annotations

import asyncio

import pytest

from backend.subscriptions.models import Delivery, DeliveryStatus, SubscriptionConsent
from backend.wechat.emulator import WeChatEmulator

from .conftest import consent, record_checkin, wechat_user

SEND = "/cgi-bin/message/subscribe/send"


async def _deliver_until_final(worker, rounds: int = 40) -> Delivery:
    for _ in range(rounds):
        await worker.run_once()
        pending = await Delivery.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).count()
        if not pending:
            break
        await asyncio.sleep(0.01)  # the retry is a few milliseconds away
    return await Delivery.first()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"errcode": -1}, "wechat.system_busy"),
        ({"errcode": 45009}, "wechat.rate_limited"),
        ({"http_status": 502}, "wechat.unavailable"),
        ({"timeout": True, "hold_s": 2.0}, "wechat.unavailable"),
    ],
    ids=["system-busy", "rate-limit", "http-502", "timeout"],
)
async def test_a_transient_failure_is_retried_then_sent_once(
    worker, notify_settings, emulator, fault, reason
):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, count=1, **fault)
    await record_checkin(user)
    delivery = await _deliver_until_final(worker)
    assert delivery.status == DeliveryStatus.SENT
    assert (delivery.attempts, delivery.retries, delivery.reason) == (2, 1, None)
    assert len(emulator.messages()) == 1
    assert len(emulator.calls(SEND)) == 2


async def test_an_answer_slower_than_the_timeout_is_retried_and_delivered_once(
    worker, notify_settings, emulator
):
    # The ambiguous case (README: "the remaining window for a duplicate"): the first request times
    # out on our side but WeChat still handles it later. The retry and the late original race;
    # WeChat's one message per consent lets only one through. Which one wins is up to timing: if
    # the original does, the retry gets 43101 and the record says failed though the member got it.
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, count=1, latency_ms=700)  # slower than the 0.5 s timeout
    await record_checkin(user)
    delivery = await _deliver_until_final(worker)
    await asyncio.sleep(0.8)  # the late original has been handled by now
    assert len(emulator.messages()) == 1
    assert (delivery.status, delivery.reason) in {
        (DeliveryStatus.SENT, None),
        (DeliveryStatus.FAILED, "wechat.subscribe_refused"),
    }
    assert delivery.attempts == 2


async def test_latency_within_the_timeout_is_just_slow(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, latency_ms=200)
    await record_checkin(user)
    delivery = await _deliver_until_final(worker)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


async def test_retries_stop_at_the_limit_and_the_message_is_dead_lettered(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, count=10, errcode=-1)
    await record_checkin(user)
    delivery = await _deliver_until_final(worker)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.DEAD, "wechat.system_busy")
    assert delivery.attempts == notify_settings.notify_max_attempts == 3
    assert (delivery.retries, delivery.dead_letters) == (2, 1)
    assert len(emulator.calls(SEND)) == 3
    # The consent was not used at WeChat: it is ours to spend again.
    assert (await SubscriptionConsent.get(user=user)).remaining == 1


async def test_an_expired_access_token_is_refetched_once(worker, notify_settings, emulator: WeChatEmulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    await record_checkin(user, 1)
    await worker.run_once()  # fetches a token
    tokens_before = len(emulator.calls("/cgi-bin/stable_token"))
    emulator.expire_tokens()
    await consent(user, "checkin.recorded", notify_settings, emulator)
    await record_checkin(user, 2)
    await worker.run_once()
    assert [d.status for d in await Delivery.all().order_by("id")] == [DeliveryStatus.SENT] * 2
    assert len(emulator.calls("/cgi-bin/stable_token")) == tokens_before + 1
    assert len(emulator.calls(SEND)) == 3  # the rejected one, and the one after the refetch


def test_backoff_grows_exponentially_with_jitter_and_a_cap(worker, notify_settings):
    deliverer = worker.deliverer
    settings = notify_settings.model_copy(
        update={"notify_retry_base_seconds": 2.0, "notify_retry_max_seconds": 30.0}
    )
    deliverer.settings = settings
    deliverer.jitter = lambda: 1.0
    assert [deliverer.backoff(n) for n in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]
    deliverer.jitter = lambda: 0.0
    assert [deliverer.backoff(n) for n in (1, 2, 3)] == [1, 2, 4]
