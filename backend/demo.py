"""Demo data for `make run`: loaded idempotently, and robust to whatever a newcomer did since.

It goes through the same paths as real data: the reference authorities, an import of a realistic
CSV export (UTF-8 with BOM, Chinese headers, capital in 万元, one row without its authority), officer
records (a penalty, an annual report, a grade, a fundraising qualification), roles, a QR code and
an open activity.

The data comes in *sections*, one per capability, each a list of *steps*. A step is an async function
of the ``Demo`` context that returns the lines to print; it stands on its own (reads what it needs,
creates it if missing) so that one failing step costs only its own lines: ``load`` prints one line
saying what did not load and how to start afresh, never a traceback, and goes on. A capability adds
its demo data by appending its section to ``SECTIONS``.

What a newcomer may have done through the API or the console, and what the next run does about it:

* revoked the demo organization's QR code (or it has none): a new version is issued (audited, no
  actor), and a line says so; a reissued code is used as it is;
* deregistered or revoked the demo organization, renamed it, changed a record: left as they made it
  (the import only adds the rows that are missing); a line says how to restore the status;
* let the demo activity's check-in window close: reopened for a week from now, in one line;
* revoked a demo user's role: granted again, in one line; roles they granted stay.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import F

from .accounts import service as accounts_service
from .accounts.models import OfficerRole, StaffRole, StaffRoleKind, User
from .cache import Cache
from .charity import demo as charity_demo
from .config import Settings
from .crypto import PersonalDataCipher
from .errors import DomainError
from .partybuilding.models import Activity, ActivityKind, Branch, Expected
from .recruitment import demo as recruitment_demo
from .registry import importer, imports, profiles, qr, qrimage, qrtoken, reference
from .registry.models import (
    AnnualReport,
    AnnualResult,
    Authority,
    EvaluationGrade,
    Organization,
    OrgStatus,
    Penalty,
    PenaltyKind,
    QrCodeVersion,
    Qualification,
    QualificationKind,
)

log = logging.getLogger("gongxin.demo")

DEMO_FILE = Path(__file__).parent / "demo_data" / "organizations.csv"
DEMO_ORG_CODE = "51440300MJL0000103"
DEMO_FOUNDATION_CODE = "53440300MJL000007H"
DEMO_REVOKED_CODE = "52440300MJL0000126"
DEMO_ACTIVITY_TITLE = "主题党日：社会组织党建与志愿服务"
SHANGHAI = ZoneInfo("Asia/Shanghai")
START_AFRESH = "to start afresh: stop the server, delete var/ and run `make run` again"
STATUS_LABELS = {OrgStatus.DEREGISTERED: "deregistered (注销)", OrgStatus.REVOKED: "revoked (撤销登记)"}


@dataclass
class Demo:
    """What the steps share: settings, the cache, the cipher, and what earlier steps found."""

    settings: Settings
    cache: Cache
    cipher: PersonalDataCipher
    found: dict[str, Any] = field(default_factory=dict)

    async def user(self, name: str) -> User:
        return await accounts_service.get_or_create_user_by_ref(ref=name, appid=self.settings.wechat_appid)


Step = Callable[[Demo], Awaitable[list[str]]]


# --- registry -------------------------------------------------------------------------------------


async def reference_data(demo: Demo) -> list[str]:
    """Regions and every registration authority."""
    regions, authorities = await reference.load()
    return [f"demo data: {regions} regions and {authorities} authorities added"]


async def organizations(demo: Demo) -> list[str]:
    """The demo export, imported once: rows already there are left as they are now."""
    parsed = importer.parse_file(DEMO_FILE)
    existing = set(
        await Organization.filter(credit_code__in=[r.credit_code for r in parsed.rows]).values_list(
            "credit_code", flat=True
        )
    )
    total = len(parsed.rows)
    demo.found["loaded_before"] = DEMO_ORG_CODE in existing
    parsed.rows = [r for r in parsed.rows if r.credit_code not in existing]
    created = 0
    if parsed.rows:
        result = await imports.apply_import(
            parsed=parsed, actor=None, apply=True, cipher=demo.cipher, cache=demo.cache
        )
        if result.errors:
            problems = "; ".join(f"row {e.row_number}: {e.message}" for e in result.errors[:3])
            return [f"demo data: the demo import was not applied ({problems}); {START_AFRESH}"]
        created = result.created
    return [f"demo data: import of {total} rows: {created} created, {total - created} already there"]


async def officer_records(demo: Demo) -> list[str]:
    """Officer records on three demo organizations, each created once."""
    found = {
        o.credit_code: o
        for o in await Organization.filter(
            credit_code__in=[DEMO_ORG_CODE, DEMO_FOUNDATION_CODE, DEMO_REVOKED_CODE]
        )
    }
    organization, foundation, revoked = (
        found.get(DEMO_ORG_CODE),
        found.get(DEMO_FOUNDATION_CODE),
        found.get(DEMO_REVOKED_CODE),
    )
    for org in (organization, foundation):
        if org is not None:
            await AnnualReport.get_or_create(
                organization=org, year=2024, defaults={"result": AnnualResult.QUALIFIED}
            )
    if organization is not None and not await EvaluationGrade.filter(organization=organization).exists():
        await EvaluationGrade.create(
            organization=organization, grade=4, valid_from=date(2023, 1, 1), valid_until=date(2027, 12, 31)
        )
    if foundation is not None and not await Qualification.filter(organization=foundation).exists():
        await Qualification.create(
            organization=foundation, kind=QualificationKind.CHARITY, granted_on=date(2017, 3, 1)
        )
        await Qualification.create(
            organization=foundation,
            kind=QualificationKind.PUBLIC_FUNDRAISING,
            granted_on=date(2019, 6, 1),
            valid_until=date(2029, 5, 31),
        )
    if revoked is not None and not await Penalty.filter(organization=revoked).exists():
        await Penalty.create(
            organization=revoked,
            kind=PenaltyKind.REVOCATION,
            decision_number="深民罚〔2024〕12号",
            decided_on=date(2024, 8, 20),
            reason="未按规定办理年检且无法取得联系",
        )
    for org in found.values():
        # Records written here bypass the services: every process must rebuild these profiles.
        await profiles.invalidate(cache=demo.cache, credit_code=org.credit_code)
    return []


async def demo_code(demo: Demo) -> list[str]:
    """The demo organization's current QR code, a new version if none is current, and its image."""
    organization = await Organization.get(credit_code=DEMO_ORG_CODE)
    lines = []
    current = (
        await QrCodeVersion.filter(organization=organization, revoked_at__isnull=True)
        .order_by("-version")
        .first()
    )
    if current is None:
        had_one = await QrCodeVersion.filter(organization=organization).exists()
        current = await qr.reissue(
            organization=organization,
            actor=None,
            reason="demo data: the demo organization had no current QR code",
            cipher=demo.cipher,
            cache=demo.cache,
        )
        if had_one:
            lines.append(
                f"demo data: the demo QR code had been revoked; issued version {current.version} "
                "(the revoked one still verifies as not_genuine)"
            )
    url = qrtoken.build_url(demo.settings.public_base_url, current.token)
    qr_path = demo.settings.demo_qr_path
    qr_path.parent.mkdir(parents=True, exist_ok=True)
    qr_path.write_bytes(qrimage.render_png(url, size=512))
    if organization.status in STATUS_LABELS:
        lines.append(
            f"demo data: the demo organization is {STATUS_LABELS[organization.status]}, as changed through "
            f"the API, so its page shows it not in good standing; to restore it, as dev-alice: POST "
            f'/api/v1/orgs/{DEMO_ORG_CODE}/status {{"status": "active", "reason": "..."}}'
        )
    demo.found["h5_url"] = url
    return [*lines, f"demo organization H5 page: {url}", f"demo QR image:            {qr_path}"]


