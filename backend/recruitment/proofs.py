"""Volunteer service proofs (志愿服务记录证明): issued free to the volunteer, checked by whoever gets one.

A volunteer asks for a proof of their records (all of them, or one organization's). The proof's
content is what the public may see: the name masked (张*), each record's organization, posting title,
date and minutes, and the total; never a phone number, openid or user id. It is signed with the keys
of the organizations' QR codes under its own token kind (prooftoken.py) and stored, so that when the
organization's staff correct the hours of a record it covers, the proof is revoked in the same
transaction (audited); asking again then issues a new one.

Verification answers the verdict scheme of the organizations' codes: ``genuine`` with the proof's
public content, or ``not_genuine`` with the reasons (malformed, unknown key, bad signature, unknown
or revoked proof) and nothing of the content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..cache import Cache
from ..crypto import PersonalDataCipher, mask_name
from ..errors import Conflict, NotFound, Unprocessable
from ..registry import qr, qrtoken
from ..registry import service as registry_service
from ..registry.models import Organization
from . import prooftoken
from .models import ServiceRecord
from .proofmodels import VolunteerProof

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONTENT_TYPE = "gongxin.volunteer_service_proof"
MAX_RECORDS = 500


class NoRecords(Unprocessable):
    code = "proof.no_records"
    message = "暂无可证明的志愿服务记录 / There are no volunteer service records to prove"


class RecordsChanged(Conflict):
    code = "proof.records_changed"
    message = "服务记录刚被更正，请重新申请证明 / The records were just corrected; ask for the proof again"


class ProofNotFound(NotFound):
    code = "proof.not_found"
    message = "未找到该证明 / No such proof"


def _hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def content_of(nickname: str, organization: Organization | None, rows: list[ServiceRecord]) -> dict[str, Any]:
    """The public content a proof signs: masked name, scope, each record and the total (minutes)."""
    records = [
        {
            "credit_code": r.posting.organization.credit_code,
            "organization": r.posting.organization.name,
            "title": r.posting.title,
            "date": r.posting.starts_at.astimezone(SHANGHAI).date().isoformat(),
            "minutes": r.minutes,
        }
        for r in rows
    ]
    return {
        "type": CONTENT_TYPE,
        "version": 1,
        "volunteer": mask_name(nickname),
        "organization": None
        if organization is None
        else {"credit_code": organization.credit_code, "name": organization.name},
        "records": records,
        "total_minutes": sum(r.minutes for r in rows),
    }


async def issue(
    *, member: User, credit_code: str | None, cipher: PersonalDataCipher, now: datetime | None = None
) -> tuple[VolunteerProof, bool]:
    """The volunteer's own proof of their records (one organization's, or all); the same records again
    give back the proof already issued (False), else a new one is signed and stored (True)."""
    organization = None if credit_code is None else await registry_service.get_organization(code=credit_code)
    query = ServiceRecord.filter(user_id=member.id)
    if organization is not None:
        query = query.filter(organization_id=organization.id)
    rows = list(await query.select_related("posting__organization").limit(MAX_RECORDS))
    if not rows:
        raise NoRecords(details={"organization": organization.credit_code if organization else None})
    rows.sort(key=lambda r: (r.posting.starts_at, r.posting_id))
    # The name as stored now, not as a cached session holds it.
    nickname = await User.filter(id=member.id).first().values_list("nickname", flat=True)
    content = content_of(str(nickname or ""), organization, rows)
    digest = prooftoken.digest_of(content)
    scope = {"organization_id": organization.id} if organization else {"organization_id__isnull": True}
    existing = (
        await VolunteerProof.filter(user_id=member.id, digest=digest, revoked_at__isnull=True, **scope)
        .order_by("-id")
        .first()
    )
    if existing is not None:
        return existing, False
    key = await qr.active_signing_key(cipher=cipher)
    issued_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    async with in_transaction():
        proof = await VolunteerProof.create(
            user_id=member.id,
            organization_id=organization.id if organization else None,
            content=content,
            digest=digest,
            record_ids=[r.id for r in rows],
            kid=key.kid,
            token="",
            issued_at=issued_at,
        )
        # A correction committed since the records were read would not have seen this proof to revoke
        # it. Written first (SQLite's write lock), then the records locked (PostgreSQL's row locks: a
        # correction in flight is waited for; one after this commits finds the proof and revokes it).
        now_minutes = dict(
            await ServiceRecord.filter(id__in=[r.id for r in rows])
            .select_for_update()
            .values_list("id", "minutes")
        )
        if now_minutes != {r.id: r.minutes for r in rows}:
            raise RecordsChanged()
        claims = prooftoken.ProofClaims(proof_id=proof.id, issued_at=issued_at, kid=key.kid, digest=digest)
        proof.token = prooftoken.sign(claims, key)
        await proof.save(update_fields=["token"])
    return proof, True


async def mine(*, member: User) -> list[VolunteerProof]:
    """The volunteer's own proofs, newest first."""
    return list(await VolunteerProof.filter(user_id=member.id).order_by("-id").limit(100))


async def get_mine(*, member: User, proof_id: int) -> VolunteerProof:
    """One of the volunteer's own proofs; anyone else's is not found."""
    proof = await VolunteerProof.get_or_none(id=proof_id, user_id=member.id)
    if proof is None:
        raise ProofNotFound(details={"id": proof_id})
    return proof


