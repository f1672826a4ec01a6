"""What public and personal answers disclose, held to what README promises.

- A code that is not genuine, revoked or reissued included, answers ``not_genuine`` "with no
  details shown": no organization, on the API and on the H5 page.
- ``/me`` shows the phone number masked (138****5678), on the request that reads the database and
  on the ones that read the cached session; never the number, its ciphertext or its lookup hash.
- An activity as members see it before checking in carries neither the code's secret nor a code.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from backend.accounts.models import User
from backend.partybuilding import rotating_code
from backend.registry import reference
from tests.conftest import login
from tests.factories import make_open_activity
from tests.registry.test_registry_api import REASON, officer, register, scan_url

PHONE = "13812345678"


@pytest.fixture
async def nanshan(client: httpx.AsyncClient) -> dict[str, str]:
    await reference.load_authorities()
    return await officer(client, "disclosure-officer", "440305")


async def _public_record_of(client: httpx.AsyncClient, code: str) -> list[str]:
    """Values of the organization's public record that a not-genuine answer must not carry."""
    profile = (await client.get(f"/api/v1/orgs/{code}")).json()
    return [profile["name"], profile["legal_representative"], profile["authority"]["name"]]


async def _assert_discloses_nothing(client: httpx.AsyncClient, url: str, record: list[str]) -> None:
    answer = await client.get("/api/v1/verify", params={"url": url})
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "not_genuine"
    assert body["organization"] is None
    assert [r["code"] for r in body["reasons"]] == ["qr.revoked"]
    for value in record:
        assert value not in answer.text, value
    page = await client.get("/o/" + url.rsplit("/", 1)[1])
    assert page.status_code == 200
    for value in record:
        assert value not in page.text, value


async def test_a_reissued_code_answers_not_genuine_without_the_organization(client, nanshan):
    code = (await register(client, nanshan, address="深圳市南山区科技园1号")).json()["credit_code"]
    old = await scan_url(client, code)
    record = await _public_record_of(client, code)
    assert (await client.get("/api/v1/verify", params={"url": old})).json()["organization"] is not None
    reissued = await client.post(f"/api/v1/orgs/{code}/qrcode/reissue", json=REASON, headers=nanshan)
    assert reissued.status_code == 200, reissued.text
    await _assert_discloses_nothing(client, old, record)
    # The new code still shows the record: the check above is about the old one, not the organization.
    current = await client.get("/api/v1/verify", params={"url": reissued.json()["url"]})
    assert current.json()["organization"]["name"] == record[0]


async def test_a_revoked_code_answers_not_genuine_without_the_organization(client, nanshan):
    code = (await register(client, nanshan)).json()["credit_code"]
    url = await scan_url(client, code)
    record = await _public_record_of(client, code)
    revoked = await client.post(f"/api/v1/orgs/{code}/qrcode/revoke", json=REASON, headers=nanshan)
    assert revoked.status_code == 200, revoked.text
    await _assert_discloses_nothing(client, url, record)


async def test_me_shows_the_phone_masked_on_every_request(client, emulator):
    headers = await login(client, "private")
    bound = await client.post(
        "/api/v1/me/phone", json={"code": emulator.issue_phone_code(PHONE)}, headers=headers
    )
    assert bound.status_code == 200, bound.text
    stored = await User.get(id=bound.json()["id"])
    secrets_of_the_user = [PHONE, "+86" + PHONE, stored.phone_encrypted, stored.phone_hash, stored.openid]
    answers = [bound] + [await client.get("/api/v1/me", headers=headers) for _ in range(3)]
    for answer in answers:  # the binding, the database read, then the cached session
        assert answer.status_code == 200
        assert answer.json()["phone"] == "138****5678"
        assert set(answer.json()) == {"id", "nickname", "phone", "created_at", "roles"}
        for value in secrets_of_the_user:
            assert value and value not in answer.text, value
        assert answer.headers["Cache-Control"] == "no-store"


async def test_an_activity_shows_no_code_and_no_code_secret(client):
    activity = await make_open_activity(
        title="公开的活动", code_secret="s3cr3t-" + "x" * 36, code_interval_s=15
    )
    now = datetime.now(UTC)
    shown = await client.get(f"/api/v1/activities/{activity.id}")
    assert shown.status_code == 200
    code = rotating_code.current(secret=activity.code_secret, activity_id=activity.id, interval_s=15, now=now)
    assert activity.code_secret not in shown.text
    assert code.code not in shown.text
    assert "secret" not in shown.text
