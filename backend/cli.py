"""The ``gongxin`` console command: serve, worker, migrate, demo-data, grant, revoke, makemigrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
    from .cache import create_cache
    from .crypto import PersonalDataCipher
    from .db import apply_migrations
    from .registry import qr, reference, search_index

    settings = _settings()
    _ensure_sqlite_dir(settings)
    asyncio.run(apply_migrations(settings.database_url))

    async def work() -> None:
        regions, authorities = await reference.load()
        indexed = await search_index.index_missing()
        cache = create_cache(settings.redis_url)
        try:
            issued = await qr.issue_missing(cipher=PersonalDataCipher(settings.fernet_key), cache=cache)
        finally:
            await cache.close()
        print(
            f"migrations applied; reference data: {regions} regions, {authorities} authorities added; "
            f"{indexed} organizations added to the search index; "
            f"{issued} organizations given their first QR code"
        )

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
    from .cache import create_cache

    settings = _settings()

    async def work() -> None:
        cache = create_cache(settings.redis_url)
        try:
            for line in await demo.load(settings, cache):
                print(line)
        finally:
            await cache.close()

    asyncio.run(_with_db(settings, work))


def cmd_import_orgs(args: argparse.Namespace) -> None:
    """Import organizations from a CSV/XLSX export: a dry run with a report, or --apply (all or nothing)."""
    from .cache import create_cache
    from .crypto import PersonalDataCipher
    from .registry import importer, imports

    settings = _settings()

    async def work() -> None:
        parsed = importer.parse_file(args.file, allow_bad_check_digit=args.allow_bad_check_digit)
        cache = create_cache(settings.redis_url)
        cipher = PersonalDataCipher(settings.fernet_key)
        try:
            result = await imports.apply_import(
                parsed=parsed, actor=None, apply=args.apply, cipher=cipher, cache=cache
            )
        finally:
            await cache.close()
        print(f"file: {args.file} (encoding {parsed.encoding}, delimiter {parsed.delimiter!r})")
        if parsed.ignored_columns:
            print(f"ignored columns: {', '.join(parsed.ignored_columns)}")
        for error in result.errors:
            print(f"row {error.row_number}: {error.code} {error.field or ''} {error.message}")
        print(
            f"{result.rows} rows: {result.created} to create, {result.updated} to update, "
            f"{result.unchanged} unchanged, {len(result.errors)} errors"
        )
        if args.apply:
            print("applied" if result.applied else "NOT applied: fix the errors above (nothing was written)")
        else:
            print("dry run: nothing written (add --apply)")
        if result.errors:
            sys.exit(1)

    try:
        asyncio.run(_with_db(settings, work))
    except DomainError as exc:
        sys.exit(f"gongxin import-orgs: {exc.message}")


def cmd_credit_rules(args: argparse.Namespace) -> None:
    """Run the credit rules over every organization (the daily job): proposals for officers."""
    from .registry import credit
    from .registry.service import today

    settings = _settings()

    async def work() -> None:
        pending = await credit.evaluate_all(today=today())
        print(f"credit rules evaluated; {pending} proposals pending")

    asyncio.run(_with_db(settings, work))


def cmd_disclosure_scan(args: argparse.Namespace) -> None:
    """Find overdue Order 81 disclosure items (the daily job): reminders to staff, proposals for officers."""
    from .charity import calendar
    from .registry.service import today

    settings = _settings()

    async def work() -> None:
        overdue = await calendar.scan(today=today())
        print(f"disclosure calendar scanned; {overdue} items overdue")

    asyncio.run(_with_db(settings, work))


def cmd_log_key(args: argparse.Namespace) -> None:
    """Print the transparency logs' signing key, or --rotate it (checkpoints signed before still verify)."""
    from .crypto import PersonalDataCipher
    from .translog import keys

    settings = _settings()

    async def work() -> None:
        name, cipher = keys.log_name(settings.public_base_url), PersonalDataCipher(settings.fernet_key)
        record = await (keys.rotate if args.rotate else keys.active_key)(name=name, cipher=cipher)
        print(keys.vkey(record))

    asyncio.run(_with_db(settings, work))


def cmd_grant(args: argparse.Namespace) -> None:
    """Grant a role: admin, officer (--authority REGION) or staff (--org CREDIT_CODE [--role])."""
    _change_role(args, grant=True)


def cmd_revoke(args: argparse.Namespace) -> None:
    """Take a role away (admin, officer --authority REGION, staff --org CREDIT_CODE), or every session
    of the user (sessions); running servers refuse it on the next request."""
    _change_role(args, grant=False)


