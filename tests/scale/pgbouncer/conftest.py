"""A real PgBouncer in transaction mode in front of the test PostgreSQL, and the app through
it. Its pool is tiny (two server connections per database), so consecutive transactions
of the app's many client connections keep landing on shared server connections.

PgBouncer is Debian's package (`install-pgbouncer.sh` installs it when missing). Under
CI=true these tests must run; elsewhere they are skipped when it cannot be installed.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from service.app import create_app
from service.kit.settings import Settings

INSTALL = Path(__file__).parents[1] / "install-pgbouncer.sh"
SERVER_CONNECTIONS = 2  # per database and user: every transaction shares these


@dataclass(frozen=True)
class PgBouncer:
    port: int

    def url_for(self, database_url: str) -> str:
        """`database_url`'s database, reached through PgBouncer."""
        direct = make_url(database_url)
        through = direct.set(host="127.0.0.1", port=self.port, query={})
        return through.render_as_string(hide_password=False)


def pgbouncer_binary() -> str | None:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None and subprocess.run(["bash", str(INSTALL)], check=False).returncode == 0:
        found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PgBouncer could not be installed ({INSTALL})")
        pytest.skip(f"PgBouncer is not installed and {INSTALL.name} could not install it")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def configuration(server: URL, port: int, folder: Path) -> Path:
    """Every database of `server`, through one listener in transaction mode."""
    host = server.host or server.query.get("host") or "127.0.0.1"
    user = server.username or "postgres"
    password = server.password or ""
    auth_file = folder / "users.txt"
    auth_file.write_text(f'"{user}" "{password}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={host} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {auth_file}\n"
        f"pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\n"
        "max_client_conn = 500\nlog_connections = 0\nlog_disconnections = 0\n"
        # The app never sets anything at the session level behind it; reset nothing.
        "server_reset_query =\n"
    )
    return ini


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PgBouncer exited: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("PgBouncer did not listen within 10 s")


@pytest.fixture(scope="session")
def pgbouncer(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBouncer]:
    binary = pgbouncer_binary()
    port = free_port()
    folder = tmp_path_factory.mktemp("pgbouncer")
    ini = configuration(make_url(server_url), port, folder)
    log = folder / "pgbouncer.log"
    # PgBouncer refuses to run as root: it reads its files, then becomes `nobody`.
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    with log.open("wb") as output:
        process = subprocess.Popen([binary, *as_user, str(ini)], stderr=output)
    try:
        wait_until_listening(port, process, log)
        yield PgBouncer(port)
    finally:
        process.terminate()
        process.wait(timeout=10)


def pooled_settings(database_url: str, **overrides: object) -> Settings:
    """The suite's settings (tests/conftest.py), behind a transaction pooler."""
    fields: dict[str, object] = {
        "database_url": None,
        "database_pooler": "transaction",
        "database_direct_url": database_url,
        "auth_cache_seconds": 0,
        "rate_limit_per_second": 0,
        "auth_failure_rate_per_second": 0,
        "query_planner_verify": True,
    }
    return Settings(**(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def app(database_url: str, pgbouncer: PgBouncer) -> AsyncIterator[FastAPI]:
    """The suite's app (tests/conftest.py), every request through PgBouncer."""
    application = create_app(
        pooled_settings(database_url),
        database_url=pgbouncer.url_for(database_url),
        webhook_worker=False,
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    """The app's engine, through PgBouncer (here too: a session fixture of the suite's
    would keep the direct app's engine once another folder's tests made it)."""
    found: AsyncEngine = app.state.engine
    return found
