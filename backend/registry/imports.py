"""Applying an import of organizations: resolved, checked, then all-or-nothing and idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..accounts.permissions import officer_region_codes
from ..audit.models import AuditEntry
from ..cache import Cache
from ..errors import Forbidden
from . import search_index
from .authorities import AuthorityResolver
from .importer import ImportRow, ParsedImport, RowError
from .models import Authority, Organization
from .regions import region_within

BATCH = 500
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


async def require_importer(actor: User) -> None:
    """Imports are for officers (their jurisdiction) and platform admins."""
    if not actor.is_platform_admin and not await officer_region_codes(actor):
        raise NotAnOfficer()


class NotAnOfficer(Forbidden):
    code = "auth.officer_required"
    message = "仅登记管理机关工作人员可导入社会组织 / Only registry officers may import organizations"


async def apply_import(
    *, parsed: ParsedImport, actor: User | None, apply: bool, cache: Cache
) -> ImportResult:
    """Check every row; when ``apply`` and no row has an error, write them all in one transaction."""
    result = ImportResult(
        applied=False,
        rows=len(parsed.rows) + len({e.row_number for e in parsed.errors}),
        errors=list(parsed.errors),
        ignored_columns=parsed.ignored_columns,
        encoding=parsed.encoding,
    )
    resolver = await AuthorityResolver.load()
    own = None if actor is None or actor.is_platform_admin else await officer_region_codes(actor)

    resolved: list[tuple[ImportRow, Authority]] = []
    for row in parsed.rows:
        authority = resolver.resolve(row.authority_text, row.region_code)
        if authority is None:
            result.errors.append(
                RowError(
                    row.row_number,
                    "authority",
                    "import.authority_unknown",
                    f"无法确定登记管理机关：“{row.authority_text or ''}”，"
                    f"代码中的行政区划 {row.region_code} 也没有对应的机关",
                )
            )
        elif own is not None and not any(region_within(authority.region_code, code) for code in own):
            result.errors.append(
                RowError(
                    row.row_number,
                    "authority",
                    "import.outside_jurisdiction",
                    f"{authority.name} 不在您的管辖范围内",
                )
            )
        else:
            resolved.append((row, authority))

    existing: dict[str, Organization] = {}
    codes = [row.credit_code for row, _ in resolved]
    for start in range(0, len(codes), BATCH):
        for org in await Organization.filter(credit_code__in=codes[start : start + BATCH]):
            existing[org.credit_code] = org

    to_create: list[Organization] = []
    to_update: list[tuple[Organization, dict[str, Any]]] = []
    # The audit's before and after of each updated row, as JSON (dates as ISO text).
    changed: dict[str, tuple[Any, Any]] = {}
    for row, authority in resolved:
        values = {name: getattr(row, name) for name in IMPORTED_FIELDS}
        values.update(authority=authority, region_code=authority.region_code)
        current = existing.get(row.credit_code)
        if current is None:
            to_create.append(
                Organization(
                    credit_code=row.credit_code, check_digit_exception=not row.check_digit_ok, **values
                )
            )
            continue
        before = {name: getattr(current, name) for name in IMPORTED_FIELDS}
        before.update(authority_id=current.authority_id, region_code=current.region_code)
        after = {
            **{n: values[n] for n in IMPORTED_FIELDS},
            "authority_id": authority.id,
            "region_code": authority.region_code,
        }
        if before == after:
            result.unchanged += 1
        else:
            to_update.append((current, values))
            changed[row.credit_code] = (_plain(before), _plain(after))
    result.created, result.updated = len(to_create), len(to_update)
    result.errors.sort(key=lambda e: e.row_number)
    if not apply or result.errors:
        return result

    async with in_transaction():
        await Organization.bulk_create(to_create, batch_size=BATCH)
        for org, values in to_update:
            for name, value in values.items():
                setattr(org, name, value)
        if to_update:
            await Organization.bulk_update(
                [org for org, _ in to_update],
                fields=[*IMPORTED_FIELDS, "authority_id", "region_code"],
                batch_size=BATCH,
            )
        created_ids = (
            dict(
                await Organization.filter(
                    credit_code__in=[o.credit_code for o in to_create[: BATCH * 40]]
                ).values_list("credit_code", "id")
            )
            if to_create
            else {}
        )
        entries = [
            AuditEntry(
                actor_id=actor.id if actor else None,
                action="organization.import_create",
                target_type="Organization",
                target_id=str(created_ids.get(o.credit_code, o.credit_code)),
                before=None,
                after={"credit_code": o.credit_code, "name": o.name},
                reason="批量导入",
            )
            for o in to_create
        ] + [
            AuditEntry(
                actor_id=actor.id if actor else None,
                action="organization.import_update",
                target_type="Organization",
                target_id=str(o.id),
                before=changed[o.credit_code][0],
                after={"credit_code": o.credit_code, **changed[o.credit_code][1]},
                reason="批量导入",
            )
            for o, _ in to_update
        ]
        await AuditEntry.bulk_create(entries, batch_size=BATCH)
        await search_index.sync(
            credit_codes=[o.credit_code for o in to_create] + [o.credit_code for o, _ in to_update]
        )
    result.applied = True
    # Only updated organizations can have a cached view; new ones have never been read.
    pipe = cache.client.pipeline(transaction=False)
    for code in (o.credit_code for o, _ in to_update):
        pipe.incr(cache.key(f"org:gen:{code}"))
    pipe.incr(cache.key("org:search-gen"))
    await pipe.execute()
    return result


def _plain(values: dict[str, Any]) -> Any:
    return orjson.loads(orjson.dumps(values, default=str))
