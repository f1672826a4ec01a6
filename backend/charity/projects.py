"""Fundraising projects: creation, status, progress updates, and who may change them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from ..accounts.models import StaffRole, User
from ..accounts.permissions import NotOrganizationStaff, require_platform_admin
from ..audit import service as audit_service
from ..cache import Cache
from ..content_security import TextChecker, Verdict
from ..content_security import check as check_content
from ..errors import Conflict, NotFound, Unprocessable
from ..events import kinds
from ..events import service as events_service
from ..registry import service as registry_service
from ..registry.models import Organization, Qualification, QualificationKind
from ..translog import log as translog
from . import canonical, totals, views
from .models import ProgressUpdate, Project, ProjectKind, ProjectStatus, UpdateStatus
from .schemas import ProgressCreate, ProjectCreate, ProjectStatusChange


class ProjectNotFound(NotFound):
    code = "project.not_found"
    message = "未找到该募捐项目 / No such fundraising project"


class FilingNumberRequired(Unprocessable):
    code = "project.filing_number_required"
    message = "公开募捐项目须填写备案编号 / A public campaign needs its filing number"


class FilingNumberMismatch(Unprocessable):
    code = "project.filing_number_mismatch"
    message = "备案编号应以本组织的统一社会信用代码开头 / The filing number must begin with the credit code"


class FilingNumberInvalid(Unprocessable):
    code = "project.filing_number_invalid"
    message = (
        "备案编号应为本组织的统一社会信用代码后接备案序号（字母或数字） / "
        "The filing number is the credit code followed by the filing's letters and digits"
    )


class FilingNumberTaken(Conflict):
    code = "project.filing_number_taken"
    message = (
        "该备案编号已用于本组织的另一个项目 / Another project of the organization has this filing number"
    )


# What follows the credit code in a filing number (慈善中国 writes e.g. 53440300MJL000007HA21001).
FILING_SUFFIX = re.compile(r"[0-9A-Z]{1,46}")


class NoFundraisingQualification(Unprocessable):
    code = "project.no_fundraising_qualification"
    message = (
        "该组织不具有有效的公开募捐资格 / The organization holds no valid public-fundraising qualification"
    )


class BadStatusChange(Conflict):
    code = "project.bad_status_change"
    message = "项目当前状态不能变更为该状态 / The project cannot move to this status from its current one"


class UpdateNotFound(NotFound):
    code = "project.update_not_found"
    message = "未找到该进展 / No such progress update"


class UpdateDecided(Conflict):
    code = "project.update_decided"
    message = "该进展已处理 / This progress update has already been decided"


# Forward only: draft -> fundraising -> executing -> closed (a campaign may close from fundraising).
ALLOWED_STATUS = {
    ProjectStatus.DRAFT: {ProjectStatus.FUNDRAISING},
    ProjectStatus.FUNDRAISING: {ProjectStatus.EXECUTING, ProjectStatus.CLOSED},
    ProjectStatus.EXECUTING: {ProjectStatus.CLOSED},
    ProjectStatus.CLOSED: set(),
}


async def require_staff_of(user: User, organization_id: int) -> None:
    """Allow the organization's owner or admins (``permissions.require_staff`` by id)."""
    if not await StaffRole.filter(user_id=user.id, organization_id=organization_id).exists():
        raise NotOrganizationStaff()


async def get_or_raise(project_id: int) -> Project:
    """The project with this id, or 404."""
    project = await Project.get_or_none(id=project_id)
    if project is None:
        raise ProjectNotFound(details={"project_id": project_id})
    return project


async def _has_fundraising_qualification(organization: Organization) -> bool:
    today = registry_service.today()
    quals = await Qualification.filter(
        organization=organization, kind=QualificationKind.PUBLIC_FUNDRAISING, revoked_on__isnull=True
    )
    return any(q.valid_until is None or q.valid_until >= today for q in quals)


async def _on_project_changed(project: Project, record: bytes) -> None:
    """Append a project record change to the organization's transparency log (in its transaction).

    Drafts are not public: a draft's record enters the log when fundraising starts (that status
    change's leaf carries the whole record).
    """
    if project.status != ProjectStatus.DRAFT:
        await translog.append(project.organization_id, record)


async def create(*, actor: User, code: str, data: ProjectCreate, cache: Cache) -> Project:
    """Create a project (draft) of the organization; staff only."""
    organization = await registry_service.get_organization(code=code)
    await require_staff_of(actor, organization.id)
    # Kept as the platform writes it (upper case): it is published and exported as the 备案编号, so
    # the bare credit code, a line break or a second project under one filing would mislead.
    filing = (data.filing_number or "").strip().upper() or None
    if filing is None and data.kind == ProjectKind.PUBLIC_CAMPAIGN:
        raise FilingNumberRequired()
    if filing is not None:
        code_length = len(organization.credit_code)
        if not filing.startswith(organization.credit_code):
            raise FilingNumberMismatch(details={"credit_code": organization.credit_code})
        if not FILING_SUFFIX.fullmatch(filing[code_length:]):
            raise FilingNumberInvalid(details={"credit_code": organization.credit_code})
        taken = await Project.filter(organization_id=organization.id, filing_number=filing).first()
        if taken is not None:
            raise FilingNumberTaken(details={"project_id": taken.id})
    if data.kind == ProjectKind.PUBLIC_CAMPAIGN and not await _has_fundraising_qualification(organization):
        raise NoFundraisingQualification()
    plan = data.plan.model_dump(mode="json")
    async with in_transaction():
        project = await Project.create(
            organization=organization,
            title=data.title.strip(),
            kind=data.kind,
            filing_number=filing,
            plan=plan,
            target_fen=data.target_fen,
            created_by_id=actor.id,
        )
        await totals.open_project(project.id)
        await audit_service.record(
            actor=actor,
            action="project.create",
            target=project,
            before=None,
            after={"title": project.title, "kind": project.kind, "filing_number": filing},
            reason="创建募捐项目",
        )
        await _on_project_changed(
            project, canonical.project_record_bytes(project, change="created", at=project.created_at)
        )
    await views.invalidate(cache=cache, project_id=project.id, credit_code=organization.credit_code)
    return project


