"""The registry's rules: who may change which organization, and how every change is recorded.

Every officer write runs one transaction that changes the record, writes its audit entry (who,
when, what, before, after, why), bumps the record version and runs the credit rules; after the
commit the profile cache is invalidated so every process answers with the change at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..accounts.permissions import (
    officer_region_codes,
    require_officer_for_region,
    require_platform_admin,
)
from ..audit import service as audit_service
from ..cache import Cache
from ..charity import views as charity_views
from ..crypto import PersonalDataCipher
from ..errors import Conflict, NotFound, Unprocessable
from ..translog import records
from . import credit, credit_code, profiles, qr, qrtoken, search_index
from . import search as search_module
from .models import (
    AnnualReport,
    Authority,
    AuthorityLevel,
    CreditProposal,
    EvaluationGrade,
    Licence,
    Organization,
    Penalty,
    ProposalStatus,
    QrCodeVersion,
    Qualification,
)
from .regions import parse_region, region_level, subtree_filter
from .schemas import (
    AnnualReportSet,
    AuthorityCreate,
    GradeCreate,
    LicenceCreate,
    ListingCreate,
    ListingRemoval,
    OrgCreate,
    OrgSearch,
    OrgUpdate,
    PenaltyCreate,
    QualificationCreate,
    StatusChange,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SEARCH_CACHE_SECONDS = 300


def today() -> date:
    """Today in China, which is what dates in the registry mean."""
    return datetime.now(SHANGHAI).date()


class OrganizationExists(Conflict):
    code = "organization.exists"
    message = "该统一社会信用代码已登记 / An organization with this credit code already exists"


class AuthorityNotFound(NotFound):
    code = "authority.not_found"
    message = "登记管理机关不存在 / No such registration authority"


class AuthorityExists(Conflict):
    code = "authority.exists"
    message = "该行政区划的登记管理机关已存在 / This region already has an authority"


class InvalidDateRange(Unprocessable):
    code = "validation.date_range"
    message = "有效期截止日期不能早于起始日期 / The end date is before the start date"


async def get_organization(*, code: str) -> Organization:
    """The organization with this credit code (pasted codes are normalized first)."""
    normalized = credit_code.normalize(code)
    organization = (
        await Organization.get_or_none(credit_code=normalized)
        if credit_code.looks_like_code(normalized)
        else None
    )
    if organization is None:
        raise profiles.OrganizationNotFound(details={"credit_code": normalized})
    return organization


async def get_authority(*, region_code: str) -> Authority:
    """The authority of a region code (422 ``region.invalid`` for a malformed one)."""
    authority = await Authority.get_or_none(region_code=parse_region(region_code))
    if authority is None:
        raise AuthorityNotFound(details={"region_code": region_code})
    return authority


def _public_fields(org: Organization) -> dict[str, Any]:
    return orjson.loads(
        orjson.dumps(
            {
                "name": org.name,
                "status": org.status,
                "legal_representative": org.legal_representative,
                "address": org.address,
                "business_scope": org.business_scope,
                "supervising_unit": org.supervising_unit,
                "registered_on": org.registered_on,
                "registered_capital_fen": org.registered_capital_fen,
            }
        )
    )


async def _write(
    *,
    actor: User | None,
    organization: Organization,
    action: str,
    reason: str,
    change: Callable[[], Awaitable[Any]],
    cache: Cache,
    leaf: Callable[[Any, datetime], bytes] | None = None,
) -> Any:
    """Run one audited officer change of an organization's record, then invalidate its profile.

    ``leaf`` makes the change's public-record leaf of the transparency log from its result; it is
    appended last in the transaction (backend/translog/log.py: the log's row is locked last).
    """
    if actor is not None:
        await require_officer_for_region(actor, organization.region_code)
    async with in_transaction():
        before = _public_fields(organization)
        result = await change()
        await Organization.filter(id=organization.id).update(record_version=F("record_version") + 1)
        await organization.refresh_from_db()
        after = _public_fields(organization)
        await audit_service.record(
            actor=actor,
            action=action,
            target=organization,
            before=before,
            after=after if after != before else _describe(result),
            reason=reason,
        )
        await credit.evaluate(organization=organization, today=today())
        if leaf is not None:
            await records.append(organization, leaf(result, datetime.now(UTC)))
        await profiles.record_change(organization.credit_code)
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return result


def _describe(result: Any) -> Any:
    """An audit 'after' for records that are not fields of the organization (a new penalty...)."""
    if result is None or not hasattr(result, "_meta"):
        return None
    fields = result._meta.db_fields
    return orjson.loads(orjson.dumps({f: getattr(result, f, None) for f in fields}, default=str))


async def create_organization(
    *, actor: User | None, data: OrgCreate, cipher: PersonalDataCipher, cache: Cache
) -> Organization:
    """Register an organization within the officer's jurisdiction, with version 1 of its QR code."""
    authority = await get_authority(region_code=data.authority_region_code)
    if actor is not None:
        await require_officer_for_region(actor, authority.region_code)
    code = credit_code.validate(
        data.credit_code, expected_kind=data.kind, allow_bad_check_digit=data.allow_bad_check_digit
    )
    if await Organization.filter(credit_code=code.code).exists():
        raise OrganizationExists(details={"credit_code": code.code})
    key = await qr.active_signing_key(cipher=cipher)
    async with in_transaction():
        organization = await Organization.create(
            credit_code=code.code,
            name=data.name.strip(),
            kind=data.kind,
            authority=authority,
            region_code=authority.region_code,
            legal_representative=data.legal_representative,
            address=data.address,
            business_scope=data.business_scope,
            supervising_unit=data.supervising_unit,
            registered_on=data.registered_on,
            registered_capital_fen=data.registered_capital_fen,
            check_digit_exception=not code.check_digit_ok,
            check_digit_exception_reason=data.check_digit_reason if not code.check_digit_ok else None,
        )
        await search_index.sync(organization_ids=[organization.id])
        (first,) = qr.first_versions([(organization.id, organization.credit_code)], key=key)
        await first.save()
        await audit_service.record(
            actor=actor,
            action="organization.create",
            target=organization,
            before=None,
            after={"credit_code": code.code, **_public_fields(organization), "qr_version": first.version},
            reason=data.reason,
        )
    await profiles.invalidate(cache=cache, credit_code=organization.credit_code)
    return organization


async def update_organization(
    *, actor: User | None, code: str, data: OrgUpdate, cache: Cache
) -> Organization:
    """Change fields of the public record."""
    organization = await get_organization(code=code)
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})

    async def change() -> None:
        for name, value in changes.items():
            setattr(organization, name, value)
        if changes:
            await organization.save(update_fields=[*changes, "updated_at"])
        await search_index.sync(organization_ids=[organization.id])

    await _write(
        actor=actor,
        organization=organization,
        action="organization.update",
        reason=data.reason,
        change=change,
        cache=cache,
    )
    if "name" in changes:
        # Fundraising project pages show the organization's name, in views of their own.
        await charity_views.invalidate_organization(cache=cache, credit_code=organization.credit_code)
    return organization


