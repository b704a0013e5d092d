"""Apps with their own settings (tiny limits), on the run's database."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from okr_service.app import create_app
from okr_service.kit.settings import Settings
from tests.conftest import Api, new_organization

AppWith = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def app_with(database_url: str) -> AppWith:
    """`async with app_with(introspection=False) as api:` an app with these settings and an
    admin client of a fresh organization on it."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Api]:
        # Tests send bad tokens freely: the per-address limit on them is opt-in here.
        overrides = {"auth_failure_rate_per_second": 0, **overrides}
        settings = Settings(database_url=None, auth_cache_seconds=0, **overrides)
        app: FastAPI = create_app(settings, database_url=database_url, webhook_worker=False)
        async with app.router.lifespan_context(app):
            organization_id, key = await new_organization(app)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://okr.test") as client:
                yield Api(client, organization_id, key)

    return start
