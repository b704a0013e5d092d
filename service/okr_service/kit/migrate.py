"""Alembic, driven from code: the CLI, the app's start-up and the tests share this."""

import os
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from okr_service.kit.settings import asyncpg_url

# migrations/ of the checkout, or okr_service/migrations of an installed wheel
# (pyproject.toml maps the one to the other): Alembic loads it by path.
MIGRATIONS_DIR = Path(str(files("okr_service.migrations")))
URL_ATTRIBUTE = "okr_database_url"
# Replicas starting together migrate one at a time: the first applies the migrations, the
# others wait for its commit, then find the database at head. Held until the transaction
# ends (a crashed migrator releases it with its connection).
TAKE_MIGRATION_TURN = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('okr-service:migrate', 0))"
)


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes[URL_ATTRIBUTE] = database_url
    return config


def database_url_for_alembic(config: Config) -> str:
    """The URL given in code, else the settings' (the `alembic` command line)."""
    url = config.attributes.get(URL_ATTRIBUTE) or os.environ.get("OKR_DATABASE_URL")
    if not url:
        raise RuntimeError("Set OKR_DATABASE_URL to run Alembic from the command line.")
    return asyncpg_url(str(url))


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied, on a connection of `engine`."""

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        # A migration may rewrite a large table: the service's statement timeouts
        # (okr_service/kit/db.py) are not for it.
        await connection.execute(text("SET LOCAL statement_timeout = 0"))
        await connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        await connection.execute(TAKE_MIGRATION_TURN)  # alembic reads the version after it
        await connection.run_sync(upgrade)
