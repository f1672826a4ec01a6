"""The images of a posting pass WeChat's asynchronous media check before anyone sees them.

DOMAIN.md: text and images that users post must pass WeChat's content-security check before they
are shown. Text is checked synchronously at publish (msg_sec_check). Images cannot be: WeChat's
``media_check_async`` answers a ``trace_id`` at once and pushes the verdict later (seconds to
minutes) to the mini-program's message-push URL (``POST /api/v1/wechat/push``, signature checked).

The design: publishing submits every image and records the trace ids in the same transaction as
the status change; the posting opens (or waits for review) on its text alone, so sign-ups never
wait for WeChat; each image is shown publicly only once its own verdict is ``pass``. ``risky``
images stay withheld for good; a ``review`` image stays withheld until a platform admin approves it
(``decide``, audited; a rejection keeps it withheld). ``images_withheld`` counts the withheld ones
with those still pending; a draft shows its images as given, since only its own staff can see a draft.

A verdict may arrive before the publish transaction commits: both sides write the row by its
unique trace_id, each filling its own columns, so the order does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..accounts.permissions import require_platform_admin
from ..audit import service as audit_service
from ..content_security import SCENE_FORUM, Verdict
from ..errors import Conflict, NotFound, Unprocessable
from .models import ImageCheck, Posting, PostingStatus

APPROVED, REJECTED = "approved", "rejected"


class ImageCheckNotFound(NotFound):
    code = "image.not_found"
    message = "没有该图片审核记录 / No such image check"


class ImageNotInReview(Unprocessable):
    code = "image.not_in_review"
    message = "仅微信判定需人工审核的图片可由管理员决定 / Only an image held for review can be decided"


class ImageAlreadyDecided(Conflict):
    code = "image.already_decided"
    message = "该图片已有审核决定 / This image has already been decided"


class ImageChecker(Protocol):
    async def check_image(self, *, openid: str, media_url: str, scene: int = SCENE_FORUM) -> str: ...


async def submit(*, wechat: Any, openid: str, posting: Posting) -> list[str]:
    """Submit each image of the posting to WeChat; their trace ids, in order (before the transaction)."""
    return [
        await wechat.check_image(openid=openid, media_url=url, scene=SCENE_FORUM) for url in posting.images
    ]


async def _upsert(trace_id: str, **values: Any) -> None:
    await ImageCheck.bulk_create([ImageCheck(trace_id=trace_id, **values)], ignore_conflicts=True)
    await ImageCheck.filter(trace_id=trace_id).update(**values)


async def record_submitted(posting: Posting, trace_ids: list[str]) -> None:
    """Keep which image each trace id is (in the publishing transaction)."""
    for position, (url, trace_id) in enumerate(zip(posting.images, trace_ids, strict=True)):
        await _upsert(trace_id, posting_id=posting.id, url=url, position=position)


async def record_verdict(*, trace_id: str, suggest: str, label: int | None, now: datetime) -> int | None:
    """Keep WeChat's verdict on an image; the posting it belongs to, when known yet."""
    verdict = suggest if suggest in (Verdict.PASS, Verdict.REVIEW, Verdict.RISKY) else Verdict.REVIEW
    await _upsert(trace_id, suggest=verdict, label=label, checked_at=now)
    posting_id = await ImageCheck.filter(trace_id=trace_id).first().values_list("posting_id", flat=True)
    return None if posting_id is None else int(posting_id)  # type: ignore[call-overload]


async def attach(postings: Iterable[Posting]) -> None:
    """Give each posting the images it may show (``visible_images``) and how many are withheld."""
    postings = list(postings)
    checked = [p.id for p in postings if p.status != PostingStatus.DRAFT]
    passed: dict[int, list[tuple[int, str]]] = {}
    if checked:
        shown = Q(suggest=Verdict.PASS) | Q(suggest=Verdict.REVIEW, decision=APPROVED)
        for posting_id, position, url in await ImageCheck.filter(shown, posting_id__in=checked).values_list(
            "posting_id", "position", "url"
        ):
            passed.setdefault(int(posting_id), []).append((int(position), str(url)))
    for p in postings:
        if p.status == PostingStatus.DRAFT:
            visible = list(p.images)
        else:
            visible = [url for _, url in sorted(passed.get(p.id, []))]
        p.visible_images = visible
        p.images_withheld = len(p.images) - len(visible)


async def held_for_review(*, actor: User, limit: int = 100) -> list[ImageCheck]:
    """Images WeChat held for review and no admin has decided yet, oldest first (platform admins)."""
    require_platform_admin(actor)
    return list(
        await ImageCheck.filter(suggest=Verdict.REVIEW, decision__isnull=True, posting_id__isnull=False)
        .order_by("id")
        .limit(limit)
    )


async def decide(*, actor: User, check_id: int, approve: bool, reason: str) -> ImageCheck:
    """A platform admin shows (approve) or keeps withheld (reject) an image held for review, audited."""
    require_platform_admin(actor)
    check = await ImageCheck.get_or_none(id=check_id)
    if check is None or check.posting_id is None:
        raise ImageCheckNotFound(details={"id": check_id})
    if check.suggest != Verdict.REVIEW:
        raise ImageNotInReview(details={"suggest": check.suggest})
    decision = APPROVED if approve else REJECTED
    async with in_transaction():
        # Conditional: two admins deciding at once, one wins and the other is told.
        changed = await ImageCheck.filter(id=check.id, decision__isnull=True).update(
            decision=decision, decided_by_id=actor.id, decided_at=datetime.now(UTC), decision_reason=reason
        )
        if not changed:
            raise ImageAlreadyDecided()
        await audit_service.record(
            actor=actor,
            action="posting.image_decision",
            target=await Posting.get(id=check.posting_id),
            before={"image_check_id": check.id, "url": check.url, "suggest": check.suggest, "decision": None},
            after={"image_check_id": check.id, "url": check.url, "decision": decision},
            reason=reason,
        )
    return await ImageCheck.get(id=check.id)