async def revoke_covering(
    *, actor: User, record: ServiceRecord, before_minutes: int, reason: str, now: datetime | None = None
) -> int:
    """Revoke the live proofs covering a record whose hours changed (in the caller's transaction, audited)."""
    if before_minutes == record.minutes:
        return 0
    revoked_at = now or datetime.now(UTC)
    live = await VolunteerProof.filter(user_id=record.user_id, revoked_at__isnull=True)
    count = 0
    for proof in live:
        if record.id not in proof.record_ids:
            continue
        proof.revoked_at = revoked_at
        proof.revoke_reason = reason
        await proof.save(update_fields=["revoked_at", "revoke_reason"])
        await audit_service.record(
            actor=actor,
            action="volunteer_proof.revoke",
            target=proof,
            before={"status": "valid"},
            after={
                "status": "revoked",
                "record_id": record.id,
                "minutes": {"before": before_minutes, "after": record.minutes},
            },
            reason=reason,
        )
        count += 1
    return count


# --- reading and verification ----------------------------------------------------------------------


def public_view(proof: VolunteerProof, *, public_base_url: str) -> dict[str, Any]:
    """What anyone holding the proof may see: its content, token and signature fields."""
    return {
        "id": proof.id,
        "token": proof.token,
        "url": prooftoken.build_url(public_base_url, proof.token),
        "issued_at": proof.issued_at.astimezone(UTC).isoformat(),
        "kid": proof.kid,
        "digest": proof.digest,
        "content": proof.content,
        "total_hours": _hours(int(proof.content.get("total_minutes", 0))),
    }


def owner_view(proof: VolunteerProof, *, public_base_url: str) -> dict[str, Any]:
    """The volunteer's own view: the public one and whether it still stands."""
    return {
        **public_view(proof, public_base_url=public_base_url),
        "status": "revoked" if proof.revoked_at else "valid",
        "revoked_at": proof.revoked_at.astimezone(UTC).isoformat() if proof.revoked_at else None,
        "revoke_reason": proof.revoke_reason,
    }


_NOT_GENUINE_MESSAGES = {
    "proof.not_our_url": "该二维码不是本平台签发的志愿服务记录证明",
    "proof.malformed": "证明二维码内容不完整或已被篡改",
    "proof.unknown_key": "证明签名密钥未知，可能为伪造",
    "proof.bad_signature": "证明签名校验失败，可能为伪造或被篡改",
    "proof.unknown": "本平台未签发过该证明",
    "proof.altered": "证明内容与签名不符，可能已被篡改",
    "proof.revoked": "该证明已作废（所含服务时长已被组织更正），请向志愿者索取新的证明",
}


def _reason(code: str) -> dict[str, str]:
    return {"code": code, "message": _NOT_GENUINE_MESSAGES.get(code, "证明无效")}


async def verify(*, url: str, public_base_url: str, keyring: qr.KeyRing, now: datetime) -> dict[str, Any]:
    """The verdict on a scanned proof URL: genuine with its public content, or not_genuine and why."""
    view: dict[str, Any] | None = None
    reasons: list[dict[str, str]] = []
    try:
        token = prooftoken.extract_token(url, public_base_url)
        kid = token.split(".")[2] if token.count(".") == 4 else ""
        claims = prooftoken.verify(token, await keyring.public_keys(kid))
    except qrtoken.InvalidQrCode as exc:
        reasons.append(_reason("proof." + exc.code.split(".", 1)[1]))
    else:
        proof = await VolunteerProof.get_or_none(id=claims.proof_id)
        if proof is None or proof.token != token:
            reasons.append(_reason("proof.unknown"))
        elif prooftoken.digest_of(proof.content) != claims.digest:
            reasons.append(_reason("proof.altered"))  # the stored content no longer matches what was signed
        elif proof.revoked_at is not None:
            reasons.append(_reason("proof.revoked"))
        else:
            view = public_view(proof, public_base_url=public_base_url)
    return {
        "verdict": "genuine" if view is not None else "not_genuine",
        "reasons": reasons,
        "checked_at": now.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        "organization": None,
        "proof": view,
    }


def _is_proof_url(url: str, public_base_url: str) -> bool:
    # Organizations' codes are the hot path: a substring test spares them a second URL parse (a proof
    # URL holds "/v/", or "%2Fv%2F" in WeChat's q= form; the parse then decides).
    if "/v/" not in url and "%2fv%2f" not in url.lower():
        return False
    try:
        prooftoken.extract_token(url, public_base_url)
    except qrtoken.NotOurUrl:
        # A proof's path on another host (a copy of our page, a forger's site): answer it as a proof
        # that is not ours, not as an organization code that is not ours.
        return urlsplit(url.strip()).path.startswith("/v/")
    return True


async def verify_scanned(
    *, url: str, public_base_url: str, cache: Cache, keyring: qr.KeyRing, now: datetime
) -> bytes:
    """The /api/v1/verify answer for any scanned code: a proof's under ``/v/``, else an organization's."""
    if not _is_proof_url(url, public_base_url):
        return await qr.verify(
            url=url, public_base_url=public_base_url, cache=cache, keyring=keyring, now=now
        )
    return orjson.dumps(await verify(url=url, public_base_url=public_base_url, keyring=keyring, now=now))


def published_format() -> dict[str, str]:
    """How a volunteer service proof's token reads, for /.well-known/gongxin-keys.json (same keys)."""
    return {
        "proof_token_format": "vp{proof_id}.{issued_at_base36}.{kid}.{content_sha256_base64url}"
        ".{ed25519_signature_base64url}",
        "proof_signed_message": 'b"gongxin-volunteer-proof-v1\\n" + "vp{proof_id}.{issued_at_base36}.{kid}'
        '.{content_sha256_base64url}"',
        "proof_url_path": "/v/{token}",
        "proof_content": "JSON of the proof content, UTF-8, keys sorted, separators (',', ':'), no spaces",
    }
