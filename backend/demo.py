"""Demo data for `make run`: loaded idempotently, so a second run adds nothing.

It goes through the same paths as real data: the reference authorities, an import of a realistic
CSV export (UTF-8 with BOM, Chinese headers, capital in 万元, one row without its authority), officer
records (a penalty, an annual report, a grade, a fundraising qualification) and a QR code.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .accounts import service as accounts_service
from .accounts.models import StaffRoleKind
from .cache import Cache
from .charity import demo as charity_demo
from .config import PROJECT_ROOT, Settings
from .crypto import PersonalDataCipher
from .partybuilding.models import Activity, ActivityKind, Branch, Expected
from .registry import importer, imports, qr, qrimage, qrtoken, reference
from .registry.models import (
    AnnualReport,
    AnnualResult,
    Authority,
    AuthorityLevel,
    EvaluationGrade,
    Organization,
    Penalty,
    PenaltyKind,
    Qualification,
    QualificationKind,
)

DEMO_FILE = Path(__file__).parent / "demo_data" / "organizations.csv"
DEMO_ORG_CODE = "51440300MJL0000103"
DEMO_FOUNDATION_CODE = "53440300MJL000007H"
DEMO_QR_PATH = PROJECT_ROOT / "var" / "demo-qr.png"
DEMO_ACTIVITY_TITLE = "主题党日：社会组织党建与志愿服务"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_AUTHORITIES = [
    ("440300", "深圳市民政局", AuthorityLevel.CITY),
    ("440305", "深圳市南山区民政局", AuthorityLevel.COUNTY),
]


async def load(settings: Settings, cache: Cache) -> list[str]:
    """Create or refresh the demo records; return what a newcomer should see on the console."""
    regions, authorities = await reference.load()
    for region_code, name, level in DEMO_AUTHORITIES:
        await Authority.get_or_create(region_code=region_code, defaults={"name": name, "level": level})

    parsed = importer.parse_file(DEMO_FILE)
    result = await imports.apply_import(parsed=parsed, actor=None, apply=True, cache=cache)
    if result.errors:
        raise RuntimeError(f"the demo import has errors: {result.report()['errors']}")

    await _records()
    await _roles(settings)
    cipher = PersonalDataCipher(settings.fernet_key)
    demo = await Organization.get(credit_code=DEMO_ORG_CODE)
    version = await qr.current_code(organization=demo, cipher=cipher)
    url = qrtoken.build_url(settings.public_base_url, version.token)
    DEMO_QR_PATH.parent.mkdir(parents=True, exist_ok=True)
    DEMO_QR_PATH.write_bytes(qrimage.render_png(url, size=512))
    activity = await _activity(demo)
    for code in (DEMO_ORG_CODE, DEMO_FOUNDATION_CODE):
        await cache.client.incr(cache.key(f"org:gen:{code}"))
    charity_lines = await charity_demo.load(
        settings=settings, cache=cache, foundation_code=DEMO_FOUNDATION_CODE
    )
    return [
        f"demo data: {regions} regions and {authorities} authorities added; "
        f"import of {result.rows} rows: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged",
        f"demo organization H5 page: {url}",
        f"demo QR image:            {DEMO_QR_PATH}",
        "demo users: dev-alice (officer, 深圳市民政局), dev-bob (owner of the demo organization), "
        "dev-root (admin)",
        f"demo activity:            id {activity.id}, open for check-in until "
        f"{activity.checkin_closes_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Beijing time)",
        f"  its rotating code (log in as dev-bob): "
        f"{settings.public_base_url}/api/v1/activities/{activity.id}/checkin-code?format=png",
        *charity_lines,
    ]


async def _activity(demo: Organization) -> Activity:
    """An open activity whose check-in window is open from now on, for a week."""
    now = datetime.now(UTC).replace(microsecond=0)
    branch, _ = await Branch.get_or_create(organization=demo, name=f"{demo.name}党支部")
    times: dict[str, Any] = {
        "starts_at": now + timedelta(hours=1),
        "ends_at": now + timedelta(hours=3),
        "checkin_opens_at": now - timedelta(hours=1),
        "checkin_closes_at": now + timedelta(days=7),
        "late_after": now + timedelta(hours=1, minutes=10),
    }
    activity = await Activity.get_or_none(organization=demo, title=DEMO_ACTIVITY_TITLE)
    if activity is None:
        return await Activity.create(
            organization=demo,
            branch=branch,
            kind=ActivityKind.THEME_DAY,
            title=DEMO_ACTIVITY_TITLE,
            description="学习贯彻社会组织党建工作要求，开展志愿服务。",
            place="深圳市民中心",
            latitude=22.5431,
            longitude=114.0579,
            radius_m=300,
            expected=Expected.OPEN,
            code_secret=secrets.token_urlsafe(32),
            code_interval_s=15,
            **times,
        )
    await Activity.filter(id=activity.id).update(**times)
    return await Activity.get(id=activity.id)


async def _records() -> None:
    """Officer records on two demo organizations, each created once."""
    demo = await Organization.get(credit_code=DEMO_ORG_CODE)
    foundation = await Organization.get(credit_code=DEMO_FOUNDATION_CODE)
    for org, year, result in (
        (demo, 2024, AnnualResult.QUALIFIED),
        (foundation, 2024, AnnualResult.QUALIFIED),
    ):
        await AnnualReport.get_or_create(organization=org, year=year, defaults={"result": result})
    if not await EvaluationGrade.filter(organization=demo).exists():
        await EvaluationGrade.create(
            organization=demo, grade=4, valid_from=date(2023, 1, 1), valid_until=date(2027, 12, 31)
        )
    if not await Qualification.filter(organization=foundation).exists():
        await Qualification.create(
            organization=foundation, kind=QualificationKind.CHARITY, granted_on=date(2017, 3, 1)
        )
        await Qualification.create(
            organization=foundation,
            kind=QualificationKind.PUBLIC_FUNDRAISING,
            granted_on=date(2019, 6, 1),
            valid_until=date(2029, 5, 31),
        )
    revoked = await Organization.get(credit_code__startswith="52440300MJL000012")
    if not await Penalty.filter(organization=revoked).exists():
        await Penalty.create(
            organization=revoked,
            kind=PenaltyKind.REVOCATION,
            decision_number="深民罚〔2024〕12号",
            decided_on=date(2024, 8, 20),
            reason="未按规定办理年检且无法取得联系",
        )


async def _roles(settings: Settings) -> None:
    alice = await accounts_service.get_or_create_user_by_ref(ref="dev-alice", appid=settings.wechat_appid)
    bob = await accounts_service.get_or_create_user_by_ref(ref="dev-bob", appid=settings.wechat_appid)
    root = await accounts_service.get_or_create_user_by_ref(ref="dev-root", appid=settings.wechat_appid)
    authority = await Authority.get(region_code="440300")
    await accounts_service.grant_officer(user=alice, authority=authority, actor=None, reason="demo data")
    demo = await Organization.get(credit_code=DEMO_ORG_CODE)
    await accounts_service.grant_staff(
        user=bob, organization=demo, role=StaffRoleKind.OWNER, actor=None, reason="demo data"
    )
    if not root.is_platform_admin:
        await accounts_service.grant_admin(user=root, actor=None, reason="demo data")
