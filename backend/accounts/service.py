"""Login, sessions, phone binding and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from tortoise import connections
from tortoise.transactions import in_transaction

from .. import db
from ..audit import service as audit_service
from ..cache import Cache
from ..crypto import PersonalDataCipher, mask_phone
from ..errors import NotFound, Unprocessable
from ..registry.models import Authority, Organization
from ..registry.regions import parse_region
from . import session_cache, tokens
from .models import AuthSession, OfficerRole, StaffRole, StaffRoleKind, User
from .permissions import require_platform_admin

if TYPE_CHECKING:
    from .schemas import RoleGrantCreate, RoleRevocationCreate


class WeChatLogin(Protocol):
    """What login needs from WeChat (backend.wechat.client.WeChatService provides it)."""

    async def code_to_session(self, code: str): ...  # returns an object with .openid and .unionid

    async def get_phone_number(self, code: str): ...  # returns an object with .pure_phone_number


class SessionRevoked(tokens.TokenInvalid):
    code = "auth.session_revoked"
    message = "登录已失效，请重新登录 / This session has been revoked; log in again"


class UserNotFound(NotFound):
    code = "user.not_found"
    message = "用户不存在 / No such user"


class AuthorityNotFound(NotFound):
    code = "authority.not_found"
    message = "登记管理机关不存在 / No such registration authority"


class OrganizationNotFound(NotFound):
    code = "organization.not_found"
    message = "社会组织不存在 / No such organization"


class GrantTargetMissing(Unprocessable):
    code = "role.target_missing"
    message = (
        "授予官员角色需指定登记管理机关，授予组织角色需指定统一社会信用代码 / "
        "An officer grant needs an authority, a staff grant an organization"
    )


@dataclass(frozen=True)
class LoginResult:
    user: User
    token: str
    expires_at: datetime
    created: bool


# Every login reads its user by openid and inserts a session, as plain statements: Tortoise's query
# building (filters resolved, SQL built by pypika, the insert's generic field loop) cost about 0.2 ms
# of CPU a login, a third of our part of it (bench/README.md "What limits login"). The user's row is
# made into a User as the ORM makes it (``_init_from_db``), the columns are the model's (a field
# added to User is read here too), and the session's values are converted by its fields.
_USER_COLUMNS = ", ".join(User._meta.db_fields)
_USER_BY_OPENID = f"SELECT {_USER_COLUMNS} FROM {User._meta.db_table} WHERE openid = "  # noqa: S608 - no input
_INSERT_SESSION = f"INSERT INTO {AuthSession._meta.db_table} (id, user_id, created_at, expires_at) VALUES "  # noqa: S608


def _placeholders(count: int) -> str:
    postgres = db.dialect() == "postgres"
    return ", ".join(f"${i + 1}" if postgres else "?" for i in range(count))


async def _user_by_openid(openid: str) -> User | None:
    rows = await connections.get("default").execute_query_dict(_USER_BY_OPENID + _placeholders(1), [openid])
    return User._init_from_db(**rows[0]) if rows else None


async def _create_session(user: User, *, now: datetime, ttl: timedelta) -> AuthSession:
    """``AuthSession.create`` for a new login, in one plain INSERT."""
    session = AuthSession(id=tokens.new_session_id(), user_id=user.id, created_at=now, expires_at=now + ttl)
    fields = AuthSession._meta.fields_map
    values = [
        session.id,
        user.id,
        fields["created_at"].to_db_value(now, AuthSession),
        fields["expires_at"].to_db_value(session.expires_at, AuthSession),
    ]
    await connections.get("default").execute_query(f"{_INSERT_SESSION}({_placeholders(4)})", values)
    session._saved_in_db = True  # as Model.save leaves it: saving it again would UPDATE, not INSERT
    return session


async def get_or_create_user(*, openid: str, unionid: str | None = None) -> tuple[User, bool]:
    """Find the user with this openid or create them; safe when two logins race."""
    user = await _user_by_openid(openid)
    if user is not None:
        return user, False
    # INSERT ... ON CONFLICT DO NOTHING: a concurrent first login cannot fail or duplicate.
    await User.bulk_create([User(openid=openid, unionid=unionid)], ignore_conflicts=True)
    return await User.get(openid=openid), True


async def get_or_create_user_by_ref(*, ref: str, appid: str) -> User:
    """A user named on the console: a numeric id, ``dev-<name>`` (the emulator's user) or an openid."""
    if ref.isdigit():
        user = await User.get_or_none(id=int(ref))
        if user is None:
            raise UserNotFound(details={"user_id": ref})
        return user
    if ref.startswith("dev-"):
        from ..wechat.emulator import openid_for  # development users exist only with the emulator

        ref = openid_for(appid, ref.removeprefix("dev-"))
    user, _ = await get_or_create_user(openid=ref)
    return user


async def login(
    *, code: str, wechat: WeChatLogin, secret: str, ttl: timedelta, cache: Cache | None = None
) -> LoginResult:
    """Exchange a wx.login code for a user and a signed bearer token."""
    session_info = await wechat.code_to_session(code)
    learned = session_cache.versions.learned
    user, created = await get_or_create_user(openid=session_info.openid, unionid=session_info.unionid)
    now = datetime.now(UTC)
    session = await _create_session(user, now=now, ttl=ttl)
    token = tokens.issue(secret=secret, user_id=user.id, session_id=session.id, ttl=ttl, now=now)
    if cache is not None:
        # The mini-program logs in when it opens, usually right before the request it opened for (a
        # check-in scan): put the session in the cache now, from the rows just read and written.
        # The generation and version are read after the user was: a change to the user committed
        # in between makes the entry stale at once (Redis) or within half a second (its version);
        # one this process already learned of meanwhile keeps the entry out.
        found = await session_cache.lookup(cache, user_id=user.id, session_id=session.id)
        if session_cache.versions.learned == learned:
            await session_cache.store(cache, found=found, session=session, user=user)
    return LoginResult(user=user, token=token, expires_at=session.expires_at, created=created)


async def authenticate(*, token: str, secret: str, cache: Cache | None = None) -> tuple[User, str]:
    """The user and session id behind a bearer token; raises Unauthorized subclasses."""
    claims = tokens.decode(secret=secret, token=token)
    found: session_cache.Found | None = None
    if cache is not None:
        found = await session_cache.lookup(cache, user_id=claims.user_id, session_id=claims.session_id)
        entry = found.entry
        if entry is not None:
            # The entry is keyed by the session alone: its user must be the token's subject, as below.
            if entry["user"]["id"] != claims.user_id:
                raise tokens.TokenInvalid()
            if entry["revoked"]:
                raise SessionRevoked()
            if session_cache.expires_at(entry) <= datetime.now(UTC):
                raise tokens.TokenExpired()
            return session_cache.user_from(entry), claims.session_id
    if cache is not None and found is not None and found.gen is None:
        async with cache.fallback():  # Redis is away: every request reads the database, bounded
            session = await AuthSession.get_or_none(id=claims.session_id).select_related("user")
    else:
        session = await AuthSession.get_or_none(id=claims.session_id).select_related("user")
    if session is None or session.user_id != claims.user_id:
        raise tokens.TokenInvalid()
    if cache is not None and found is not None:
        await session_cache.store(cache, found=found, session=session, user=session.user)
    if session.revoked_at is not None:
        raise SessionRevoked()
    if session.expires_at <= datetime.now(UTC):
        raise tokens.TokenExpired()
    return session.user, session.id


async def revoke_session(*, session_id: str, user_id: int, cache: Cache | None) -> None:
    """Revoke one session: its token stops working in every process at once."""
    async with in_transaction():
        await AuthSession.filter(id=session_id, revoked_at__isnull=True).update(revoked_at=datetime.now(UTC))
        await session_cache.record_change(user_id)
    await session_cache.forget_user(cache, user_id)


async def revoke_all_sessions(
    *, user: User, cache: Cache | None, actor: User | None = None, reason: str = ""
) -> int:
    """Revoke every session of a user (lost phone, a removed officer, account deletion); audited.
    By a platform admin, or the console (``actor`` None)."""
    if actor is not None:
        require_platform_admin(actor)
    async with in_transaction():
        count = await AuthSession.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=datetime.now(UTC)
        )
        await audit_service.record(
            actor=actor,
            action="sessions.revoke_all",
            target=user,
            before={"active_sessions": count},
            after={"active_sessions": 0},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return count


async def bind_phone(
    *, user: User, code: str, wechat: WeChatLogin, cipher: PersonalDataCipher, cache: Cache | None
) -> User:
    """Store the phone number behind a getPhoneNumber code, encrypted, and keep a masked copy."""
    info = await wechat.get_phone_number(code)
    phone = info.pure_phone_number
    user.phone_encrypted = cipher.encrypt(phone)
    user.phone_hash = cipher.lookup_hash(phone)
    user.phone_masked = mask_phone(phone)
    async with in_transaction():
        await user.save(update_fields=["phone_encrypted", "phone_hash", "phone_masked", "updated_at"])
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return user


async def unbind_phone(*, user: User, cache: Cache | None) -> User:
    """Forget the user's phone number (PIPL: a user may delete their data)."""
    user.phone_encrypted = None
    user.phone_hash = None
    user.phone_masked = None
    async with in_transaction():
        await user.save(update_fields=["phone_encrypted", "phone_hash", "phone_masked", "updated_at"])
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return user


@dataclass(frozen=True)
class Roles:
    platform_admin: bool
    staff: list[dict[str, str]]
    officer: list[dict[str, str]]


async def get_roles(*, user: User) -> Roles:
    """Every role the user holds. Every logged-in user is also a member."""
    staff = await StaffRole.filter(user=user).select_related("organization").order_by("id")
    officer = await OfficerRole.filter(user=user).select_related("authority").order_by("id")
    return Roles(
        platform_admin=user.is_platform_admin,
        staff=[
            {"credit_code": r.organization.credit_code, "organization": r.organization.name, "role": r.role}
            for r in staff
        ],
        officer=[
            {
                "region_code": r.authority.region_code,
                "authority": r.authority.name,
                "level": r.authority.level,
            }
            for r in officer
        ],
    )


async def get_me(*, user: User, cache: Cache | None) -> bytes:
    """The signed-in user with their roles, as the JSON body of ``GET /me`` (cached per user)."""
    from .schemas import MeRead

    async def build() -> tuple[bytes, list[str]]:
        fresh = await User.get(id=user.id)
        roles = await get_roles(user=fresh)
        return MeRead.of(fresh, roles).model_dump_json().encode(), [r["credit_code"] for r in roles.staff]

    return await session_cache.me_view(cache, user_id=user.id, build=build)


async def grant_admin(
    *, user: User, actor: User | None, reason: str = "", cache: Cache | None = None
) -> None:
    """Make a user a platform admin."""
    await _set_admin(user=user, admin=True, actor=actor, reason=reason, cache=cache)


async def revoke_admin(
    *, user: User, actor: User | None, reason: str = "", cache: Cache | None = None
) -> bool:
    """Take the platform-admin role away; False when the user was not one. Holds on the next request."""
    return await _set_admin(user=user, admin=False, actor=actor, reason=reason, cache=cache)


async def _set_admin(
    *, user: User, admin: bool, actor: User | None, reason: str, cache: Cache | None
) -> bool:
    async with in_transaction():
        before = await User.filter(id=user.id).select_for_update().values_list("is_platform_admin", flat=True)
        if not before or bool(before[0]) == admin:
            user.is_platform_admin = admin
            return False
        user.is_platform_admin = admin
        await user.save(update_fields=["is_platform_admin", "updated_at"])
        await audit_service.record(
            actor=actor,
            action="grant.admin" if admin else "revoke.admin",
            target=user,
            before={"is_platform_admin": not admin},
            after={"is_platform_admin": admin},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return True


async def grant_officer(
    *, user: User, authority: Authority, actor: User | None, reason: str = "", cache: Cache | None = None
) -> None:
    """Make a user an officer of a registration authority (a repeated grant changes nothing)."""
    async with in_transaction():
        if await OfficerRole.filter(user=user, authority=authority).exists():
            return
        await OfficerRole.bulk_create([OfficerRole(user=user, authority=authority)], ignore_conflicts=True)
        await audit_service.record(
            actor=actor,
            action="grant.officer",
            target=user,
            before=None,
            after={"authority": authority.region_code},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)


async def revoke_officer(
    *, user: User, authority: Authority, actor: User | None, reason: str = "", cache: Cache | None = None
) -> bool:
    """Take away a user's officer role at one authority; False when they did not hold it."""
    async with in_transaction():
        deleted = await OfficerRole.filter(user=user, authority=authority).delete()
        if not deleted:
            return False
        await audit_service.record(
            actor=actor,
            action="revoke.officer",
            target=user,
            before={"authority": authority.region_code, "officer": True},
            after={"authority": authority.region_code, "officer": False},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return True


async def grant_staff(
    *,
    user: User,
    organization: Organization,
    role: StaffRoleKind,
    actor: User | None,
    reason: str = "",
    cache: Cache | None = None,
) -> None:
    """Make a user owner or admin of an organization; a second grant changes the role."""
    async with in_transaction():
        existing = await StaffRole.get_or_none(user=user, organization=organization)
        if existing is not None and existing.role == role:
            return
        before = {"organization": organization.credit_code, "role": existing.role} if existing else None
        if existing is None:
            await StaffRole.bulk_create(
                [StaffRole(user=user, organization=organization, role=role)], ignore_conflicts=True
            )
        else:
            existing.role = role
            await existing.save(update_fields=["role"])
        await audit_service.record(
            actor=actor,
            action="grant.staff",
            target=user,
            before=before,
            after={"organization": organization.credit_code, "role": role},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)


async def revoke_staff(
    *,
    user: User,
    organization: Organization,
    actor: User | None,
    reason: str = "",
    cache: Cache | None = None,
) -> bool:
    """Take away a user's owner or admin role in an organization; False when they held none."""
    async with in_transaction():
        existing = await StaffRole.get_or_none(user=user, organization=organization)
        if existing is None:
            return False
        await StaffRole.filter(id=existing.id).delete()
        await audit_service.record(
            actor=actor,
            action="revoke.staff",
            target=user,
            before={"organization": organization.credit_code, "role": existing.role},
            after={"organization": organization.credit_code, "role": None},
            reason=reason,
        )
        await session_cache.record_change(user.id)
    await session_cache.forget_user(cache, user.id)
    return True


async def get_authority(*, region_code: str) -> Authority:
    """The authority of a region code (422 ``region.invalid`` for a malformed one)."""
    authority = await Authority.get_or_none(region_code=parse_region(region_code))
    if authority is None:
        raise AuthorityNotFound(details={"region_code": region_code})
    return authority


async def get_organization(*, credit_code: str) -> Organization:
    organization = await Organization.get_or_none(credit_code=credit_code)
    if organization is None:
        raise OrganizationNotFound(details={"credit_code": credit_code})
    return organization


async def grant_role(*, actor: User | None, grant: RoleGrantCreate, cache: Cache | None = None) -> User:
    """Grant one role described by a RoleGrantCreate (platform admins; None: the console)."""
    if actor is not None:
        require_platform_admin(actor)
    user = await get_user(user_id=grant.user_id)
    if grant.kind == "admin":
        await grant_admin(user=user, actor=actor, reason=grant.reason, cache=cache)
    elif grant.kind == "officer":
        if not grant.authority_region_code:
            raise GrantTargetMissing()
        authority = await get_authority(region_code=grant.authority_region_code)
        await grant_officer(user=user, authority=authority, actor=actor, reason=grant.reason, cache=cache)
    else:
        if not grant.credit_code:
            raise GrantTargetMissing()
        organization = await get_organization(credit_code=grant.credit_code)
        await grant_staff(
            user=user,
            organization=organization,
            role=grant.staff_role,
            actor=actor,
            reason=grant.reason,
            cache=cache,
        )
    return await User.get(id=user.id)


async def revoke_role(
    *, actor: User | None, revocation: RoleRevocationCreate, cache: Cache | None = None
) -> User:
    """Take away one role described by a RoleRevocationCreate (platform admins; None: the console)."""
    if actor is not None:
        require_platform_admin(actor)
    user = await get_user(user_id=revocation.user_id)
    if revocation.kind == "admin":
        await revoke_admin(user=user, actor=actor, reason=revocation.reason, cache=cache)
    elif revocation.kind == "officer":
        if not revocation.authority_region_code:
            raise GrantTargetMissing()
        authority = await get_authority(region_code=revocation.authority_region_code)
        await revoke_officer(
            user=user, authority=authority, actor=actor, reason=revocation.reason, cache=cache
        )
    else:
        if not revocation.credit_code:
            raise GrantTargetMissing()
        organization = await get_organization(credit_code=revocation.credit_code)
        await revoke_staff(
            user=user, organization=organization, actor=actor, reason=revocation.reason, cache=cache
        )
    return await User.get(id=user.id)


async def get_user(*, user_id: int) -> User:
    """A user by id, or 404 ``user.not_found``."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise UserNotFound(details={"user_id": user_id})
    return user
