"""The `syndic` command: serve, worker, migrate, users, keys.

Errors end here in one place: one line on stderr and exit code 1 (the
traceback only with `-v`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from syndic import clock, config, errors, logs, plans
from syndic.db import migrate
from syndic.db.engine import Database
from syndic.db.repo import audit, users

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except errors.SyndicError as exc:
        if args.verbose:
            raise
        print(f"syndic: {exc.message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndic", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the API and the scheduler")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=int(os.environ.get("SYNDIC_PORT", "8000"))
    )
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="local secrets, SQLite, platform emulators",
    )
    serve.add_argument("--no-scheduler", action="store_true", help="serve the API only")
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        metavar="IPS",
        help="proxies (comma-separated) whose X-Forwarded-For names the client",
    )
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker", help="run the scheduler only, beside the API"
    )
    worker.set_defaults(handler=_worker)

    migrate_ = commands.add_parser(
        "migrate", help="bring the database schema up to date"
    )
    migrate_.set_defaults(handler=_migrate)

    emulators = commands.add_parser(
        "emulators",
        help="serve the platform emulators alone, to stand in for the real APIs",
    )
    emulators.add_argument("--host", default="127.0.0.1")
    emulators.add_argument("--port", type=int, default=8100)
    emulators.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="never answer 429 for rate (load tests)",
    )
    emulators.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each answer"
    )
    emulators.add_argument(
        "--record",
        type=int,
        default=10_000,
        help="requests kept for /_sandbox/requests",
    )
    emulators.set_defaults(handler=_emulators)

    user_cmd = commands.add_parser("users", help="manage users").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = user_cmd.add_parser("create", help="create a user and print it as JSON")
    create.add_argument("--email", required=True)
    create.add_argument("--tier", choices=[t.value for t in plans.Tier], default="free")
    create.add_argument("--admin", action="store_true")
    create.set_defaults(handler=_users_create)

    key_cmd = commands.add_parser("keys", help="manage API keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    key_create = key_cmd.add_parser(
        "create", help="issue a key and print it (shown only this once)"
    )
    key_create.add_argument("--user", required=True, help="user id")
    key_create.add_argument("--name", default="")
    key_create.set_defaults(handler=_keys_create)
    return parser


def _settings(*, sandbox: bool = False) -> config.Settings:
    settings = config.load(sandbox=sandbox)
    logs.configure(settings.log_level, settings.log_format)
    return settings


@contextlib.contextmanager
def single_process_lock(settings: config.Settings) -> Iterator[None]:
    """On SQLite, refuse a second long-running syndic process on the same file."""
    if not settings.is_sqlite:
        yield
        return
    path = Path(settings.database_url.split("///", 1)[1] + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise errors.SingleProcessOnly(
            f"another syndic process is already using {path.with_suffix('')}; SQLite "
            "supports one serve or worker process: use PostgreSQL "
            "(SYNDIC_DATABASE_URL=postgresql://...) to run several"
        ) from None
    try:
        yield
    finally:
        handle.close()


def _private_sqlite_file(settings: config.Settings) -> None:
    """Create a new SQLite file readable by its owner only (it holds emails,
    posts and sealed credentials); SQLite gives its journal files the same mode."""
    if not settings.is_sqlite:
        return
    path = Path(settings.database_url.split("///", 1)[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def _prepare_schema(settings: config.Settings, *, apply: bool) -> None:
    db = Database(settings.database_url)
    try:
        if apply:
            await migrate.upgrade(db)
        elif not await migrate.is_current(db):
            raise errors.ConfigurationError(
                "the database schema is not up to date; run `syndic migrate`"
            )
    finally:
        await db.dispose()


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from syndic import runtime
    from syndic.api.app import create_app
    from syndic.platforms.emulators.recorder import Recorder

    settings = _settings(sandbox=args.sandbox)
    if settings.sandbox:
        _private_sqlite_file(settings)
    with single_process_lock(settings):
        asyncio.run(_prepare_schema(settings, apply=settings.sandbox))
        emulator_root = (
            f"http://{args.host}:{args.port}/_emulators" if settings.sandbox else None
        )
        rt = runtime.build(settings, emulator_root=emulator_root)
        if settings.sandbox:
            rt.recorder = Recorder()
        app = create_app(rt, run_scheduler=not args.no_scheduler)
        log.info(
            "server_starting",
            extra={
                "host": args.host,
                "port": args.port,
                "sandbox": settings.sandbox,
                "database": rt.db.dialect,
            },
        )
        runtime.freeze_startup_heap()
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=args.host,
                port=args.port,
                log_config=None,
                proxy_headers=args.forwarded_allow_ips is not None,
                forwarded_allow_ips=args.forwarded_allow_ips,
            )
        )
        server.run()


def _worker(args: argparse.Namespace) -> None:
    settings = _settings()
    with single_process_lock(settings):
        asyncio.run(_prepare_schema(settings, apply=False))
        asyncio.run(_run_worker(settings))


async def _run_worker(settings: config.Settings) -> None:
    from syndic import runtime
    from syndic.scheduler.loop import Scheduler
    from syndic.scheduler.maintenance import Maintenance
    from syndic.services.keys import LastUsed

    rt = runtime.build(settings)
    rt.last_used = LastUsed(rt.db)
    rt.scheduler = Scheduler(rt)
    runtime.freeze_startup_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    maintenance = Maintenance(rt)
    await rt.scheduler.start()
    await maintenance.start()
    log.info("worker_started", extra={"owner": rt.scheduler.owner})
    await stop.wait()
    await maintenance.stop()
    await rt.scheduler.stop()
    await rt.close()


def _emulators(args: argparse.Namespace) -> None:
    import uvicorn

    from syndic.platforms.emulators.recorder import Recorder
    from syndic.platforms.emulators.standalone import create_standalone

    logs.configure(
        os.environ.get("SYNDIC_LOG_LEVEL", "INFO"),
        os.environ.get("SYNDIC_LOG_FORMAT", "json"),
    )
    app = create_standalone(
        Recorder(args.record),
        strict_rate_limits=not args.no_rate_limits,
        latency=args.latency,
    )
    log.info("emulators_starting", extra={"host": args.host, "port": args.port})
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)


def _migrate(args: argparse.Namespace) -> None:
    settings = _settings()
    _private_sqlite_file(settings)
    asyncio.run(_prepare_schema(settings, apply=True))
    print("schema up to date", file=sys.stderr)


def _users_create(args: argparse.Namespace) -> None:
    settings = _settings()

    async def create() -> dict[str, Any]:
        db = Database(settings.database_url)
        try:
            now = clock.now()
            async with db.transaction() as session:
                user = await users.create(
                    session,
                    email=args.email,
                    tier=args.tier,
                    is_admin=args.admin,
                    now=now,
                )
                await audit.record(
                    session,
                    actor="cli",
                    action="user_created",
                    now=now,
                    user_id=user.id,
                    tier=user.tier,
                    admin=user.is_admin,
                )
        finally:
            await db.dispose()
        return {
            "id": user.id,
            "email": user.email,
            "tier": user.tier,
            "admin": user.is_admin,
            "referral_code": user.referral_code,
            "created_at": user.created_at.isoformat(),
        }

    print(json.dumps(asyncio.run(create())))


def _keys_create(args: argparse.Namespace) -> None:
    from syndic.services import keys

    settings = _settings()

    async def create() -> str:
        db = Database(settings.database_url)
        try:
            secret = settings.api_token_secret.get_secret_value()
            plaintext, _ = await keys.issue(
                db, secret, args.user, name=args.name, actor="cli"
            )
        finally:
            await db.dispose()
        return plaintext

    print(asyncio.run(create()))
