"""Sign-ups through the API: seats, the waitlist, repeats, cancellation and promotion, refusals."""

from __future__ import annotations

import asyncio

from backend.events.models import OutboxEvent
from backend.recruitment.models import Posting, Signup
from tests.conftest import error_code, login
from tests.recruitment.conftest import members, open_posting, posting_body


async def _sign(client, posting_id, headers, answers=None):
    return await client.post(
        f"/api/v1/postings/{posting_id}/signups", json={"answers": answers or {}}, headers=headers
    )


async def test_a_draft_is_created_then_published_and_shown_with_its_seats(client, org):
    created = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(), headers=org["staff"]
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert (draft["status"], draft["seats_left"], draft["waitlist_length"]) == ("draft", 3, 0)
    # A draft is not public.
    assert (await client.get(f"/api/v1/postings/{draft['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/postings/{draft['id']}", headers=org["staff"])).status_code == 200
    published = await client.post(f"/api/v1/postings/{draft['id']}/publish", headers=org["staff"])
    assert published.json()["status"] == "open"
    shown = (await client.get(f"/api/v1/postings/{draft['id']}")).json()
    assert shown["organization"]["credit_code"] == org["code"] and shown["seats_left"] == 3


async def test_seats_fill_in_order_then_the_waitlist_numbers_from_one(client, org):
    posting = await open_posting(client, org, capacity=2)
    people = await members(client, 5)
    answers = [(await _sign(client, posting["id"], h)).json() for h in people]
    assert [a["status"] for a in answers] == [
        "confirmed",
        "confirmed",
        "waitlisted",
        "waitlisted",
        "waitlisted",
    ]
    assert [a["waitlist_position"] for a in answers] == [None, None, 1, 2, 3]
    shown = (await client.get(f"/api/v1/postings/{posting['id']}")).json()
    assert (shown["seats_left"], shown["waitlist_length"]) == (0, 3)


async def test_the_same_person_again_gets_the_same_signup_with_200(client, org):
    posting = await open_posting(client, org)
    member = await login(client, "again")
    first = await _sign(client, posting["id"], member)
    second = await _sign(client, posting["id"], member)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert await Signup.filter(posting_id=posting["id"]).count() == 1
    assert await OutboxEvent.filter(kind="signup.confirmed").count() == 1


async def test_parallel_repeats_of_one_person_make_one_signup(client, org):
    posting = await open_posting(client, org)
    member = await login(client, "eager")
    answers = await asyncio.gather(*(_sign(client, posting["id"], member) for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await Posting.get(id=posting["id"])).confirmed_count == 1


async def test_cancelling_a_seat_promotes_the_first_of_the_waitlist_and_moves_everyone_up(client, org):
    posting = await open_posting(client, org, capacity=1)
    holder, first, second, third = await members(client, 4)
    for h in (holder, first, second, third):
        await _sign(client, posting["id"], h)
    cancelled = await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=holder)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    mine = {
        name: (await client.get("/api/v1/me/signups", headers=h)).json()["items"][0]
        for name, h in (("first", first), ("second", second), ("third", third))
    }
    assert (mine["first"]["status"], mine["first"]["waitlist_position"]) == ("confirmed", None)
    assert (mine["second"]["status"], mine["second"]["waitlist_position"]) == ("waitlisted", 1)
    assert (mine["third"]["status"], mine["third"]["waitlist_position"]) == ("waitlisted", 2)
    promoted = await OutboxEvent.get(kind="signup.promoted")
    assert promoted.recipients == [mine["first"]["id"] and (await Signup.get(id=mine["first"]["id"])).user_id]
    assert promoted.payload["posting_title"] == "社区读书会"
    assert {"organization", "starts_at", "place", "posting_id", "signup_id"} <= set(promoted.payload)


async def test_a_waitlisted_person_who_cancels_leaves_no_gap(client, org):
    posting = await open_posting(client, org, capacity=1)
    people = await members(client, 4)
    for h in people:
        await _sign(client, posting["id"], h)
    await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=people[2])  # position 2
    positions = sorted(
        p
        for p in await Signup.filter(posting_id=posting["id"], status="waitlisted").values_list(
            "waitlist_position", flat=True
        )
    )
    assert positions == [1, 2]
    assert (await Posting.get(id=posting["id"])).waitlist_count == 2


async def test_after_cancelling_one_may_sign_up_again_at_the_end(client, org):
    posting = await open_posting(client, org, capacity=1)
    a, b = await members(client, 2)
    await _sign(client, posting["id"], a)
    await _sign(client, posting["id"], b)
    await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=a)
    again = await _sign(client, posting["id"], a)
    assert again.status_code == 201
    assert (again.json()["status"], again.json()["waitlist_position"]) == ("waitlisted", 1)


async def test_cancelling_without_a_signup_is_404(client, org):
    posting = await open_posting(client, org)
    response = await client.delete(
        f"/api/v1/postings/{posting['id']}/signups/me", headers=await login(client, "x")
    )
    assert (response.status_code, error_code(response)) == (404, "signup.not_found")