# --- accounts ------------------------------------------------------------------------------------


async def demo_users(demo: Demo) -> list[str]:
    """dev-alice officer of 深圳市民政局, dev-bob owner of the demo organization, dev-root admin."""
    restored = []
    alice, bob, root = await demo.user("dev-alice"), await demo.user("dev-bob"), await demo.user("dev-root")
    authority = await Authority.get(region_code="440300")
    if not await OfficerRole.filter(user=alice, authority=authority).exists():
        await accounts_service.grant_officer(user=alice, authority=authority, actor=None, reason="demo data")
        restored.append(f"dev-alice officer of {authority.name}")
    organization = await Organization.get(credit_code=DEMO_ORG_CODE)
    staff = await StaffRole.get_or_none(user=bob, organization=organization)
    if staff is None or staff.role != StaffRoleKind.OWNER:
        await accounts_service.grant_staff(
            user=bob, organization=organization, role=StaffRoleKind.OWNER, actor=None, reason="demo data"
        )
        restored.append("dev-bob owner of the demo organization")
    if not root.is_platform_admin:
        await accounts_service.grant_admin(user=root, actor=None, reason="demo data", cache=demo.cache)
        restored.append("dev-root platform admin")
    lines = []
    if restored and demo.found.get("loaded_before"):
        lines.append(f"demo data: roles granted again (they had been revoked): {', '.join(restored)}")
    return [
        *lines,
        "demo users: dev-alice (officer, 深圳市民政局), dev-bob (owner of the demo organization), "
        "dev-root (admin)",
    ]


