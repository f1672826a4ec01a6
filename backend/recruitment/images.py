"""The images of a posting pass WeChat's asynchronous media check before anyone sees them.

DOMAIN.md: text and images that users post must pass WeChat's content-security check before they
are shown. Text is checked synchronously at publish (msg_sec_check). Images cannot be: WeChat's
``media_check_async`` answers a ``trace_id`` at once and pushes the verdict later (seconds to
minutes) to the mini-program's message-push URL (``POST /api/v1/wechat/push``, signature checked).

The design: publishing submits every image and records the trace ids in the same transaction as
the status change; the posting opens (or waits for review) on its text alone, so sign-ups never
wait for WeChat; each image is shown publicly only once its own verdict is ``pass``. ``risky`` and
``review`` images stay withheld (``images_withheld`` counts them with those still pending); a
draft shows its images as given, since only its own staff can see a draft.

A verdict may arrive before the publish transaction commits: both sides write the row by its
unique trace_id, each filling its own columns, so the order does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from ..content_security import SCENE_FORUM, Verdict
from .models import ImageCheck, Posting, PostingStatus


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
        for posting_id, position, url in await ImageCheck.filter(
            posting_id__in=checked, suggest=Verdict.PASS
        ).values_list("posting_id", "position", "url"):
            passed.setdefault(int(posting_id), []).append((int(position), str(url)))
    for p in postings:
        if p.status == PostingStatus.DRAFT:
            visible = list(p.images)
        else:
            visible = [url for _, url in sorted(passed.get(p.id, []))]
        p.visible_images = visible
        p.images_withheld = len(p.images) - len(visible)
