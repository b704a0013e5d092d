"""`okr-service` (also `python -m service`): serve, migrate, create-org, export-contracts."""

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from service.kit.settings import get_settings
from service.kit.startup import DatabaseUnreachable, resolve_database_url, wait_for_database

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schema" / "schema.graphql"
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
README_PATH = ROOT / "README.md"
SETTINGS_START = "<!-- settings:start"
SETTINGS_END = "<!-- settings:end -->"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="okr-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (migrates first)")
    serve.add_argument("--demo", action="store_true", help="load a demo organisation")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("worker", help="deliver webhooks and sweep health (any number)")
    create_org = commands.add_parser("create-org", help="create an organization and admin key")
    create_org.add_argument("name")
    commands.add_parser("export-contracts", help="write schema/ and openapi/")
    args = parser.parse_args(argv)
    # A command that cannot start says why in one line (and exits 1), not in a traceback.
    try:
        log_level = get_settings().log_level
    except ValidationError as error:
        sys.exit(f"okr-service: invalid configuration: {settings_problems(error)}")
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        run_command(args)
    except DatabaseUnreachable as error:
        sys.exit(f"okr-service: {error}")


def settings_problems(error: ValidationError) -> str:
    """The problems of the settings, without their values (a URL holds a password)."""
    return "; ".join(
        f"OKR_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    )


def run_command(args: argparse.Namespace) -> None:
    if args.command == "serve":
        serve_api(args.host, args.port, demo=args.demo, workers=args.workers)
    elif args.command == "migrate":
        asyncio.run(with_database(migrate))
        print("Database is up to date.")
    elif args.command == "create-org":
        print(
            json.dumps(asyncio.run(with_database(lambda url: create_org_with_key(url, args.name))))
        )
    elif args.command == "export-contracts":
        export_contracts()
    elif args.command == "worker":
        run_webhook_worker()


async def with_database(action: Callable[[str], Awaitable[T]]) -> T:
    """Resolve the database (embedded if unset), migrate it, then run `action` on it."""
    url = resolve_database_url(get_settings())
    await migrate(url)
    return await action(url)


async def migrate(url: str) -> None:
    """Wait for the database to answer (it may be starting with us), then migrate it."""
    settings = get_settings()
    await wait_for_database(url, settings.database_connect_timeout_seconds)
    # Imported once the database answers: importing Alembic logs its plugins.
    from service.kit.db import create_engine
    from service.kit.migrate import upgrade_to_head

    engine = create_engine(url, settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def create_org_with_key(url: str, name: str) -> dict[str, str]:
    from service.kit.db import create_engine, create_sessionmaker, transaction
    from service.kit.ids import global_id
    from service.organizations.service import create_organization

    engine = create_engine(url, get_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            organization, secret = await create_organization(db, name)
        return {"organizationId": global_id("Organization", organization.id), "apiKey": secret}
    finally:
        await engine.dispose()


async def load_demo_data(url: str) -> str:
    from service.demo import load_demo
    from service.kit.db import create_engine, create_sessionmaker, transaction

    engine = create_engine(url, get_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            return await load_demo(db)
    finally:
        await engine.dispose()


def serve_api(host: str, port: int, *, demo: bool, workers: int) -> None:
    import os

    import uvicorn

    url = resolve_database_url(get_settings())
    asyncio.run(migrate(url))
    if demo:
        key = asyncio.run(load_demo_data(url))
        print(
            f"\nDemo organisation ready. Admin API key:\n\n    {key}\n\n"
            f"GraphiQL: http://{host}:{port}/graphql  (header Authorization: Bearer {key})\n",
            flush=True,
        )
    # Workers started by uvicorn import the app afresh; they find the database here.
    os.environ["OKR_DATABASE_URL"] = url
    get_settings.cache_clear()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=get_settings().log_level.lower(),
        proxy_headers=True,
    )


def run_webhook_worker() -> None:
    """Deliver webhooks and sweep health until SIGINT or SIGTERM (the database must be
    migrated already)."""
    import signal

    from service.cycles.sweep import HealthSweeper
    from service.kit.clock import Clock
    from service.kit.db import create_engine, create_sessionmaker
    from service.webhooks.worker import run_until_stopped

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        settings = get_settings()
        url = resolve_database_url(settings)
        await wait_for_database(url, settings.database_connect_timeout_seconds)
        engine = create_engine(url, settings)
        sweeper = HealthSweeper(
            create_sessionmaker(engine), Clock(), settings.health_sweep_interval_seconds
        )
        await sweeper.start()
        try:
            await run_until_stopped(url, settings, stop)
        finally:
            await sweeper.stop()
            await engine.dispose()

    asyncio.run(run())


def export_contracts() -> None:
    from service.app import create_app
    from service.graphql.schema import schema

    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(schema.as_str() + "\n")
    OPENAPI_PATH.parent.mkdir(exist_ok=True)
    OPENAPI_PATH.write_text(json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n")
    README_PATH.write_text(with_settings_table(README_PATH.read_text()))
    print(
        f"Wrote {SCHEMA_PATH.relative_to(ROOT)}, {OPENAPI_PATH.relative_to(ROOT)} and the "
        f"configuration table of {README_PATH.relative_to(ROOT)}"
    )


def with_settings_table(readme: str) -> str:
    """`readme` with its generated configuration table replaced by the current one."""
    from service.kit.settings import markdown_table

    head, rest = readme.split(SETTINGS_START, 1)
    start_line, _, rest = rest.partition("\n")
    _, tail = rest.split(SETTINGS_END, 1)
    return f"{head}{SETTINGS_START}{start_line}\n{markdown_table()}\n{SETTINGS_END}{tail}"


if __name__ == "__main__":
    main()
