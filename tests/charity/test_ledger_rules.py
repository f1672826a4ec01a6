"""The ledger's rules at the service level (backend/charity/ledger.py, totals.py), no HTTP app.

tests/charity/test_ledger_api.py holds the same rules over HTTP (status codes, the public answers);
this file calls the services directly with the ``db`` fixture, so that each rule is reached in a
fraction of a second, which is what the mutation run's ``ledger`` group needs (tests/MUTATION.md):
amounts in integer fen, totals (raised, spent, balance, counts, months, categories) per project,
a correction and its entry counting as nothing, an entry reversed at most once, no expenditure
beyond the balance unless an explained advance, staff-only writes checked first, the donor as the
public sees them, one entry per (channel, external reference), and what each write leaves behind
in the same transaction (audit entry, outbox event, transparency-log leaf, cache generations).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from backend.accounts.models import StaffRole, StaffRoleKind, User
from backend.accounts.permissions import NotOrganizationStaff
from backend.audit.models import AuditEntry
from backend.cache import Cache
from backend.charity import canonical, ledger, totals
from backend.charity.models import (
    CategoryTotal,
    DonorDisplay,
    EntryKind,
    LedgerEntry,
    MonthTotal,
    Project,
    ProjectKind,
    ProjectStatus,
    ProjectTally,
)
from backend.charity.projects import ProjectNotFound
from backend.charity.schemas import CorrectionCreate, DonationCreate, ExpenditureCreate
from backend.events.models import OutboxEvent
from backend.registry.models import Organization
from backend.translog.models import Leaf
from tests.factories import factory_cipher, make_authority, make_org, make_user

RECEIVED = datetime(2026, 3, 5, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))


async def _project(org: Organization, status: ProjectStatus = ProjectStatus.FUNDRAISING) -> Project:
    project = await Project.create(
        organization=org,
        title="山区图书角",
        kind=ProjectKind.DIRECTED,
        plan={},
        target_fen=1_000_000,
        status=status,
    )
    await totals.open_project(project.id)
    return project


@pytest.fixture
async def fund(db, cache: Cache) -> dict[str, Any]:
    """An organization, its staff, a member, another organization's staff, and a project raising funds."""
    authority = await make_authority("440300")
    org, other = await make_org(authority, qr_code=False), await make_org(authority, qr_code=False)
    staff, member, stranger = await make_user(), await make_user(), await make_user()
    await StaffRole.create(user=staff, organization=org, role=StaffRoleKind.ADMIN)
    await StaffRole.create(user=stranger, organization=other, role=StaffRoleKind.OWNER)
    project = await _project(org)
    return {
        "org": org,
        "staff": staff,
        "member": member,
        "stranger": stranger,
        "project": project,
        "cache": cache,
        "cipher": factory_cipher(),
    }


def donation(ref: str = "WX-1", **changes: Any) -> DonationCreate:
    body: dict[str, Any] = {
        "amount_fen": 10_000,
        "received_at": RECEIVED,
        "channel": "wechat_pay",
        "external_ref": ref,
        "donor_name": "张三丰",
        "donor_display": "masked",
    }
    body.update(changes)
    return DonationCreate(**body)


def expenditure(**changes: Any) -> ExpenditureCreate:
    body: dict[str, Any] = {
        "amount_fen": 3_000,
        "category": "goods",
        "payee": "  广州某某图书有限公司 ",
        "paid_on": date(2026, 4, 1),
        "purpose": " 采购图书200册 ",
        "receipt_sha256": "a" * 64,
        "receipt_url": "https://files.example.cn/r/1.pdf",
    }
    body.update(changes)
    return ExpenditureCreate(**body)


async def give(fund: dict[str, Any], data: DonationCreate | None = None, **kw: Any) -> ledger.Recorded:
    return await ledger.record_donation(
        actor=kw.get("actor", fund["staff"]),
        project_id=kw.get("project_id", fund["project"].id),
        data=data or donation(),
        cipher=fund["cipher"],
        cache=fund["cache"],
    )


async def spend(fund: dict[str, Any], data: ExpenditureCreate | None = None, **kw: Any) -> LedgerEntry:
    return await ledger.record_expenditure(
        actor=kw.get("actor", fund["staff"]),
        project_id=kw.get("project_id", fund["project"].id),
        data=data or expenditure(),
        cache=fund["cache"],
    )


