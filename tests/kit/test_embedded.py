"""Real embedded PostgreSQL tests: each runs initdb in its own tmp dir (about a second)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from okr_service.kit.embedded import start_embedded_postgres, stop_embedded_postgres

REPO = Path(__file__).resolve().parents[2]

# Child "service": start, report url + registered handle pids, optionally query, then idle.
CHILD = """
import asyncio, json, sys, time
from pathlib import Path
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from okr_service.kit.embedded import start_embedded_postgres

data_dir = Path(sys.argv[1])
url = start_embedded_postgres(data_dir)

async def one() -> int:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        value = (await conn.execute(text("select 1"))).scalar_one()
    await engine.dispose()
    return value

pids = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
print(json.dumps({"url": url, "pids": pids, "one": asyncio.run(one())}), flush=True)
if sys.argv[2] == "sleep":
    time.sleep(60)
"""


def _postgres_procs(pgdata: Path) -> list[psutil.Process]:
    procs = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(pgdata) in (proc.info["cmdline"] or []):
            procs.append(proc)
    return procs


def _handle_pids(data_dir: Path) -> list[int]:
    pids: list[int] = json.loads((data_dir / "pgdata" / ".handle_pids.json").read_text())
    return pids


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def _child(data_dir: Path, then: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), then],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _kill_postmaster(data_dir: Path) -> psutil.Process:
    """SIGKILL the postmaster as the OOM killer would: dead, but maybe not yet reaped."""
    postmaster = psutil.Process(_postmaster_pid(data_dir))
    postmaster.kill()
    deadline = time.monotonic() + 10
    while not _dead(postmaster):
        assert time.monotonic() < deadline, "SIGKILL did not land"
        time.sleep(0.005)
    return postmaster


def _dead(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _set_lock_pid(lock_file: Path, pid: int) -> None:
    lines = lock_file.read_text().splitlines()
    lock_file.write_text("\n".join([str(pid), *lines[1:]]) + "\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "data"
    yield data_dir
    stop_embedded_postgres(data_dir)
    leaked = _postgres_procs((data_dir / "pgdata").resolve())
    assert not leaked, f"postgres left running: {leaked}"


async def test_start_returns_working_asyncpg_url(data_dir: Path) -> None:
    url = start_embedded_postgres(data_dir)

    assert url.startswith("postgresql+asyncpg://")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("select 1"))).scalar_one() == 1
        assert (await conn.execute(text("select current_database()"))).scalar_one() == "okr"
    await engine.dispose()
    assert start_embedded_postgres(data_dir) == url  # idempotent while running


def test_survives_sigkill_of_the_service(data_dir: Path) -> None:
    with _child(data_dir, "sleep") as first:
        assert first.stdout is not None
        started = json.loads(first.stdout.readline())
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.pid in _handle_pids(data_dir)  # the wheel never learnt it died
    postmaster = psutil.Process(_postmaster_pid(data_dir))
    assert postmaster.is_running()  # and the server outlived it

    with _child(data_dir, "exit") as second:
        restarted = json.loads(second.communicate(timeout=30)[0])
    assert second.returncode == 0
    assert restarted["one"] == 1
    assert restarted["url"] == started["url"]
    assert restarted["pids"] == [second.pid]  # stale pid pruned
    # With the stale pid gone, the second child's clean exit stopped the server.
    postmaster.wait(timeout=5)  # pg_ctl stop -w returns just before the postmaster exits


async def test_restarts_after_sigkill_of_the_postmaster(data_dir: Path) -> None:
    start_embedded_postgres(data_dir)
    _kill_postmaster(data_dir)

    url = start_embedded_postgres(data_dir)  # handle cached by the wheel, server dead

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("select 1"))).scalar_one() == 1
    await engine.dispose()


def test_ignores_lock_files_whose_pid_was_reused(data_dir: Path) -> None:
    start_embedded_postgres(data_dir)
    _kill_postmaster(data_dir).wait(timeout=10)  # reaped, so its pid is free for reuse
    pgdata = data_dir / "pgdata"
    with subprocess.Popen(["sleep", "60"]) as impostor:
        # The dead postmaster's pid now belongs to an unrelated, live process.
        for lock_file in (pgdata / "postmaster.pid", pgdata / ".s.PGSQL.5432.lock"):
            _set_lock_pid(lock_file, impostor.pid)
        try:
            with _child(data_dir, "exit") as child:
                restarted = json.loads(child.communicate(timeout=30)[0])
        finally:
            impostor.kill()
    assert child.returncode == 0
    assert restarted["one"] == 1
