"""Public-record changes (status, penalties, credit listings and removals, QR revocations) are leaves."""

from __future__ import annotations

import json
from datetime import date

from backend.registry import credit, qr
from backend.registry import service as registry_service
from backend.registry.models import CreditProposal, ProposalStatus
from backend.registry.schemas import ListingCreate, ListingRemoval, PenaltyCreate, StatusChange
from backend.translog.models import Leaf, Tree
from tests.factories import make_org, make_user
from tests.translog.conftest import checkpoint_now, cipher

WHY = "依据登记档案录入"


async def _records(org_id: int) -> list[dict]:
    return [json.loads(leaf.data) for leaf in await Leaf.filter(organization_id=org_id).order_by("idx")]


async def test_each_public_record_change_is_a_leaf_in_its_own_transaction(db, cache, settings):
    org = await make_org()
    code = org.credit_code
    penalty = await registry_service.add_penalty(
        actor=None,
        code=code,
        data=PenaltyCreate(
            kind="fine",
            decision_number="深民罚〔2026〕3号",
            decided_on=date(2026, 3, 1),
            amount_fen=60_000_00,
            penalty_reason="违规募捐",
            reason=WHY,
        ),
        cache=cache,
    )
    listing = await registry_service.add_listing(
        actor=None,
        code=code,
        data=ListingCreate(list="abnormal", listing_reason="未按时年报", reason=WHY),
        cache=cache,
    )
    await registry_service.remove_listing(
        actor=None,
        code=code,
        listing_id=listing.id,
        data=ListingRemoval(removed_on=date(2026, 4, 1), reason=WHY),
        cache=cache,
    )
    await qr.current_code(organization=org)  # version 1
    await qr.reissue(organization=org, actor=None, reason="海报丢失", cipher=cipher(settings), cache=cache)
    await qr.revoke(organization=org, actor=None, reason="误用", cache=cache)
    await registry_service.change_status(
        actor=None, code=code, data=StatusChange(status="revoked", reason=WHY), cache=cache
    )
    records = await _records(org.id)
    assert [r["type"] for r in records] == [
        "org.penalty",
        "org.credit_listed",
        "org.credit_removed",
        "org.qr_revoked",
        "org.qr_revoked",
        "org.status",
    ]
    assert all(r["credit_code"] == code and r["v"] == 1 and r["at"].endswith("Z") for r in records)
    assert records[0] | {"at": None} == {
        "v": 1,
        "type": "org.penalty",
        "credit_code": code,
        "at": None,
        "penalty_id": penalty.id,
        "kind": "fine",
        "decision_number": "深民罚〔2026〕3号",
        "decided_on": "2026-03-01",
        "amount_fen": 60_000_00,
        "reason": "违规募捐",
    }
    assert (records[2]["listing_id"], records[2]["removed_on"]) == (listing.id, "2026-04-01")
    assert [r["versions"] for r in records[3:5]] == [[1], [2]]
    assert records[5]["status"] == "revoked"
    # Bytes as stored: sorted keys, no whitespace, UTF-8.
    raw = (await Leaf.get(organization_id=org.id, idx=5)).data
    assert (
        bytes(raw)
        == json.dumps(records[5], ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    )
    await checkpoint_now(settings)
    assert (await Tree.get(organization_id=org.id)).size == 6


async def test_a_refused_change_appends_nothing(db, cache):
    org = await make_org()
    data = ListingCreate(list="abnormal", listing_reason="未按时年报", reason=WHY)
    await registry_service.add_listing(actor=None, code=org.credit_code, data=data, cache=cache)
    try:
        await registry_service.add_listing(actor=None, code=org.credit_code, data=data, cache=cache)
        raise AssertionError("listed twice")
    except credit.AlreadyListed:
        pass
    assert [r["type"] for r in await _records(org.id)] == ["org.credit_listed"]


async def test_a_confirmed_proposal_is_a_leaf(db, cache):
    org = await make_org()
    # A warning proposes the abnormal-activity list; an officer confirms it.
    await registry_service.add_penalty(
        actor=None,
        code=org.credit_code,
        data=PenaltyCreate(
            kind="warning", decision_number="深民警〔2026〕1号", decided_on=date(2026, 3, 1), reason=WHY
        ),
        cache=cache,
    )
    proposal = await CreditProposal.get(organization_id=org.id, status=ProposalStatus.PENDING)
    await credit.decide(
        proposal=proposal, confirm=True, actor=await make_user(), reason=WHY, today=date(2026, 3, 2)
    )
    assert [r["type"] for r in await _records(org.id)] == ["org.penalty", "org.credit_listed"]