async def change_status(*, actor: User | None, code: str, data: StatusChange, cache: Cache) -> Organization:
    """Deregister, revoke or restore an organization."""
    organization = await get_organization(code=code)

    async def change() -> None:
        organization.status = data.status
        await organization.save(update_fields=["status", "updated_at"])

    await _write(
        actor=actor,
        organization=organization,
        action="organization.status",
        reason=data.reason,
        change=change,
        cache=cache,
        leaf=lambda _, at: records.status(organization, reason=data.reason, at=at),
    )
    return organization


async def _add_record(
    *,
    actor: User | None,
    code: str,
    model: type[Any],
    values: dict[str, Any],
    action: str,
    reason: str,
    cache: Cache,
    check: Callable[[], None] | None = None,
) -> Any:
    """Create one record row of an organization (licence, grade, qualification) as an officer write.

    ``check`` validates the values against business rules: after the permission, so that a caller
    outside the jurisdiction hears 403 whatever the values.
    """
    organization = await get_organization(code=code)

    async def change() -> Any:
        if check is not None:
            check()
        return await model.create(organization=organization, **values)

    return await _write(
        actor=actor, organization=organization, action=action, reason=reason, change=change, cache=cache
    )


async def add_licence(*, actor: User | None, code: str, data: LicenceCreate, cache: Cache) -> Licence:
    """Record an administrative licence."""
    values = data.model_dump(exclude={"reason"})
    return await _add_record(
        actor=actor,
        code=code,
        model=Licence,
        values=values,
        action="licence.create",
        reason=data.reason,
        cache=cache,
    )


