"""Credit lists: data-driven rules that propose listings, and the listings officers confirm.

The triggers of the 2018 Measures (社会组织信用信息管理办法) are rows of ``RULES``: each has a stable
code, the list it concerns, whether it lists or removes, and a predicate over the organization's
record. Thresholds marked (check) in DOMAIN.md live in ``CreditRuleConfig``. A rule never lists an
organization by itself: it creates a pending proposal that an officer confirms or rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..audit import service as audit_service
from ..errors import Conflict, NotFound
from ..translog import records
from . import profiles
from .models import (
    AnnualReport,
    AnnualResult,
    CreditList,
    CreditListing,
    CreditProposal,
    CreditState,
    Organization,
    OrgStatus,
    Penalty,
    PenaltyKind,
    ProposalAction,
    ProposalStatus,
)


@dataclass(frozen=True)
class CreditRuleConfig:
    """Thresholds of the rules; figures marked (check) in DOMAIN.md, kept as configuration."""

    large_fine_fen: int = 5_000_000  # 50,000 yuan (check)
    repeat_window_days: int = 3 * 365
    repeat_count: int = 2
    abnormal_to_serious_days: int = 2 * 365
    warning_lists_abnormal_days: int = 365
    serious_removal_days: int = 2 * 365  # (check): removal after a period without new violations
    rejected_quiet_days: int = 90  # a rejected proposal is not proposed again for this long


@dataclass
class Facts:
    """What the rules look at, read once per evaluation."""

    organization: Organization
    penalties: list[Penalty]
    reports: list[AnnualReport]
    listings: list[CreditListing]
    today: date
    branches: int = 0
    # Order 81 disclosure items found overdue and not yet resolved (backend/charity/calendar.py).
    overdue_disclosures: list[str] = field(default_factory=list)

    def current(self, credit_list: CreditList) -> list[CreditListing]:
        return [item for item in self.listings if item.list == credit_list and item.removed_on is None]

    def penalties_since(self, days: int, kinds: set[PenaltyKind]) -> list[Penalty]:
        since = self.today - timedelta(days=days)
        return [p for p in self.penalties if p.kind in kinds and p.decided_on >= since]


Predicate = Callable[[Facts, CreditRuleConfig], str | None]


@dataclass(frozen=True)
class Rule:
    code: str
    list: CreditList
    action: ProposalAction
    description: str
    reason: Predicate = field(repr=False)


_WARNINGS = {PenaltyKind.WARNING, PenaltyKind.FAILED_INSPECTION}


def _annual_not_filed(f: Facts, c: CreditRuleConfig) -> str | None:
    missing = [r.year for r in f.reports if r.result == AnnualResult.NOT_FILED]
    return f"未按时提交{missing[0]}年度工作报告" if missing else None


def _warning(f: Facts, c: CreditRuleConfig) -> str | None:
    hits = f.penalties_since(c.warning_lists_abnormal_days, _WARNINGS)
    return f"受到警告或不予通过年度检查的行政处罚（{hits[0].decision_number}）" if hits else None


def _no_party_organization(f: Facts, c: CreditRuleConfig) -> str | None:
    members = f.organization.party_members_reported
    return f"有{members}名党员但未按规定建立党组织" if members >= 3 and f.branches == 0 else None


def _disclosure_overdue(f: Facts, c: CreditRuleConfig) -> str | None:
    items = f.overdue_disclosures
    return f"未按规定履行信息公开义务：{'、'.join(items[:3])}逾期未公开" if items else None


def _two_years_abnormal(f: Facts, c: CreditRuleConfig) -> str | None:
    limit = f.today - timedelta(days=c.abnormal_to_serious_days)
    old = [item for item in f.current(CreditList.ABNORMAL) if item.listed_on <= limit]
    return f"列入活动异常名录满两年（自{old[0].listed_on.isoformat()}）" if old else None


def _suspension(f: Facts, c: CreditRuleConfig) -> str | None:
    hits = [p for p in f.penalties if p.kind == PenaltyKind.SUSPENSION]
    return f"受到限期停止活动的行政处罚（{hits[0].decision_number}）" if hits else None


def _large_fine(f: Facts, c: CreditRuleConfig) -> str | None:
    hits = [p for p in f.penalties if p.kind == PenaltyKind.FINE and (p.amount_fen or 0) >= c.large_fine_fen]
    return f"受到较大数额罚款的行政处罚（{hits[0].decision_number}）" if hits else None


def _repeat_warnings(f: Facts, c: CreditRuleConfig) -> str | None:
    hits = f.penalties_since(c.repeat_window_days, _WARNINGS)
    return f"三年内{len(hits)}次受到警告或不予通过年度检查的行政处罚" if len(hits) >= c.repeat_count else None


def _revoked(f: Facts, c: CreditRuleConfig) -> str | None:
    revoked = f.organization.status == OrgStatus.REVOKED or any(
        p.kind == PenaltyKind.REVOCATION for p in f.penalties
    )
    return "被撤销登记" if revoked else None


RULES: list[Rule] = [
    Rule(
        "abnormal.no_party_organization",
        CreditList.ABNORMAL,
        ProposalAction.LIST,
        "党员三人以上未建立党组织",
        _no_party_organization,
    ),
    Rule(
        "abnormal.annual_report_not_filed",
        CreditList.ABNORMAL,
        ProposalAction.LIST,
        "未按时提交年度报告",
        _annual_not_filed,
    ),
    Rule(
        "abnormal.warning_penalty",
        CreditList.ABNORMAL,
        ProposalAction.LIST,
        "受到警告或不予通过年检处罚",
        _warning,
    ),
    Rule(
        "abnormal.disclosure_overdue",
        CreditList.ABNORMAL,
        ProposalAction.LIST,
        "未按规定履行信息公开义务",
        _disclosure_overdue,
    ),
    Rule(
        "serious.two_years_abnormal",
        CreditList.SERIOUS_VIOLATION,
        ProposalAction.LIST,
        "异常名录满两年",
        _two_years_abnormal,
    ),
    Rule(
        "serious.suspension", CreditList.SERIOUS_VIOLATION, ProposalAction.LIST, "限期停止活动", _suspension
    ),
    Rule(
        "serious.large_fine", CreditList.SERIOUS_VIOLATION, ProposalAction.LIST, "较大数额罚款", _large_fine
    ),
    Rule(
        "serious.repeat_warnings",
        CreditList.SERIOUS_VIOLATION,
        ProposalAction.LIST,
        "三年内两次以上警告",
        _repeat_warnings,
    ),
    Rule("serious.revoked", CreditList.SERIOUS_VIOLATION, ProposalAction.LIST, "被撤销登记", _revoked),
]
RULES_BY_CODE = {rule.code: rule for rule in RULES}


class ProposalNotFound(NotFound):
    code = "credit.proposal_not_found"
    message = "未找到该信用处理建议 / No such credit proposal"


class ProposalDecided(Conflict):
    code = "credit.proposal_decided"
    message = "该建议已处理 / This proposal has already been decided"


class ListingNotFound(NotFound):
    code = "credit.listing_not_found"
    message = "未找到该名录记录 / No such listing"


class AlreadyListed(Conflict):
    code = "credit.already_listed"
    message = "该组织已在此名录中 / The organization is already on this list"


class ListingAlreadyRemoved(Conflict):
    code = "credit.listing_removed"
    message = "该名录记录已移出 / This listing has already been removed"


async def _facts(organization: Organization, today: date) -> Facts:
    return Facts(
        organization=organization,
        penalties=await Penalty.filter(organization=organization).order_by("-decided_on"),
        reports=await AnnualReport.filter(organization=organization).order_by("-year"),
        listings=await CreditListing.filter(organization=organization).order_by("-listed_on"),
        today=today,
        # Through the reverse relation: the registry does not import the party-building domain.
        branches=await organization.branches.all().count(),  # type: ignore[attr-defined]
        overdue_disclosures=list(
            await organization.overdue_disclosures.filter(  # type: ignore[attr-defined]
                resolved_on__isnull=True
            ).values_list("label", flat=True)
        ),
    )


def _removal_reason(
    rule_code: str | None, facts: Facts, item: CreditListing, config: CreditRuleConfig
) -> str | None:
    """Why a current listing may end: its cause is corrected, or a serious listing has served its time."""
    if item.list == CreditList.SERIOUS_VIOLATION:
        quiet_since = facts.today - timedelta(days=config.serious_removal_days)
        newer = [p for p in facts.penalties if p.decided_on > item.listed_on]
        if item.listed_on <= quiet_since and not newer and facts.organization.status == OrgStatus.ACTIVE:
            return "列入严重违法失信名单期满且期间未再发生违法行为"
        return None
    rule = RULES_BY_CODE.get(rule_code or "")
    if rule is not None and rule.reason(facts, config) is None:
        return "列入活动异常名录的情形已消除"
    return None


async def evaluate(
    *, organization: Organization, today: date, config: CreditRuleConfig | None = None
) -> list[CreditProposal]:
    """Run every rule on one organization; create the pending proposals that are new."""
    config = config or CreditRuleConfig()
    facts = await _facts(organization, today)
    wanted: list[tuple[CreditList, ProposalAction, str, str]] = []
    for rule in RULES:
        reason = rule.reason(facts, config)
        if reason and not facts.current(rule.list):
            wanted.append((rule.list, rule.action, rule.code, reason))
    for item in [*facts.current(CreditList.ABNORMAL), *facts.current(CreditList.SERIOUS_VIOLATION)]:
        reason = _removal_reason(item.rule_code, facts, item, config)
        if reason:
            wanted.append((item.list, ProposalAction.REMOVE, f"remove:{item.id}", reason))
    if not wanted:
        return []
    quiet_since = datetime.now(UTC) - timedelta(days=config.rejected_quiet_days)
    recently_rejected = set(
        await CreditProposal.filter(
            organization=organization, status=ProposalStatus.REJECTED, decided_at__gte=quiet_since
        ).values_list("rule_code", flat=True)
    )
    new = [
        CreditProposal(
            organization=organization,
            list=credit_list,
            action=action,
            rule_code=code,
            reason=reason,
            pending_key=f"{organization.id}:{credit_list}:{action}:{code}",
        )
        for credit_list, action, code, reason in wanted
        if code not in recently_rejected
    ]
    # The unique pending_key makes a rule that fires again (or twice at once) propose once.
    await CreditProposal.bulk_create(new, ignore_conflicts=True)
    return await CreditProposal.filter(organization=organization, status=ProposalStatus.PENDING).order_by(
        "id"
    )


async def refresh_credit_state(organization: Organization) -> CreditState:
    """Recompute the denormalized credit state from the current listings."""
    current = set(
        await CreditListing.filter(organization=organization, removed_on__isnull=True).values_list(
            "list", flat=True
        )
    )
    state = (
        CreditState.SERIOUS
        if CreditList.SERIOUS_VIOLATION in current
        else CreditState.ABNORMAL
        if CreditList.ABNORMAL in current
        else CreditState.NORMAL
    )
    if organization.credit_state != state:
        organization.credit_state = state
        await organization.save(update_fields=["credit_state", "updated_at"])
    return state


async def add_listing(
    *,
    organization: Organization,
    credit_list: CreditList,
    reason: str,
    listed_on: date,
    decision_number: str | None,
    rule_code: str | None,
) -> CreditListing:
    """Put the organization on a list (inside the caller's transaction)."""
    if await CreditListing.filter(
        organization=organization, list=credit_list, removed_on__isnull=True
    ).exists():
        raise AlreadyListed(details={"list": credit_list})
    listing = await CreditListing.create(
        organization=organization,
        list=credit_list,
        reason=reason,
        listed_on=listed_on,
        decision_number=decision_number,
        rule_code=rule_code,
    )
    await refresh_credit_state(organization)
    return listing


async def remove_listing(
    *, organization: Organization, listing_id: int, reason: str, removed_on: date
) -> CreditListing:
    """Take the organization off a list; the listing stays public as history."""
    listing = await CreditListing.get_or_none(id=listing_id, organization=organization)
    if listing is None:
        raise ListingNotFound(details={"listing_id": listing_id})
    if listing.removed_on is not None:
        raise ListingAlreadyRemoved()
    listing.removed_on, listing.removal_reason = removed_on, reason
    await listing.save(update_fields=["removed_on", "removal_reason"])
    await refresh_credit_state(organization)
    return listing


async def _audit_listing_change(*, actor: User, organization: Organization, listing: CreditListing) -> None:
    """The audit entry of a listing or removal confirmed from a proposal.

    An officer's direct listing or removal is audited once by the registry service's audited write;
    the listing functions above write none of their own, so neither path records the change twice.
    """
    if listing.removed_on is None:
        action = "credit.list"
        before = None
        after = {"list": listing.list, "listing_id": listing.id, "decision_number": listing.decision_number}
        reason = listing.reason
    else:
        action = "credit.remove"
        before = {"list": listing.list, "listing_id": listing.id}
        after = {"removed_on": listing.removed_on.isoformat()}
        reason = listing.removal_reason or ""
    await audit_service.record(
        actor=actor, action=action, target=organization, before=before, after=after, reason=reason
    )


async def decide(
    *, proposal: CreditProposal, confirm: bool, actor: User, reason: str, today: date
) -> CreditProposal:
    """Confirm (list or remove) or reject a pending proposal, audited."""
    async with in_transaction():
        # Re-read inside the transaction: two officers deciding at once must not both act.
        updated = await CreditProposal.filter(id=proposal.id, status=ProposalStatus.PENDING).update(
            status=ProposalStatus.CONFIRMED if confirm else ProposalStatus.REJECTED,
            pending_key=None,
            decided_by_id=actor.id,
            decided_at=datetime.now(UTC),
            decision_reason=reason,
        )
        if not updated:
            raise ProposalDecided()
        organization = await Organization.get(id=proposal.organization_id)
        if confirm and proposal.action == ProposalAction.LIST:
            changed = await add_listing(
                organization=organization,
                credit_list=proposal.list,
                reason=proposal.reason,
                listed_on=today,
                decision_number=None,
                rule_code=proposal.rule_code,
            )
        elif confirm:
            listing_id = int(proposal.rule_code.removeprefix("remove:"))
            changed = await remove_listing(
                organization=organization,
                listing_id=listing_id,
                reason=proposal.reason,
                removed_on=today,
            )
        else:
            await audit_service.record(
                actor=actor,
                action="credit.proposal_rejected",
                target=organization,
                before={"proposal_id": proposal.id, "rule": proposal.rule_code, "status": "pending"},
                after={"proposal_id": proposal.id, "rule": proposal.rule_code, "status": "rejected"},
                reason=reason,
            )
        if confirm:
            await _audit_listing_change(actor=actor, organization=organization, listing=changed)
            # The listing or removal is a public-record leaf, appended last in this transaction.
            await records.append(organization, records.listing(organization, changed, at=datetime.now(UTC)))
        await profiles.record_change(organization.credit_code)
    return await CreditProposal.get(id=proposal.id)


async def evaluate_all(*, today: date, config: CreditRuleConfig | None = None) -> int:
    """The daily run over every active or revoked organization; returns the proposals pending after it."""
    last_id = 0
    while batch := await Organization.filter(id__gt=last_id).order_by("id").limit(500):
        for organization in batch:
            await evaluate(organization=organization, today=today, config=config)
        last_id = batch[-1].id
    return await CreditProposal.filter(status=ProposalStatus.PENDING).count()
