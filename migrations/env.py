"""Alembic environment: async engine, or a connection handed over by the caller."""

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

import okr_service.models  # noqa: F401  (registers every table)
from okr_service.kit.migrate import database_url_for_alembic
from okr_service.kit.models import Base

# Fail fast instead of queueing behind a long transaction and blocking every query after us.
LOCK_TIMEOUT = "5s"


def run_migrations(connection: Connection) -> None:
    connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url_for_alembic(context.config))
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await engine.dispose()


handed_over = context.config.attributes.get("connection")
if handed_over is not None:
    run_migrations(handed_over)
else:
    asyncio.run(run_async_migrations())
