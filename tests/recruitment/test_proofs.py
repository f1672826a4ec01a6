"""Volunteer service proofs: issued to the volunteer alone, genuine until altered or revoked."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

import gongxin_verify
from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.crypto import PersonalDataCipher
from backend.recruitment import prooftoken
from backend.recruitment.proofmodels import VolunteerProof
from backend.registry import qr, qrtoken
from tests.conftest import error_code, login
from tests.h5.test_proof_page import _qr_of
from tests.recruitment.conftest import open_posting, user_of
from tests.recruitment.test_volunteering import _begun
from tests.translog.conftest import bridge

BASE = "https://gongxin.example.cn"


async def _served(client: httpx.AsyncClient, org: dict[str, Any], name: str = "volunteer") -> dict[str, Any]:
    """A volunteer named 张小明 who served 2.5 hours at one of the organization's volunteer postings."""
    posting = await open_posting(client, org, kind="volunteer", title="社区图书整理")
    volunteer = await login(client, name)
    user = await user_of(client, volunteer)
    await User.filter(id=user.id).update(nickname="张小明")
    await client.post(f"/api/v1/postings/{posting['id']}/signups", json={"answers": {}}, headers=volunteer)
    await _begun(posting["id"])
    await _record(client, org, posting["id"], user.id, 2.5)
    return {"headers": volunteer, "user": user, "posting": posting}


async def _record(
    client: httpx.AsyncClient, org: dict[str, Any], posting_id: int, uid: int, hours: float
) -> None:
    done = await client.put(
        f"/api/v1/postings/{posting_id}/service-records",
        json={"records": [{"user_id": uid, "hours": hours}]},
        headers=org["staff"],
    )
    assert done.status_code == 200, done.text


