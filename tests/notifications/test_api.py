"""The consent API of members, the dead letters and counts of admins, and /metrics."""

from __future__ import annotations

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.subscriptions.catalog import all_kinds, template_ids
from backend.subscriptions.models import Delivery, DeliveryStatus
from tests.conftest import error_code, login

from .conftest import consent, record_checkin, template_of, wechat_user

SEND = "/cgi-bin/message/subscribe/send"


async def test_every_template_is_listed_with_no_consent_at_first(client, settings):
    response = await client.get("/api/v1/me/subscriptions", headers=await login(client, "newcomer"))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["event"] for i in items] == all_kinds()
    assert all(
        i
        == {
            "template_id": template_ids(settings)[i["event"]],
            "event": i["event"],
            "remaining": 0,
            "enabled": True,
        }
        for i in items
    )


async def test_each_accepted_template_adds_one_consent_and_rejections_change_nothing(client, settings):
    headers = await login(client, "accepting")
    checkin, donation = template_of(settings, "checkin.recorded"), template_of(settings, "donation.recorded")
    for _ in range(2):
        response = await client.post(
            "/api/v1/me/subscriptions", json={"accepted": [checkin], "rejected": [donation]}, headers=headers
        )
        assert response.status_code == 200, response.text
    remaining = {i["event"]: i["remaining"] for i in response.json()["items"]}
    assert remaining["checkin.recorded"] == 2
    assert remaining["donation.recorded"] == 0
    listed = (await client.get("/api/v1/me/subscriptions", headers=headers)).json()
    assert listed == response.json()


async def test_unknown_or_contradictory_answers_are_refused(client, settings):
    headers = await login(client, "confused")
    response = await client.post("/api/v1/me/subscriptions", json={"accepted": ["nope"]}, headers=headers)
    assert (response.status_code, error_code(response)) == (422, "subscriptions.unknown_template")
    checkin = template_of(settings, "checkin.recorded")
    response = await client.post(
        "/api/v1/me/subscriptions", json={"accepted": [checkin], "rejected": [checkin]}, headers=headers
    )
    assert (response.status_code, error_code(response)) == (422, "subscriptions.contradictory")
    response = await client.post("/api/v1/me/subscriptions", json={"accepted": [], "x": 1}, headers=headers)
    assert response.status_code == 422


async def test_subscriptions_need_a_login(client):
    assert (await client.get("/api/v1/me/subscriptions")).status_code == 401
    assert (await client.post("/api/v1/me/subscriptions", json={"accepted": []})).status_code == 401


async def test_a_kind_can_be_turned_off_and_on(client):
    headers = await login(client, "toggler")
    response = await client.put(
        "/api/v1/me/subscriptions/donation.recorded", json={"enabled": False}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    listed = {
        i["event"]: i["enabled"]
        for i in (await client.get("/api/v1/me/subscriptions", headers=headers)).json()["items"]
    }
    assert listed["donation.recorded"] is False and listed["checkin.recorded"] is True
    response = await client.put(
        "/api/v1/me/subscriptions/donation.recorded", json={"enabled": True}, headers=headers
    )
    assert response.json()["enabled"] is True
    response = await client.put("/api/v1/me/subscriptions/no.such", json={"enabled": True}, headers=headers)
    assert (response.status_code, error_code(response)) == (404, "subscriptions.unknown_event")


async def _admin(client, emulator) -> dict[str, str]:
    await User.create(openid=emulator.openid_for("ops"), is_platform_admin=True)
    return await login(client, "ops")


async def test_admins_see_and_replay_dead_letters(client, worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    emulator.add_fault(SEND, count=notify_settings.notify_max_attempts, errcode=-1)
    await record_checkin(user)
    for _ in range(notify_settings.notify_max_attempts + 2):
        await worker.run_once()
    [dead] = await Delivery.filter(status=DeliveryStatus.DEAD)

    member = await login(client, "nosy")
    assert (await client.get("/api/v1/admin/notifications/dead", headers=member)).status_code == 403
    replay = {"ids": [dead.id], "reason": "WeChat is back"}
    assert (
        await client.post("/api/v1/admin/notifications/dead/replay", json=replay, headers=member)
    ).status_code == 403

    admin = await _admin(client, emulator)
    listed = (await client.get("/api/v1/admin/notifications/dead?limit=10", headers=admin)).json()
    assert [(i["id"], i["event"], i["reason"], i["attempts"]) for i in listed["items"]] == [
        (dead.id, "checkin.recorded", "wechat.system_busy", notify_settings.notify_max_attempts)
    ]
    assert listed["next_before_id"] is None
    response = await client.post(
        "/api/v1/admin/notifications/dead/replay", json={**replay, "ids": [dead.id, 999]}, headers=admin
    )
    assert response.json() == {"replayed": 1, "not_dead": [999]}
    await worker.run_once()
    assert (await Delivery.get(id=dead.id)).status == DeliveryStatus.SENT
    assert len(emulator.messages()) == 1
    [entry] = await AuditEntry.filter(action="notification.replay")
    assert entry.reason == "WeChat is back" and entry.target_id == str(dead.id)

    stats = (await client.get("/api/v1/admin/notifications/stats", headers=admin)).json()["templates"]
    assert stats == [
        {
            "template_id": template_of(notify_settings, "checkin.recorded"),
            "event": "checkin.recorded",
            "sent": 1,
            "skipped": 0,
            "failed": 0,
            "retried": notify_settings.notify_max_attempts - 1,
            "dead_lettered": 1,
            "dead": 0,
            "pending": 0,
        }
    ]


async def test_dead_letter_paging_is_validated(client, emulator):
    admin = await _admin(client, emulator)
    response = await client.get("/api/v1/admin/notifications/dead?limit=0", headers=admin)
    assert response.status_code == 422


async def test_metrics_count_requests_and_messages(client, worker, notify_settings, emulator):
    user = await wechat_user(emulator)
    await consent(user, "checkin.recorded", notify_settings, emulator)
    await record_checkin(user, 1)
    await record_checkin(user, 2)  # no consent left: skipped
    await worker.run_once()
    await client.get("/healthz")
    body = (await client.get("/metrics")).text
    template = template_of(notify_settings, "checkin.recorded")
    event, of = 'event="checkin.recorded"', f'template_id="{template}"'
    assert f'gongxin_notification_messages_total{{{event},outcome="sent",{of}}} 1.0' in body
    assert f'gongxin_notification_messages_total{{{event},outcome="skipped",{of}}} 1.0' in body
    assert f'gongxin_notification_messages{{{event},state="dead",{of}}} 0.0' in body
    assert 'gongxin_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in body
    before = _sample(
        body, 'gongxin_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
    )
    await client.get("/healthz")
    after = _sample(
        (await client.get("/metrics")).text,
        'gongxin_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}',
    )
    assert after == before + 1


def _sample(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")
