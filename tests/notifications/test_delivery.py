"""Outbox events become subscribe messages: once, with consent, and every failure recorded."""

from __future__ import annotations

from backend.subscriptions.models import Delivery, DeliveryStatus, SubscriptionConsent
from backend.wechat.emulator import WeChatEmulator

from .conftest import consent, record_checkin, template_of, wechat_user

SEND = "/cgi-bin/message/subscribe/send"


async def test_an_event_is_sent_once_with_its_rendered_fields(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    event = await record_checkin(user)
    await worker.run_once()
    await worker.run_once()  # a second pass finds nothing more to do
    [message] = emulator.messages(touser=user.openid)
    assert message["template_id"] == template_of(notify_settings, "checkin.recorded")
    assert message["data"] == {
        "thing1": {"value": "十二月主题党日：学习新修订的慈善法"},
        "time2": {"value": "2026年12月2日 14:30"},
        "phrase3": {"value": "迟到"},
    }
    assert message["page"] == "pages/activity/detail?id=1"
    delivery = await Delivery.get(event_id=event.id, user_id=user.id)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.msgid == str(message["msgid"])
    assert (await SubscriptionConsent.get(user=user)).remaining == 0


async def test_without_consent_the_message_is_skipped_with_that_reason(worker, emulator):
    user = await wechat_user(emulator)
    await record_checkin(user)
    await worker.run_once()
    assert emulator.messages() == []
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.SKIPPED, "consent.none")


async def test_one_consent_is_spent_per_message(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator, count=2)
    for n in range(3):
        await record_checkin(user, n)
    await worker.run_once()
    statuses = sorted((d.status, d.reason or "") for d in await Delivery.all())
    assert statuses == [
        (DeliveryStatus.SENT, ""),
        (DeliveryStatus.SENT, ""),
        (DeliveryStatus.SKIPPED, "consent.none"),
    ]
    assert len(emulator.messages()) == 2
    assert (await SubscriptionConsent.get(user=user)).remaining == 0


async def test_a_kind_turned_off_is_skipped_and_keeps_its_consent(worker, notify_settings, emulator, client):
    from tests.conftest import login

    headers = await login(client, "switcher")
    response = await client.put(
        "/api/v1/me/subscriptions/checkin.recorded", json={"enabled": False}, headers=headers
    )
    assert response.status_code == 200, response.text
    from backend.accounts.models import User

    user = await User.get(openid=emulator.openid_for("switcher"))
    await consent(user, "checkin.recorded", notify_settings, emulator)
    await record_checkin(user)
    await worker.run_once()
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.SKIPPED, "consent.disabled")
    assert (await SubscriptionConsent.get(user=user)).remaining == 1
    assert emulator.messages() == []


async def test_43101_fails_for_good_and_sets_the_count_to_zero(worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, None, count=3)  # WeChat knows of none
    await record_checkin(user)
    await worker.run_once()
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.FAILED, "wechat.subscribe_refused")
    assert delivery.attempts == 1
    assert (await SubscriptionConsent.get(user=user)).remaining == 0
    assert len(emulator.calls(SEND)) == 1


async def test_invalid_openid_40003_fails_for_good_and_gives_the_consent_back(
    worker, notify_settings, emulator
):
    from tests.factories import make_user

    user = await make_user()  # an openid WeChat does not know
    await consent(user, "checkin.recorded", notify_settings, None)
    await record_checkin(user)
    await worker.run_once()
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.FAILED, "wechat.invalid_openid")
    assert "40003" in (delivery.last_error or "")
    assert (await SubscriptionConsent.get(user=user)).remaining == 1
    assert len(emulator.calls(SEND)) == 1


async def test_bad_data_47003_fails_for_good(worker, notify_settings, emulator: WeChatEmulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, errcode=47003)
    await record_checkin(user)
    await worker.run_once()
    delivery = await Delivery.get(user_id=user.id)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.FAILED, "wechat.invalid_template_data")
    assert len(emulator.calls(SEND)) == 1
    assert emulator.messages() == []
