"""Consents and preferences of members; the dead letters and message counts of admins."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from ..accounts.models import User
from ..accounts.permissions import require_platform_admin
from ..audit import service as audit_service
from ..config import Settings
from ..errors import NotFound, Unprocessable
from .catalog import template_ids
from .models import Delivery, DeliveryStatus, SubscriptionConsent, SubscriptionPreference
from .schemas import (
    DeadLetterList,
    DeadLetterQuery,
    DeadLetterRead,
    NotificationStats,
    ReplayRequest,
    ReplayResult,
    SubscriptionAnswers,
    SubscriptionList,
    SubscriptionRead,
    TemplateCounts,
)
from .statements import write_transaction


class UnknownTemplate(Unprocessable):
    code = "subscriptions.unknown_template"
    message = "未知的订阅消息模板 / Unknown subscribe-message template"


class ContradictoryAnswers(Unprocessable):
    code = "subscriptions.contradictory"
    message = "同一模板不能既接受又拒绝 / A template cannot be both accepted and rejected"


class UnknownEvent(NotFound):
    code = "subscriptions.unknown_event"
    message = "没有这种消息 / No such kind of message"


async def get_subscriptions(*, user: User, settings: Settings) -> SubscriptionList:
    """Every template of this deployment with the user's remaining consents and whether it is on."""
    templates = template_ids(settings)
    remaining = dict(await SubscriptionConsent.filter(user=user).values_list("template_id", "remaining"))
    enabled = dict(await SubscriptionPreference.filter(user=user).values_list("event", "enabled"))
    return SubscriptionList(
        items=[
            SubscriptionRead(
                template_id=template_id,
                event=kind,
                remaining=int(remaining.get(template_id, 0)),
                enabled=bool(enabled.get(kind, True)),
            )
            for kind, template_id in templates.items()
        ]
    )


async def record_answers(*, user: User, answers: SubscriptionAnswers, settings: Settings) -> SubscriptionList:
    """Add one consent per accepted template (each allows one message); rejections change nothing."""
    known = set(template_ids(settings).values())
    unknown = sorted({t for t in [*answers.accepted, *answers.rejected] if t not in known})
    if unknown:
        raise UnknownTemplate(details={"template_ids": unknown[:20]})
    both = sorted(set(answers.accepted) & set(answers.rejected))
    if both:
        raise ContradictoryAnswers(details={"template_ids": both})
    # A rejection does not take back consents given earlier (WeChat keeps them too): it is only
    # the answer to this prompt. An accepted id counts once per report, as WeChat counts it.
    accepted = sorted(set(answers.accepted))
    if accepted:
        async with in_transaction():
            await SubscriptionConsent.bulk_create(
                [SubscriptionConsent(user=user, template_id=t, remaining=0) for t in accepted],
                ignore_conflicts=True,
            )
            await SubscriptionConsent.filter(user=user, template_id__in=accepted).update(
                remaining=F("remaining") + 1
            )
    return await get_subscriptions(user=user, settings=settings)


async def set_enabled(*, user: User, event: str, enabled: bool, settings: Settings) -> SubscriptionRead:
    """Turn one kind of message on or off for the user; consents are kept either way."""
    templates = template_ids(settings)
    if event not in templates:
        raise UnknownEvent(details={"event": event[:64]})
    async with in_transaction():
        await SubscriptionPreference.bulk_create(
            [SubscriptionPreference(user=user, event=event, enabled=enabled)], ignore_conflicts=True
        )
        await SubscriptionPreference.filter(user=user, event=event).update(enabled=enabled)
    items = (await get_subscriptions(user=user, settings=settings)).items
    return next(item for item in items if item.event == event)


# --- admins ------------------------------------------------------------------------------------------
async def list_dead_letters(*, actor: User, query: DeadLetterQuery) -> DeadLetterList:
    """Messages given up on (transient failures to the limit, or interrupted mid-send), newest first."""
    require_platform_admin(actor)
    rows = Delivery.filter(status=DeliveryStatus.DEAD)
    if query.before_id is not None:
        rows = rows.filter(id__lt=query.before_id)
    page = await rows.order_by("-id").limit(query.limit + 1)
    items = [
        DeadLetterRead(
            id=d.id,
            event_id=d.event_id,
            event=d.kind,
            template_id=d.template_id,
            user_id=d.user_id,
            attempts=d.attempts,
            reason=d.reason,
            last_error=d.last_error,
            created_at=d.created_at,
            dead_at=d.finished_at,
        )
        for d in page[: query.limit]
    ]
    return DeadLetterList(items=items, next_before_id=items[-1].id if len(page) > query.limit else None)


async def replay_dead_letters(*, actor: User, request: ReplayRequest) -> ReplayResult:
    """Put dead letters back in the queue (platform admins); audited, one entry per message."""
    require_platform_admin(actor)
    now = datetime.now(UTC)
    async with write_transaction():
        dead = Delivery.filter(status=DeliveryStatus.DEAD)
        if request.ids is not None:
            dead = dead.filter(id__in=request.ids)
        rows = await dead.select_for_update()
        for row in rows:
            await audit_service.record(
                actor=actor,
                action="notification.replay",
                target=row,
                before={"status": row.status.value, "reason": row.reason},
                after={"status": DeliveryStatus.PENDING.value},
                reason=request.reason,
            )
        if rows:
            await Delivery.filter(id__in=[r.id for r in rows], status=DeliveryStatus.DEAD).update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                queued_until=None,
                claim_token=None,
                finished_at=None,
                attempts=0,
            )
    found = {r.id for r in rows}
    not_dead = sorted(set(request.ids or []) - found)
    return ReplayResult(replayed=len(rows), not_dead=not_dead)


async def message_counts() -> list[TemplateCounts]:
    """Per template and kind: sent, skipped, failed, retried, dead-lettered; from the delivery records.

    Computed from the records rather than kept in each process, so every worker process on every
    machine is counted, and a restart loses nothing. One grouped query per call.
    """
    rows = (
        await Delivery.all()
        .annotate(n=Count("id"), retried=Sum("retries"), dead_lettered=Sum("dead_letters"))
        .group_by("template_id", "kind", "status")
        .values("template_id", "kind", "status", "n", "retried", "dead_lettered")
    )
    counts: dict[tuple[str, str], TemplateCounts] = {}
    for row in rows:
        key = (row["template_id"], row["kind"])
        entry = counts.setdefault(
            key,
            TemplateCounts(
                template_id=key[0],
                event=key[1],
                sent=0,
                skipped=0,
                failed=0,
                retried=0,
                dead_lettered=0,
                dead=0,
                pending=0,
            ),
        )
        n = int(row["n"])
        status = DeliveryStatus(row["status"])
        if status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            entry.pending += n
        else:
            setattr(entry, status.value, getattr(entry, status.value) + n)
        entry.retried += int(row["retried"] or 0)
        entry.dead_lettered += int(row["dead_lettered"] or 0)
    return [counts[key] for key in sorted(counts)]


async def get_stats(*, actor: User) -> NotificationStats:
    """The message counts of ``message_counts`` for platform admins."""
    require_platform_admin(actor)
    return NotificationStats(templates=await message_counts())