# --- party building ----------------------------------------------------------------------------


async def demo_activity(demo: Demo) -> list[str]:
    """An open activity whose check-in window is open from now on, for a week."""
    organization = await Organization.get(credit_code=DEMO_ORG_CODE)
    now = datetime.now(UTC).replace(microsecond=0)
    branch, _ = await Branch.get_or_create(organization=organization, name=f"{organization.name}党支部")
    times: dict[str, Any] = {
        "starts_at": now + timedelta(hours=1),
        "ends_at": now + timedelta(hours=3),
        "checkin_opens_at": now - timedelta(hours=1),
        "checkin_closes_at": now + timedelta(days=7),
        "late_after": now + timedelta(hours=1, minutes=10),
    }
    activity = await Activity.get_or_none(organization=organization, title=DEMO_ACTIVITY_TITLE)
    lines = []
    if activity is None:
        activity = await Activity.create(
            organization=organization,
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
    else:
        if activity.checkin_closes_at <= now:
            lines.append("demo data: the demo activity's check-in window had closed: reopened for a week")
        # A new revision: every server process reads the activity's rules again.
        await Activity.filter(id=activity.id).update(revision=F("revision") + 1, **times)
        activity = await Activity.get(id=activity.id)
    base = demo.settings.public_base_url
    return [
        *lines,
        f"demo activity:            id {activity.id}, open for check-in until "
        f"{activity.checkin_closes_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Beijing time)",
        f"  its rotating code (log in as dev-bob): "
        f"{base}/api/v1/activities/{activity.id}/checkin-code?format=png",
    ]


# --- notifications --------------------------------------------------------------------------------


async def notifications_where(demo: Demo) -> list[str]:
    """Where the subscribe messages of the demo arrive."""
    base = demo.settings.public_base_url
    return [
        f"notifications:            check in, and the message arrives at "
        f"{demo.settings.wechat_api_base}/__emulator__/messages (templates and consents: "
        f"GET {base}/api/v1/me/subscriptions; counts: /metrics)",
    ]


# --- donation disclosure ------------------------------------------------------------------------


async def demo_campaign(demo: Demo) -> list[str]:
    """The demo foundation's public campaign: donations (masked, anonymous, full), spending, a correction."""
    return await charity_demo.load(
        settings=demo.settings, cache=demo.cache, foundation_code=DEMO_FOUNDATION_CODE
    )


# --- recruitment and sign-ups ----------------------------------------------------------------------


async def demo_posting(demo: Demo) -> list[str]:
    """An open volunteer posting with a few seats, and its link."""
    return await recruitment_demo.load(settings=demo.settings, org_code=DEMO_ORG_CODE)


async def demo_volunteer_proof(demo: Demo) -> list[str]:
    """A past volunteer activity with a volunteer's recorded hours and her signed proof of them."""
    return await recruitment_demo.load_served(
        settings=demo.settings, cipher=demo.cipher, org_code=DEMO_ORG_CODE
    )


# A capability adds its demo data here: ("its name", [its steps]).
SECTIONS: list[tuple[str, list[Step]]] = [
    ("registry", [reference_data, organizations, officer_records, demo_code]),
    ("accounts", [demo_users]),
    ("party building", [demo_activity]),
    ("donation disclosure", [demo_campaign]),
    ("recruitment", [demo_posting, demo_volunteer_proof]),
    ("notifications", [notifications_where]),
]


async def load(settings: Settings, cache: Cache) -> list[str]:
    """Create or refresh the demo records; return what a newcomer should see on the console."""
    demo = Demo(settings=settings, cache=cache, cipher=PersonalDataCipher(settings.fernet_key))
    lines: list[str] = []
    for section, steps in SECTIONS:
        for step in steps:
            try:
                lines.extend(await step(demo))
            except Exception as exc:
                # Never a traceback on the console: one line, and the details in the log.
                log.debug("demo step %s failed", step.__name__, exc_info=True)
                why = exc.message if isinstance(exc, DomainError) else type(exc).__name__
                lines.append(f"demo data: {section} ({step.__name__}) not loaded ({why}); {START_AFRESH}")
    return lines
