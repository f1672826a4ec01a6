"""`gongxin demo-data` comes up whatever a newcomer did to the demo through the API or the console."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from backend import demo
from backend.accounts import service as accounts_service
from backend.accounts.models import OfficerRole, StaffRole, User
from backend.crypto import PersonalDataCipher
from backend.partybuilding.models import Activity
from backend.registry import qr
from backend.registry import service as registry_service
from backend.registry.models import Organization, OrgStatus, QrCodeVersion
from backend.registry.schemas import StatusChange


async def _organization() -> Organization:
    return await Organization.get(credit_code=demo.DEMO_ORG_CODE)


async def _current_version() -> int:
    current = await QrCodeVersion.filter(organization=await _organization(), revoked_at__isnull=True).first()
    assert current is not None
    return current.version


async def _user(settings, ref: str) -> User:
    return await accounts_service.get_or_create_user_by_ref(ref=ref, appid=settings.wechat_appid)


async def _load(settings, cache) -> list[str]:
    lines = await demo.load(settings, cache)
    assert not [line for line in lines if "not loaded" in line], lines
    assert any(line.startswith("demo organization H5 page: ") for line in lines)
    return lines


async def test_a_second_run_adds_nothing_and_says_nothing_was_repaired(db, cache, settings):
    await _load(settings, cache)
    counts = (await Organization.all().count(), await QrCodeVersion.all().count())
    lines = await _load(settings, cache)
    assert (await Organization.all().count(), await QrCodeVersion.all().count()) == counts
    assert not [line for line in lines if "again" in line or "had" in line], lines


async def test_a_revoked_demo_code_is_replaced_and_said_so(db, cache, settings):
    await _load(settings, cache)
    await qr.revoke(organization=await _organization(), actor=None, reason="试一试", cache=cache)
    lines = await _load(settings, cache)
    assert any("had been revoked; issued version 2" in line for line in lines), lines
    assert await _current_version() == 2


async def test_a_reissued_demo_code_is_used_as_it_is(db, cache, settings):
    await _load(settings, cache)
    cipher = PersonalDataCipher(settings.fernet_key)
    await qr.reissue(
        organization=await _organization(), actor=None, reason="试一试", cipher=cipher, cache=cache
    )
    await _load(settings, cache)
    assert await _current_version() == 2


@pytest.mark.parametrize("status", [OrgStatus.DEREGISTERED, OrgStatus.REVOKED])
async def test_a_deregistered_or_revoked_demo_organization_is_left_and_explained(db, cache, settings, status):
    await _load(settings, cache)
    await registry_service.change_status(
        actor=None, code=demo.DEMO_ORG_CODE, data=StatusChange(status=status, reason="试一试"), cache=cache
    )
    lines = await _load(settings, cache)
    assert (await _organization()).status == status
    assert any("to restore it" in line and "/status" in line for line in lines), lines


async def test_a_closed_check_in_window_is_reopened(db, cache, settings):
    await _load(settings, cache)
    past = datetime.now(UTC) - timedelta(days=2)
    await Activity.filter(title=demo.DEMO_ACTIVITY_TITLE).update(
        checkin_opens_at=past - timedelta(hours=2), checkin_closes_at=past
    )
    lines = await _load(settings, cache)
    assert any("check-in window had closed" in line for line in lines), lines
    activity = await Activity.get(title=demo.DEMO_ACTIVITY_TITLE)
    assert activity.checkin_opens_at < datetime.now(UTC) < activity.checkin_closes_at


async def test_revoked_demo_roles_are_granted_again_and_granted_ones_stay(db, cache, settings):
    await _load(settings, cache)
    alice = await _user(settings, "dev-alice")
    root = await _user(settings, "dev-root")
    await OfficerRole.filter(user=alice).delete()
    await StaffRole.filter(organization=await _organization()).delete()
    await User.filter(id=root.id).update(is_platform_admin=False)
    await accounts_service.grant_admin(user=alice, actor=None)  # one the newcomer granted
    lines = await _load(settings, cache)
    assert any("roles granted again" in line for line in lines), lines
    assert await OfficerRole.filter(user=alice).exists()
    assert await StaffRole.filter(organization=await _organization()).exists()
    assert (await User.get(id=root.id)).is_platform_admin
    assert (await User.get(id=alice.id)).is_platform_admin


async def test_a_failing_step_costs_its_own_lines_only(db, cache, settings):
    async def broken(_: demo.Demo) -> list[str]:
        raise RuntimeError("a step that fails")

    section: tuple[str, list[Callable[[demo.Demo], Awaitable[list[str]]]]] = ("broken", [broken])
    demo.SECTIONS.insert(0, section)
    try:
        lines = await demo.load(settings, cache)
    finally:
        demo.SECTIONS.remove(section)
    assert [line for line in lines if "not loaded" in line] == [
        f"demo data: broken (broken) not loaded (RuntimeError); {demo.START_AFRESH}"
    ]
    assert any(line.startswith("demo organization H5 page: ") for line in lines)


def test_make_run_comes_up_after_the_demo_code_was_revoked(tmp_path):
    """The report of issue 17, at the console: revoke the demo code, then `gongxin demo-data` again."""
    from tests.migrated import migrated_sqlite
    from tests.test_cli import gongxin

    db = migrated_sqlite(tmp_path / "demo.sqlite3")
    assert gongxin("demo-data", db=db).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE qr_code_versions SET revoked_at = CURRENT_TIMESTAMP, revoke_reason = '试一试'")
    again = gongxin("demo-data", db=db)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "issued version 2" in again.stdout


# --- recruitment --------------------------------------------------------------------------------------


async def _demo_posting():
    from backend.recruitment import demo as recruitment_demo
    from backend.recruitment.models import Posting

    return await Posting.filter(title=recruitment_demo.TITLE).order_by("-id").first()


async def test_the_demo_has_an_open_posting_with_a_few_seats_and_prints_its_link(db, cache, settings):
    lines = await _load(settings, cache)
    posting = await _demo_posting()
    assert posting is not None and posting.status == "open" and posting.capacity == 5
    assert any(f"/api/v1/postings/{posting.id} (5 of 5 seats left)" in line for line in lines), lines
    await _load(settings, cache)
    assert (await _demo_posting()).id == posting.id  # a second run adds nothing


@pytest.mark.parametrize("played", ["cancelled", "closed", "filled", "deadline"])
async def test_a_demo_posting_someone_played_with_is_left_and_a_new_one_put_up(db, cache, settings, played):
    from backend.recruitment.models import Posting

    await _load(settings, cache)
    first = await _demo_posting()
    change = {
        "cancelled": {"status": "cancelled"},
        "closed": {"status": "closed"},
        "filled": {"confirmed_count": 5},
        "deadline": {"signup_deadline": datetime.now(UTC) - timedelta(minutes=1)},
    }[played]
    await Posting.filter(id=first.id).update(**change)
    lines = await _load(settings, cache)
    second = await _demo_posting()
    assert second.id != first.id and second.status == "open" and second.confirmed_count == 0
    assert any(f"demo posting {first.id} is left as it is" in line for line in lines), lines
    left = await Posting.get(id=first.id)
    assert (left.status, left.confirmed_count) == (
        change.get("status", "open"),
        change.get("confirmed_count", 0),
    )


async def test_the_demo_has_a_volunteers_recorded_hours_and_a_genuine_proof_of_them(db, cache, settings):
    from backend.audit.models import AuditEntry
    from backend.recruitment import demo as recruitment_demo
    from backend.recruitment import proofs
    from backend.recruitment.models import ServiceRecord
    from backend.recruitment.proofmodels import VolunteerProof
    from backend.registry import qr

    lines = await _load(settings, cache)
    carol = await accounts_service.get_or_create_user_by_ref(ref="dev-carol", appid=settings.wechat_appid)
    records = await ServiceRecord.filter(user_id=carol.id)
    assert [r.minutes for r in records] == [180]
    assert await AuditEntry.filter(action="service.record").count() == 1  # recorded as staff record it
    proof = await VolunteerProof.get(user_id=carol.id)
    url = next(line.split()[4] for line in lines if line.startswith("her proof of service:"))
    assert url.endswith("/v/" + proof.token), url
    keyring = qr.KeyRing()
    verdict = await proofs.verify(
        url=url, public_base_url=settings.public_base_url, keyring=keyring, now=datetime.now(UTC)
    )
    assert verdict["verdict"] == "genuine", verdict
    assert verdict["proof"]["content"]["records"][0]["title"] == recruitment_demo.PAST_TITLE
    await _load(settings, cache)  # a second run adds nothing: the same record, the same proof
    assert await ServiceRecord.filter(user_id=carol.id).count() == 1
    assert await VolunteerProof.filter(user_id=carol.id).count() == 1
