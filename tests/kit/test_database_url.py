"""The database URL as platforms hand it out, and a database that is not there at start."""

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from okr_service.kit.db import create_engine
from okr_service.kit.settings import Settings
from okr_service.kit.startup import resolve_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        (
            "postgres://okr:pw@db.internal:5432/okr",
            "postgresql+asyncpg://okr:pw@db.internal:5432/okr",
        ),
        ("postgresql://okr:pw@db.internal/okr", "postgresql+asyncpg://okr:pw@db.internal/okr"),
        ("postgresql+asyncpg://okr@db.internal/okr", "postgresql+asyncpg://okr@db.internal/okr"),
        (
            "postgresql://okr@db.internal/okr?sslmode=require",
            "postgresql+asyncpg://okr@db.internal/okr?ssl=require",
        ),
    ],
)
def test_every_platform_url_form_is_served_by_asyncpg(given: str, used: str) -> None:
    assert resolve_database_url(Settings(database_url=given)) == used


def test_another_database_is_refused_without_showing_the_url() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url="mysql://okr:s3cret@db.internal/okr")
    problems = refused.value.errors(include_input=False, include_url=False)
    assert [problem["loc"] for problem in problems] == [("database_url",)]
    assert "s3cret" not in str(problems)


async def test_a_postgresql_url_connects(database_url: str) -> None:
    """The form platforms hand out reaches the database (it once asked for psycopg)."""
    platform_form = make_url(database_url).set(drivername="postgresql")
    settings = Settings(database_url=platform_form.render_as_string(hide_password=False))
    engine = create_engine(resolve_database_url(settings), settings)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A local port nothing listens on: every connection to it is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


async def migrate(
    database_url: str, *command: str, **environment: str
) -> tuple[int, list[str], float]:
    """`python -m okr_service migrate` (or `command`): its status, the lines of its stderr,
    its duration."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "okr_service",
        *(command or ["migrate"]),
        cwd=ROOT,
        env={**os.environ, "OKR_DATABASE_URL": database_url, **environment},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, stderr.decode().splitlines(), time.monotonic() - started


async def test_an_unreachable_database_is_waited_for_then_named_in_one_line(
    refused_port: int,
) -> None:
    url = f"postgresql://okr:s3cret@127.0.0.1:{refused_port}/okr"
    status, stderr, seconds = await migrate(url, OKR_DATABASE_CONNECT_TIMEOUT_SECONDS="1.5")
    assert status == 1
    assert len(stderr) == 1, stderr
    assert f"127.0.0.1:{refused_port}/okr did not answer within 1.5 s" in stderr[0]
    assert "ConnectionRefusedError" in stderr[0]
    assert "s3cret" not in stderr[0]
    assert 1.5 <= seconds < 10  # it kept trying for the time allowed, and no longer


async def test_a_database_refusing_the_connection_is_not_waited_for(database_url: str) -> None:
    missing = make_url(database_url).set(database="okr_no_such_database")
    status, stderr, seconds = await migrate(
        missing.render_as_string(hide_password=False), OKR_DATABASE_CONNECT_TIMEOUT_SECONDS="30"
    )
    assert status == 1
    assert len(stderr) == 1, stderr
    assert (
        'refused the connection: InvalidCatalogNameError: database "okr_no_such_database"'
        in (stderr[0])
    )
    assert seconds < 10


async def test_serve_says_in_one_line_why_it_could_not_migrate(
    database_url: str, refused_port: int
) -> None:
    """`serve` migrates first (in a process of its own); failing, it stops with that
    process's one line and never listens."""
    missing = make_url(database_url).set(database="okr_no_such_database")
    status, stderr, _ = await migrate(
        missing.render_as_string(hide_password=False),
        *("serve", "--port", str(refused_port)),
        OKR_DATABASE_CONNECT_TIMEOUT_SECONDS="30",
    )
    assert status == 1
    assert len(stderr) == 1, stderr
    assert 'InvalidCatalogNameError: database "okr_no_such_database"' in stderr[0]
