"""QR codes of organizations: signing keys, issuing and revoking versions, and verification.

Verification answers one of four verdicts. A token that does not parse, is not ours, has an unknown
key, a bad signature, or a version that is not the organization's current one is ``not_genuine``,
always, and then no organization details are returned: a forged or revoked code must never look
valid.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..audit.models import AuditEntry
from ..cache import Cache
from ..crypto import PersonalDataCipher
from ..errors import Conflict
from ..translog import records
from . import profiles, qrtoken
from .models import CreditList, Organization, OrgStatus, QrCodeVersion, SigningKeyRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")
_KID = re.compile(r"[a-z0-9]{1,16}")


class NoCurrentCode(Conflict):
    code = "qr.revoked"
    message = "该组织的二维码已被撤销，请重新签发 / The QR code of this organization is revoked; reissue it"


# --- keys ---------------------------------------------------------------------------------------


class KeyRing:
    """The public keys that verify QR tokens: loaded from the database, looked up again on an unknown kid.

    Public keys never change once written, so each process may keep them; a kid it has not seen
    (a key made by another process or a rotation) is one primary-key lookup away.
    """

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    async def reload(self) -> None:
        rows = await SigningKeyRecord.all().values_list("kid", "public_key")
        self._keys = {kid: qrtoken_public(raw) for kid, raw in rows}

    async def public_keys(self, kid: str) -> dict[str, bytes]:
        """Keys that can verify ``kid``."""
        if kid not in self._keys and _KID.fullmatch(kid):
            record = await SigningKeyRecord.get_or_none(kid=kid)
            if record is not None:
                self._keys = {**self._keys, kid: qrtoken_public(record.public_key)}
        return self._keys


def qrtoken_public(b64: str) -> bytes:
    """The raw 32-byte public key from its unpadded base64url form."""
    return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))


async def active_signing_key(*, cipher: PersonalDataCipher) -> qrtoken.SigningKey:
    """The key that signs new codes, creating the first one if there is none."""
    record = await SigningKeyRecord.filter(active=True).order_by("-created_at").first()
    if record is None or record.private_key_encrypted is None:
        return await rotate_signing_key(cipher=cipher)
    raw = bytes.fromhex(cipher.decrypt(record.private_key_encrypted))
    return qrtoken.SigningKey.from_private_bytes(record.kid, raw)


async def rotate_signing_key(*, cipher: PersonalDataCipher, actor: User | None = None) -> qrtoken.SigningKey:
    """Make a new signing key; earlier keys stop signing but keep verifying what they signed.

    An admin's rotation (``actor``) is audited; the first key, made on first use, is not a write of anyone's.
    """
    key = qrtoken.SigningKey.generate()
    async with in_transaction():
        retired = list(await SigningKeyRecord.filter(active=True).values_list("kid", flat=True))
        await SigningKeyRecord.filter(active=True).update(active=False, retired_at=datetime.now(UTC))
        record = await SigningKeyRecord.create(
            kid=key.kid,
            public_key=key.public_key_b64(),
            private_key_encrypted=cipher.encrypt(key.private_bytes().hex()),
            active=True,
        )
        if actor is not None:
            await audit_service.record(
                actor=actor,
                action="signing_key.rotate",
                target=record,
                before={"active": retired},
                after={"active": [key.kid]},
                reason="",
            )
    return key


async def published_keys() -> dict[str, Any]:
    """The document at /.well-known/gongxin-keys.json."""
    records = await SigningKeyRecord.all().order_by("created_at")
    return {
        "issuer": "gongxin",
        "token_format": "{credit_code}.{version}.{issued_at_base36}.{kid}.{ed25519_signature_base64url}",
        "signed_message": 'b"gongxin-qr-v1\\n" + "{credit_code}.{version}.{issued_at_base36}.{kid}"',
        "url_path": "/o/{token}",
        "keys": [
            {
                "kid": r.kid,
                "alg": "Ed25519",
                "public_key": r.public_key,
                "status": "active" if r.active else "retired",
                "created_at": r.created_at.isoformat(),
                "retired_at": r.retired_at.isoformat() if r.retired_at else None,
            }
            for r in records
        ],
        "note": "A valid signature proves the code was issued by Gongxin; whether it is still the "
        "current code and the organization is in good standing needs the live check at /api/v1/verify.",
    }


# --- issuing ------------------------------------------------------------------------------------


async def current_code(*, organization: Organization) -> QrCodeVersion:
    """The organization's valid code; NoCurrentCode (409) when it has none (revoked, never issued).

    Only reads: the first version is issued with the organization (``first_versions``, in the
    transaction that creates it), so a public request never signs or stores anything.
    """
    current = (
        await QrCodeVersion.filter(organization=organization, revoked_at__isnull=True)
        .order_by("-version")
        .first()
    )
    if current is None:
        raise NoCurrentCode(details={"credit_code": organization.credit_code})
    return current


def first_versions(
    organizations: Sequence[tuple[int, str]], *, key: qrtoken.SigningKey
) -> list[QrCodeVersion]:
    """Version 1 of the code of each new organization (id, credit code), signed, not yet saved.

    The caller saves them in the transaction that creates the organizations; pure CPU (about 60 us
    a signature), so a large import may run it in a worker thread.
    """
    return [
        _new_version(organization_id=org_id, credit_code=code, version=1, key=key)
        for org_id, code in organizations
    ]


async def issue_missing(*, cipher: PersonalDataCipher, cache: Cache) -> int:
    """Issue version 1 to every organization that never had a code (made before codes came with
    registration); ``gongxin migrate`` runs it. Idempotent; returns how many were issued."""
    have = Subquery(QrCodeVersion.all().values("organization_id"))
    issued = 0
    last_id = 0
    while batch := await Organization.filter(id__gt=last_id).exclude(id__in=have).order_by("id").limit(500):
        last_id = batch[-1].id
        key = await active_signing_key(cipher=cipher)
        versions = first_versions([(o.id, o.credit_code) for o in batch], key=key)
        async with in_transaction():
            # Unique (organization, version): a concurrent issue keeps one.
            await QrCodeVersion.bulk_create(versions, ignore_conflicts=True)
            await AuditEntry.bulk_create(
                [
                    AuditEntry(
                        actor_id=None,
                        action="qr.issue",
                        target_type="Organization",
                        target_id=str(o.id),
                        before=None,
                        after={"version": 1, "kid": key.kid},
                        reason="首次签发（登记时未签发二维码的组织）",
                    )
                    for o in batch
                ]
            )
            await profiles.record_change(*(o.credit_code for o in batch))
        for organization in batch:
            await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
        issued += len(batch)
    return issued


def _new_version(
    *, organization_id: int, credit_code: str, version: int, key: qrtoken.SigningKey
) -> QrCodeVersion:
    issued_at = datetime.now(UTC).replace(microsecond=0)
    claims = qrtoken.QrClaims(credit_code=credit_code, version=version, issued_at=issued_at, kid=key.kid)
    return QrCodeVersion(
        organization_id=organization_id,
        version=version,
        kid=key.kid,
        issued_at=issued_at,
        token=qrtoken.sign(claims, key),
    )


async def _live_versions(organization: Organization) -> list[int]:
    rows = await QrCodeVersion.filter(organization=organization, revoked_at__isnull=True).values_list(
        "version", flat=True
    )
    return sorted(int(str(v)) for v in rows)


async def reissue(
    *, organization: Organization, actor: User | None, reason: str, cipher: PersonalDataCipher, cache: Cache
) -> QrCodeVersion:
    """Issue a new version of the code; every earlier version stops verifying."""
    key = await active_signing_key(cipher=cipher)
    async with in_transaction():
        now = datetime.now(UTC)
        latest = await QrCodeVersion.filter(organization=organization).order_by("-version").first()
        revoked = await _live_versions(organization)
        await QrCodeVersion.filter(organization=organization, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=reason or "reissued"
        )
        issued = _new_version(
            organization_id=organization.id,
            credit_code=organization.credit_code,
            version=(latest.version if latest else 0) + 1,
            key=key,
        )
        await issued.save()
        await audit_service.record(
            actor=actor,
            action="qr.reissue",
            target=organization,
            before={"version": latest.version if latest else None},
            after={"version": issued.version, "kid": issued.kid},
            reason=reason,
        )
        if revoked:
            leaf = records.qr_revoked(organization, versions=revoked, reason=reason or "reissued", at=now)
            await records.append(organization, leaf)
        await profiles.record_change(organization.credit_code)
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return issued


async def revoke(*, organization: Organization, actor: User | None, reason: str, cache: Cache) -> int:
    """Revoke the current code without issuing another (a lost or misused code)."""
    async with in_transaction():
        now = datetime.now(UTC)
        revoked = await _live_versions(organization)
        count = await QrCodeVersion.filter(organization=organization, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=reason
        )
        await audit_service.record(
            actor=actor,
            action="qr.revoke",
            target=organization,
            before={"valid_versions": revoked},
            after={"revoked": count, "valid_versions": []},
            reason=reason,
        )
        if revoked:
            await records.append(
                organization, records.qr_revoked(organization, versions=revoked, reason=reason, at=now)
            )
        await profiles.record_change(organization.credit_code)
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return count


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


_NOT_GENUINE_MESSAGES = {
    "qr.not_our_url": "该二维码不是本平台签发的组织码",
    "qr.malformed": "二维码内容不完整或已被篡改",
    "qr.unknown_key": "二维码签名密钥未知，可能为伪造",
    "qr.bad_signature": "二维码签名校验失败，可能为伪造或被篡改",
    "qr.unknown_organization": "二维码所指的社会组织不存在",
    "qr.revoked": "该二维码已被撤销或已重新签发，不再有效",
}


def _not_genuine(code: str) -> tuple[str, list[Reason]]:
    return "not_genuine", [Reason(code, _NOT_GENUINE_MESSAGES.get(code, "二维码无效"))]


def standing(meta: dict[str, Any], *, today: date) -> tuple[str, list[Reason]]:
    """The verdict of a genuine code from the organization's live record."""
    bad: list[Reason] = []
    warn: list[Reason] = []
    if meta["status"] == OrgStatus.REVOKED:
        bad.append(Reason("org.revoked", "该组织已被撤销登记"))
    elif meta["status"] == OrgStatus.DEREGISTERED:
        bad.append(Reason("org.deregistered", "该组织已注销"))
    for listing in meta["current_listings"]:
        if listing["list"] == CreditList.SERIOUS_VIOLATION:
            bad.append(Reason("credit.serious_violation_list", f"列入严重违法失信名单：{listing['reason']}"))
        else:
            warn.append(Reason("credit.abnormal_list", f"列入活动异常名录：{listing['reason']}"))
    until = meta.get("fundraising_valid_until")
    if until and date.fromisoformat(until) < today:
        warn.append(Reason("qualification.public_fundraising_expired", f"公开募捐资格已于 {until} 到期"))
    if meta.get("latest_annual_result") in ("unqualified", "not_filed"):
        warn.append(Reason("annual_report.not_passed", "最近一次年度报告（年检）未通过或未按时提交"))
    if meta.get("check_digit_exception"):
        warn.append(
            Reason("credit_code.pilot_exception", "该代码为早期试点代码，校验位不符，经登记管理机关确认登记")
        )
    if bad:
        return "not_in_good_standing", bad + warn
    if warn:
        return "warnings", warn
    return "good_standing", []


