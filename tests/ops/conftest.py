"""Operations tests share the webhook tests' real receiver and in-process workers, and
start apps of their own settings like the security tests."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.conftest import Api, new_organization
from tests.webhooks.conftest import (  # noqa: F401 - fixtures, used by name
    local_endpoints_allowed,
    receiver,
    start_worker,
)

AppWith = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def app_with(database_url: str) -> AppWith:
    """`async with app_with(rate_limit_per_second=1, tracer_provider=...) as api:` an app
    with these settings and an admin client of a fresh organization on it."""

    @asynccontextmanager
    async def start(tracer_provider: Any = None, **overrides: Any) -> AsyncIterator[Api]:
        overrides = {"auth_failure_rate_per_second": 0, **overrides}
        settings = Settings(database_url=None, auth_cache_seconds=0, **overrides)
        app: FastAPI = create_app(
            settings,
            database_url=database_url,
            webhook_worker=False,
            tracer_provider=tracer_provider,
        )
        async with app.router.lifespan_context(app):
            organization_id, key = await new_organization(app)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
                yield Api(client, organization_id, key)

    return start