async def _ask(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/v1/me/volunteer-proofs", json=body, headers=headers)


async def _verdict(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get("/api/v1/verify", params={"url": url})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _reasons(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def _flip(text: str, at: int) -> str:
    """The text with one character changed (to another of the base64url alphabet)."""
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]


async def test_a_volunteer_gets_a_signed_proof_that_verifies_genuine_with_only_public_content(client, org):
    served = await _served(client, org)
    issued = await _ask(client, served["headers"])
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    proof = issued.json()
    assert proof["status"] == "valid" and proof["url"] == f"{BASE}/v/{proof['token']}"
    assert proof["token"].startswith(f"vp{proof['id']}.")
    content = proof["content"]
    assert content["volunteer"] == "张**"
    assert content["records"] == [
        {
            "credit_code": org["code"],
            "organization": org["org"].name,
            "title": "社区图书整理",
            "date": content["records"][0]["date"],
            "minutes": 150,
        }
    ]
    assert content["total_minutes"] == 150 and proof["total_hours"] == 2.5
    assert proof["digest"] == prooftoken.digest_of(content) == proof["token"].split(".")[3]

    answer = await _verdict(client, proof["url"])
    assert answer["verdict"] == "genuine" and answer["reasons"] == []
    assert answer["proof"]["content"] == content and answer["organization"] is None
    text = json.dumps(answer, ensure_ascii=False)
    user = served["user"]
    assert "张小明" not in text and user.openid not in text and '"user_id"' not in text
    keys = (await client.get("/.well-known/gongxin-keys.json")).json()
    assert (
        keys["proof_url_path"] == "/v/{token}"
        and "gongxin-volunteer-proof-v1" in keys["proof_signed_message"]
    )
    # As the mini-program hands it over after a scan (WeChat's q= launch parameter) too.
    wechat = await _verdict(client, "q=" + quote(proof["url"], safe="") + "&scancode_time=1764640000")
    assert wechat["verdict"] == "genuine"
    # The same records again: the proof already issued, not another one.
    again = await _ask(client, served["headers"])
    assert (again.status_code, again.json()["id"]) == (200, proof["id"])
    scoped = await _ask(client, served["headers"], organization=org["code"])
    assert (
        scoped.status_code == 201 and scoped.json()["content"]["organization"]["credit_code"] == org["code"]
    )
    listed = (await client.get("/api/v1/me/volunteer-proofs", headers=served["headers"])).json()["items"]
    assert [p["id"] for p in listed] == [scoped.json()["id"], proof["id"]]


async def test_an_altered_token_or_changed_hours_are_not_genuine(client, org):
    served = await _served(client, org)
    proof = (await _ask(client, served["headers"])).json()
    token = proof["token"]
    digest_at = token.index(proof["digest"])
    for altered, reason in (
        (_flip(token, len(token) - 10), "proof.bad_signature"),  # one byte of the signature
        (_flip(token, digest_at + 5), "proof.bad_signature"),  # one byte of the signed digest
        (token.replace(f"vp{proof['id']}.", f"vp{proof['id'] + 1}.", 1), "proof.bad_signature"),
        (token[:-1], "proof.malformed"),
    ):
        answer = await _verdict(client, prooftoken.build_url(BASE, altered))
        assert (answer["verdict"], _reasons(answer), answer["proof"]) == ("not_genuine", [reason], None), (
            altered
        )
    # The genuine token under another host (a copied page, a forger's site): not a proof of ours.
    elsewhere = await _verdict(client, prooftoken.build_url("https://gongxin.example.com", token))
    assert (elsewhere["verdict"], _reasons(elsewhere), elsewhere["proof"]) == (
        "not_genuine",
        ["proof.not_our_url"],
        None,
    )
    # A changed hours figure where the proof is kept: its content no longer matches what was signed.
    stored = await VolunteerProof.get(id=proof["id"])
    stored.content = {**stored.content, "records": [{**stored.content["records"][0], "minutes": 600}]}
    await stored.save(update_fields=["content"])
    answer = await _verdict(client, proof["url"])
    assert (answer["verdict"], _reasons(answer), answer["proof"]) == ("not_genuine", ["proof.altered"], None)


async def test_a_correction_of_the_hours_revokes_the_proof_and_asking_again_issues_a_new_one(client, org):
    served = await _served(client, org)
    proof = (await _ask(client, served["headers"])).json()
    posting_id, uid = served["posting"]["id"], served["user"].id
    await _record(client, org, posting_id, uid, 2.5)  # the same hours again: nothing to revoke
    assert (await _verdict(client, proof["url"]))["verdict"] == "genuine"
    await _record(client, org, posting_id, uid, 1.75)
    answer = await _verdict(client, proof["url"])
    assert (answer["verdict"], _reasons(answer), answer["proof"]) == ("not_genuine", ["proof.revoked"], None)
    entry = await AuditEntry.get(action="volunteer_proof.revoke")
    staff = await user_of(client, org["staff"])
    assert (entry.actor_id, entry.target_id, entry.before) == (
        staff.id,
        str(proof["id"]),
        {"status": "valid"},
    )
    assert entry.after["minutes"] == {"before": 150, "after": 105} and entry.reason
    listed = (await client.get("/api/v1/me/volunteer-proofs", headers=served["headers"])).json()["items"]
    assert listed[0]["status"] == "revoked" and listed[0]["revoked_at"]
    renewed = await _ask(client, served["headers"])
    assert renewed.status_code == 201 and renewed.json()["id"] != proof["id"]
    assert renewed.json()["content"]["total_minutes"] == 105
    assert (await _verdict(client, renewed.json()["url"]))["verdict"] == "genuine"


async def test_a_proof_token_never_passes_as_an_organization_code_nor_the_reverse(client, org, settings):
    served = await _served(client, org)
    proof = (await _ask(client, served["headers"])).json()
    org_url = (await client.get(f"/api/v1/orgs/{org['code']}/qrcode")).json()["url"]
    assert (await _verdict(client, org_url))["verdict"] == "good_standing"
    org_token = org_url.rsplit("/", 1)[1]

    as_org = await _verdict(client, qrtoken.build_url(BASE, proof["token"]))
    assert (as_org["verdict"], _reasons(as_org), as_org["organization"]) == (
        "not_genuine",
        ["qr.malformed"],
        None,
    )
    as_proof = await _verdict(client, prooftoken.build_url(BASE, org_token))
    assert (as_proof["verdict"], _reasons(as_proof), as_proof["proof"]) == (
        "not_genuine",
        ["proof.malformed"],
        None,
    )
    # The signing domains differ: the platform's key signing a proof's fields as an organization's
    # message gives a token that does not verify as a proof.
    key = await qr.active_signing_key(cipher=PersonalDataCipher(settings.fernet_key))
    payload = proof["token"].rsplit(".", 1)[0]
    foreign = key.private_key.sign(qrtoken.SIGNING_DOMAIN + payload.encode())
    crossed = await _verdict(client, prooftoken.build_url(BASE, f"{payload}.{qrtoken.b64encode(foreign)}"))
    assert (crossed["verdict"], _reasons(crossed)) == ("not_genuine", ["proof.bad_signature"])


async def test_only_the_volunteer_asks_for_and_sees_their_own_proof(client, org):
    served = await _served(client, org)
    anonymous = await client.post("/api/v1/me/volunteer-proofs", json={})
    assert anonymous.status_code == 401
    assert (await client.get("/api/v1/me/volunteer-proofs")).status_code == 401
    proof = (await _ask(client, served["headers"])).json()
    png = f"/api/v1/me/volunteer-proofs/{proof['id']}/qrcode.png"
    assert (await client.get(png)).status_code == 401
    mine = await client.get(png, headers=served["headers"])
    assert mine.status_code == 200 and mine.content.startswith(b"\x89PNG")
    for someone in (await login(client, "someone-else"), org["staff"]):
        nothing = await _ask(client, someone)
        assert (nothing.status_code, error_code(nothing)) == (422, "proof.no_records")
        assert (await client.get(png, headers=someone)).status_code == 404
        assert (await client.get("/api/v1/me/volunteer-proofs", headers=someone)).json()["items"] == []
    unknown = await _ask(client, served["headers"], organization="51440300MJL0000000")
    assert unknown.status_code == 404


async def test_the_proof_page_shows_the_proof_and_its_qr_code_until_revoked(client, org):
    served = await _served(client, org)
    proof = (await _ask(client, served["headers"])).json()
    page = await client.get(f"/v/{proof['token']}")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert "真实有效" in page.text and "张**" in page.text and "社区图书整理" in page.text
    assert "2.5 小时" in page.text and 'src="data:image/png;base64,' in page.text
    assert "张小明" not in page.text and served["user"].openid not in page.text
    # The QR code on the page, and the volunteer's own PNG of it, read back as the proof's URL.
    zxingcpp = pytest.importorskip("zxingcpp", reason="QR decoding needs `pip install zxing-cpp`")
    png = await client.get(f"/api/v1/me/volunteer-proofs/{proof['id']}/qrcode.png", headers=served["headers"])
    for image in (_qr_of(page.text), Image.open(io.BytesIO(png.content))):
        assert [r.text for r in zxingcpp.read_barcodes(image.convert("L"))] == [proof["url"]]
    await _record(client, org, served["posting"]["id"], served["user"].id, 1)
    revoked = await client.get(f"/v/{proof['token']}")
    assert (
        "已作废" in revoked.text
        and "社区图书整理" not in revoked.text
        and "data:image/png" not in revoked.text
    )
    forged = await client.get(f"/v/{_flip(proof['token'], len(proof['token']) - 10)}")
    assert "非本平台签发的有效证明" in forged.text and "张**" not in forged.text


async def _verifier(client: httpx.AsyncClient, *argv: str) -> tuple[int, str]:
    fetch = bridge(client, asyncio.get_running_loop())
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return gongxin_verify.main([*argv, "--state", ""], fetch=fetch)

    return await asyncio.to_thread(run), out.getvalue()


async def test_the_verifier_checks_a_saved_proof_offline_and_names_an_altered_one(
    client, org, tmp_path: Path
):
    served = await _served(client, org)
    proof = (await _ask(client, served["headers"])).json()
    saved = tmp_path / "proof.json"
    saved.write_text(json.dumps(proof, ensure_ascii=False), encoding="utf-8")
    status, out = await _verifier(client, "proof", str(saved))
    assert status == 0 and out.startswith(f"OK proof {saved}"), out
    status, out = await _verifier(client, "proof", proof["url"])
    assert status == 0, out

    changed = {**proof, "content": {**proof["content"], "total_minutes": 600}}
    changed["content"]["records"] = [{**proof["content"]["records"][0], "minutes": 600}]
    saved.write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
    status, out = await _verifier(client, "proof", str(saved))
    assert (
        status == 1
        and "MISMATCH proof: the content (volunteer, records, hours or total) is not what was signed" in out
    )
    changed["content"]["total_minutes"] = 150  # a total that no longer adds up is named too
    saved.write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
    status, out = await _verifier(client, "proof", str(saved))
    assert status == 1 and "total_minutes 150 but its records add up to 600" in out

    forged = prooftoken.build_url(BASE, _flip(proof["token"], len(proof["token"]) - 10))
    status, out = await _verifier(client, "proof", forged)
    assert status == 1 and "MISMATCH proof: the signature does not verify" in out
    await _record(client, org, served["posting"]["id"], served["user"].id, 1)
    status, out = await _verifier(client, "proof", proof["url"])
    assert status == 1 and "MISMATCH proof: proof.revoked" in out
    status, out = await _verifier(client, "qr", proof["url"])
    assert status == 1 and "MISMATCH qr: not a Gongxin QR token" in out


async def test_a_correction_committed_while_a_proof_is_issued_never_leaves_a_stale_valid_proof(
    client, org, monkeypatch
):
    from backend.recruitment import proofs
    from backend.recruitment.models import ServiceRecord

    served = await _served(client, org)
    signing_key = proofs.qr.active_signing_key

    async def corrected_meanwhile(**kwargs: Any) -> Any:
        # The records were read; a staff correction commits before the proof is written.
        await ServiceRecord.filter(user_id=served["user"].id).update(minutes=60)
        return await signing_key(**kwargs)

    monkeypatch.setattr(proofs.qr, "active_signing_key", corrected_meanwhile)
    refused = await _ask(client, served["headers"])
    assert (refused.status_code, error_code(refused)) == (409, "proof.records_changed")
    assert await VolunteerProof.filter(user_id=served["user"].id).count() == 0
    monkeypatch.undo()
    issued = (await _ask(client, served["headers"])).json()
    assert issued["content"]["total_minutes"] == 60
