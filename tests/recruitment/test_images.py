"""A posting's images are shown only once WeChat's asynchronous media check passed each of them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from backend.recruitment import images
from backend.recruitment.models import ImageCheck, Posting
from backend.wechat import push
from backend.wechat.emulator import DEV_PUSH_TOKEN, REVIEW_WORD, WeChatEmulator
from tests.conftest import error_code
from tests.recruitment.conftest import posting_body


def _url(tag: str = "") -> str:
    return f"https://files.example.cn/{uuid.uuid4().hex}{tag}.jpg"


async def _publish(client: httpx.AsyncClient, org: dict[str, Any], urls: list[str]) -> dict[str, Any]:
    made = await client.post(
        f"/api/v1/orgs/{org['code']}/postings", json=posting_body(images=urls), headers=org["staff"]
    )
    assert made.status_code == 201, made.text
    assert made.json()["images"] == urls  # a draft: its own staff see what they uploaded
    published = await client.post(f"/api/v1/postings/{made.json()['id']}/publish", headers=org["staff"])
    assert published.status_code == 200, published.text
    return published.json()


def _trace(emulator: WeChatEmulator, url: str) -> str:
    return next(m["trace_id"] for m in emulator.media_checks() if m["media_url"] == url)


async def _push(client: httpx.AsyncClient, emulator: WeChatEmulator, url: str, **kw: Any) -> httpx.Response:
    query, body = emulator.media_push(_trace(emulator, url), **kw)
    return await client.post("/api/v1/wechat/push", params=query, content=body)


async def _public(client: httpx.AsyncClient, posting_id: int) -> dict[str, Any]:
    return (await client.get(f"/api/v1/postings/{posting_id}")).json()


async def test_each_image_is_shown_once_its_verdict_passes_and_risky_or_review_ones_never(
    client, org, emulator
):
    good, risky, held = _url(), _url("risky-test-word"), _url(REVIEW_WORD)
    posting = await _publish(client, org, [good, risky, held])
    assert posting["status"] == "open"  # the text passed: sign-ups need not wait for the images
    assert (posting["images"], posting["images_withheld"]) == ([], 3)  # submitted, no verdict yet
    assert {m["media_url"] for m in emulator.media_checks()} >= {good, risky, held}
    for url in (good, risky, held):
        answered = await _push(client, emulator, url)
        assert (answered.status_code, answered.text) == (200, "success")
    shown = await _public(client, posting["id"])
    assert (shown["images"], shown["images_withheld"]) == ([good], 2)
    listed = (await client.get("/api/v1/postings", params={"org": org["code"]})).json()["items"]
    assert next(p for p in listed if p["id"] == posting["id"])["images"] == [good]
    verdicts = {c.url: c.suggest for c in await ImageCheck.filter(posting_id=posting["id"])}
    assert verdicts == {good: "pass", risky: "risky", held: "review"}


async def test_a_verdict_pushed_before_the_publish_is_recorded_still_counts(client, org, emulator):
    first = _url()
    posting = await _publish(client, org, [first])
    trace = _trace(emulator, first)
    # The verdict of an image whose submission is not recorded yet (the push won the race).
    await ImageCheck.filter(trace_id=trace).delete()
    assert (await _push(client, emulator, first)).status_code == 200
    row = await ImageCheck.get(trace_id=trace)
    assert (row.posting_id, row.suggest) == (None, "pass")
    await images.record_submitted(await Posting.get(id=posting["id"]), [trace])
    assert (await _public(client, posting["id"]))["images"] == [first]


async def test_a_push_without_wechats_signature_is_refused_and_changes_nothing(client, org, emulator):
    url = _url()
    posting = await _publish(client, org, [url])
    query, body = emulator.media_push(_trace(emulator, url))
    forged = await client.post("/api/v1/wechat/push", params={**query, "signature": "0" * 40}, content=body)
    assert (forged.status_code, error_code(forged)) == (403, "wechat.bad_signature")
    odd = await client.post("/api/v1/wechat/push", params={**query, "signature": "签名"}, content=body)
    assert (odd.status_code, error_code(odd)) == (403, "wechat.bad_signature")  # not a 500
    unsigned = await client.post("/api/v1/wechat/push", content=body)
    assert unsigned.status_code in (403, 422)
    stale = await _push(client, emulator, url, timestamp=int(time.time()) - 3600)
    assert (stale.status_code, error_code(stale)) == (403, "wechat.bad_signature")
    assert (await _public(client, posting["id"]))["images"] == []
    assert (await ImageCheck.get(trace_id=_trace(emulator, url))).suggest is None


async def test_the_push_url_verification_echoes_only_with_a_valid_signature(client):
    ts, nonce = str(int(time.time())), "20261202"
    query = {"signature": push.signature_of(DEV_PUSH_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}
    ok = await client.get("/api/v1/wechat/push", params={**query, "echostr": "hello-wechat"})
    assert (ok.status_code, ok.text) == (200, "hello-wechat")
    bad = await client.get("/api/v1/wechat/push", params={**query, "signature": "f" * 40, "echostr": "x"})
    assert (bad.status_code, error_code(bad)) == (403, "wechat.bad_signature")


async def _admin(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    from backend.accounts import service as accounts_service
    from tests.conftest import TEST_APPID, login

    user = await accounts_service.get_or_create_user_by_ref(ref=f"dev-{name}", appid=TEST_APPID)
    await accounts_service.grant_admin(user=user, actor=None, reason="test")
    return await login(client, name)


async def test_an_image_held_for_review_is_shown_once_an_admin_approves_it_and_never_if_rejected(
    client, org, emulator
):
    from backend.audit.models import AuditEntry

    held, other, risky = _url(REVIEW_WORD), _url(REVIEW_WORD), _url("risky-test-word")
    posting = await _publish(client, org, [held, other, risky])
    for url in (held, other, risky):
        assert (await _push(client, emulator, url)).status_code == 200
    assert (await _public(client, posting["id"]))["images_withheld"] == 3
    admin = await _admin(client, "image-admin")
    waiting = await client.get("/api/v1/admin/image-checks", headers=admin)
    assert waiting.status_code == 200, waiting.text
    by_url = {c["url"]: c["id"] for c in waiting.json()["items"]}
    assert set(by_url) >= {held, other} and risky not in by_url  # risky is never up for a decision
    approve = {"approve": True, "reason": "人工复核无违规"}
    url = f"/api/v1/admin/image-checks/{by_url[held]}/decision"
    for who, status, code in (
        ({}, 401, "auth.token_missing"),
        (org["staff"], 403, "auth.admin_required"),
    ):
        refused = await client.post(url, json=approve, headers=who)
        assert (refused.status_code, error_code(refused)) == (status, code)
    assert (await _public(client, posting["id"]))["images"] == []  # nothing changed by the refusals
    approved = await client.post(url, json=approve, headers=admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["decision"] == "approved"
    rejected = await client.post(
        f"/api/v1/admin/image-checks/{by_url[other]}/decision",
        json={"approve": False, "reason": "图片含不宜公开内容"},
        headers=admin,
    )
    assert rejected.status_code == 200 and rejected.json()["decision"] == "rejected"
    shown = await _public(client, posting["id"])
    assert (shown["images"], shown["images_withheld"]) == ([held], 2)
    again = await client.post(url, json={"approve": False, "reason": "改判"}, headers=admin)
    assert (again.status_code, error_code(again)) == (409, "image.already_decided")
    risky_id = (await ImageCheck.get(url=risky)).id
    overruled = await client.post(
        f"/api/v1/admin/image-checks/{risky_id}/decision", json=approve, headers=admin
    )
    assert (overruled.status_code, error_code(overruled)) == (422, "image.not_in_review")
    missing = await client.post("/api/v1/admin/image-checks/999999/decision", json=approve, headers=admin)
    assert (missing.status_code, error_code(missing)) == (404, "image.not_found")
    entries = await AuditEntry.filter(action="posting.image_decision").order_by("id")
    assert [(e.after["decision"], e.before["decision"], e.actor_id is not None) for e in entries] == [
        ("approved", None, True),
        ("rejected", None, True),
    ]
    left = (await client.get("/api/v1/admin/image-checks", headers=admin)).json()["items"]
    assert not {held, other} & {c["url"] for c in left}  # decided ones leave the queue