async def correct(
    fund: dict[str, Any], entry_id: int, explanation: str = " 重复录入 ", **kw: Any
) -> LedgerEntry:
    return await ledger.record_correction(
        actor=kw.get("actor", fund["staff"]),
        project_id=kw.get("project_id", fund["project"].id),
        data=CorrectionCreate(reverses=entry_id, explanation=explanation),
        cache=fund["cache"],
    )


async def kept(project: Project) -> tuple[int, int, int, int, int]:
    """raised, spent, balance, donations, entries."""
    t = await totals.of_project(project.id)
    return (t.raised_fen, t.spent_fen, t.balance_fen, t.donation_count, t.entry_count)


async def categories(project: Project) -> dict[str, int]:
    rows = await CategoryTotal.filter(project_id=project.id).values_list("category", "spent_fen")
    return {c: s for c, s in rows if s}


# --- the donor as the public sees them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "display", "shown"),
    [
        ("张三丰", DonorDisplay.MASKED, "张**"),
        ("李四", DonorDisplay.MASKED, "李*"),
        ("欧阳", DonorDisplay.MASKED, "欧*"),
        (" 王五 ", DonorDisplay.MASKED, "王*"),
        ("王", DonorDisplay.MASKED, "王*"),
        ("赵六", DonorDisplay.FULL, "赵六"),
        ("  赵六  ", DonorDisplay.FULL, "赵六"),
        ("王五", DonorDisplay.ANONYMOUS, "匿名"),
        (None, DonorDisplay.ANONYMOUS, "匿名"),
        (None, DonorDisplay.FULL, "匿名"),
        ("   ", DonorDisplay.FULL, "匿名"),
        (None, DonorDisplay.MASKED, "匿名"),
        ("", DonorDisplay.MASKED, "匿名"),
    ],
)
def test_the_donor_is_published_masked_anonymous_or_in_full(name, display, shown):
    assert ledger.ANONYMOUS == "匿名"
    assert ledger.published_donor(name, display) == shown


def test_receipt_codes_are_sixteen_unambiguous_characters_and_unguessable():
    codes = {ledger.new_receipt_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 16 and set(c) <= set(ledger.RECEIPT_ALPHABET) for c in codes)
    assert not set("ILOU") & set(ledger.RECEIPT_ALPHABET) and len(ledger.RECEIPT_ALPHABET) == 32
    assert set("".join(codes)) == set(ledger.RECEIPT_ALPHABET)  # every symbol used: 80 bits


# --- which entries a project takes in which status ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "donation", "expenditure", "correction"),
    [
        (ProjectStatus.DRAFT, False, False, False),
        (ProjectStatus.FUNDRAISING, True, True, True),
        (ProjectStatus.EXECUTING, True, True, True),
        (ProjectStatus.CLOSED, False, True, True),
    ],
)
def test_a_project_takes_each_kind_of_entry_only_in_its_statuses(status, donation, expenditure, correction):
    project = Project(status=status)
    for kind, allowed in (
        (EntryKind.DONATION, donation),
        (EntryKind.EXPENDITURE, expenditure),
        (EntryKind.CORRECTION, correction),
    ):
        if allowed:
            ledger.check_open(project, kind)
        else:
            with pytest.raises(ledger.ProjectNotOpen) as refused:
                ledger.check_open(project, kind)
            assert refused.value.code == "ledger.project_not_open"
            assert refused.value.details == {"status": status}


@pytest.mark.parametrize("amount", [0, -1, 1.5, None, 10**15 + 1])
def test_an_amount_is_a_positive_whole_number_of_fen(amount):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        donation(amount_fen=amount)
    with pytest.raises(ValidationError):
        expenditure(amount_fen=amount)


@pytest.mark.parametrize("blank", ["  ", "   ", " x ", "\u3000\u3000", "\n\t"])
def test_a_correction_is_published_with_an_explanation_not_blanks(blank):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CorrectionCreate(reverses=1, explanation=blank)
    assert CorrectionCreate(reverses=1, explanation=" 错录 ").explanation == " 错录 "