async def add_penalty(*, actor: User | None, code: str, data: PenaltyCreate, cache: Cache) -> Penalty:
    """Record an administrative penalty (which may trigger a credit-list proposal)."""
    organization = await get_organization(code=code)

    async def change() -> Penalty:
        return await Penalty.create(
            organization=organization,
            kind=data.kind,
            decision_number=data.decision_number,
            decided_on=data.decided_on,
            amount_fen=data.amount_fen,
            reason=data.penalty_reason,
        )

    return await _write(
        actor=actor,
        organization=organization,
        action="penalty.create",
        reason=data.reason,
        change=change,
        cache=cache,
        leaf=lambda penalty, at: records.penalty(organization, penalty, at=at),
    )


async def set_annual_report(
    *, actor: User | None, code: str, data: AnnualReportSet, cache: Cache
) -> AnnualReport:
    """Record (or correct) the annual report result of a year."""
    organization = await get_organization(code=code)

    async def change() -> AnnualReport:
        report, _ = await AnnualReport.update_or_create(
            organization=organization,
            year=data.year,
            defaults={"result": data.result, "filed_on": data.filed_on},
        )
        return report

    return await _write(
        actor=actor,
        organization=organization,
        action="annual_report.set",
        reason=data.reason,
        change=change,
        cache=cache,
    )


async def add_grade(*, actor: User | None, code: str, data: GradeCreate, cache: Cache) -> EvaluationGrade:
    """Record an evaluation grade."""

    def check() -> None:
        if data.valid_until < data.valid_from:
            raise InvalidDateRange()

    values = data.model_dump(exclude={"reason"})
    return await _add_record(
        actor=actor,
        code=code,
        model=EvaluationGrade,
        values=values,
        action="grade.create",
        reason=data.reason,
        cache=cache,
        check=check,
    )


async def add_qualification(
    *, actor: User | None, code: str, data: QualificationCreate, cache: Cache
) -> Qualification:
    """Record charity recognition or a public-fundraising qualification."""

    def check() -> None:
        if data.valid_until and data.valid_until < data.granted_on:
            raise InvalidDateRange()

    values = data.model_dump(exclude={"reason"})
    return await _add_record(
        actor=actor,
        code=code,
        model=Qualification,
        values=values,
        action="qualification.create",
        reason=data.reason,
        cache=cache,
        check=check,
    )


async def add_listing(*, actor: User | None, code: str, data: ListingCreate, cache: Cache) -> Any:
    """Put an organization on a credit list by an officer's decision."""
    organization = await get_organization(code=code)

    async def change() -> Any:
        return await credit.add_listing(
            organization=organization,
            credit_list=data.list,
            reason=data.listing_reason,
            listed_on=data.listed_on or today(),
            decision_number=data.decision_number,
            rule_code=None,
        )

    return await _write(
        actor=actor,
        organization=organization,
        action="credit.list",
        reason=data.reason,
        change=change,
        cache=cache,
        leaf=lambda listing, at: records.listing(organization, listing, at=at),
    )


async def remove_listing(
    *, actor: User | None, code: str, listing_id: int, data: ListingRemoval, cache: Cache
) -> Any:
    """Take an organization off a credit list; the listing stays in the public history."""
    organization = await get_organization(code=code)

    async def change() -> Any:
        return await credit.remove_listing(
            organization=organization,
            listing_id=listing_id,
            reason=data.reason,
            removed_on=data.removed_on or today(),
        )

    return await _write(
        actor=actor,
        organization=organization,
        action="credit.remove",
        reason=data.reason,
        change=change,
        cache=cache,
        leaf=lambda listing, at: records.listing(organization, listing, at=at),
    )


async def get_proposals(
    *, actor: User, status: ProposalStatus = ProposalStatus.PENDING
) -> list[CreditProposal]:
    """Credit proposals within the officer's jurisdiction."""
    query = CreditProposal.filter(status=status).select_related("organization")
    if not actor.is_platform_admin:
        query = query.filter(subtree_filter(await officer_region_codes(actor), "organization__region_code"))
    return await query.order_by("id").limit(500)


