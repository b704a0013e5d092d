"""Alembic, driven from code: the CLI, the app's start-up and the tests share this."""

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
URL_ATTRIBUTE = "okr_database_url"


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
    return str(url)


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied, on a connection of `engine`."""

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)
