"""Every setting of the service, read once from `OKR_*` environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OKR_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of an existing PostgreSQL (postgresql+asyncpg://...). "
        "Unset: an embedded PostgreSQL is started in `data_dir`.",
    )
    data_dir: Path = Field(
        default=Path(".okr-data"), description="Folder of the embedded PostgreSQL's data."
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections kept per process.")
    database_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections allowed under bursts."
    )
    graphiql: bool = Field(default=True, description="Serve the GraphiQL IDE at GET /graphql.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    max_page_size: int = Field(
        default=100, ge=1, le=1000, description="Largest `first` a connection accepts."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
