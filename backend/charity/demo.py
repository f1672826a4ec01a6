"""The donation-disclosure part of `make run`'s demo data: one public campaign with a real-looking ledger.

Idempotent like the rest of the demo: the project is found by title, donations by their references,
and the expenditures and the correction are added only to a ledger that has none yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..accounts import service as accounts_service
from ..accounts.models import StaffRoleKind, User
from ..cache import Cache
from ..config import Settings
from ..crypto import PersonalDataCipher
from ..registry.models import Organization
from . import ledger, projects
from .models import EntryKind, LedgerEntry, Project, ProjectKind, ProjectStatus
from .schemas import (
    CorrectionCreate,
    DonationCreate,
    ExpenditureCreate,
    ProjectCreate,
    ProjectPlan,
    ProjectStatusChange,
)

TITLE = "山区学校图书角（演示）"
DONORS = [
    ("WXP-DEMO-0001", 50_000, "张三丰", "masked"),
    ("WXP-DEMO-0002", 20_000, None, "anonymous"),
    ("WXP-DEMO-0003", 100_000, "李雷", "full"),
    ("WXP-DEMO-0004", 8_800, "韩梅梅", "masked"),
    ("WXP-DEMO-0005", 6_600, "王小明", "masked"),  # recorded twice by mistake below, then corrected
]


async def load(*, settings: Settings, cache: Cache, foundation_code: str) -> list[str]:
    """Create or complete the demo campaign; return the lines `make run` prints."""
    foundation = await Organization.get(credit_code=foundation_code)
    bob = await accounts_service.get_or_create_user_by_ref(ref="dev-bob", appid=settings.wechat_appid)
    await accounts_service.grant_staff(
        user=bob, organization=foundation, role=StaffRoleKind.ADMIN, actor=None, reason="demo data"
    )
    project = await Project.get_or_none(organization=foundation, title=TITLE)
    if project is None:
        project = await _create(bob, foundation, cache)
    cipher = PersonalDataCipher(settings.fernet_key)
    now = datetime.now(UTC).replace(microsecond=0)
    receipt = ""
    for i, (ref, amount, name, display) in enumerate(DONORS):
        data = DonationCreate(
            amount_fen=amount,
            received_at=now - timedelta(days=40 - 9 * i),
            channel="wechat_pay",
            external_ref=ref,
            donor_name=name,
            donor_display=display,  # type: ignore[arg-type]
        )
        recorded = await ledger.record_donation(
            actor=bob, project_id=project.id, data=data, cipher=cipher, cache=cache
        )
        receipt = receipt or str(recorded.entry.receipt_code)
    if not await LedgerEntry.filter(project_id=project.id, kind=EntryKind.EXPENDITURE).exists():
        await _spend_and_correct(bob, project, cache, cipher, now)
    base = settings.public_base_url
    return [
        f"demo fundraising project: {base}/p/{project.id}  (API: {base}/api/v1/projects/{project.id})",
        f"  a donor's receipt:       {base}/api/v1/receipts/{receipt}",
        "  its staff: dev-bob (also admin of the demo foundation)",
    ]


async def _create(actor: User, foundation: Organization, cache: Cache) -> Project:
    today = date.today()
    data = ProjectCreate(
        title=TITLE,
        kind=ProjectKind.PUBLIC_CAMPAIGN,
        filing_number=f"{foundation.credit_code}D{today.year}0001",
        plan=ProjectPlan(
            purpose="为粤北山区小学建设图书角，每校配书500册",
            period_start=today - timedelta(days=60),
            period_end=today + timedelta(days=300),
            region="广东省",
            beneficiaries="粤北山区三所小学的约1,200名学生",
            use_of_funds="购买图书、书架及运输",
            costs="募捐成本从募得款物中列支，不超过5%",
            leftover_funds="项目结束后剩余款物转入同类助学项目，并公开说明",
        ),
        target_fen=5_000_000,
    )
    project = await projects.create(actor=actor, code=foundation.credit_code, data=data, cache=cache)
    return await projects.change_status(
        actor=actor,
        project_id=project.id,
        data=ProjectStatusChange(status=ProjectStatus.FUNDRAISING, reason="已在慈善中国备案"),
        cache=cache,
    )


async def _spend_and_correct(
    actor: User, project: Project, cache: Cache, cipher: PersonalDataCipher, now: datetime
) -> None:
    for amount, category, payee, purpose in (
        (90_000, "goods", "广州某某图书有限公司", "采购儿童图书300册"),
        (12_000, "operations", "连南县某物流公司", "图书运输"),
        (3_000, "management", "本基金会", "项目管理费用"),
    ):
        await ledger.record_expenditure(
            actor=actor,
            project_id=project.id,
            data=ExpenditureCreate(
                amount_fen=amount,
                category=category,
                payee=payee,
                paid_on=(now - timedelta(days=5)).date(),
                purpose=purpose,
                receipt_sha256=f"{amount:064x}",
                receipt_url=f"https://files.example.cn/receipts/demo-{amount}.pdf",
            ),
            cache=cache,
        )
    duplicate = await ledger.record_donation(
        actor=actor,
        project_id=project.id,
        data=DonationCreate(
            amount_fen=6_600,
            received_at=now - timedelta(days=3),
            channel="bank",
            external_ref="BANK-DEMO-DUPLICATE",
            donor_name="王小明",
        ),
        cipher=cipher,
        cache=cache,
    )
    await ledger.record_correction(
        actor=actor,
        project_id=project.id,
        data=CorrectionCreate(
            reverses=duplicate.entry.id, explanation="同一笔捐赠经微信支付和银行对账重复登记，冲销银行记录"
        ),
        cache=cache,
    )