async def test_closed_cancelled_and_past_deadline_postings_refuse_with_their_own_codes(client, org):
    member = await login(client, "late")
    closed = await open_posting(client, org)
    await client.post(
        f"/api/v1/postings/{closed['id']}/close", json={"reason": "名额已满"}, headers=org["staff"]
    )
    response = await _sign(client, closed["id"], member)
    assert (response.status_code, error_code(response)) == (422, "posting.closed")

    cancelled = await open_posting(client, org)
    await client.post(
        f"/api/v1/postings/{cancelled['id']}/cancel", json={"reason": "天气原因"}, headers=org["staff"]
    )
    response = await _sign(client, cancelled["id"], member)
    assert (response.status_code, error_code(response)) == (422, "posting.cancelled")

    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    past = await open_posting(
        client,
        org,
        starts_at=(now + timedelta(days=1)).isoformat(),
        ends_at=(now + timedelta(days=1, hours=2)).isoformat(),
        signup_deadline=(now - timedelta(minutes=1)).isoformat(),
    )
    response = await _sign(client, past["id"], member)
    assert (response.status_code, error_code(response)) == (422, "signup.deadline_passed")

    created = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(), headers=org["staff"]
    )
    response = await _sign(client, created.json()["id"], member)
    assert (response.status_code, error_code(response)) == (422, "posting.not_open")
    assert (await _sign(client, 999_999, member)).status_code == 404


async def test_cancelling_a_posting_tells_everyone_signed_up(client, org):
    posting = await open_posting(client, org, capacity=1)
    people = await members(client, 3)
    for h in people:
        await _sign(client, posting["id"], h)
    response = await client.post(
        f"/api/v1/postings/{posting['id']}/cancel", json={"reason": "场地临时关闭"}, headers=org["staff"]
    )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    event = await OutboxEvent.get(kind="posting.cancelled")
    users = sorted(await Signup.filter(posting_id=posting["id"]).values_list("user_id", flat=True))
    assert sorted(event.recipients) == users and len(users) == 3
    assert event.payload["reason"] == "场地临时关闭"
    again = await client.post(
        f"/api/v1/postings/{posting['id']}/cancel", json={"reason": "再次取消"}, headers=org["staff"]
    )
    assert (again.status_code, error_code(again)) == (409, "posting.bad_status")


async def test_every_state_change_writes_its_event_with_what_its_template_needs(client, org):
    from notifications.templates import render

    posting = await open_posting(client, org, capacity=1)
    a, b = await members(client, 2)
    await _sign(client, posting["id"], a)
    await _sign(client, posting["id"], b)
    await client.delete(f"/api/v1/postings/{posting['id']}/signups/me", headers=a)
    await client.post(
        f"/api/v1/postings/{posting['id']}/cancel", json={"reason": "取消"}, headers=org["staff"]
    )
    events = await OutboxEvent.all().order_by("id")
    kinds = [e.kind for e in events]
    assert kinds == [
        "posting.reminder_due",  # recorded when it opened (backend/recruitment/reminders.py)
        "signup.confirmed",
        "signup.waitlisted",
        "signup.cancelled",
        "signup.promoted",
        "posting.cancelled",
    ]
    for e in events:
        render(e.kind, e.payload)  # raises when a field the template needs is missing
        assert e.recipients or e.kind == "posting.reminder_due"  # its recipients: decided when due
        assert e.payload["organization"] == org["org"].name and e.payload["posting_id"] == posting["id"]
    signup_events = [e for e in events if e.kind.startswith("signup.")]
    assert all(e.idempotency_key == f"{e.kind}:{e.payload['signup_id']}" for e in signup_events)
    assert (await Signup.get(id=signup_events[0].payload["signup_id"])).user_id == signup_events[
        0
    ].recipients[0]


async def test_the_public_list_is_newest_first_filtered_and_paged(client, org):
    from backend.recruitment import service

    first = await open_posting(client, org, kind="volunteer")
    second = await open_posting(client, org)
    await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(), headers=org["staff"]
    )  # a draft
    listed = (await client.get("/api/v1/postings")).json()
    assert [p["id"] for p in listed["items"]] == [second["id"], first["id"]]
    assert [
        p["id"] for p in (await client.get("/api/v1/postings", params={"kind": "volunteer"})).json()["items"]
    ] == [first["id"]]
    assert len((await client.get("/api/v1/postings", params={"region": "440300"})).json()["items"]) == 2
    assert (await client.get("/api/v1/postings", params={"region": "110000"})).json()["items"] == []
    assert len((await client.get("/api/v1/postings", params={"org": org["code"]})).json()["items"]) == 2
    assert (await client.get("/api/v1/postings", params={"status": "draft"})).status_code == 422
    service.PAGE_SIZE, saved = 1, service.PAGE_SIZE
    try:
        page = (await client.get("/api/v1/postings")).json()
        assert page["next_cursor"] == second["id"]
        rest = (await client.get("/api/v1/postings", params={"cursor": page["next_cursor"]})).json()
        assert [p["id"] for p in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    finally:
        service.PAGE_SIZE = saved


async def test_signups_are_rate_limited_per_member_with_retry_after(client, org, app, monkeypatch):
    container = app.ctx.container
    monkeypatch.setattr(
        container, "settings", container.settings.model_copy(update={"signup_rate_limit_per_minute": 3})
    )
    posting = await open_posting(client, org)
    member = await login(client, "hasty")
    statuses = [(await _sign(client, posting["id"], member)).status_code for _ in range(4)]
    assert statuses == [201, 200, 200, 429]
    limited = await _sign(client, posting["id"], member)
    assert error_code(limited) == "signup.rate_limited" and int(limited.headers["retry-after"]) >= 1
    # Another member is not limited by this one.
    assert (await _sign(client, posting["id"], await login(client, "calm"))).status_code == 201


async def test_postings_are_rate_limited_per_staff_member(client, org, app, monkeypatch):
    container = app.ctx.container
    monkeypatch.setattr(
        container, "settings", container.settings.model_copy(update={"posting_rate_limit_per_hour": 2})
    )
    url = f"/api/v1/orgs/{org['code']}/postings"
    statuses = [
        (await client.post(url, json=posting_body(), headers=org["staff"])).status_code for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
