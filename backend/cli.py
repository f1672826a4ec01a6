"""The ``gongxin`` console command: serve, migrate, demo-data, grant, makemigrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from .config import Settings, load_settings
from .errors import DomainError

log = logging.getLogger("gongxin.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        # The production guard says what is wrong in one line; print that, not a traceback.
        messages = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in exc.errors())
        sys.exit(f"gongxin: configuration error: {messages}")


def _ensure_sqlite_dir(settings: Settings) -> None:
    if settings.uses_sqlite and ":memory:" not in settings.database_url:
        path = settings.database_url.removeprefix("sqlite://").split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def _with_db(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    from .db import close_db, init_db

    await init_db(settings.database_url)
    try:
        await work()
    finally:
        await close_db()


def cmd_migrate(args: argparse.Namespace) -> None:
    """Apply the migrations to DATABASE_URL."""
    from .db import apply_migrations
    from .registry import reference

    settings = _settings()
    _ensure_sqlite_dir(settings)
    asyncio.run(apply_migrations(settings.database_url))

    async def work() -> None:
        regions, authorities = await reference.load()
        print(f"migrations applied; reference data: {regions} regions, {authorities} authorities added")

    asyncio.run(_with_db(settings, work))


def cmd_makemigrations(args: argparse.Namespace) -> None:
    """Write a new migration from model changes (wraps Tortoise's own command)."""
    from tortoise.cli.cli import main as tortoise_main

    argv = ["-c", "backend.db.TORTOISE_ORM", "makemigrations"]
    if args.name:
        argv += ["--name", args.name]
    sys.argv = ["tortoise", *argv]
    tortoise_main()


def cmd_demo_data(args: argparse.Namespace) -> None:
    """Load the demo data (idempotent: a second run changes nothing)."""
    from . import demo

    settings = _settings()

    async def work() -> None:
        summary = await demo.load(settings)
        for line in summary:
            print(line)

    asyncio.run(_with_db(settings, work))


def cmd_grant(args: argparse.Namespace) -> None:
    """Grant a role: admin, officer (--authority REGION) or staff (--org CREDIT_CODE [--role])."""
    from .accounts import service as accounts_service
    from .accounts.models import StaffRoleKind

    settings = _settings()

    async def work() -> None:
        user = await accounts_service.get_or_create_user_by_ref(ref=args.user, appid=settings.wechat_appid)
        if args.kind == "admin":
            await accounts_service.grant_admin(user=user, actor=None, reason=args.reason)
        elif args.kind == "officer":
            if not args.authority:
                sys.exit("gongxin grant officer needs --authority REGION_CODE")
            authority = await accounts_service.get_authority(region_code=args.authority)
            await accounts_service.grant_officer(
                user=user, authority=authority, actor=None, reason=args.reason
            )
        else:
            if not args.org:
                sys.exit("gongxin grant staff needs --org CREDIT_CODE")
            organization = await accounts_service.get_organization(credit_code=args.org.strip().upper())
            await accounts_service.grant_staff(
                user=user,
                organization=organization,
                role=StaffRoleKind(args.role),
                actor=None,
                reason=args.reason,
            )
        print(f"granted {args.kind} to user {user.id} ({args.user})")

    try:
        asyncio.run(_with_db(settings, work))
    except DomainError as exc:
        sys.exit(f"gongxin grant: {exc.message}")


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the HTTP server (and, in development, the local WeChat emulator)."""
    from . import serve

    settings = _settings()
    _ensure_sqlite_dir(settings)
    serve.run(settings, workers=args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongxin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)
    mk = sub.add_parser("makemigrations", help=cmd_makemigrations.__doc__)
    mk.add_argument("--name", default=None)
    mk.set_defaults(func=cmd_makemigrations)
    sub.add_parser("demo-data", help=cmd_demo_data.__doc__).set_defaults(func=cmd_demo_data)

    grant = sub.add_parser("grant", help=cmd_grant.__doc__)
    grant.add_argument("kind", choices=["admin", "officer", "staff"])
    grant.add_argument("--user", required=True, help="dev-<name>, an openid, or a numeric user id")
    grant.add_argument("--authority", help="region code of the authority (officer)")
    grant.add_argument("--org", help="unified social credit code of the organization (staff)")
    grant.add_argument("--role", choices=["owner", "admin"], default="admin", help="staff role")
    grant.add_argument("--reason", default="granted from the console")
    grant.set_defaults(func=cmd_grant)

    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    serve.add_argument("--workers", type=int, default=None, help="server processes (default: WORKERS)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
