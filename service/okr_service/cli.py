"""`okr-service` (also `python -m okr_service`): serve, migrate, create-org, export-contracts."""

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ValidationError

from okr_service.events.catalog import markdown_list
from okr_service.kit.logs import configure_logging, logging_config
from okr_service.kit.principal import Scope
from okr_service.kit.probe import is_ready
from okr_service.kit.settings import get_settings
from okr_service.kit.startup import DatabaseUnreachable, resolve_database_url, wait_for_database

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "schema.graphql"
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
README_PATH = ROOT / "README.md"
SETTINGS_START = "<!-- settings:start"
SETTINGS_END = "<!-- settings:end -->"
EVENTS_START = "<!-- events:start"
EVENTS_END = "<!-- events:end -->"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="okr-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (migrates first)")
    serve.add_argument("--demo", action="store_true", help="load a demo organisation")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: OKR_PORT (8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument(
        "--no-migrate",
        dest="migrate",
        action="store_false",
        help="start without migrating (replicas; run `okr-service migrate` once instead)",
    )
    commands.add_parser("migrate", help="apply database migrations")
    worker = commands.add_parser("worker", help="deliver webhooks and sweep health (any number)")
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    create_org = commands.add_parser("create-org", help="create an organization and admin key")
    create_org.add_argument("name")
    add_key_commands(commands)
    add_dev_token_command(commands)
    commands.add_parser("healthcheck", help="exit 0 if the API on OKR_PORT is ready, else 1")
    export = commands.add_parser("export-contracts", help="write schema/ and openapi/")
    export.add_argument(
        "--out", type=Path, help="folder to write into (default: the source checkout)"
    )
    args = parser.parse_args(argv)
    # A command that cannot start says why in one line (and exits 1), not in a traceback.
    try:
        settings = get_settings()
    except ValidationError as error:
        sys.exit(f"okr-service: invalid configuration: {settings_problems(error)}")
    configure_logging(settings.log_format, settings.log_level)
    try:
        run_command(args)
    except DatabaseUnreachable as error:
        sys.exit(f"okr-service: {error}")


def add_key_commands(commands: Any) -> None:
    create_key = commands.add_parser("create-api-key", help="issue an API key; printed once")
    create_key.add_argument("--org", required=True, help="the organization's ID")
    create_key.add_argument("--scope", required=True, choices=[str(scope) for scope in Scope])
    create_key.add_argument("--name", required=True)
    create_key.add_argument("--expires-in", help="e.g. 90d, 12h, 2w (default: never)")
    revoke_key = commands.add_parser("revoke-api-key", help="revoke an API key at once")
    revoke_key.add_argument("id", help="the key's ID (apiKeyId)")


def add_dev_token_command(commands: Any) -> None:
    dev_token = commands.add_parser(
        "dev-token", help="a short-lived user token that only a running `serve --demo` trusts"
    )
    dev_token.add_argument("--role", choices=["viewer", "editor", "admin"], default="editor")
    dev_token.add_argument("--team", action="append", default=[], help="a team's ID (repeat)")
    dev_token.add_argument("--name", default="Dev user")
    dev_token.add_argument("--minutes", type=int, default=60, help="lifetime (at most 1440)")


def settings_problems(error: ValidationError) -> str:
    """The problems of the settings, without their values (a URL holds a password)."""
    return "; ".join(
        f"OKR_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False)
    )


def run_command(args: argparse.Namespace) -> None:
    if args.command == "serve":
        serve_api(
            args.host, args.port, demo=args.demo, workers=args.workers, migrate_first=args.migrate
        )
    elif args.command == "migrate":
        asyncio.run(with_database(migrate))
        print("Database is up to date.")
    elif args.command == "create-org":
        print(
            json.dumps(asyncio.run(with_database(lambda url: create_org_with_key(url, args.name))))
        )
    elif args.command == "export-contracts":
        export_contracts(args.out)
    elif args.command == "worker":
        run_webhook_worker(args.metrics_port)
    elif args.command == "dev-token":
        print_dev_token(args.role, args.team, args.name, args.minutes)
    else:
        run_operator_command(args)


def run_operator_command(args: argparse.Namespace) -> None:
    settings = get_settings()
    if args.command == "healthcheck":
        sys.exit(0 if is_ready(settings.port) else 1)
    # Imported by the commands that need the database only: the health check, run every
    # few seconds, must start fast.
    from okr_service import operator

    try:
        run_key_command(args, operator)
    except operator.OperatorError as error:
        sys.exit(f"okr-service: {error}")


def run_key_command(args: argparse.Namespace, operator: Any) -> None:
    settings = get_settings()
    url = resolve_database_url(settings)
    asyncio.run(wait_for_database(url, settings.database_connect_timeout_seconds))
    if args.command == "create-api-key":
        issued = operator.create_api_key(
            url,
            settings,
            organization=args.org,
            scope=args.scope,
            name=args.name,
            expires_in=args.expires_in,
        )
        print(json.dumps(asyncio.run(issued)))
    elif args.command == "revoke-api-key":
        print(json.dumps(asyncio.run(operator.revoke_api_key(url, settings, args.id))))


async def with_database(action: Callable[[str], Awaitable[T]]) -> T:
    """Resolve the database (embedded if unset), migrate it, then run `action` on it."""
    url = resolve_database_url(get_settings())
    await migrate(url)
    return await action(url)


async def migrate(url: str) -> None:
    """Wait for the database to answer (it may be starting with us), then migrate it."""
    settings = get_settings()
    from okr_service.kit.db import create_engine, direct_url

    # One long transaction under an advisory lock: never through a transaction pooler.
    url = direct_url(settings, url)
    await wait_for_database(url, settings.database_connect_timeout_seconds)
    # Imported once the database answers: importing Alembic logs its plugins.
    from okr_service.kit.migrate import upgrade_to_head

    engine = create_engine(url, settings, direct=True)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def create_org_with_key(url: str, name: str) -> dict[str, str]:
    from okr_service.kit.db import create_engine, create_sessionmaker, transaction
    from okr_service.kit.ids import global_id
    from okr_service.organizations.service import create_organization

    engine = create_engine(url, get_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            organization, secret = await create_organization(db, name)
        return {"organizationId": global_id("Organization", organization.id), "apiKey": secret}
    finally:
        await engine.dispose()


async def load_demo_data(url: str) -> tuple[str, UUID]:
    """The demo organisation (made once): a fresh admin key, and the organisation's id."""
    from okr_service.demo import DEMO_ORGANIZATION, load_demo
    from okr_service.kit.db import create_engine, create_sessionmaker, transaction
    from okr_service.organizations.repository import find_by_name

    engine = create_engine(url, get_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            key = await load_demo(db)
            organization = await find_by_name(db, DEMO_ORGANIZATION)
            assert organization is not None
            return key, organization.id
    finally:
        await engine.dispose()


def demo_environment(organization_id: UUID) -> dict[str, str]:
    """What a demo server adds to its workers' settings: trust in `dev-token`'s tokens
    (unless user tokens are configured already) and local frontends' origins (CORS)."""
    from okr_service.auth.dev_tokens import DEV_AUDIENCE, DEV_ISSUER, make_demo_key
    from okr_service.kit.cors import LOCAL_ORIGINS

    settings = get_settings()
    added = {}
    if not settings.cors_origin_regex:
        added["OKR_CORS_ORIGIN_REGEX"] = LOCAL_ORIGINS
    if settings.jwt_jwks_file is None and not settings.jwt_public_keys:
        added |= {
            "OKR_JWT_PUBLIC_KEYS": make_demo_key(settings.data_dir, organization_id),
            "OKR_JWT_ISSUER": DEV_ISSUER,
            "OKR_JWT_AUDIENCE": DEV_AUDIENCE,
        }
    return added


def print_dev_token(role: str, teams: list[str], name: str, minutes: int) -> None:
    from okr_service.auth.dev_tokens import NoDemoKey, mint_dev_token
    from okr_service.kit.errors import DomainError
    from okr_service.kit.ids import parse_global_id
    from okr_service.kit.principal import Role

    try:
        # A team's global ID, as the API shows it.
        team_ids = [parse_global_id(team, "Team", field="team") for team in teams]
        token = mint_dev_token(
            get_settings().data_dir, Role(role), team_ids, name=name, minutes=minutes
        )
    except DomainError:
        sys.exit("okr-service: --team takes a team's ID as the API shows it.")
    except (NoDemoKey, ValueError) as error:
        sys.exit(f"okr-service: {error}")
    print(token)


def serve_api(
    host: str, port: int | None, *, demo: bool, workers: int, migrate_first: bool = True
) -> None:
    import uvicorn

    settings = get_settings()
    port = port or settings.port
    url = resolve_database_url(settings)
    if migrate_first:
        migrate_in_its_own_process(url)
    if demo:
        key, organization_id = asyncio.run(load_demo_data(url))
        os.environ.update(demo_environment(organization_id))
        print(
            f"\nDemo organisation ready. Its admin API key (each start with --demo issues a "
            f"new one and revokes the one before):\n\n    {key}\n\n"
            f"GraphiQL: http://{host}:{port}/graphql  (header Authorization: Bearer {key})\n"
            "User tokens: okr-service dev-token --role editor --team <Team id>\n",
            flush=True,
        )
    # Workers started by uvicorn import the app afresh; they find the database here.
    os.environ["OKR_DATABASE_URL"] = url
    if workers > 1:
        share_metrics_between_workers()
    get_settings.cache_clear()
    uvicorn.run(
        "okr_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        # Applied again in each worker process: every line in one format, the service's too.
        log_config=logging_config(settings.log_format, settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,  # the service logs each request itself, with more in the line
        proxy_headers=True,
    )


def migrate_in_its_own_process(url: str) -> None:
    """`okr-service migrate` in a child process: Alembic and the migrations (about 10 MB)
    never load into the process that serves, which with one worker is this one. The child
    says why it failed, if it does, on stderr; its "up to date" line is dropped."""
    done = subprocess.run(
        [sys.executable, "-m", "okr_service", "migrate"],
        env={**os.environ, "OKR_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(done.returncode)


def share_metrics_between_workers() -> None:
    """Worker processes write their metrics to files in one folder, so /metrics answered by
    any of them counts all (prometheus_client's multiprocess mode). An operator's own
    PROMETHEUS_MULTIPROC_DIR is emptied first: values of an earlier run must not count."""
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder is None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="okr-metrics-")
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def run_webhook_worker(metrics_port: int | None = None) -> None:
    """Deliver webhooks and sweep health until SIGINT or SIGTERM (the database must be
    migrated already); with `metrics_port`, Prometheus metrics are served there."""
    import signal

    from prometheus_client import start_http_server

    from okr_service import backends
    from okr_service.cycles.sweep import HealthSweeper
    from okr_service.kit.clock import Clock
    from okr_service.kit.db import create_engine, create_sessionmaker
    from okr_service.kit.tracing import tracer_of
    from okr_service.webhooks.worker import run_until_stopped

    if metrics_port is not None:
        start_http_server(metrics_port)
    tracer_provider = backends.tracer_provider()

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
            create_sessionmaker(engine),
            Clock(),
            settings.health_sweep_interval_seconds,
            settings.check_in_cadence(),
        )
        await sweeper.start()
        try:
            await run_until_stopped(url, settings, stop, tracer=tracer_of(tracer_provider))
        finally:
            await sweeper.stop()
            await engine.dispose()

    try:
        asyncio.run(run())
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()  # sends the spans still batched


def export_contracts(out: Path | None = None) -> None:
    """Write the contracts under `out`: by default the source checkout this runs from, or
    the current folder when installed (a wheel has no checkout to write into). The README's
    generated parts are refreshed only where `out` holds the README."""
    from okr_service.app import create_app
    from okr_service.graphql.schema import schema

    root = out or (ROOT if (ROOT / "pyproject.toml").exists() else Path.cwd())
    schema_path, openapi_path = (
        root / path.relative_to(ROOT) for path in (SCHEMA_PATH, OPENAPI_PATH)
    )
    readme_path = root / README_PATH.name
    written = [schema_path, openapi_path]
    schema_path.parent.mkdir(parents=True, exist_ok=True)
    schema_path.write_text(schema.as_str() + "\n")
    openapi_path.parent.mkdir(parents=True, exist_ok=True)
    openapi_path.write_text(json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n")
    if readme_path.exists() and SETTINGS_START in readme_path.read_text():
        readme_path.write_text(with_event_list(with_settings_table(readme_path.read_text())))
        written.append(readme_path)
    print("Wrote " + ", ".join(str(path) for path in written))


def with_settings_table(readme: str) -> str:
    """`readme` with its generated configuration table replaced by the current one."""
    from okr_service.kit.settings import markdown_table

    return with_generated(readme, SETTINGS_START, SETTINGS_END, markdown_table())


def with_event_list(readme: str) -> str:
    """`readme` with its generated list of event types replaced by the catalog's."""
    return with_generated(readme, EVENTS_START, EVENTS_END, markdown_list())


def with_generated(readme: str, start: str, end: str, body: str) -> str:
    """`readme` with the text between the `start` line and `end` replaced by `body`."""
    head, rest = readme.split(start, 1)
    start_line, _, rest = rest.partition("\n")
    _, tail = rest.split(end, 1)
    return f"{head}{start}{start_line}\n{body}\n{end}{tail}"


if __name__ == "__main__":
    main()