async def decide_proposal(
    *, actor: User, proposal_id: int, confirm: bool, reason: str, cache: Cache
) -> CreditProposal:
    """Confirm or reject a credit proposal within the officer's jurisdiction."""
    proposal = await CreditProposal.get_or_none(id=proposal_id).select_related("organization")
    if proposal is None:
        raise credit.ProposalNotFound()
    await require_officer_for_region(actor, proposal.organization.region_code)
    decided = await credit.decide(
        proposal=proposal, confirm=confirm, actor=actor, reason=reason, today=today()
    )
    await profiles.invalidate(cache=cache, credit_code=proposal.organization.credit_code)
    return decided


async def search(*, params: OrgSearch, cache: Cache) -> bytes:
    """Public search by name, kind, region subtree, status and credit state: a page, as JSON bytes."""
    key = cache.key(
        "org:search:" + orjson.dumps(params.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()
    )
    # One round trip: the search generation and the cached page, which carries the generation it
    # was computed at (any organization write bumps the generation).
    values = await cache.read(cache.key("org:search-gen"), key)
    if values is None:  # Redis is away: the database answers, a bounded number at a time
        async with cache.fallback():
            return orjson.dumps(await search_module.find(params, cache=None))
    gen_raw, cached = values
    gen = gen_raw or b"0"
    if cached is not None:
        built_at, _, page = cached.partition(b"|")
        if built_at == gen:
            return page
    result = await search_module.find(params, cache=cache, generation=gen)
    page = orjson.dumps(result)
    value = gen + b"|" + page
    await cache.quietly(lambda: cache.client.set(key, value, ex=SEARCH_CACHE_SECONDS), context="search store")
    return page


async def create_authority(*, actor: User, data: AuthorityCreate) -> Authority:
    """Create a registration authority (platform admins only)."""
    require_platform_admin(actor)
    region_code = parse_region(data.region_code)
    if await Authority.filter(region_code=region_code).exists():
        raise AuthorityExists()
    async with in_transaction():
        authority = await Authority.create(
            region_code=region_code, name=data.name, level=AuthorityLevel(region_level(region_code))
        )
        await audit_service.record(
            actor=actor,
            action="authority.create",
            target=authority,
            before=None,
            after={"region_code": region_code, "name": data.name},
            reason="",
        )
    return authority


async def get_audit(*, actor: User, code: str) -> list[dict[str, Any]]:
    """The audit trail of one organization, for officers of its jurisdiction."""
    organization = await get_organization(code=code)
    await require_officer_for_region(actor, organization.region_code)
    entries = await audit_service.get_all(target=organization)
    return [
        {
            "id": e.id,
            "actor_id": e.actor_id,  # type: ignore[attr-defined]
            "action": e.action,
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "at": e.created_at.astimezone(UTC).isoformat(),
        }
        for e in entries
    ]


async def reissue_qr(
    *, actor: User, code: str, reason: str, cipher: PersonalDataCipher, cache: Cache
) -> tuple[Organization, QrCodeVersion]:
    """Reissue the QR code of an organization (officers of its jurisdiction); old versions stop working."""
    organization = await get_organization(code=code)
    await require_officer_for_region(actor, organization.region_code)
    version = await qr.reissue(
        organization=organization, actor=actor, reason=reason, cipher=cipher, cache=cache
    )
    return organization, version


async def revoke_qr(*, actor: User, code: str, reason: str, cache: Cache) -> int:
    """Revoke an organization's current QR code without issuing another (officers of its jurisdiction)."""
    organization = await get_organization(code=code)
    await require_officer_for_region(actor, organization.region_code)
    return await qr.revoke(organization=organization, actor=actor, reason=reason, cache=cache)


async def rotate_signing_key(*, actor: User, cipher: PersonalDataCipher) -> qrtoken.SigningKey:
    """Rotate the QR signing key (platform admins); codes signed before keep verifying."""
    require_platform_admin(actor)
    return await qr.rotate_signing_key(cipher=cipher, actor=actor)