async def verify(*, url: str, public_base_url: str, cache: Cache, keyring: KeyRing, now: datetime) -> bytes:
    """The verification answer for a scanned URL, as JSON bytes."""
    # Worked out once per process, URL and second, however many scan it meanwhile: ``now`` is the
    # first asker's, and checked_at has second precision, so the answer is the one each of the others
    # would have worked out. A revocation (``profiles.invalidate``) makes later scans work it afresh.
    body = await profiles.local_answers.get_or_load(
        (url, int(now.timestamp())),
        lambda: _answer(url=url, public_base_url=public_base_url, cache=cache, keyring=keyring, now=now),
    )
    assert body is not None  # _answer always answers
    return body


async def _answer(*, url: str, public_base_url: str, cache: Cache, keyring: KeyRing, now: datetime) -> bytes:
    organization: bytes = b"null"
    try:
        token = qrtoken.extract_token(url, public_base_url)
        kid = token.split(".")[3] if token.count(".") == 4 else ""
        claims = qrtoken.verify(token, await keyring.public_keys(kid))
    except qrtoken.InvalidQrCode as exc:
        verdict, reasons = _not_genuine(exc.code)
    else:
        local_today = now.astimezone(SHANGHAI).date()
        found = await profiles.get_view_bytes(cache=cache, credit_code=claims.credit_code, today=local_today)
        if found is None:
            verdict, reasons = _not_genuine("qr.unknown_organization")
        elif found[1]["qr_version"] != claims.version:
            verdict, reasons = _not_genuine("qr.revoked")
        else:
            organization, meta = found
            verdict, reasons = standing(meta, today=local_today)
    head = orjson.dumps(
        {
            "verdict": verdict,
            "reasons": [{"code": r.code, "message": r.message} for r in reasons],
            "checked_at": now.astimezone(SHANGHAI).isoformat(timespec="seconds"),
        }
    )
    # Splice the cached organization JSON in as it is: no parse and re-serialize on the hot path.
    return head[:-1] + b',"organization":' + organization + b"}"