def _change_role(args: argparse.Namespace, *, grant: bool) -> None:
    from .accounts import service as accounts_service
    from .accounts.models import StaffRoleKind
    from .cache import create_cache

    settings = _settings()
    verb = "grant" if grant else "revoke"

    async def work() -> None:
        user = await accounts_service.get_or_create_user_by_ref(ref=args.user, appid=settings.wechat_appid)
        # The change is recorded in the database, which every server polls; with Redis, they also
        # drop the user's cached sessions at once.
        cache = create_cache(settings.redis_url) if settings.redis_url else None
        try:
            changed = await _apply(accounts_service, user, cache)
        finally:
            if cache is not None:
                await cache.close()
        if grant:
            print(f"granted {args.kind} to user {user.id} ({args.user})")
        elif changed:
            print(f"revoked {args.kind} of user {user.id} ({args.user})")
        else:
            print(f"user {user.id} ({args.user}) held no such role: nothing changed")

    async def _apply(service: Any, user: Any, cache: Any) -> Any:
        reason = args.reason or f"{verb}ed from the console"
        if args.kind == "sessions":
            count = await service.revoke_all_sessions(user=user, cache=cache, actor=None, reason=reason)
            print(f"{count} active sessions revoked")
            return True
        if args.kind == "admin":
            if grant:
                return await service.grant_admin(user=user, actor=None, reason=reason, cache=cache)
            return await service.revoke_admin(user=user, actor=None, reason=reason, cache=cache)
        if args.kind == "officer":
            if not args.authority:
                sys.exit(f"gongxin {verb} officer needs --authority REGION_CODE")
            authority = await service.get_authority(region_code=args.authority)
            if grant:
                return await service.grant_officer(
                    user=user, authority=authority, actor=None, reason=reason, cache=cache
                )
            return await service.revoke_officer(
                user=user, authority=authority, actor=None, reason=reason, cache=cache
            )
        if not args.org:
            sys.exit(f"gongxin {verb} staff needs --org CREDIT_CODE")
        organization = await service.get_organization(credit_code=args.org.strip().upper())
        if grant:
            return await service.grant_staff(
                user=user,
                organization=organization,
                role=StaffRoleKind(args.role),
                actor=None,
                reason=reason,
                cache=cache,
            )
        return await service.revoke_staff(
            user=user, organization=organization, actor=None, reason=reason, cache=cache
        )

    try:
        asyncio.run(_with_db(settings, work))
    except DomainError as exc:
        sys.exit(f"gongxin {verb}: {exc.message}")


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the HTTP server (and, in development, the local WeChat emulator)."""
    from . import serve

    settings = _settings()
    _ensure_sqlite_dir(settings)
    serve.run(settings, workers=args.workers)


def cmd_worker(args: argparse.Namespace) -> None:
    """Deliver notifications: the arq worker on REDIS_URL, or the embedded loop without Redis."""
    # The composition root may reach every package: the domain itself never imports notifications.
    from notifications import worker

    worker.main(_settings())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongxin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)
    mk = sub.add_parser("makemigrations", help=cmd_makemigrations.__doc__)
    mk.add_argument("--name", default=None)
    mk.set_defaults(func=cmd_makemigrations)
    sub.add_parser("demo-data", help=cmd_demo_data.__doc__).set_defaults(func=cmd_demo_data)
    imp = sub.add_parser("import-orgs", help=cmd_import_orgs.__doc__)
    imp.add_argument("file")
    imp.add_argument("--apply", action="store_true", help="write (all rows or none)")
    imp.add_argument("--allow-bad-check-digit", action="store_true", help="accept early-pilot codes")
    imp.set_defaults(func=cmd_import_orgs)
    sub.add_parser("credit-rules", help=cmd_credit_rules.__doc__).set_defaults(func=cmd_credit_rules)
    sub.add_parser("disclosure-scan", help=cmd_disclosure_scan.__doc__).set_defaults(func=cmd_disclosure_scan)

    log_key = sub.add_parser("log-key", help=cmd_log_key.__doc__)
    log_key.add_argument("--rotate", action="store_true", help="make a new key; the old one stays published")
    log_key.set_defaults(func=cmd_log_key)

    grant = sub.add_parser("grant", help=cmd_grant.__doc__)
    grant.add_argument("kind", choices=["admin", "officer", "staff"])
    grant.add_argument("--user", required=True, help="dev-<name>, an openid, or a numeric user id")
    grant.add_argument("--authority", help="region code of the authority (officer)")
    grant.add_argument("--org", help="unified social credit code of the organization (staff)")
    grant.add_argument("--role", choices=["owner", "admin"], default="admin", help="staff role")
    grant.add_argument("--reason", default="")
    grant.set_defaults(func=cmd_grant)

    revoke = sub.add_parser("revoke", help=cmd_revoke.__doc__)
    revoke.add_argument("kind", choices=["admin", "officer", "staff", "sessions"])
    revoke.add_argument("--user", required=True, help="dev-<name>, an openid, or a numeric user id")
    revoke.add_argument("--authority", help="region code of the authority (officer)")
    revoke.add_argument("--org", help="unified social credit code of the organization (staff)")
    revoke.add_argument("--reason", default="")
    revoke.set_defaults(func=cmd_revoke)

    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    serve.add_argument("--workers", type=int, default=None, help="server processes (default: WORKERS)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help=cmd_worker.__doc__).set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
