"""Replicas starting together all migrate one empty database: `okr-service migrate` takes
turns under an advisory lock, so none fails on a type or table the other just created.
Each replica is handed the URL in another form platforms use."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from okr_service.kit.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[2]
URL_FORMS = ("postgresql+asyncpg", "postgresql", "postgres")  # one replica each


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    """A brand-new database on the test server, dropped afterwards."""
    name = f"okr_migrate_{uuid4().hex[:12]}"
    admin_url = make_url(server_url).set(drivername="postgresql+asyncpg")
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def migrate(database_url: str) -> tuple[int, str]:
    """`python -m okr_service migrate` in its own process, as a replica runs it."""
    environment = {**os.environ, "OKR_DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "okr_service",
        "migrate",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_replicas_migrating_an_empty_database_together_all_succeed(
    empty_database: str,
) -> None:
    urls = [
        make_url(empty_database).set(drivername=form).render_as_string(hide_password=False)
        for form in URL_FORMS
    ]
    results = await asyncio.wait_for(asyncio.gather(*(migrate(url) for url in urls)), timeout=60)
    for status, stderr in results:
        assert status == 0, stderr[-2000:]

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_async_engine(empty_database)
    try:
        async with engine.connect() as connection:
            versions = (
                await connection.scalars(text("SELECT version_num FROM alembic_version"))
            ).all()
    finally:
        await engine.dispose()
    assert versions == [head]