async def change_status(*, actor: User, project_id: int, data: ProjectStatusChange, cache: Cache) -> Project:
    """Move a project forward (draft, fundraising, executing, closed); staff only, audited."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    before = project.status
    if data.status not in ALLOWED_STATUS[before]:
        raise BadStatusChange(details={"from": before, "to": data.status})
    today = registry_service.today()
    values: dict[str, Any] = {"status": data.status, "updated_at": datetime.now(UTC)}
    if data.status == ProjectStatus.FUNDRAISING:
        values["started_on"] = today
    if data.status == ProjectStatus.CLOSED:
        values["closed_on"] = today
    async with in_transaction():
        # Conditional on the status read: two staff moving it at once cannot both succeed.
        if not await Project.filter(id=project.id, status=before).update(**values):
            raise BadStatusChange(details={"from": before, "to": data.status})
        project = await Project.get(id=project.id)
        await audit_service.record(
            actor=actor,
            action="project.status",
            target=project,
            before={"status": before},
            after={"status": project.status},
            reason=data.reason,
        )
        await _on_project_changed(
            project, canonical.project_record_bytes(project, change="status", at=values["updated_at"])
        )
    await views.invalidate(
        cache=cache, project_id=project.id, credit_code=await views.credit_code_of(project.organization_id)
    )
    return project


async def _publish(update: ProgressUpdate, project: Project) -> bool:
    """Make a held update public and tell the donors (inside the caller's transaction).

    Conditional on the update still being held: of two admins deciding at once, one publishes.
    """
    now = datetime.now(UTC)
    if not await ProgressUpdate.filter(id=update.id, status=UpdateStatus.HELD).update(
        status=UpdateStatus.PUBLISHED, published_at=now
    ):
        return False
    update.status, update.published_at = UpdateStatus.PUBLISHED, now
    await events_service.record(
        kind=kinds.PROJECT_PROGRESS,
        payload={
            "project_id": project.id,
            "project_title": project.title,
            "summary": update.text[:200],
            "published_at": canonical.rfc3339(update.published_at),
        },
        # Donations arrive from payment platforms, not from users of the mini-program: nobody to
        # address yet. The event is still recorded, for the log and for subscribers added later.
        recipients=[],
        idempotency_key=f"project.progress:{update.id}",
    )
    await _on_project_changed(project, canonical.progress_bytes(update))
    return True


async def add_progress(
    *, actor: User, project_id: int, data: ProgressCreate, wechat: TextChecker, cache: Cache
) -> ProgressUpdate:
    """Post a progress update; WeChat's check decides: published, held for review, or refused (422)."""
    project = await get_or_raise(project_id)
    await require_staff_of(actor, project.organization_id)
    verdict = await check_content(wechat=wechat, openid=actor.openid, texts=[data.text])
    async with in_transaction():
        update = await ProgressUpdate.create(
            project=project,
            text=data.text,
            image_urls=data.image_urls,
            status=UpdateStatus.HELD,
            author_id=actor.id,
        )
        if verdict == Verdict.PASS:
            await _publish(update, project)
        await audit_service.record(
            actor=actor,
            action="project.progress",
            target=project,
            before=None,
            after={"update_id": update.id, "status": update.status},
            reason="发布项目进展",
        )
    await views.invalidate_project(cache=cache, project_id=project.id)
    return update


async def decide_progress(
    *, actor: User, update_id: int, approve: bool, reason: str, cache: Cache
) -> ProgressUpdate:
    """A platform admin publishes or rejects an update held for review."""
    require_platform_admin(actor)
    update = await ProgressUpdate.get_or_none(id=update_id)
    if update is None:
        raise UpdateNotFound(details={"update_id": update_id})
    async with in_transaction():
        project = await Project.get(id=update.project_id)
        if approve:
            decided = await _publish(update, project)
        else:
            decided = bool(
                await ProgressUpdate.filter(id=update.id, status=UpdateStatus.HELD).update(
                    status=UpdateStatus.REJECTED
                )
            )
            update.status = UpdateStatus.REJECTED
        if not decided:
            raise UpdateDecided()
        await audit_service.record(
            actor=actor,
            action="project.progress_decision",
            target=project,
            before={"update_id": update.id, "status": UpdateStatus.HELD},
            after={"update_id": update.id, "status": update.status},
            reason=reason,
        )
    await views.invalidate_project(cache=cache, project_id=update.project_id)
    return update
