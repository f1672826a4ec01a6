"""Applying an import of organizations: resolved, checked, then all-or-nothing and idempotent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..accounts.permissions import officer_region_codes
from ..audit.models import AuditEntry
from ..cache import Cache
from ..crypto import PersonalDataCipher
from ..errors import Forbidden
from . import profiles, qr, search_index
from .authorities import AuthorityResolver
from .importer import ImportRow, ParsedImport, RowError
from .models import Authority, Organization, QrCodeVersion
from .regions import region_within

BATCH = 500
INVALIDATE_AT_ONCE = 50  # profiles invalidated concurrently after an import
# The fields an import sets; anything else on the record (listings, grades...) it leaves alone.
IMPORTED_FIELDS = (
    "name",
    "kind",
    "status",
    "legal_representative",
    "address",
    "business_scope",
    "supervising_unit",
    "registered_on",
    "registered_capital_fen",
)


@dataclass
class ImportResult:
    applied: bool
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = ""

    def report(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [
                {"row": e.row_number, "field": e.field, "code": e.code, "message": e.message}
                for e in self.errors
            ],
            "ignored_columns": self.ignored_columns,
            "encoding": self.encoding,
        }


def _record_of(org: Organization) -> dict[str, Any]:
    """What an import sets on an organization, as the audit records it."""
    values = {name: getattr(org, name) for name in IMPORTED_FIELDS}
    values.update(credit_code=org.credit_code, authority_id=org.authority_id, region_code=org.region_code)
    return values


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON types (dates as ISO text), as an audit entry stores them."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(values))
    return loaded


async def require_importer(actor: User) -> None:
    """Imports are for officers (their jurisdiction) and platform admins."""
    if not actor.is_platform_admin and not await officer_region_codes(actor):
        raise NotAnOfficer()


class NotAnOfficer(Forbidden):
    code = "auth.officer_required"
    message = "仅登记管理机关工作人员可导入社会组织 / Only registry officers may import organizations"


async def _resolver() -> AuthorityResolver:
    """The resolver over every authority, built in a worker thread: loading some 3,300 authorities as
    models and indexing all their spellings takes a few hundred milliseconds of CPU."""
    rows = await Authority.all().values("id", "region_code", "name", "level")
    return await asyncio.to_thread(lambda: AuthorityResolver(Authority(**row) for row in rows))


async def _existing(codes: list[str]) -> dict[str, Organization]:
    """The organizations these credit codes name, read in batches."""
    existing: dict[str, Organization] = {}
    for start in range(0, len(codes), BATCH):
        for org in await Organization.filter(credit_code__in=codes[start : start + BATCH]):
            existing[org.credit_code] = org
    return existing


@dataclass
class _Plan:
    """What applying would do: rows in error, organizations to create and to update."""

    errors: list[RowError] = field(default_factory=list)
    to_create: list[Organization] = field(default_factory=list)
    # (the organization with the new values set, the audit's "before" of it)
    to_update: list[tuple[Organization, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0


def _plan(
    rows: list[ImportRow],
    *,
    resolver: AuthorityResolver,
    own: list[str] | None,
    existing: dict[str, Organization],
) -> _Plan:
    """Resolve, check and compare every row: pure CPU (no database), so it runs in a worker thread."""
    plan = _Plan()

    def within_own(region_code: str) -> bool:
        return own is None or any(region_within(region_code, code) for code in own)

    for row in rows:
        authority = resolver.resolve(row.authority_text, row.region_code)
        current = existing.get(row.credit_code)
        # An officer may only change organizations that are in the jurisdiction now (as PATCH
        # requires), whatever authority the row names, and only into it.
        if current is not None and not within_own(current.region_code):
            plan.errors.append(
                RowError(
                    row.row_number,
                    "credit_code",
                    "import.outside_jurisdiction",
                    f"统一社会信用代码 {row.credit_code} 已登记为“{current.name}”，"
                    f"其登记管理机关不在您的管辖范围内 / the organization is registered outside "
                    "your jurisdiction",
                    {"credit_code": row.credit_code, "region_code": current.region_code},
                )
            )
            continue
        if authority is None:
            plan.errors.append(
                RowError(
                    row.row_number,
                    "authority",
                    "import.authority_unknown",
                    f"无法确定登记管理机关：“{row.authority_text or ''}”，"
                    f"代码中的行政区划 {row.region_code} 也没有对应的机关",
                )
            )
            continue
        if not within_own(authority.region_code):
            plan.errors.append(
                RowError(
                    row.row_number,
                    "authority",
                    "import.outside_jurisdiction",
                    f"{authority.name} 不在您的管辖范围内",
                )
            )
            continue
        values = {name: getattr(row, name) for name in IMPORTED_FIELDS}
        if current is None:
            plan.to_create.append(
                Organization(
                    credit_code=row.credit_code,
                    check_digit_exception=not row.check_digit_ok,
                    authority_id=authority.id,
                    region_code=authority.region_code,
                    **values,
                )
            )
            continue
        before = _record_of(current)
        if before == {
            **values,
            "credit_code": current.credit_code,
            "authority_id": authority.id,
            "region_code": authority.region_code,
        }:
            plan.unchanged += 1
            continue
        for name, value in values.items():
            setattr(current, name, value)
        current.authority_id = authority.id
        current.region_code = authority.region_code
        plan.to_update.append((current, _audit_values(before)))
    return plan


def _audit_entries(plan: _Plan, *, actor: User | None, created_ids: dict[str, int]) -> list[AuditEntry]:
    """One entry per created or updated organization, with its values before and after."""
    actor_id = actor.id if actor else None
    return [
        AuditEntry(
            actor_id=actor_id,
            action="organization.import_create",
            target_type="Organization",
            target_id=str(created_ids[o.credit_code]),
            before=None,
            after={**_audit_values(_record_of(o)), "qr_version": 1},
            reason="批量导入",
        )
        for o in plan.to_create
    ] + [
        AuditEntry(
            actor_id=actor_id,
            action="organization.import_update",
            target_type="Organization",
            target_id=str(o.id),
            before=before,
            after=_audit_values(_record_of(o)),
            reason="批量导入",
        )
        for o, before in plan.to_update
    ]


async def apply_import(
    *, parsed: ParsedImport, actor: User | None, apply: bool, cipher: PersonalDataCipher, cache: Cache
) -> ImportResult:
    """Check every row; when ``apply`` and no row has an error, write them all in one transaction.

    New organizations get version 1 of their QR code in the same transaction. The CPU-heavy steps
    (checking and comparing the rows, building the records, signing the codes) run in worker
    threads, and the writes go in batches of ``BATCH``: the event loop keeps answering meanwhile.
    """
    result = ImportResult(
        applied=False,
        rows=len(parsed.rows) + len({e.row_number for e in parsed.errors}),
        errors=list(parsed.errors),
        ignored_columns=parsed.ignored_columns,
        encoding=parsed.encoding,
    )
    resolver = await _resolver()
    own = None if actor is None or actor.is_platform_admin else await officer_region_codes(actor)
    existing = await _existing([row.credit_code for row in parsed.rows])
    plan = await asyncio.to_thread(_plan, parsed.rows, resolver=resolver, own=own, existing=existing)
    result.errors.extend(plan.errors)
    result.created, result.updated, result.unchanged = (
        len(plan.to_create),
        len(plan.to_update),
        plan.unchanged,
    )
    result.errors.sort(key=lambda e: e.row_number)
    if not apply or result.errors:
        return result

    key = await qr.active_signing_key(cipher=cipher) if plan.to_create else None
    async with in_transaction():
        created_ids: dict[str, int] = {}
        for start in range(0, len(plan.to_create), BATCH):
            batch = plan.to_create[start : start + BATCH]
            await Organization.bulk_create(batch)
            created_ids.update(
                await Organization.filter(credit_code__in=[o.credit_code for o in batch]).values_list(
                    "credit_code", "id"
                )
            )
        for start in range(0, len(plan.to_update), BATCH):
            await Organization.bulk_update(
                [org for org, _ in plan.to_update[start : start + BATCH]],
                fields=[*IMPORTED_FIELDS, "authority_id", "region_code"],
            )
        if key is not None:
            versions = await asyncio.to_thread(
                qr.first_versions,
                [(created_ids[o.credit_code], o.credit_code) for o in plan.to_create],
                key=key,
            )
            for start in range(0, len(versions), BATCH):
                await QrCodeVersion.bulk_create(versions[start : start + BATCH])
        entries = await asyncio.to_thread(_audit_entries, plan, actor=actor, created_ids=created_ids)
        for start in range(0, len(entries), BATCH):
            await AuditEntry.bulk_create(entries[start : start + BATCH])
        await search_index.sync(organization_ids=[*created_ids.values(), *(o.id for o, _ in plan.to_update)])
        # The durable half of the invalidation below (backend/invalidation.py): holds if Redis fails.
        for start in range(0, len(plan.to_update), BATCH):
            await profiles.record_change(*(o.credit_code for o, _ in plan.to_update[start : start + BATCH]))
    result.applied = True
    # A new organization has no cached view anywhere (nothing is kept for an unknown code), but the
    # search pages may list it; an updated one's profile, verdict and search pages are stale.
    for start in range(0, len(plan.to_update), INVALIDATE_AT_ONCE):
        await asyncio.gather(
            *(
                profiles.invalidate(cache=cache, credit_code=org.credit_code)
                for org, _ in plan.to_update[start : start + INVALIDATE_AT_ONCE]
            )
        )
    if plan.to_create:
        await profiles.invalidate_search(cache=cache)
    return result