def test_one_fen_is_an_amount():
    assert donation(amount_fen=1).amount_fen == 1 and expenditure(amount_fen=1).amount_fen == 1


# --- months and totals, pure --------------------------------------------------------------------------


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Shanghai"])
def machine_timezone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server's own time zone, which must not matter."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_an_entry_counts_in_its_beijing_month(machine_timezone):
    assert totals.month_of(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)) == "2026-03"
    assert totals.month_of(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == "2026-04"  # 00:00 in Beijing
    assert totals.month_of(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01"
    assert totals.month_of(datetime(2026, 5, 1, 0, 30, tzinfo=timezone(timedelta(hours=9)))) == "2026-04"
    assert totals.month_of(date(2026, 4, 30)) == "2026-04"
    assert totals.month_of(date(999, 1, 1)) == "0999-01"


def test_the_balance_is_raised_less_spent():
    assert totals.Totals(10_000, 3_000, 1, 2).balance_fen == 7_000
    assert totals.Totals(0, 50_000).balance_fen == -50_000
    assert totals.Totals() == totals.Totals(0, 0, 0, 0)


# --- donations -------------------------------------------------------------------------------------


async def test_a_donation_is_recorded_with_its_totals_audit_event_and_log_leaf(fund):
    project, staff, cache = fund["project"], fund["staff"], fund["cache"]
    recorded = await give(fund, donation(donor_name=" 张三丰 "))
    assert recorded.created is True
    entry = await LedgerEntry.get(id=recorded.entry.id)
    assert (entry.kind, entry.amount_fen, entry.project_id, entry.organization_id) == (
        EntryKind.DONATION,
        10_000,
        project.id,
        fund["org"].id,
    )
    assert entry.received_at == datetime(2026, 3, 5, 2, 30, 15, tzinfo=UTC)  # whole seconds, UTC
    assert recorded.entry.received_at.utcoffset() == timedelta(0)
    assert (entry.channel, entry.external_ref, entry.donor_display, entry.donor_public) == (
        "wechat_pay",
        "WX-1",
        DonorDisplay.MASKED,
        "张**",
    )
    assert entry.donor_name_encrypted and "张三丰" not in entry.donor_name_encrypted
    assert fund["cipher"].decrypt(entry.donor_name_encrypted) == "张三丰"
    assert len(entry.receipt_code or "") == 16 and entry.recorded_by_id == staff.id
    assert await kept(project) == (10_000, 0, 10_000, 1, 1)
    assert await totals.by_month(project.id) == [{"month": "2026-03", "raised_fen": 10_000, "spent_fen": 0}]

    audit = await AuditEntry.get(action="ledger.donation")
    assert (audit.actor_id, audit.target_type, audit.target_id, audit.before) == (
        staff.id,
        "Project",
        str(project.id),
        None,
    )
    assert audit.after == {"entry_id": entry.id, "amount_fen": 10_000, "channel": "wechat_pay"}

    event = await OutboxEvent.get(kind="donation.recorded")
    assert event.idempotency_key == f"donation.recorded:{entry.id}" and event.recipients == []
    assert event.payload == {
        "project_id": project.id,
        "project_title": "山区图书角",
        "amount_fen": 10_000,
        "receipt_code": entry.receipt_code,
        "received_at": "2026-03-05T02:30:15Z",
    }

    leaf = await Leaf.get(entry_id=entry.id)
    assert (leaf.organization_id, leaf.idx, bytes(leaf.data)) == (
        fund["org"].id,
        0,
        canonical.canonical_bytes(entry),
    )
    # The project's and its organization's cached views are told (their generations move on).
    assert int(await cache.client.get(cache.key(f"charity:pgen:{project.id}"))) == 1
    assert int(await cache.client.get(cache.key(f"charity:olgen:{fund['org'].credit_code}"))) == 1


async def test_an_anonymous_donation_keeps_no_name(fund):
    recorded = await give(fund, donation(donor_name=None, donor_display="anonymous"))
    entry = await LedgerEntry.get(id=recorded.entry.id)
    assert (entry.donor_public, entry.donor_name_encrypted) == ("匿名", None)
    blank = await give(fund, donation("WX-2", donor_name="   ", donor_display="anonymous"))
    assert (await LedgerEntry.get(id=blank.entry.id)).donor_name_encrypted is None
    # Named, the donor's choice decides what is published; the name is kept encrypted either way.
    for ref, display, shown in (("WX-3", "anonymous", "匿名"), ("WX-4", "full", "王五常")):
        named = await give(fund, donation(ref, donor_name="王五常", donor_display=display))
        stored = await LedgerEntry.get(id=named.entry.id)
        assert (stored.donor_display, stored.donor_public) == (display, shown)
        assert fund["cipher"].decrypt(stored.donor_name_encrypted or "") == "王五常"


async def test_the_same_channel_and_reference_again_is_the_same_donation(fund):
    project = fund["project"]
    first = await give(fund)
    again = await give(fund)
    assert (first.created, again.created) == (True, False)
    assert again.entry.id == first.entry.id and again.entry.receipt_code == first.entry.receipt_code
    assert await kept(project) == (10_000, 0, 10_000, 1, 1)
    assert await LedgerEntry.all().count() == 1
    assert await OutboxEvent.filter(kind="donation.recorded").count() == 1
    assert await AuditEntry.filter(action="ledger.donation").count() == 1
    assert await Leaf.all().count() == 1
    # The pair is the key: the same serial number from another channel is another payment.
    other = await give(fund, donation(channel="alipay"))
    assert other.created and other.entry.id != first.entry.id
    assert await kept(project) == (20_000, 0, 20_000, 2, 2)


async def test_the_same_reference_with_another_amount_or_project_is_a_conflict(fund):
    first = await give(fund)
    with pytest.raises(ledger.ReferenceConflict) as conflict:
        await give(fund, donation(amount_fen=10_001))
    assert conflict.value.code == "ledger.reference_conflict"
    assert conflict.value.details == {"entry_id": first.entry.id, "project_id": fund["project"].id}
    second = await _project(fund["org"])
    with pytest.raises(ledger.ReferenceConflict):
        await give(fund, project_id=second.id)
    assert await kept(second) == (0, 0, 0, 0, 0)
    assert await kept(fund["project"]) == (10_000, 0, 10_000, 1, 1)


async def test_concurrent_identical_donations_record_one(fund):
    results = await asyncio.gather(*(give(fund, donation("RACE")) for _ in range(4)))
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert {r.entry.id for r in results} == {results[0].entry.id}
    assert await kept(fund["project"]) == (10_000, 0, 10_000, 1, 1)


async def test_a_donation_received_in_the_future_is_refused_beyond_five_minutes(fund):
    now = datetime.now(UTC)
    with pytest.raises(ledger.ReceivedInFuture) as refused:
        await give(fund, donation("LATE", received_at=now + timedelta(minutes=5, seconds=30)))
    assert refused.value.code == "ledger.received_in_future"
    recorded = await give(fund, donation("SOON", received_at=now + timedelta(minutes=4, seconds=30)))
    assert recorded.created
    assert await LedgerEntry.all().count() == 1


async def test_donations_spread_over_the_slots_and_add_up(fund):
    project = fund["project"]
    for i in range(40):
        await give(fund, donation(f"S-{i}", amount_fen=100 + i))
    assert await kept(project) == (
        sum(100 + i for i in range(40)),
        0,
        sum(100 + i for i in range(40)),
        40,
        40,
    )
    slots = set(await ProjectTally.filter(project_id=project.id).values_list("slot", flat=True))
    assert len(slots) > 1 and slots <= set(range(totals.SLOTS))
    month_slots = set(await MonthTotal.filter(project_id=project.id).values_list("slot", flat=True))
    assert len(month_slots) > 1


# --- expenditures ----------------------------------------------------------------------------------


async def test_an_expenditure_within_the_balance_is_recorded_and_counted(fund):
    project, staff = fund["project"], fund["staff"]
    await give(fund)
    entry = await spend(fund)
    stored = await LedgerEntry.get(id=entry.id)
    assert (stored.kind, stored.amount_fen, stored.category, stored.paid_on) == (
        EntryKind.EXPENDITURE,
        3_000,
        "goods",
        date(2026, 4, 1),
    )
    assert (stored.payee, stored.purpose, stored.advance, stored.explanation) == (
        "广州某某图书有限公司",
        "采购图书200册",
        False,
        None,
    )
    assert (stored.receipt_sha256, stored.receipt_url, stored.recorded_by_id) == (
        "a" * 64,
        "https://files.example.cn/r/1.pdf",
        staff.id,
    )
    assert (stored.project_id, stored.organization_id) == (project.id, fund["org"].id)
    assert await kept(project) == (10_000, 3_000, 7_000, 1, 2)
    assert await categories(project) == {"goods": 3_000}
    assert await totals.by_month(project.id) == [
        {"month": "2026-03", "raised_fen": 10_000, "spent_fen": 0},
        {"month": "2026-04", "raised_fen": 0, "spent_fen": 3_000},
    ]
    audit = await AuditEntry.get(action="ledger.expenditure")
    assert (audit.actor_id, audit.target_id, audit.before) == (staff.id, str(project.id), None)
    assert audit.after == {"entry_id": entry.id, "amount_fen": 3_000, "advance": False}
    leaf = await Leaf.get(entry_id=entry.id)
    assert (leaf.idx, bytes(leaf.data)) == (1, canonical.canonical_bytes(stored))
    cache = fund["cache"]
    assert int(await cache.client.get(cache.key(f"charity:pgen:{project.id}"))) == 2
    assert int(await cache.client.get(cache.key(f"charity:olgen:{fund['org'].credit_code}"))) == 2


async def test_the_whole_balance_may_be_spent_and_not_a_fen_more(fund):
    project = fund["project"]
    await give(fund, donation(amount_fen=10_000))
    await spend(fund, expenditure(amount_fen=4_000))
    with pytest.raises(ledger.InsufficientBalance) as refused:
        await spend(fund, expenditure(amount_fen=6_001, explanation="不是垫付"))
    assert refused.value.code == "ledger.insufficient_balance"
    assert refused.value.details == {"balance_fen": 6_000}
    # Refused: no entry, no audit entry, no leaf, no totals, no cache generation moved.
    assert await LedgerEntry.filter(kind=EntryKind.EXPENDITURE).count() == 1
    assert await AuditEntry.filter(action="ledger.expenditure").count() == 1
    assert await Leaf.all().count() == 2
    assert await kept(project) == (10_000, 4_000, 6_000, 1, 2)
    assert await categories(project) == {"goods": 4_000}
    cache = fund["cache"]
    assert int(await cache.client.get(cache.key(f"charity:pgen:{project.id}"))) == 2
    await spend(fund, expenditure(amount_fen=6_000, category="services"))
    assert await kept(project) == (10_000, 10_000, 0, 1, 3)
    assert await categories(project) == {"goods": 4_000, "services": 6_000}
    with pytest.raises(ledger.InsufficientBalance) as refused:
        await spend(fund, expenditure(amount_fen=1))
    assert refused.value.details == {"balance_fen": 0}


async def test_nothing_is_spent_from_an_empty_project_but_an_explained_advance(fund):
    project = fund["project"]
    with pytest.raises(ledger.InsufficientBalance):
        await spend(fund, expenditure(amount_fen=1))
    entry = await spend(
        fund, expenditure(amount_fen=50_000, advance=True, explanation="  图书涨价，先行垫付 ")
    )
    stored = await LedgerEntry.get(id=entry.id)
    assert (stored.advance, stored.explanation) == (True, "图书涨价，先行垫付")
    assert await kept(project) == (0, 50_000, -50_000, 0, 1)
    assert (await AuditEntry.get(action="ledger.expenditure")).after["advance"] is True
    # After an advance the balance is negative: the next ordinary expenditure is refused.
    await give(fund, donation(amount_fen=60_000))
    with pytest.raises(ledger.InsufficientBalance) as refused:
        await spend(fund, expenditure(amount_fen=10_001))
    assert refused.value.details == {"balance_fen": 10_000}
    await spend(fund, expenditure(amount_fen=10_000))
    assert await kept(project) == (60_000, 60_000, 0, 1, 3)


async def test_concurrent_expenditures_never_spend_beyond_the_balance(fund):
    await give(fund, donation(amount_fen=10_000))
    outcomes = await asyncio.gather(
        *(spend(fund, expenditure(amount_fen=3_000)) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(o, LedgerEntry) for o in outcomes) == 3
    assert all(isinstance(o, (LedgerEntry, ledger.InsufficientBalance)) for o in outcomes)
    assert await kept(fund["project"]) == (10_000, 9_000, 1_000, 1, 4)


# --- corrections -----------------------------------------------------------------------------------


async def test_a_donation_and_its_correction_count_as_nothing(fund):
    project, staff = fund["project"], fund["staff"]
    keep = await give(fund, donation("KEEP", received_at=datetime(2026, 2, 1, tzinfo=UTC)))
    wrong = await give(fund, donation("WRONG", amount_fen=777))
    fix = await correct(fund, wrong.entry.id)
    stored = await LedgerEntry.get(id=fix.id)
    assert (stored.kind, stored.amount_fen, stored.reverses_id, stored.explanation) == (
        EntryKind.CORRECTION,
        777,
        wrong.entry.id,
        "重复录入",
    )
    assert (stored.project_id, stored.organization_id, stored.recorded_by_id) == (
        project.id,
        fund["org"].id,
        staff.id,
    )
    # Raised and donors as if the wrong one had never been; every entry, the correction too, counted.
    assert await kept(project) == (10_000, 0, 10_000, 1, 3)
    assert await totals.by_month(project.id) == [{"month": "2026-02", "raised_fen": 10_000, "spent_fen": 0}]
    audit = await AuditEntry.get(action="ledger.correction")
    assert (audit.actor_id, audit.target_id, audit.reason) == (staff.id, str(project.id), "重复录入")
    assert audit.before == {"entry_id": wrong.entry.id, "amount_fen": 777}
    assert audit.after == {"entry_id": fix.id, "reverses": wrong.entry.id}
    leaf = await Leaf.get(entry_id=fix.id)
    assert (leaf.idx, bytes(leaf.data)) == (2, canonical.canonical_bytes(stored))
    cache = fund["cache"]
    assert int(await cache.client.get(cache.key(f"charity:pgen:{project.id}"))) == 3
    assert int(await cache.client.get(cache.key(f"charity:olgen:{fund['org'].credit_code}"))) == 3
    assert keep.entry.id != wrong.entry.id


async def test_reversing_an_expenditure_gives_the_money_back_even_at_a_zero_balance(fund):
    project = fund["project"]
    await give(fund, donation(amount_fen=10_000))
    spent = await spend(fund, expenditure(amount_fen=10_000))
    assert await kept(project) == (10_000, 10_000, 0, 1, 2)
    await correct(fund, spent.id, "退货")
    assert await kept(project) == (10_000, 0, 10_000, 1, 3)
    assert await categories(project) == {}
    assert await totals.by_month(project.id) == [{"month": "2026-03", "raised_fen": 10_000, "spent_fen": 0}]


async def test_reversing_an_advance_takes_the_overspending_back(fund):
    project = fund["project"]
    advance = await spend(fund, expenditure(amount_fen=50_000, advance=True, explanation="垫付"))
    await correct(fund, advance.id, "垫付撤回")
    assert await kept(project) == (0, 0, 0, 0, 2)
    assert await categories(project) == {}


async def test_a_correction_may_take_the_balance_below_zero(fund):
    project = fund["project"]
    wrong = await give(fund, donation(amount_fen=10_000))
    await spend(fund, expenditure(amount_fen=8_000))
    await correct(fund, wrong.entry.id, "误录的捐赠")
    assert await kept(project) == (0, 8_000, -8_000, 0, 3)


async def test_an_entry_is_reversed_at_most_once_and_a_correction_never(fund):
    wrong = await give(fund)
    fix = await correct(fund, wrong.entry.id)
    with pytest.raises(ledger.AlreadyReversed) as twice:
        await correct(fund, wrong.entry.id, "再次更正")
    assert twice.value.code == "ledger.already_reversed"
    assert twice.value.details == {"entry_id": wrong.entry.id}
    with pytest.raises(ledger.CorrectionNotReversible) as undo:
        await correct(fund, fix.id, "撤回更正")
    assert undo.value.code == "ledger.correction_not_reversible"
    assert await LedgerEntry.filter(kind=EntryKind.CORRECTION).count() == 1
    assert await AuditEntry.filter(action="ledger.correction").count() == 1
    assert await kept(fund["project"]) == (0, 0, 0, 0, 2)


async def test_concurrent_corrections_of_one_entry_reverse_it_once(fund):
    wrong = await give(fund)
    outcomes = await asyncio.gather(
        *(correct(fund, wrong.entry.id) for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(o, LedgerEntry) for o in outcomes) == 1
    assert all(isinstance(o, (LedgerEntry, ledger.AlreadyReversed)) for o in outcomes), outcomes
    refusals = [o for o in outcomes if isinstance(o, ledger.AlreadyReversed)]
    assert [r.details for r in refusals] == [{"entry_id": wrong.entry.id}] * 3
    assert await kept(fund["project"]) == (0, 0, 0, 0, 2)


async def test_only_an_entry_of_this_project_can_be_reversed(fund):
    other = await _project(fund["org"])
    theirs = await give(fund, project_id=other.id)
    for missing in (theirs.entry.id, theirs.entry.id + 1000):
        with pytest.raises(ledger.EntryNotFound) as refused:
            await correct(fund, missing)
        assert refused.value.code == "ledger.entry_not_found"
        assert refused.value.details == {"entry_id": missing}
    assert await kept(other) == (10_000, 0, 10_000, 1, 1)


async def test_a_closed_project_takes_expenditures_and_corrections_but_no_donation(fund):
    project = fund["project"]
    gift = await give(fund)
    await Project.filter(id=project.id).update(status=ProjectStatus.CLOSED)
    with pytest.raises(ledger.ProjectNotOpen):
        await give(fund, donation("AFTER"))
    spent = await spend(fund)
    await correct(fund, spent.id)
    await correct(fund, gift.entry.id)
    assert await kept(project) == (0, 0, 0, 0, 4)
    draft = await _project(fund["org"], ProjectStatus.DRAFT)
    for write in (
        give(fund, project_id=draft.id),
        spend(fund, project_id=draft.id),
        correct(fund, gift.entry.id, project_id=draft.id),
    ):
        with pytest.raises(ledger.ProjectNotOpen):
            await write


# --- staff only, checked first ----------------------------------------------------------------------


async def test_only_the_organizations_staff_write_the_ledger_checked_before_anything_else(fund):
    project = fund["project"]
    gift = await give(fund)
    draft = await _project(fund["org"], ProjectStatus.DRAFT)
    outsiders: list[User] = [fund["member"], fund["stranger"]]
    for actor in outsiders:
        for project_id in (project.id, draft.id):  # a draft: still 403 first, not "not open"
            for write in (
                give(fund, donation("NEW"), actor=actor, project_id=project_id),
                give(fund, donation(amount_fen=1), actor=actor, project_id=project_id),  # not a 409
                spend(fund, expenditure(amount_fen=99_999_999), actor=actor, project_id=project_id),
                correct(fund, 10**9, actor=actor, project_id=project_id),
                correct(fund, gift.entry.id, actor=actor, project_id=project_id),
            ):
                with pytest.raises(NotOrganizationStaff):
                    await write
    assert await LedgerEntry.all().count() == 1
    assert await kept(project) == (10_000, 0, 10_000, 1, 1)
    for write in (
        give(fund, project_id=10**9),
        spend(fund, project_id=10**9),
        correct(fund, 1, project_id=10**9),
    ):
        with pytest.raises(ProjectNotFound):
            await write


# --- the totals' own functions ------------------------------------------------------------------------


async def test_an_imports_donations_are_counted_at_once_and_logged_in_order(fund):
    project, org = fund["project"], fund["org"]
    await totals.count_donations(project.id, count=3, months={"2026-02": 500, "2026-01": 200})
    assert await kept(project) == (700, 0, 700, 3, 3)
    assert await totals.by_month(project.id) == [
        {"month": "2026-01", "raised_fen": 200, "spent_fen": 0},
        {"month": "2026-02", "raised_fen": 500, "spent_fen": 0},
    ]
    now = datetime(2026, 2, 2, tzinfo=UTC)
    imported = [
        canonical.ImportedDonation(
            id=900 + i,
            project_id=project.id,
            amount_fen=100 * (i + 1),
            received_at=now,
            channel="bank",
            donor_public="匿名",
            donor_display="anonymous",
            receipt_code=f"{i:016d}",
            recorded_at=now,
        )
        for i in range(3)
    ]
    await ledger.on_entries_appended(org.id, imported)
    leaves = await Leaf.filter(organization_id=org.id).order_by("idx")
    assert [(leaf.idx, leaf.entry_id) for leaf in leaves] == [(0, 900), (1, 901), (2, 902)]
    assert [bytes(leaf.data) for leaf in leaves] == [canonical.canonical_bytes(e) for e in imported]
    payload = ledger.donation_payload(imported[1], project)
    assert payload == {
        "project_id": project.id,
        "project_title": "山区图书角",
        "amount_fen": 200,
        "receipt_code": "0000000000000001",
        "received_at": "2026-02-02T00:00:00Z",
    }


async def test_totals_of_many_projects_each_its_own(fund):
    org = fund["org"]
    projects = [fund["project"], *[await _project(org) for _ in range(11)]]
    for i, project in enumerate(projects):
        await totals.count_donation(project.id, amount=1_000 + i, received_at=RECEIVED)
        if i % 2:
            assert await totals.count_expenditure(
                project.id, amount=i, category="goods", paid_on=date(2026, 4, 1), check_balance=True
            )
    everything = await totals.of_projects([p.id for p in projects])
    assert everything == {
        p.id: totals.Totals(1_000 + i, i if i % 2 else 0, 1, 2 if i % 2 else 1)
        for i, p in enumerate(projects)
    }
    assert await totals.of_projects([]) == {}
    assert await totals.of_project(10**9) == totals.Totals()
    assert await totals.of_project(projects[11].id) == totals.Totals(1_011, 11, 1, 2)


async def test_an_expenditure_is_counted_only_when_it_fits_unless_unchecked(fund):
    project = fund["project"]
    await totals.count_donation(project.id, amount=1_000, received_at=RECEIVED)
    paid = date(2026, 5, 20)
    assert not await totals.count_expenditure(
        project.id, amount=1_001, category="goods", paid_on=paid, check_balance=True
    )
    assert await kept(project) == (1_000, 0, 1_000, 1, 1)
    assert await MonthTotal.filter(project_id=project.id, month="2026-05").count() == 0
    assert await categories(project) == {}
    assert await totals.count_expenditure(
        project.id, amount=1_000, category="goods", paid_on=paid, check_balance=True
    )
    assert await totals.count_expenditure(
        project.id, amount=5_000, category="management", paid_on=paid, check_balance=False
    )
    assert await kept(project) == (1_000, 6_000, -5_000, 1, 3)
    assert await categories(project) == {"goods": 1_000, "management": 5_000}
    assert await totals.count_expenditure(
        project.id, amount=5_000, category="management", paid_on=paid, check_balance=False, sign=-1
    )
    assert await kept(project) == (1_000, 1_000, 0, 1, 4)
    assert await totals.by_month(project.id) == [
        {"month": "2026-03", "raised_fen": 1_000, "spent_fen": 0},
        {"month": "2026-05", "raised_fen": 0, "spent_fen": 1_000},
    ]
    # A project without its spending slot (never opened) spends nothing.
    bare = await Project.create(
        organization=fund["org"], title="无", kind=ProjectKind.DIRECTED, plan={}, target_fen=1
    )
    assert not await totals.count_expenditure(
        bare.id, amount=1, category="goods", paid_on=paid, check_balance=False
    )


async def test_months_that_net_to_nothing_are_left_out_and_the_rest_ordered(fund):
    project = fund["project"]
    for moment, sign in (
        (datetime(2026, 7, 1, tzinfo=UTC), 1),
        (datetime(2026, 1, 15, tzinfo=UTC), 1),
        (datetime(2026, 7, 1, tzinfo=UTC), -1),
        (datetime(2025, 12, 31, 15, 0, tzinfo=UTC), 1),
    ):
        await totals.count_donation(project.id, amount=300, received_at=moment, sign=sign)
    assert await totals.by_month(project.id) == [
        {"month": "2025-12", "raised_fen": 300, "spent_fen": 0},
        {"month": "2026-01", "raised_fen": 300, "spent_fen": 0},
    ]
    assert await kept(project) == (600, 0, 600, 2, 4)
    assert await totals.by_month(10**9) == []
