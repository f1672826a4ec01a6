"""The recruitment part of `make run`'s demo data: an open posting with a few seats, and its link; a
volunteer activity that took place last month, with dev-carol's hours and her signed proof of them.

Idempotent like the rest of the demo: the newest posting of the demo title is used while it is open,
before its deadline and has a seat left. Whatever a newcomer did to it (closed, cancelled, filled it,
or its deadline passed) stays as they left it: a new demo posting is put up beside it, in one line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..accounts import service as accounts_service
from ..accounts.models import User
from ..config import Settings
from ..crypto import PersonalDataCipher
from ..registry.models import Organization
from . import proofs, prooftoken, volunteering
from .models import Admission, Posting, PostingKind, PostingStatus, ServiceRecord, Signup, SignupStatus
from .schemas import ServiceEntry

TITLE = "社区志愿服务：周末图书整理（演示）"
PAST_TITLE = "社区志愿服务：敬老院探访（演示，已结束）"
PAST_HOURS = 3.0
SEATS = 5
QUESTIONS = [
    {"id": "name", "kind": "text", "label": "姓名", "required": True, "max_length": 20},
    {"id": "phone", "kind": "phone", "label": "手机号", "required": True},
    {"id": "slot", "kind": "single_choice", "label": "时段", "required": True, "options": ["上午", "下午"]},
]


def _usable(posting: Posting, now: datetime) -> bool:
    seats_left = posting.capacity is None or posting.confirmed_count < posting.capacity
    return posting.status == PostingStatus.OPEN and posting.signup_deadline > now and seats_left


async def load(*, settings: Settings, org_code: str) -> list[str]:
    """Find or put up the demo posting; return the lines `make run` prints."""
    organization = await Organization.get(credit_code=org_code)
    now = datetime.now(UTC).replace(microsecond=0)
    latest = await Posting.filter(organization=organization, title=TITLE).order_by("-id").first()
    lines = []
    if latest is None or not _usable(latest, now):
        if latest is not None:
            why = (
                "its sign-up deadline had passed"
                if latest.status == PostingStatus.OPEN and latest.signup_deadline <= now
                else "it had no seat left"
                if latest.status == PostingStatus.OPEN
                else f"it had been {latest.status.value}"
            )
            lines.append(
                f"demo data: the demo posting {latest.id} is left as it is ({why}); posted a new one"
            )
        bob = await accounts_service.get_or_create_user_by_ref(ref="dev-bob", appid=settings.wechat_appid)
        starts = (now + timedelta(days=7)).replace(hour=1, minute=0, second=0)  # 09:00 in Beijing
        latest = await Posting.create(
            organization=organization,
            kind=PostingKind.VOLUNTEER,
            title=TITLE,
            body="周六上午或下午，在社区图书室整理捐赠图书、登记上架。欢迎报名，名额有限，满员后进入候补。",
            images=[],
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            place="深圳市南山区社区图书室",
            latitude=22.5329,
            longitude=113.9305,
            capacity=SEATS,
            signup_deadline=starts - timedelta(days=1),
            admission=Admission.FIRST_COME,
            questions=QUESTIONS,
            status=PostingStatus.OPEN,
            published_at=now,
            created_by_id=bob.id,
        )
    base = settings.public_base_url
    left = SEATS - latest.confirmed_count if latest.capacity else None
    return [
        *lines,
        f"demo posting:             {base}/api/v1/postings/{latest.id} "
        f"({left} of {latest.capacity} seats left); sign up with POST {base}/api/v1/postings/{latest.id}"
        f"/signups as any member, its roster as dev-bob: GET .../signups",
    ]


async def load_served(*, settings: Settings, cipher: PersonalDataCipher, org_code: str) -> list[str]:
    """A volunteer activity of last month that dev-carol served at, her hours recorded by dev-bob through
    the service (audited, as staff record them), and her proof of service; return the lines to print.

    The activity is written as it stands after the fact (closed, her seat confirmed): sign-ups to a
    posting in the past cannot go through the sign-up service. Found again by its title on later runs;
    the proof is issued once for the same records (``proofs.issue`` gives back the one that stands).
    """
    organization = await Organization.get(credit_code=org_code)
    bob = await accounts_service.get_or_create_user_by_ref(ref="dev-bob", appid=settings.wechat_appid)
    carol = await accounts_service.get_or_create_user_by_ref(ref="dev-carol", appid=settings.wechat_appid)
    if not carol.nickname:
        await User.filter(id=carol.id).update(nickname="陈小青")
    posting = await Posting.filter(organization=organization, title=PAST_TITLE).order_by("-id").first()
    if posting is None:
        now = datetime.now(UTC).replace(microsecond=0)
        starts = (now - timedelta(days=30)).replace(hour=6, minute=0, second=0)  # 14:00 in Beijing
        posting = await Posting.create(
            organization=organization,
            kind=PostingKind.VOLUNTEER,
            title=PAST_TITLE,
            body="陪伴长者聊天、读报，协助午后活动。",
            images=[],
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            place="深圳市南山区社会福利中心",
            capacity=10,
            signup_deadline=starts - timedelta(days=1),
            admission=Admission.FIRST_COME,
            questions=[],
            status=PostingStatus.CLOSED,
            published_at=starts - timedelta(days=7),
            created_by_id=bob.id,
            confirmed_count=1,
        )
    if not await Signup.filter(posting=posting, user_id=carol.id).exists():
        await Signup.create(
            posting=posting, user_id=carol.id, active_user_id=carol.id, status=SignupStatus.CONFIRMED
        )
    if not await ServiceRecord.filter(posting=posting, user_id=carol.id).exists():
        await volunteering.record(
            actor=bob, posting_id=posting.id, entries=[ServiceEntry(user_id=carol.id, hours=PAST_HOURS)]
        )
    proof, _ = await proofs.issue(member=carol, credit_code=None, cipher=cipher)
    base = settings.public_base_url
    return [
        f"volunteer hours:          dev-carol served {PAST_HOURS:g} h at posting {posting.id}: GET "
        f"{base}/api/v1/me/volunteer-hours as dev-carol; its sheet as dev-bob: GET "
        f"{base}/api/v1/postings/{posting.id}/service-records",
        f"her proof of service:     {prooftoken.build_url(base, proof.token)} (it verifies at "
        f"GET {base}/api/v1/verify?url=<that URL>; offline: gongxin-verify proof <that URL>)",
    ]
